"""Shared checks of the frr-plugin lab tests: has a change of a
monitoring session's non-key fields -- the server MAC and the server IP, which
ride in the path attribute, not in the prefix -- reached every BGP speaker and
every leaf's session feed, as an implicit replace of the one route?

What each source shows (looked up in the output of the patched bgpd):

* ``show bgp l2vpn evpn monitor json``: ``sessions[]`` = the best path of every
  type-254 route of the node's global EVPN table, with ``serverMac`` and
  ``serverIp`` (absent when the route carries no server IP).  Works on a
  spine / route reflector without VNIs too (``importedInto`` is then empty).
* ``show bgp l2vpn evpn route type monitor json``: ``{RD: {prefix: {"paths":
  [[path], ...]}}}``; a path carries the key fields (``hostMac``,
  ``hostId``...) but no server field (those are not in the prefix), so it is
  used to count routes and paths: an implicit replace leaves exactly one
  route with exactly one path where the route came from a single
  originator.
* the feed (FeedClient): ``serverMac`` / ``serverIp`` (None when absent) of
  every published session; only leaves with the VNI publish anything.

A session to an ERSPAN collector has ``collectorId`` and ``collectorIp``
instead of ``hostId``, ``serverMac`` and ``serverIp`` in vtysh, and
``collectorId``, ``hostId`` 0, no ``serverMac`` and the collector in
``serverIp`` in the feed (version 3): ``wait_collector_everywhere``.
"""
from __future__ import annotations

from typing import Iterable

import pytest

from clabns import Lab, LabTimeout


def monitor_sessions(lab: Lab, node: str, host_mac: str, host_id: int) -> list[dict]:
    """Rows of ``show bgp l2vpn evpn monitor json`` for this host and HOST ID."""
    return [s for s in lab.vtysh_json(node, "show bgp l2vpn evpn monitor json")["sessions"]
            if s.get("hostMac") == host_mac and s.get("hostId") == host_id]


def monitor_routes(lab: Lab, node: str, host_mac: str, host_id: int
                   ) -> list[tuple[str, str, int]]:
    """(RD, prefix, number of paths) of every type-254 route for this host and
    HOST ID in the node's global EVPN table."""
    j = lab.vtysh_json(node, "show bgp l2vpn evpn route type monitor json")
    out = []
    for rd, table in j.items():
        if not isinstance(table, dict):
            continue                            # numPrefix, numPaths
        for pfx, route in table.items():
            if not isinstance(route, dict) or "paths" not in route:
                continue
            paths = [p[0] if isinstance(p, list) else p for p in route["paths"]]
            if any(p.get("hostMac") == host_mac and p.get("hostId") == host_id for p in paths):
                out.append((rd, pfx, len(paths)))
    return out


def feed_sessions(client, host_mac: str, host_id: int) -> list[dict]:
    client.poll(0.05)
    return [s for s in client.sessions.values()
            if s["hostMac"] == host_mac and s["hostId"] == host_id]


def wait_server_everywhere(lab: Lab, feeds: dict, nodes: Iterable[str], *, host_mac: str,
                           host_id: int, server_mac: str, server_ip: str | None,
                           old_server_mac: str | None = None, timeout: float = 20.0,
                           what: str = "") -> None:
    """Wait until every node in `nodes` (and the feed of every one of them in
    `feeds`) has exactly one session for (host_mac, host_id), with exactly
    these server fields, carried by exactly one route with one path in the
    global EVPN table, and no session of this HOST ID with the old server
    MAC.  On a timeout the test fails with what each node still showed."""
    nodes = list(nodes)
    bad: dict[str, str] = {}

    def view(node: str) -> str | None:
        """None if the node is right, else what it shows."""
        rows = monitor_sessions(lab, node, host_mac, host_id)
        routes = monitor_routes(lab, node, host_mac, host_id)
        got = [(s.get("serverMac"), s.get("serverIp")) for s in rows]
        problems = []
        if got != [(server_mac, server_ip)]:
            problems.append(f"vtysh sessions (serverMac, serverIp) = {got}")
        if len(routes) != 1 or routes[0][2] != 1:
            problems.append(f"routes (rd, prefix, paths) = {routes}")
        if old_server_mac:
            stale = [s for s in lab.vtysh_json(node, "show bgp l2vpn evpn monitor json")[
                "sessions"] if s.get("hostId") == host_id and s.get("serverMac") == old_server_mac]
            if stale:
                problems.append(f"{len(stale)} session(s) still with the old MAC {old_server_mac}")
        if node in feeds:
            fgot = [(s["serverMac"], s["serverIp"]) for s in
                    feed_sessions(feeds[node], host_mac, host_id)]
            if fgot != [(server_mac, server_ip)]:
                problems.append(f"feed (serverMac, serverIp) = {fgot}")
        return "; ".join(problems) or None

    def converged() -> bool:
        bad.clear()
        for n in nodes:
            v = view(n)
            if v:
                bad[n] = v
        return not bad

    want = f"server {host_id} = {server_mac} / {server_ip or 'no IP'}"
    try:
        lab.wait_for(converged, timeout=timeout, what=what or want)
        return
    except LabTimeout as e:
        timed_out = str(e)
    pytest.fail(f"{what or want}: not everywhere after {timeout}s; still wrong on "
                f"{len(bad)} of {len(nodes)} nodes:\n"
                + "\n".join(f"  {n}: {v}" for n, v in bad.items())
                + ("" if bad else f"\n  ({timed_out})"), pytrace=False)


def collector_sessions(lab: Lab, node: str, host_mac: str, collector_id: int) -> list[dict]:
    """Rows of ``show bgp l2vpn evpn monitor json`` for this host and
    collector (a collector session has ``collectorId`` and no ``hostId``)."""
    return [s for s in lab.vtysh_json(node, "show bgp l2vpn evpn monitor json")["sessions"]
            if s.get("hostMac") == host_mac and s.get("collectorId") == collector_id]


def collector_routes(lab: Lab, node: str, host_mac: str, collector_id: int) -> list[tuple[str, str, int]]:
    """(RD, prefix, number of paths) of every type-254 route of this host to
    this collector in the node's global EVPN table."""
    j = lab.vtysh_json(node, "show bgp l2vpn evpn route type monitor json")
    out = []
    for rd, table in j.items():
        if not isinstance(table, dict):
            continue
        for pfx, route in table.items():
            if not isinstance(route, dict) or "paths" not in route:
                continue
            paths = [p[0] if isinstance(p, list) else p for p in route["paths"]]
            if any(p.get("hostMac") == host_mac and p.get("collectorId") == collector_id
                   for p in paths):
                out.append((rd, pfx, len(paths)))
    return out


def wait_collector_everywhere(lab: Lab, feeds: dict, nodes: Iterable[str], *, host_mac: str,
                              collector_id: int, collector_ip: str | None, erspan: dict | None = None,
                              timeout: float = 30.0, what: str = "") -> None:
    """Wait until every node in `nodes` holds exactly one session of
    (host_mac, collector_id), carried by one route with one path, with this
    collector IP and these ERSPAN parameters (a subset of ``options.erspan``),
    and the feed of every node in `feeds` (version 3) one such session with
    collector_id, host_id 0, no server MAC, server_ip = the collector and the
    same options octets. collector_ip None: the session is gone everywhere."""
    nodes = list(nodes)
    bad: dict[str, str] = {}

    def view(node: str) -> str | None:
        rows = collector_sessions(lab, node, host_mac, collector_id)
        routes = collector_routes(lab, node, host_mac, collector_id)
        fs = [s for s in feed_sessions(feeds[node], host_mac, 0)
              if s["collectorId"] == collector_id] if node in feeds else []
        if collector_ip is None:
            left = [x for x, n in ((rows, "sessions"), (routes, "routes"), (fs, "feed")) if x]
            return f"still there: {left}" if left else None
        problems = []
        if [r.get("collectorIp") for r in rows] != [collector_ip]:
            problems.append(f"vtysh collectorIp = {[r.get('collectorIp') for r in rows]}")
        elif erspan and any(rows[0]["options"]["erspan"].get(k) != v for k, v in erspan.items()):
            problems.append(f"vtysh erspan = {rows[0]['options']['erspan']}")
        if len(routes) != 1 or routes[0][2] != 1:
            problems.append(f"routes (rd, prefix, paths) = {routes}")
        if node in feeds:
            got = [(s["serverMac"], s["serverIp"], s["options"]) for s in fs]
            wire = rows[0]["options"]["wire"] if len(rows) == 1 else "?"
            if got != [(None, collector_ip, wire)]:
                problems.append(f"feed (serverMac, serverIp, options) = {got}, want wire {wire}")
        return "; ".join(problems) or None

    def converged() -> bool:
        bad.clear()
        for n in nodes:
            v = view(n)
            if v:
                bad[n] = v
        return not bad

    want = what or (f"collector {collector_id} = {collector_ip} {erspan or ''}" if collector_ip
                    else f"collector {collector_id} session gone")
    try:
        lab.wait_for(converged, timeout=timeout, what=want)
        return
    except LabTimeout as e:
        timed_out = str(e)
    pytest.fail(f"{want}: not everywhere after {timeout}s; still wrong on "
                f"{len(bad)} of {len(nodes)} nodes:\n"
                + "\n".join(f"  {n}: {v}" for n, v in bad.items())
                + ("" if bad else f"\n  ({timed_out})"), pytrace=False)
