"""Issue 2 integration: the monitor-config route across a real FRR fabric.

Reference fabric (docker/clab/evpn-monitor.clab.yml) in network namespaces:
patched spine (eBGP transit, no VNI), patched leaves vtep101..104, stock Debian
FRR 8.4.4 leaf vtep105, one L2 VNI 100. A session configured with vtysh on
vtep101 must appear on every other patched leaf (vtysh JSON and the ZeroMQ
feed), disappear everywhere when removed, and the stock leaf must keep its
BGP session and never see the route.

Run as root: /usr/bin/python3 -m pytest tests/frr-plugin/test_monitor_route.py
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

from clabns import Lab  # noqa: E402
from conftest import FRR_PREFIX  # noqa: E402
from feedclient import FeedClient  # noqa: E402
from monitor_checks import wait_server_everywhere  # noqa: E402

PATCHED_LEAVES = ["vtep101", "vtep102", "vtep103", "vtep104"]
STOCK = "vtep105"
HOST_MAC, HOST_IP = "00:00:00:00:02:10", "192.168.100.210"
SERVER_MAC, SERVER_IP, HOST_ID = "00:00:00:00:00:21", "192.168.100.21", 21

CONFIG = [
    "configure terminal", "router bgp 65101", "address-family l2vpn evpn",
    f"monitor server {HOST_ID} mac {SERVER_MAC} ip {SERVER_IP}",
    f"monitor host vni 100 mac {HOST_MAC} ip {HOST_IP} server {HOST_ID}",
]


def sessions(lab: Lab, node: str) -> list[dict]:
    return lab.vtysh_json(node, "show bgp l2vpn evpn monitor json")["sessions"]


def our_session(lab: Lab, node: str) -> dict | None:
    for s in sessions(lab, node):
        if s.get("hostMac") == HOST_MAC and s["hostId"] == HOST_ID:
            return s
    return None


def stock_peer_state(lab: Lab) -> tuple[str, int]:
    """(state, connections established) of vtep105's session to the spine."""
    j = lab.vtysh_json(STOCK, "show bgp neighbors 10.1.0.8 json")["10.1.0.8"]
    return j["bgpState"], j.get("connectionsEstablished", 0)


@pytest.fixture(scope="module")
def feeds(lab):
    clients = {n: FeedClient(f"ipc://{lab.node_dir(n)}/evpnmon-feed.sock", n)
               for n in PATCHED_LEAVES}
    yield clients
    for c in clients.values():
        c.close()


def wait_feeds(lab, feeds, want_present: bool, timeout=20):
    def ok():
        for c in feeds.values():
            c.poll(0.1)
        return all(any(s["hostMac"] == HOST_MAC and s["hostId"] == HOST_ID
                       for s in c.sessions.values()) == want_present
                   for c in feeds.values())
    lab.wait_for(ok, timeout=timeout,
                 what=f"session {'in' if want_present else 'gone from'} every leaf's feed")


def test_fabric_up_and_stock_leaf_established(lab):
    state, conns = stock_peer_state(lab)
    assert state == "Established"
    assert conns == 1
    # the patched speakers negotiated capability 239; the stock one did not
    assert lab.bgp_established(STOCK)


def test_configure_session_appears_everywhere(lab, feeds):
    for n, c in feeds.items():
        lab.wait_for(lambda: (c.poll(0.1), c.snapshots >= 1)[1], timeout=10,
                     what=f"{n}: the feed answers the subscription with a snapshot")
    lab.vtysh("vtep101", CONFIG)

    def everywhere():
        return all(our_session(lab, n) for n in PATCHED_LEAVES)
    lab.wait_for(everywhere, timeout=20, what="session on every patched leaf")

    for n in PATCHED_LEAVES:
        s = our_session(lab, n)
        assert s["vni"] == 100
        assert s["hostIp"] == HOST_IP
        assert s["serverMac"] == SERVER_MAC and s["serverIp"] == SERVER_IP
        assert s["originatorIp"] == "10.0.0.101"
        assert s["rd"] == "10.0.0.101:100"
        assert s["importedInto"] == [100], f"{n}: imported into VNI 100"
        assert s["origin"] == ("local" if n == "vtep101" else "remote")

    # the route reflector / transit spine carries it without a VNI
    spine = lab.vtysh_json("spine", "show bgp l2vpn evpn route type monitor json")
    assert "10.0.0.101:100" in spine, "spine holds the monitor route"

    wait_feeds(lab, feeds, True)
    for n, c in feeds.items():
        (s,) = [s for s in c.sessions.values() if s["hostMac"] == HOST_MAC]
        assert s["serverMac"] == SERVER_MAC and s["hostIp"] == HOST_IP
        assert s["local"] == (n == "vtep101")
        assert s["originator"] == "10.0.0.101" and s["vni"] == 100


def test_stock_leaf_sees_nothing_and_keeps_session(lab):
    # A stock FRR drops an EVPN route type it does not know without a word,
    # so its own table cannot show whether the spine sent one: what the
    # spine advertises to each peer does. A patched leaf gets the monitor
    # route, the stock leaf (no capability 239) does not.
    def advertised(peer):
        return lab.vtysh("spine", f"show bgp l2vpn evpn neighbors {peer} advertised-routes")
    lab.wait_for(lambda: "[254]:" in advertised("10.1.0.3"), timeout=20,
                 what="the monitor route advertised to vtep102")
    to_stock = advertised("10.1.0.9")
    assert "[3]:[0]:[32]:[10.0.0.101]" in to_stock, "the stock leaf's advertised routes listed"
    assert "[254]:" not in to_stock, to_stock
    table = lab.vtysh(STOCK, "show bgp l2vpn evpn route")
    assert "254" not in table and "Unsupported" not in table
    assert "[3]:[0]:[32]:[10.0.0.101]" in table, "stock leaf still gets ordinary EVPN routes"
    assert stock_peer_state(lab) == ("Established", 1)
    # it did receive our capability in the spine's OPEN, and shrugged
    log = (lab.node_dir(STOCK) / "bgpd.log").read_text(errors="replace")
    assert "Vendor specific capability 239" in log
    # both sides connect at bring-up: the losing connection of a collision
    # gets a NOTIFICATION 6/7 or 5/1 (unexpected message in OpenSent or
    # OpenConfirm) and the session is not affected (connection counts above);
    # any other NOTIFICATION, e.g. 3/x UPDATE Message Error, is a reset
    bad = [l for l in log.splitlines() if "NOTIFICATION" in l and not any(
           k in l for k in ("Connection Collision", "in OpenSent", "in OpenConfirm"))]
    assert not bad, bad


def test_running_config_round_trip(lab):
    conf = lab.vtysh("vtep101", "show running-config")
    assert f" monitor server {HOST_ID} mac {SERVER_MAC} ip {SERVER_IP}" in conf
    assert f" monitor host vni 100 mac {HOST_MAC} ip {HOST_IP} server {HOST_ID}" in conf
    # the lines sit inside "address-family l2vpn evpn"
    af = conf.split("address-family l2vpn evpn", 1)[1].split("exit-address-family", 1)[0]
    assert "monitor host vni 100" in af


def test_bad_input_gets_an_error_and_changes_nothing(lab):
    # (bgpd accepts a not-yet-known VNI while a configuration file is being
    # loaded and for 1 s after, as zebra reports VNIs later: run this first)
    before = lab.vtysh("vtep101", "show running-config")
    bad = [
        f"monitor host vni 4242 mac {HOST_MAC} server {HOST_ID}",      # unknown VNI
        "monitor host vni 100 mac 01:00:5e:00:00:01 server 21",       # multicast MAC
        "monitor host vni 100 mac 00:00:00:00:02:1 server 21",        # malformed MAC
        "monitor server 70000 mac 00:00:00:00:00:21",                 # HOST ID range
        "monitor server 0 mac 00:00:00:00:00:21",                     # HOST ID range
        "monitor host vni 100 server 21",                             # no host
    ]
    for cmd in bad:
        r = lab.exec("vtep101", [str(lab.binaries["vtep101"].vtysh), "--vty_socket",
                                 str(lab.node_dir("vtep101")), "-c", "configure terminal",
                                 "-c", "router bgp 65101", "-c", "address-family l2vpn evpn",
                                 "-c", cmd], check=False)
        assert r.returncode != 0, f"accepted: {cmd}"
        assert "%" in (r.stdout + r.stderr), f"no FRR error for: {cmd}"
    assert lab.vtysh("vtep101", "show running-config") == before


def test_frr_reload_round_trip(lab, tmp_path):
    """frr-reload.py applies an edited configuration (add a second server and
    a host watched by both servers, drop nothing) and the running
    configuration then equals the file: our lines round-trip."""
    node = "vtep101"
    running = lab.vtysh(node, "show running-config")
    # a file as `write memory` would save it: from "frr version" on
    running = running[running.index("frr version"):]
    extra = [" monitor server 22 mac 00:00:00:00:00:22 ip 192.168.100.22",
             f" monitor host vni 100 ip {HOST_IP} server 22"]
    lines = running.splitlines()
    i = next(k for k, l in enumerate(lines) if l.strip().startswith("monitor host vni 100"))
    new = lines[:i + 1] + [" " + e for e in extra] + lines[i + 1:]
    target = tmp_path / "frr.conf"
    target.write_text("\n".join(new) + "\n")
    frr = Path(FRR_PREFIX)
    rundir = lab.node_dir(node) / "reload"
    rundir.mkdir(exist_ok=True)
    args = ["/usr/bin/python3", str(frr / "sbin" / "frr-reload.py"), "--bindir", str(frr / "bin"),
            "--vty_socket", str(lab.node_dir(node)), "--confdir", str(lab.node_dir(node)),
            "--rundir", str(rundir), "--stdout"]
    test = lab.exec(node, args + ["--test", str(target)], check=False)
    assert test.returncode == 0, test.stdout + test.stderr
    assert "monitor server 22" in test.stdout and "ip 192.168.100.210 server 22" in test.stdout
    r = lab.exec(node, args + ["--reload", str(target)], check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    after = lab.vtysh(node, "show running-config")
    for e in extra:
        assert "  " + e.strip() in after, e
    # nothing left to do
    again = lab.exec(node, args + ["--test", str(target)], check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "monitor" not in again.stdout, again.stdout
    # and back: frr-reload removes what the file no longer has
    target.write_text(running)
    r = lab.exec(node, args + ["--reload", str(target)], check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "monitor server 22" not in lab.vtysh(node, "show running-config")


def set_server(lab: Lab, mac: str, ip: str | None) -> None:
    """Redefine server HOST_ID on vtep101 (the originator), sessions in place."""
    lab.vtysh("vtep101", ["configure terminal", "router bgp 65101", "address-family l2vpn evpn",
                          f"monitor server {HOST_ID} mac {mac}" + (f" ip {ip}" if ip else "")])


def test_server_change_reaches_every_speaker(lab, feeds):
    """Redefining the server of a live session on the originator
    (its MAC, then its IP: IPv4 to IPv4, to none, to IPv6) must reach the
    spine and every other patched leaf (vtysh and feed) as an implicit
    replace of the one route.  Server MAC and IP are the route's only
    non-key fields; before the fix (patch 0002: the EVPN overlay mixed into
    attrhash_key_make) bgpd's duplicate-UPDATE suppression dropped the
    change and only the originator knew it."""
    nodes = ["spine"] + PATCHED_LEAVES
    common = dict(host_mac=HOST_MAC, host_id=HOST_ID)
    # the session is in place (configured earlier in this module)
    wait_server_everywhere(lab, feeds, nodes, server_mac=SERVER_MAC, server_ip=SERVER_IP,
                           what="session in place before the change", **common)
    new_mac = "00:00:00:00:00:23"
    steps = [
        ("server MAC", new_mac, SERVER_IP, SERVER_MAC),
        ("server IPv4 -> IPv4", new_mac, "192.168.100.23", None),
        ("server IP -> none", new_mac, None, None),
        ("server IP none -> IPv6", new_mac, "2001:db8:100::23", None),
        # back to the original (MAC and IP at once), for the later tests
        ("server MAC and IP back", SERVER_MAC, SERVER_IP, new_mac),
    ]
    try:
        for what, mac, ip, old_mac in steps:
            set_server(lab, mac, ip)
            conf = lab.vtysh("vtep101", "show running-config")
            assert f" monitor server {HOST_ID} mac {mac}" + (f" ip {ip}" if ip else "") + "\n" \
                in conf, what
            wait_server_everywhere(lab, feeds, nodes, server_mac=mac, server_ip=ip,
                                   old_server_mac=old_mac,
                                   what=f"{what}: {mac} / {ip or 'no IP'}", **common)
    finally:
        set_server(lab, SERVER_MAC, SERVER_IP)
    # none of this disturbed the stock leaf's one session to the spine
    assert stock_peer_state(lab) == ("Established", 1)


def test_remove_session_gone_everywhere(lab, feeds):
    lab.vtysh("vtep101", ["configure terminal", "router bgp 65101",
                          "address-family l2vpn evpn",
                          f"no monitor host vni 100 mac {HOST_MAC} ip {HOST_IP} server {HOST_ID}"])
    lab.wait_for(lambda: not any(our_session(lab, n) for n in PATCHED_LEAVES),
                 timeout=20, what="session withdrawn from every leaf")
    spine = lab.vtysh_json("spine", "show bgp l2vpn evpn route type monitor json")
    assert "10.0.0.101:100" not in spine
    wait_feeds(lab, feeds, False)
    assert stock_peer_state(lab) == ("Established", 1)


def test_advertise_all_vni_off_withdraws(lab):
    lab.vtysh("vtep101", CONFIG)
    lab.wait_for(lambda: our_session(lab, "vtep103"), timeout=20, what="session advertised")
    lab.configure("vtep101", ["router bgp 65101", "address-family l2vpn evpn",
                              "no advertise-all-vni"])
    lab.wait_for(lambda: not our_session(lab, "vtep103"), timeout=20,
                 what="withdrawn after no advertise-all-vni")
    lab.configure("vtep101", ["router bgp 65101", "address-family l2vpn evpn",
                              "advertise-all-vni"])
    lab.wait_for(lambda: our_session(lab, "vtep103"), timeout=30,
                 what="re-advertised after advertise-all-vni")


def test_saved_config_advertised_after_bgpd_restart(lab, feeds):
    """bgpd reads the session from its configuration before zebra reports the
    VNI; the route must be advertised once the VNI is live, and a restarted
    bgpd's feed gets a new epoch that subscribers follow."""
    lab.wait_for(lambda: our_session(lab, "vtep103"), timeout=30, what="session advertised")
    epoch = feeds["vtep101"].epoch
    lab.save_config("vtep101")
    # Stopped until vtep103 has lost the route, so that finding it again
    # proves the restarted bgpd advertised it.
    lab.stop_daemon("vtep101", "bgpd")
    lab.wait_for(lambda: not our_session(lab, "vtep103"), timeout=30,
                 what="the session withdrawn from vtep103 while vtep101's bgpd is down")
    lab.start_daemon("vtep101", "bgpd", wait=True)
    lab.wait_for(lambda: lab.bgp_established("vtep101"), timeout=60, what="vtep101 BGP back")
    lab.wait_for(lambda: (our_session(lab, "vtep101") or {}).get("origin") == "local",
                 timeout=30, what="session originated again after restart")
    lab.wait_for(lambda: our_session(lab, "vtep103"), timeout=30, what="session on vtep103")

    def resubscribed():
        c = feeds["vtep101"]
        c.poll(0.2)
        return c.epoch != epoch and any(s["hostMac"] == HOST_MAC for s in c.sessions.values())
    lab.wait_for(resubscribed, timeout=30, what="feed client followed the new epoch")


def rib_monitor_routes(lab: Lab, node: str) -> set[tuple[str, str]]:
    """(RD, session id) of the best path of every type-254 route in node's
    global EVPN table, as bgpd's own table walk shows them."""
    out = set()
    for rd, table in lab.vtysh_json(node, "show bgp l2vpn evpn route type monitor json").items():
        if not isinstance(table, dict):
            continue
        for route in table.values():
            if not isinstance(route, dict) or "paths" not in route:
                continue
            for p in route["paths"]:
                p = p[0] if isinstance(p, list) else p
                best = p.get("bestpath")
                if best is True or (isinstance(best, dict) and best.get("overall")):
                    out.add((rd, p["sessionId"]))
    return out


def test_show_lists_monitor_routes_among_mac_routes(lab):
    """`show bgp l2vpn evpn monitor` enters each RD's table at its monitor
    routes instead of walking every route: with MAC routes in the same RD
    tables (before the monitor routes in table order) and sessions from two
    originators, it must list exactly the monitor routes bgpd's own walk of
    the RIB finds, on the leaves, and on the spine (no VNI), in both forms."""
    macs = {"vtep101": [f"02:5a:00:00:01:{i:02x}" for i in range(20)],
            "vtep102": [f"02:5a:00:00:02:{i:02x}" for i in range(20)]}
    extra = ["configure terminal", "router bgp 65102", "address-family l2vpn evpn",
             f"monitor server {HOST_ID} mac {SERVER_MAC}",
             "monitor host vni 100 mac 02:5a:00:00:09:01 server 21",
             "monitor host vni 100 ip 192.168.100.77 server 21"]
    lab.vtysh("vtep101", CONFIG)
    lab.vtysh("vtep102", extra)
    for node, ms in macs.items():
        lab.exec(node, "; ".join(f"bridge fdb add {m} dev eth2 master static" for m in ms))
    nodes = ["spine"] + PATCHED_LEAVES
    try:
        def mac_routes(node):
            j = lab.vtysh_json(node, "show bgp l2vpn evpn route type macip json")
            return j.get("numPrefix", 0)
        lab.wait_for(lambda: all(mac_routes(n) >= 40 for n in nodes), timeout=30,
                     what="MAC routes of vtep101 and vtep102 everywhere")
        lab.wait_for(lambda: all(len(rib_monitor_routes(lab, n)) == 3 for n in nodes),
                     timeout=30, what="three monitor routes in every RIB")
        for n in nodes:
            rib = rib_monitor_routes(lab, n)
            shown = {(s["rd"], s["sessionId"]) for s in sessions(lab, n)}
            assert shown == rib, f"{n}: show lists {sorted(shown)}, the RIB has {sorted(rib)}"
            rows = [l for l in lab.vtysh(n, "show bgp l2vpn evpn monitor").splitlines()
                    if l.startswith(("local ", "remote "))]
            assert len(rows) == 3, f"{n}: text rows {rows}"
    finally:
        for node, ms in macs.items():
            lab.exec(node, "; ".join(f"bridge fdb del {m} dev eth2 master static" for m in ms),
                     check=False)
        lab.vtysh("vtep102", ["configure terminal", "router bgp 65102",
                              "address-family l2vpn evpn",
                              "no monitor host vni 100 mac 02:5a:00:00:09:01 server 21",
                              "no monitor host vni 100 ip 192.168.100.77 server 21",
                              f"no monitor server {HOST_ID}"])


def socket_inodes() -> set[int]:
    """The inodes of this process's sockets."""
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            out.add(int(link[len("socket:["):-1]))
    return out


def all_stopped(pid: int) -> bool:
    """Every thread of pid is stopped (state T)."""
    tasks = os.listdir(f"/proc/{pid}/task")
    return bool(tasks) and all(
        Path(f"/proc/{pid}/task/{t}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
        for t in tasks)


def queued_for(lab: Lab, node: str, ours: set[int]) -> int:
    """Octets waiting in the receive queues of the unix sockets connected
    to one of `ours` (the accepted end is in the connecting socket's
    namespace, which is ours; node's is read too)."""
    total = 0
    outs = [subprocess.run(["ss", "-xnH"], capture_output=True, text=True).stdout,
            lab.exec(node, "ss -xnH").stdout]
    for out in outs:
        for line in out.splitlines():
            f = line.split()
            # Netid State Recv-Q Send-Q Local Port Peer Port
            if (len(f) == 8 and f[5].isdigit() and f[7].isdigit()
                    and int(f[5]) not in ours and int(f[7]) in ours):
                total += int(f[2])
    return total


def test_repeated_subscriptions_get_one_snapshot(lab):
    """A consumer subscribes again every second while bgpd is too busy to
    answer: the requests bgpd reads together get one snapshot. bgpd is
    stopped (SIGSTOP) while three requests queue, as a busy one would be."""
    c = FeedClient(f"ipc://{lab.node_dir('vtep102')}/evpnmon-feed.sock", "burst")
    try:
        lab.wait_for(lambda: (c.poll(0.1), c.snapshots == 1)[1], timeout=10,
                     what="the first snapshot")
        pid = int((lab.node_dir("vtep102") / "bgpd.pid").read_text().split()[0])
        os.kill(pid, signal.SIGSTOP)
        try:
            # A stop takes effect when each thread next leaves the kernel:
            # until then bgpd's socket thread may still read.
            lab.wait_for(lambda: all_stopped(pid), timeout=10, what="bgpd stopped")
            sent = sum(c.subscribe() for _ in range(3))
            # All three are in bgpd's receive queue (each with at least
            # ZMTP's two-octet frame header) before bgpd runs again.
            lab.wait_for(lambda: queued_for(lab, "vtep102", socket_inodes())
                         >= sent + 3 * 2, timeout=10,
                         what="the three requests in bgpd's socket")
        finally:
            os.kill(pid, signal.SIGCONT)
        lab.wait_for(lambda: (c.poll(0.1), c.snapshots >= 2)[1], timeout=10,
                     what="an answer to the queued subscriptions")
        # Two heartbeats later every request has long been read.
        hb = c.heartbeats
        lab.wait_for(lambda: (c.poll(0.1), c.heartbeats >= hb + 2)[1], timeout=10,
                     what="two heartbeats")
        assert c.snapshots == 2, f"{c.snapshots - 1} snapshots for three queued subscriptions"
    finally:
        c.close()


def test_vni_removal_withdraws(lab):
    lab.vtysh("vtep101", CONFIG)
    lab.wait_for(lambda: our_session(lab, "vtep103"), timeout=20, what="session re-advertised")
    lab.exec("vtep101", "ip link set vxlan100 down; ip link del vxlan100")
    lab.wait_for(lambda: not our_session(lab, "vtep103"), timeout=20,
                 what="session withdrawn after the VNI went away")
    state = lab.vtysh_json("vtep101", "show bgp l2vpn evpn monitor json")["configured"]
    assert state and state[0]["state"] == "vni-not-live"
