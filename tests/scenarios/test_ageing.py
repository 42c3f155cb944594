"""MAC ageing in the reference fabric: what a bridge forgets must not cost a
copy (real FRR, real packets; one fresh fabric per test).

A. A silent monitoring server that moved, then aged out on its new leaf.
   SERV21 moves from vtep104 to vtep103 (link moved, gratuitous ARP) and
   mirroring follows. SERV21 then only receives (capture only), so its MAC
   ages out of vtep103's bridge (ageing_time 3 s here). FRR 8.4.4's zebra
   left the remote entry of before the move in vtep103's VXLAN device FDB
   (`... dev vxlan100 dst 10.0.0.104 self extern_learn`) when vtep103
   learnt SERV21 before vtep104's withdrawal arrived (a race: when the
   withdrawal wins, the test puts the same entry there, `permanent`, which
   zebra ignores); it must not bring
   SERV21 back "behind 10.0.0.104" at vtep103 while vtep101/102/104 keep
   10.0.0.103 as SERV21's last location (R6). Expected: every VTEP agrees
   (10.0.0.103; at vtep103 the local port and entry 3), and SERV21 receives
   every selected frame exactly once (non-empty, exact).
   Was: vtep103 pointed its entries at 10.0.0.104 and dropped entry 3; SERV21
   received almost nothing until it sent a frame.

B. The first frame after a monitored host's MAC aged out.
   VM210's MAC ages out of its leaf's bridge and its type-2 route is
   withdrawn everywhere; then VM210 pings VM220 five times (B1), or VM230
   pings VM210 five times (B2). All 10 ICMP frames must reach SERV21 exactly
   once. Was: entry 1 (src = VM210) existed only where VM210 was known local,
   so VM210's first frame (the first echo request in B1, the first echo
   reply in B2) passed the mirror program before the bridge re-learnt
   VM210, and was not mirrored.
   The hosts of the measured ping have permanent neighbour entries for each
   other, so no ARP precedes it: VM210's first frame is the ICMP frame under
   test (an ARP request is broadcast and left out of the comparison, and in
   B2 an ARP reply would be VM210's first frame instead of the echo reply).
   IPv6 is off on the hosts (quiet_hosts) and no TCP echo server runs, so
   nothing else makes VM210 speak; the test checks that from its captures.

Everything waits for conditions (kernel FDB, the consumers' own state), never
for a fixed time. The entries are checked against the rule exactly
(F.expected_entries: entries 1 and 2 on every leaf).

Run as root:
  /usr/bin/python3 -m pytest -v -p no:cacheprovider tests/scenarios/test_ageing.py
"""
from __future__ import annotations

import contextlib
import sys
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

import fabric as F  # noqa: E402
from clabns import TEST_HEAP, Lab  # noqa: E402

BRIDGE = "br100"                 # every leaf's bridge of VNI 100 (evpn-monitor.clab.yml)
SHORT_AGEING = 300               # ip-link units (1/100 s): 3 s
DEFAULT_AGEING = 30000           # the kernel's default: 300 s
ALL_LEAVES = F.LEAVES + [F.STOCK_LEAF]
PEERS = ["vm220", "vm230", "vm240"]
PINGS = 5


# ---------------------------------------------------------------------------
# helpers of this file
# ---------------------------------------------------------------------------

def set_ageing(lab, leaf: str, centiseconds: int) -> None:
    lab.exec(leaf, f"ip link set {BRIDGE} type bridge ageing_time {int(centiseconds)}")


@contextlib.contextmanager
def short_ageing(lab, leaf: str):
    """ageing_time 3 s on leaf's bridge for the block, the default again after
    it (also on failure), so that nothing else ages during the measurement."""
    set_ageing(lab, leaf, SHORT_AGEING)
    try:
        yield
    finally:
        set_ageing(lab, leaf, DEFAULT_AGEING)


def host_if(lab, host: str) -> str:
    return lab.link_of(host, F.where_is(lab, host)).iface(host)


def pin_neighbours(lab, a: str, b: str) -> None:
    """Permanent ARP entries between hosts a and b, both ways: a ping between
    them sends no ARP, its first frame is the echo request."""
    for x, y in ((a, b), (b, a)):
        mac, ip = F.HOSTS[y]
        lab.exec(x, f"ip neigh replace {ip} lladdr {mac} dev {host_if(lab, x)} nud permanent")


def fdb_everywhere(lab, mac: str) -> dict[str, str | None]:
    """Where each leaf's kernel sends mac (F.mac_location: 'local', a VTEP, None)."""
    return {n: F.mac_location(lab, n, mac) for n in ALL_LEAVES}


def vxlan_fdb(lab, leaf: str, mac: str) -> str:
    """The VXLAN device's own FDB entries of mac on leaf (for messages)."""
    cp = lab.exec(leaf, f"bridge fdb show dev vxlan100 | grep -i {mac}", check=False)
    return cp.stdout.strip() or "(none)"


def state(lab) -> dict[str, dict]:
    """Every consumer's whole state, one document per leaf."""
    return {n: F.ctl_json(lab, n, "all") for n in F.LEAVES}


def session(doc: dict) -> dict:
    """The session (VM210 watched by SERV21) in one consumer's state, or {}."""
    for s in doc.get("sessions", {}).get("session", []):
        if s.get("host-mac") == F.VM210_MAC and int(s.get("host-id", 0)) == F.HOST_ID:
            return s
    return {}


def loc_str(loc: dict | None) -> str:
    if not loc:
        return "no session"
    out = {"local": f"local {loc.get('port')}", "remote": f"remote {loc.get('vtep')}"}.get(
        loc.get("kind"), loc.get("kind", "?"))
    return out + (f" (kept since {loc['kept-since']})" if "kept-since" in loc else "")


def act(a: dict) -> tuple:
    if a["type"] == "local-port":
        return ("port", a["port"])
    if a["type"] == "none":  # the server has no target from this leaf (R5)
        return ("none",)
    return ("vxlan", a["remote-vtep"], int(a["vni"]), int(a["host-id"]))


def installed(doc: dict) -> set[tuple]:
    """(kind, host-mac, action) of the installed entries of VNI 100 / HOST ID 21."""
    return {(e["kind"], e.get("host-mac"), act(e["action"]))
            for e in doc.get("entries", {}).get("entry", [])
            if int(e["vni"]) == F.VNI and int(e["host-id"]) == F.HOST_ID}


def unsettled(doc: dict) -> list[str]:
    """Where a consumer's installed entries differ from its own decision
    (the session's roles and action); [] once the decision is applied."""
    s = session(doc)
    if not s:
        return ["no session"]
    roles, have = s.get("roles", {}), installed(doc)
    want_act = act(s["action"]) if "action" in s else None
    out = []
    for kind, role in (("mirror-source", "entry1"), ("mirror-dest", "entry2"),
                       ("decap", "entry3")):
        mine = [e for e in have if e[0] == kind]
        if bool(mine) != bool(roles.get(role)):
            out.append(f"{role}={roles.get(role)} but {len(mine)} {kind} installed")
        if kind != "decap":
            out += [f"{kind} -> {e[2]}, decided {want_act}" for e in mine if e[2] != want_act]
    return out


def rule_problems(lab, docs: dict[str, dict], server_leaf: str) -> list[str]:
    """Where the installed entries differ from the exactly-once rule for the
    one session (F.expected_entries: entries 1 and 2 on every leaf, entry 3 on
    the server's leaf, actions towards the server)."""
    want_all = F.expected_entries(lab, server_leaf)
    out = []
    for n in F.LEAVES:
        have = {F._key(e) for e in docs[n].get("entries", {}).get("entry", [])}
        want = want_all[n]
        out += [f"{n}: missing {e}" for e in sorted(want - have, key=str)]
        out += [f"{n}: unexpected {e}" for e in sorted(have - want, key=str)]
    return out


def show_entries(docs: dict[str, dict]) -> str:
    names = {"mirror-source": "entry 1", "mirror-dest": "entry 2", "decap": "entry 3"}
    return "\n".join(f"  {n}: " + (", ".join(f"{names.get(k, k)} -> {a}"
                                              for k, _m, a in sorted(installed(d), key=str))
                                   or "(none)")
                     for n, d in docs.items())


def wait_rule(lab, server_leaf: str, timeout: float = 30) -> dict[str, dict]:
    last: dict = {}

    def ok():
        nonlocal last
        last = state(lab)
        return not rule_problems(lab, last, server_leaf)
    try:
        lab.wait_for(ok, timeout=timeout, interval=0.2, what="entries of the rule")
    except Exception as e:
        raise AssertionError("entries never followed the rule:\n  " + "\n  ".join(
            rule_problems(lab, last, server_leaf)) + "\n" + show_entries(last)) from e
    return last


def describe(p: F.Pkt) -> str:
    if p.icmp_type in (0, 8):
        kind = "echo request" if p.icmp_type == 8 else "echo reply"
        return f"ICMP {kind} {p.ip_src} -> {p.ip_dst} seq {p.icmp_seq}"
    if p.ethertype == 0x0806:
        return f"ARP op {p.arp_op} {p.arp_spa} -> {p.arp_tpa} ({p.eth_src} -> {p.eth_dst})"
    return f"ethertype {p.ethertype:#06x} {p.eth_src} -> {p.eth_dst} {p.ip_src} -> {p.ip_dst}"


@pytest.fixture
def lab():
    # a missing build is a failure, not a skip: these tests must be able to fail
    assert (Path(F.FRR_PREFIX) / "bin").exists(), f"no patched FRR build at {F.FRR_PREFIX}"
    assert F.CTL.exists(), f"no evpnmon-ctl at {F.CTL}"
    with Lab(F.TOPOLOGY, frr_prefix=F.FRR_PREFIX, stock_ok=False, require_extras=True,
             **TEST_HEAP) as lab:
        F.bring_up_wait(lab)
        F.quiet_hosts(lab)
        for h in ("vm220", "vm230", "vm240", "serv21"):
            F.wait_reachable(lab, "vm210", h)
        F.wait_gates(lab)
        lab.configure("vtep101", F.monitor_config())
        wait_rule(lab, server_leaf="vtep104")
        yield lab


# ---------------------------------------------------------------------------
# A. a silent server that moved, then aged out on its new leaf
# ---------------------------------------------------------------------------

def test_silent_server_aged_out_after_a_move_keeps_one_location(lab, outdir):
    F.start_echo_servers(lab, ["vm210", *PEERS])

    # 1. SERV21 moves to vtep103; mirroring follows
    F.move_host(lab, "serv21", "vtep104", "vtep103")
    sport = lab.link_of("serv21", "vtep103").iface("vtep103")
    wait_rule(lab, server_leaf="vtep103")
    cmp, res, _ = F.mirrored_exchange(lab, PEERS, "serv21-moved", outdir)
    assert all(res.values()), f"traffic failed: {[k for k, v in res.items() if not v]}"
    assert cmp.at_host > 0 and cmp.exactly_once, f"after the move, before ageing: {cmp}"
    leftover = vxlan_fdb(lab, "vtep103", F.SERV21_MAC)
    # the premise: a remote entry of before the move left behind. zebra
    # leaves it when vtep103 learns SERV21 before vtep104's withdrawal
    # arrives; when the withdrawal wins the race, it is put there as a
    # permanent entry, which zebra ignores (NUD_PERMANENT) and the
    # consumer reads like zebra's own (a self entry with a destination)
    if "10.0.0.104" not in leftover:
        lab.exec("vtep103", f"bridge fdb add {F.SERV21_MAC} dev vxlan100 dst 10.0.0.104 "
                 "self permanent")
        leftover = vxlan_fdb(lab, "vtep103", F.SERV21_MAC) + " (put there by the test)"
    assert "10.0.0.104" in leftover, \
        f"test invalid: no stale VXLAN self entry for SERV21 on vtep103: {leftover}"

    # 2. SERV21 stays silent; its MAC ages out of vtep103's bridge, its
    #    type-2 route is withdrawn, every consumer has taken that in
    def consumers_took_it():
        docs = state(lab)
        for n, d in docs.items():
            loc = session(d).get("server-location", {})
            # vtep103: no longer the live local port (kept, or anything else);
            # elsewhere: the withdrawn 10.0.0.103 kept (R6)
            if n == "vtep103" and loc.get("kind") == "local" and "kept-since" not in loc:
                return False
            if n != "vtep103" and "kept-since" not in loc:
                return False
            if unsettled(d):
                return False
        return docs

    with short_ageing(lab, "vtep103"):
        lab.wait_for(lambda: all(v is None for v in fdb_everywhere(lab, F.SERV21_MAC).values()),
                     timeout=60, interval=0.2,
                     what="SERV21's MAC aged out of vtep103 and withdrawn from every leaf")
        docs = lab.wait_for(consumers_took_it, timeout=30, interval=0.2,
                            what="every consumer took SERV21's ageing in")

    # 3. every VTEP agrees on SERV21's location, SERV21 gets everything once
    locs = {n: loc_str(session(d).get("server-location")) for n, d in docs.items()}
    problems = rule_problems(lab, docs, server_leaf="vtep103")
    cmp, res, spcap = F.mirrored_exchange(lab, PEERS, "serv21-aged", outdir)
    spoke = [describe(p) for p in F.read_pcap(spcap) if p.eth_src == F.SERV21_MAC]
    assert not spoke, f"test invalid: SERV21 sent frames, it must stay silent: {spoke[:5]}"
    assert all(v is None for v in fdb_everywhere(lab, F.SERV21_MAC).values()), \
        "test invalid: SERV21's MAC was learnt again during the measurement"
    assert all(res.values()), f"traffic failed: {[k for k, v in res.items() if not v]}"
    wrong = {n: l for n, l in locs.items()
             if not l.startswith(f"local {sport}" if n == "vtep103" else "remote 10.0.0.103")}
    assert not wrong and not problems and cmp.at_host > 0 and cmp.exactly_once, (
        f"SERV21 moved vtep104 -> vtep103, then aged out of vtep103's bridge (silent):\n"
        f"SERV21 received {cmp.at_server} copies for {cmp.at_host} frames of VM210 ({cmp})\n"
        f"SERV21's location per consumer: {locs}\n"
        f"  not at 10.0.0.103 (port {sport} on vtep103): {wrong}\n"
        f"vtep103's VXLAN device FDB for SERV21 (left from before the move): {leftover}\n"
        f"entries against the rule:\n  " + ("\n  ".join(problems) or "(as the rule says)") +
        f"\ninstalled:\n{show_entries(docs)}")


# ---------------------------------------------------------------------------
# B. the first frame of a monitored host whose MAC aged out
# ---------------------------------------------------------------------------

def age_out_vm210(lab) -> dict[str, dict]:
    """VM210's MAC ages out of its leaf's bridge; wait until no leaf's kernel
    FDB has it (type-2 withdrawn everywhere), every consumer sees VM210's
    location as unknown with the server still known, and every consumer has
    applied its decision. Returns the consumers' state at that point."""
    leaf = F.where_is(lab, "vm210")

    def consumers_took_it():
        docs = state(lab)
        for d in docs.values():
            s = session(d)
            if s.get("host-location", {}).get("kind") != "unknown" or \
               s.get("server-location", {}).get("kind") in (None, "unknown") or unsettled(d):
                return False
        return docs

    with short_ageing(lab, leaf):
        lab.wait_for(lambda: all(v is None for v in fdb_everywhere(lab, F.VM210_MAC).values()),
                     timeout=60, interval=0.2,
                     what=f"VM210's MAC aged out of {leaf} and withdrawn from every leaf")
        return lab.wait_for(consumers_took_it, timeout=30, interval=0.2,
                            what="every consumer sees VM210's location as unknown")


def measured_pings(lab, outdir: Path, tag: str, src: str, dst: str):
    """PINGS pings src -> dst (one of them VM210), captured at VM210's port and
    at SERV21's port. Returns (VM210's capture, SERV21's capture)."""
    hif, sleaf = host_if(lab, "vm210"), F.where_is(lab, "serv21")
    sif = lab.link_of("serv21", sleaf).iface("serv21")
    hp, sp = outdir / f"{tag}-vm210.pcap", outdir / f"{tag}-serv21.pcap"
    with F.Capture(lab, "vm210", hif, hp) as ch, F.Capture(lab, "serv21", sif, sp) as cs:
        gone = fdb_everywhere(lab, F.VM210_MAC)
        assert all(v is None for v in gone.values()), \
            f"test invalid: VM210's MAC is known again before the measured pings: {gone}"
        cp = lab.exec(src, ["ping", "-n", "-c", str(PINGS), "-i", "0.2", "-W", "2",
                            F.HOSTS[dst][1]], check=False, timeout=30)
        assert f"{PINGS} received" in cp.stdout, f"ping {src} -> {dst} failed: {cp.stdout}"
        # the copy of the last frame at VM210's port (VM210 is learnt again by
        # then, so it is mirrored with or without the defect) closes the capture
        last = F.monitored_frames(F.read_pcap(hp))[-1:]
        with contextlib.suppress(Exception):
            lab.wait_for(lambda: not last or last[0] in F.monitored_frames(F.read_pcap(sp)),
                         timeout=5, interval=0.1, what="the last frame's copy at SERV21")
        spk = cs.stop()
        hpk = ch.stop()
    return hpk, spk


def check_first_frame_mirrored(hpk, spk, docs, src: str, dst: str, first: str) -> None:
    peer = dst if src == "vm210" else src
    peer_mac, peer_ip = F.HOSTS[peer]
    # the test's own premise: VM210 said nothing but its ICMP frames of this ping
    vm210_sent = [p for p in hpk if p.eth_src == F.VM210_MAC]
    own = 8 if src == "vm210" else 0
    other = [describe(p) for p in vm210_sent if not (p.icmp_type == own and p.ip_dst == peer_ip)]
    assert not other, f"test invalid: VM210 sent other frames than the measured ICMP: {other[:5]}"
    assert len(vm210_sent) == PINGS, f"test invalid: VM210 sent {len(vm210_sent)} ICMP frames"
    sel = [p for p in hpk if F.monitored_frames([p])]
    assert len(sel) == 2 * PINGS and all(p.icmp_type in (0, 8) and peer_mac in
                                         (p.eth_src, p.eth_dst) for p in sel), \
        f"test invalid: selected frames at VM210's port: {[describe(p) for p in sel]}"

    cmp = F.compare(hpk, spk)
    copies = Counter(F.monitored_frames(spk))
    missing = [describe(p) for p in sel if copies[p.frame] == 0]
    dups = [f"{describe(p)} x{copies[p.frame]}" for p in sel if copies[p.frame] > 1]
    assert cmp.at_host == 2 * PINGS and cmp.exactly_once, (
        f"{src} pings {dst} {PINGS} times after VM210's MAC aged out ({first} must be "
        f"mirrored): {cmp}\n  not mirrored: {missing}\n  duplicated: {dups}\n"
        f"  examples: {cmp.examples}\n"
        f"entries before the first frame (VM210's location unknown everywhere):\n"
        f"{show_entries(docs)}")


def test_first_frame_from_aged_out_host_is_mirrored(lab, outdir):
    """B1: VM210 (aged out) pings VM220: the first echo request is mirrored."""
    pin_neighbours(lab, "vm210", "vm220")
    docs = age_out_vm210(lab)
    hpk, spk = measured_pings(lab, outdir, "aged-vm210-pings", "vm210", "vm220")
    check_first_frame_mirrored(hpk, spk, docs, "vm210", "vm220",
                               "VM210's first echo request")


def test_first_reply_of_aged_out_host_is_mirrored(lab, outdir):
    """B2: VM230 pings VM210 (aged out): VM210's first echo reply is mirrored."""
    pin_neighbours(lab, "vm230", "vm210")
    docs = age_out_vm210(lab)
    hpk, spk = measured_pings(lab, outdir, "aged-vm230-pings", "vm230", "vm210")
    check_first_frame_mirrored(hpk, spk, docs, "vm230", "vm210",
                               "VM210's first echo reply")
