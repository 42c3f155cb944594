"""`show bgp l2vpn evpn monitor [json]` sent to vtysh in slices.

bgpd writes the show for a vtysh connection about 256 KB at a time,
returning to its event loop in between, and writes the next slice while the
reader takes the last one from the socket, one slice at most waiting in
bgpd (bgp_evpn_mon_vty.c, "One show in progress"). These
tests talk to bgpd's vty socket directly, as vtysh does, so that they can
stop reading in the middle of a show:

* a show whose reader stalls holds one slice, not its whole output (its
  memory type's bytes, read while it waits); what
  is removed meanwhile, ahead of the walk, is not shown (a show built in
  one go, as before, would still list it), and nothing is shown twice;
* routes withdrawn under a stalled show on a receiver are skipped, and their
  nodes are freed;
* routes that arrive under a stalled show, ahead of its walk, are listed
  with the VNI that imports them;
* a route imported into five VNIs (more than a route's slot holds inline)
  lists them ascending, read whole or brought up to date change by change;
* withdrawn under a stalled show, more routes than are left: they leave the
  imports table change by change (it is not read whole again), and what
  the show lists after is right;
* a reader that goes away ends the show; two readers interleave;
* the text form read from the socket is what vtysh prints, whole;
* hosts configured while a show waits in the configured hosts are listed;
* the imports table (and the feed's change journal) is kept between shows
  and brought up to date from the journal; a VNI event lets it go at once,
  and so do 30 s without a show; it keeps no withdrawn route's node;
* a VNI deleted under a stalled show: the sessions written after it are
  shown without that import, and its table is released with the show;
* `no router bgp` under a stalled show: the show ends its output at once
  and bgpd frees it;
* bgpd exits cleanly with a show stalled.

Two leaves; leaf 1 configures SESSIONS sessions from its bgpd.conf. The
tests run in this order and each starts from where the last one left.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from two_leaves import SERVER, VNI, bgpd_conf, two_leaves, wait_for

PREFIX = f"ems{os.getpid()}"
SESSIONS = 5000
REMOVED = 1700  # the last ones configured, a third
SHOW = "show bgp l2vpn evpn monitor"
MTYPE = "EVPN monitor show in progress"
JOURNAL = "EVPN monitor change journal"


def host_mac(i: int) -> str:
    return f"00:00:5e:{(i >> 16) & 0xff:02x}:{(i >> 8) & 0xff:02x}:{i & 0xff:02x}"


def host_line(i: int) -> str:
    return f"monitor host vni {VNI} mac {host_mac(i)} server {SERVER}"


def conf(i: int) -> str:
    return bgpd_conf(i, evpn=[host_line(k) for k in range(SESSIONS)] if i == 1 else [])


class RawVty:
    """One connection to bgpd's vty socket, speaking vtysh's protocol: a
    command ends with NUL; the answer is its output, then 0 0 0 and the
    result code."""

    def __init__(self, leaf):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(str(leaf.d / "bgpd.vty"))
        self.data = b""

    def send(self, cmd: str) -> None:
        self.sock.sendall(cmd.encode() + b"\0")

    def done(self) -> bool:
        return len(self.data) >= 4 and self.data[-4:-1] == b"\0\0\0"

    def read_some(self, at_least: int) -> None:
        """Reads until at least `at_least` more bytes (or the answer's end)."""
        want = len(self.data) + at_least
        while len(self.data) < want and not self.done():
            chunk = self.sock.recv(min(65536, want - len(self.data)))
            assert chunk, "bgpd closed the connection"
            self.data += chunk

    def answer(self) -> tuple[str, int]:
        """The rest of the answer: (output, result code)."""
        while not self.done():
            chunk = self.sock.recv(65536)
            assert chunk, "bgpd closed the connection before the result"
            self.data += chunk
        out, code = self.data[:-4], self.data[-1]
        self.data = b""
        return out.decode(), code

    def close(self) -> None:
        self.sock.close()


def allocations(leaf, mtype: str) -> int:
    """bgpd's live allocations of one memory type (`show memory`)."""
    out = leaf.show("show memory")
    bgpd = out[out.index("Memory statistics for bgpd"):] if "Memory statistics for bgpd" in out \
        else out
    m = re.search(rf"^{re.escape(mtype)}\s*:\s*(\d+)", bgpd, re.M)
    return int(m.group(1)) if m else 0


def bytes_held(leaf, mtype: str) -> int:
    """The bytes bgpd holds now in one memory type (`show memory`'s Total,
    from malloc_usable_size)."""
    out = leaf.show("show memory")
    m = re.search(rf"^{re.escape(mtype)}\s*:\s*(\d+)\s+(?:variable|\d+)?\s*(\d+)\s+(\d+)\s+(\d+)\s*$",
                  out, re.M)
    assert m, f"no {mtype!r} line with its totals in `show memory`"
    return int(m.group(2))


# A show's state and its output waiting in bgpd: one slice (256 KB) and
# two 16 KB buffers, with the state (its own 16 KB buffer) and allocator
# slack. A show that wrote ahead without bound would hold its output.
ONE_SHOW_BYTES = 400 * 1024


def shows_in_progress(leaf) -> int:
    """Allocations of the show's memory type: at least one per show in
    progress (its state and its buffer), 0 when none."""
    return allocations(leaf, MTYPE)


def output_exceeds_buffers(nbytes: int) -> None:
    """The tests stop reading after 64 KB and rely on the rest waiting in
    bgpd: the output must be much larger than the socket's buffer plus a
    slice (256 KB) or the show would be over before they act."""
    wmem = int(open("/proc/sys/net/core/wmem_default").read())
    assert nbytes > 4 * (wmem + 300 * 1024), \
        f"{nbytes} bytes of output against net.core.wmem_default={wmem}: raise SESSIONS"


def configured_count(leaf) -> int:
    return len(leaf.json(SHOW)["configured"])


def session_ids(doc: dict) -> list[str]:
    return [f'{s["rd"]}|{s.get("hostMac")}|{s["hostId"]}' for s in doc["sessions"]]


def send_back_under_a_stalled_show(leaf1, leaf2, back, held=lambda: None) -> list[dict]:
    """leaf2's show stalls after its first 64 KB; leaf1 sends the sessions
    `back` again and leaf2 has them all; then the show is read to its end.
    held(): checks while the show is stalled. Returns the sessions shown."""
    stalled = RawVty(leaf2)
    try:
        stalled.send(SHOW + " json")
        stalled.read_some(64 * 1024)
        held()
        leaf1.ok(*[host_line(k) for k in back])
        wait_for(lambda: len(leaf2.sessions("remote")) == SESSIONS, timeout=60,
                 what="leaf2 has the sessions back")
        assert not stalled.done()
        out, code = stalled.answer()
    finally:
        stalled.close()
    assert code == 0
    return json.loads(out)["sessions"]


@pytest.fixture(scope="module")
def leaves():
    # bgpd fills freed memory (two_leaves, clabns.TEST_FRR_ENV): a show
    # that reads a node bgpd freed between its slices reads garbage and fails
    with two_leaves(PREFIX, conf) as out:
        wait_for(lambda: configured_count(out[1]) == SESSIONS, timeout=120,
                 what=f"leaf1 holds its {SESSIONS} sessions")
        wait_for(lambda: len(out[2].sessions("remote")) == SESSIONS, timeout=180,
                 what=f"leaf2 received the {SESSIONS} sessions")
        yield out


def test_a_stalled_reader_holds_one_slice_and_sees_later_removals(leaves):
    leaf1, leaf2 = leaves[1], leaves[2]
    output_exceeds_buffers(len(leaf2.show(SHOW + " json")))
    assert shows_in_progress(leaf1) == 0

    stalled, receiver = RawVty(leaf1), RawVty(leaf2)
    try:
        stalled.send(SHOW + " json")
        stalled.read_some(64 * 1024)
        receiver.send(SHOW + " json")
        receiver.read_some(64 * 1024)
        # both shows wait for their readers; bgpd answers others meanwhile
        assert shows_in_progress(leaf1) >= 1 and shows_in_progress(leaf2) >= 1
        # the one on leaf2 wrote ahead of its reader one slice at most,
        # however many turns of bgpd's loop pass (each command one)
        for _ in range(3):
            held = bytes_held(leaf2, MTYPE)
            assert 0 < held <= ONE_SHOW_BYTES, f"a stalled show holds {held} bytes"
        assert configured_count(leaf1) == SESSIONS
        nodes_before = allocations(leaf2, "BGP node")

        leaf1.ok(*[f"no {host_line(k)}" for k in range(SESSIONS - REMOVED, SESSIONS)])
        wait_for(lambda: configured_count(leaf1) == SESSIONS - REMOVED,
                 what="leaf1's removals configured")
        wait_for(lambda: len(leaf2.sessions("remote")) == SESSIONS - REMOVED, timeout=60,
                 what="leaf2 has the withdrawals")

        out, code = stalled.answer()
        assert code == 0
        doc = json.loads(out)
        # the configured hosts come after every route: the walk had not
        # reached them, so the removed ones are not listed
        macs = [c["hostMac"] for c in doc["configured"]]
        assert macs == [host_mac(k) for k in range(SESSIONS - REMOVED)]
        ids = session_ids(doc)
        assert len(ids) == len(set(ids)), "no session shown twice"
        assert SESSIONS - REMOVED <= len(ids) <= SESSIONS

        out, code = receiver.answer()
        assert code == 0
        doc = json.loads(out)
        ids = session_ids(doc)
        assert len(ids) == len(set(ids)), "no session shown twice"
        # the walk stood in the first quarter of the routes: of the
        # withdrawn third, those ahead of it are not shown
        assert SESSIONS - REMOVED <= len(ids) < SESSIONS
        kept = {host_mac(k) for k in range(SESSIONS - REMOVED)}
        assert kept <= {s["hostMac"] for s in doc["sessions"]}
    finally:
        stalled.close()
        receiver.close()
    wait_for(lambda: shows_in_progress(leaf1) == 0 and shows_in_progress(leaf2) == 0,
             what="the finished shows freed")
    # each withdrawn route's nodes (in its RD's table and in the VNI's)
    # are freed: neither the walks nor the imports table hold them
    assert allocations(leaf2, "BGP node") <= nodes_before - REMOVED


def test_routes_that_arrive_under_a_stalled_show_carry_their_imports(leaves):
    """The removed sessions come back while leaf2's show waits: those the
    walk reaches are listed as imported into the VNI. The show brings its
    imports table up to date from the feed's change journal, one change at
    a time (a table read only at the start would say `importedInto: []`;
    one read whole again would not read the journal)."""
    leaf1, leaf2 = leaves[1], leaves[2]
    back = range(SESSIONS - REMOVED, SESSIONS)
    assert len(leaf2.sessions("remote")) == SESSIONS - REMOVED
    feed = leaf2.json(SHOW + " feed")

    def holds_the_journal():
        assert allocations(leaf2, JOURNAL) == 1, "the show holds the feed's change journal"
    sessions = send_back_under_a_stalled_show(leaf1, leaf2, back, holds_the_journal)
    ids = [f'{s["rd"]}|{s.get("hostMac")}|{s["hostId"]}' for s in sessions]
    assert len(ids) == len(set(ids)), "no session shown twice"
    returned = {host_mac(k) for k in back}
    listed = [s for s in sessions if s["hostMac"] in returned]
    # the walk stood in the first quarter: most of them are ahead of it
    assert len(listed) >= REMOVED // 2, f"{len(listed)} of the {REMOVED} returned listed"
    wrong = [(s["hostMac"], s["importedInto"]) for s in sessions if s["importedInto"] != [VNI]]
    assert not wrong, f"{len(wrong)} sessions not shown as imported into {VNI}: {wrong[:5]}"
    wait_for(lambda: shows_in_progress(leaf2) == 0, what="the show freed")
    assert allocations(leaf2, JOURNAL) == 1, "the journal is kept with the imports table"
    after = leaf2.json(SHOW + " feed")
    assert after["journalReaders"] == 1
    assert after["journalNotHeld"] == feed["journalNotHeld"], "the show read everything again"
    assert after["journalRereads"] == feed["journalRereads"], "the show read everything again"
    # (the waits' own shows, sliced too, may also have read some)
    assert after["journalChangesRead"] - feed["journalChangesRead"] >= REMOVED, \
        "each returned route's import read from the journal"


# Created out of order; with VNI 100, one more than a route's VNIs kept inline.
MORE_VNIS = (500, 200, 400, 300)
# Sent again under the stalled show: at least 5 x CHURN changes (one per
# route and VNI), well within the journal's 8,192, so that the show reads
# them all from it.
CHURN = 500


def vni_devices(ns: str, vnis, add: bool) -> None:
    for v in vnis:
        cmd = (f"ip -n {ns} link add br{v} type bridge; ip -n {ns} link set br{v} up; "
               f"ip -n {ns} link add vxlan{v} type vxlan id {v} local 10.0.0.2 dstport 4789 "
               f"nolearning; ip -n {ns} link set vxlan{v} master br{v}; "
               f"ip -n {ns} link set vxlan{v} up") if add else \
              f"ip -n {ns} link del vxlan{v}; ip -n {ns} link del br{v}"
        subprocess.run(cmd, shell=True, check=add, timeout=20)


def test_a_route_imported_into_five_vnis_lists_them_ascending(leaves):
    """Four more VNIs on leaf2 import the sessions' route target, so every
    session is imported into five VNIs, more than a route's slot holds
    inline. They are listed ascending both when the show reads the VNI
    tables whole and when a stalled show brings its table up to date from
    the journal, change by change, for the last CHURN sessions, withdrawn
    before it started and sent again under it (bgpd imports a route into
    its VNIs in the order of its route-target lists, not by VNI)."""
    leaf1, leaf2 = leaves[1], leaves[2]
    ns = f"{PREFIX}-2"
    every = sorted((VNI,) + MORE_VNIS)
    # the route target the sessions' routes carry (leaf2's own VNI 100
    # imports them by its auto-derived one, which ignores the AS)
    rts = leaf1.json(f"show bgp l2vpn evpn vni {VNI}")["exportRts"]
    assert rts, "leaf1's export route targets of VNI 100"
    back = range(SESSIONS - CHURN, SESSIONS)
    try:
        vni_devices(ns, MORE_VNIS, add=True)
        wait_for(lambda: all(f" {v} " in leaf2.show("show bgp l2vpn evpn vni") for v in MORE_VNIS),
                 what="leaf2's bgpd knows the four VNIs")
        leaf2.ok(*[line for v in MORE_VNIS
                   for line in (f"vni {v}", *[f"route-target import {rt}" for rt in rts],
                                "exit-vni")])
        wait_for(lambda: all(s["importedInto"] == every for s in leaf2.sessions("remote")),
                 timeout=60, what=f"every session listed as imported into {every}")
        leaf1.ok(*["no " + host_line(k) for k in back])
        wait_for(lambda: len(leaf2.sessions("remote")) == SESSIONS - CHURN, timeout=60,
                 what=f"leaf2 lost the last {CHURN}")
        feed = leaf2.json(SHOW + " feed")
        sessions = send_back_under_a_stalled_show(leaf1, leaf2, back)
        returned = {host_mac(k) for k in back}
        assert len([s for s in sessions if s["hostMac"] in returned]) >= CHURN // 2
        wrong = [(s["hostMac"], s["importedInto"]) for s in sessions if s["importedInto"] != every]
        assert not wrong, f"{len(wrong)} sessions not listed with {every}: {wrong[:5]}"
        wait_for(lambda: shows_in_progress(leaf2) == 0, what="the show freed")
        after = leaf2.json(SHOW + " feed")
        assert after["journalNotHeld"] == feed["journalNotHeld"], "the show read everything again"
        assert after["journalRereads"] == feed["journalRereads"], "the show read everything again"
        # a lower bound (the waits' own shows read the journal too); what
        # fails without the journal is the order of importedInto above
        assert after["journalChangesRead"] - feed["journalChangesRead"] >= len(every) * CHURN
    finally:
        # Back to where the next tests start, without hiding a failure
        # above: no assertion here, the wait below checks the state.
        leaf2.conf(*[f"no vni {v}" for v in MORE_VNIS])
        vni_devices(ns, MORE_VNIS, add=False)
        leaf1.conf(*[host_line(k) for k in back])
    wait_for(lambda: len(leaf2.sessions("remote")) == SESSIONS, timeout=60,
             what="leaf2 has every session")
    wait_for(lambda: all(s["importedInto"] == [VNI] for s in leaf2.sessions("remote")),
             timeout=60, what="the sessions imported into VNI 100 alone again")


# Withdrawn under a stalled show: more than the routes left, fewer than the
# journal's 8,192 changes.
DEAD = 4500


def test_routes_withdrawn_under_a_stalled_show_leave_the_imports_table(leaves):
    """Leaf1 withdraws DEAD of its sessions while leaf2's show waits for its
    reader: each leaves the imports table as its change is read from the
    journal (`journalChangesRead`), with its slot and its node; the table
    is never read whole again (`journalRereads` unchanged; a table that kept
    a slot per withdrawn route would be, once they outnumber the others).
    The sessions the show lists after are imported into the VNI, none
    twice, and every one kept is listed."""
    leaf1, leaf2 = leaves[1], leaves[2]
    gone = range(SESSIONS - DEAD, SESSIONS)
    feed = leaf2.json(SHOW + " feed")
    nodes_before = allocations(leaf2, "BGP node")
    stalled = RawVty(leaf2)
    try:
        try:
            stalled.send(SHOW + " json")
            stalled.read_some(64 * 1024)
            leaf1.ok(*["no " + host_line(k) for k in gone])
            wait_for(lambda: len(leaf2.sessions("remote")) == SESSIONS - DEAD, timeout=60,
                     what=f"leaf2 lost the last {DEAD}")
            assert not stalled.done()
            # the waits' shows brought the shared table up to date: the
            # withdrawn routes' nodes are freed while the stalled show waits
            wait_for(lambda: allocations(leaf2, "BGP node") <= nodes_before - DEAD, timeout=30,
                     what="the withdrawn routes' nodes freed")
            out, code = stalled.answer()
        finally:
            stalled.close()
        assert code == 0
        sessions = json.loads(out)["sessions"]
        ids = [f'{s["rd"]}|{s.get("hostMac")}|{s["hostId"]}' for s in sessions]
        assert len(ids) == len(set(ids)), "no session shown twice"
        kept = {host_mac(k) for k in range(SESSIONS - DEAD)}
        assert kept <= {s["hostMac"] for s in sessions}, "every kept session listed"
        wrong = [(s["hostMac"], s["importedInto"]) for s in sessions if s["importedInto"] != [VNI]]
        assert not wrong, f"{len(wrong)} sessions not listed as imported into {VNI}: {wrong[:5]}"
        wait_for(lambda: shows_in_progress(leaf2) == 0, what="the show freed")
        after = leaf2.json(SHOW + " feed")
        assert after["journalNotHeld"] == feed["journalNotHeld"], "the journal held every change"
        assert after["journalRereads"] == feed["journalRereads"], \
            "the imports table was read whole again"
        assert after["journalChangesRead"] - feed["journalChangesRead"] >= DEAD
    finally:
        # Back to where the next tests start; the wait below checks it.
        leaf1.conf(*[host_line(k) for k in gone])
    wait_for(lambda: len(leaf2.sessions("remote")) == SESSIONS, timeout=90,
             what="leaf2 has every session")


def test_a_reader_that_goes_away_ends_the_show(leaves):
    leaf1 = leaves[1]
    gone = RawVty(leaf1)
    gone.send(SHOW + " json")
    gone.read_some(16 * 1024)
    assert shows_in_progress(leaf1) >= 1
    gone.close()
    wait_for(lambda: shows_in_progress(leaf1) == 0, what="the abandoned show freed")
    assert configured_count(leaf1) > 0, "bgpd still answers"


def test_two_readers_interleaved_get_the_same_show(leaves):
    leaf1 = leaves[1]
    a, b = RawVty(leaf1), RawVty(leaf1)
    try:
        a.send(SHOW + " json")
        b.send(SHOW + " json")
        while not (a.done() and b.done()):
            a.read_some(32 * 1024)
            b.read_some(32 * 1024)
        (out_a, code_a), (out_b, code_b) = a.answer(), b.answer()
    finally:
        a.close()
        b.close()
    assert code_a == code_b == 0
    assert out_a == out_b
    assert len(json.loads(out_a)["configured"]) == configured_count(leaf1)


def test_the_text_form_is_what_vtysh_prints(leaves):
    leaf1 = leaves[1]
    raw = RawVty(leaf1)
    try:
        raw.send(SHOW)
        out, code = raw.answer()
    finally:
        raw.close()
    assert code == 0
    assert out == leaf1.show(SHOW)
    lines = out.splitlines()
    assert lines[0].startswith("Origin ")
    configured = lines[lines.index("Configured on this leaf:") + 1:]
    assert len([l for l in configured if l.startswith("  vni ")]) == configured_count(leaf1)
    assert any(l.startswith("Counters: ") for l in lines)


def test_hosts_added_under_a_stalled_show_are_listed(leaves):
    leaf1 = leaves[1]
    before = [c["hostMac"] for c in leaf1.json(SHOW)["configured"]]
    added = [host_mac(9000 + k) for k in range(50)]
    stalled = RawVty(leaf1)
    try:
        stalled.send(SHOW + " json")
        while b'"configured"' not in stalled.data:
            stalled.read_some(64 * 1024)
        assert not stalled.done(), "the walk is still in the configured hosts"
        leaf1.ok(*[f"monitor host vni {VNI} mac {m} server {SERVER}" for m in added])
        wait_for(lambda: configured_count(leaf1) == len(before) + len(added),
                 what="the added hosts configured")
        out, code = stalled.answer()
    finally:
        stalled.close()
    assert code == 0
    macs = [c["hostMac"] for c in json.loads(out)["configured"]]
    # they join the end of the configuration order, where the walk goes on
    assert macs == before + added
    leaf1.ok(*[f"no monitor host vni {VNI} mac {m} server {SERVER}" for m in added])


IMPORTS = "EVPN monitor imports table"
KEEP_S = 30  # MON_IMPS_KEEP_MS: how long the table stays after the last show
IDLE_GONE = 200  # withdrawn while no show runs


def imports_kept(leaf) -> bool:
    """The imports table and the feed's change journal are held."""
    return allocations(leaf, IMPORTS) > 0 and allocations(leaf, JOURNAL) == 1


def imports_let_go(leaf) -> bool:
    return allocations(leaf, IMPORTS) == 0 and allocations(leaf, JOURNAL) == 0


def settled(leaf, mtype: str) -> int:
    """A memory type's allocations once two reads half a second apart agree
    (bgpd frees a withdrawn route's nodes from its work queue)."""
    last = allocations(leaf, mtype)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = allocations(leaf, mtype)
        if now == last:
            return now
        last = now
    raise AssertionError(f"{mtype}: still changing after 20 s")


def test_the_imports_table_is_kept_between_shows_and_let_go(leaves):
    """After a show, its imports table (with the feed's change journal)
    stays for the next one, which brings it up to date from the journal:
    routes withdrawn while no show ran are read from it
    (`journalChangesRead`), not the VNI tables whole (`journalRereads`), and
    the show is right. A VNI event lets the table go at once, well before
    KEEP_S; a VNI configured but not live comes and goes without one, and
    the next show lets the deleted one's table go. KEEP_S without a show
    lets the table go too, and then frees no node: the show after the
    withdrawals let theirs go."""
    leaf1, leaf2 = leaves[1], leaves[2]
    ns = f"{PREFIX}-2"
    gone = range(SESSIONS - IDLE_GONE, SESSIONS)
    wait_for(lambda: len(leaf2.sessions("remote")) == SESSIONS, timeout=60,
             what="leaf2 has every session")
    assert imports_kept(leaf2), "kept after the show"
    assert leaf2.json(SHOW + " feed")["journalReaders"] == 1

    vni_devices(ns, (600,), add=True)
    try:
        wait_for(lambda: imports_let_go(leaf2), timeout=KEEP_S / 2,
                 what="the imports table let go on the VNI event")
    finally:
        vni_devices(ns, (600,), add=False)
    wait_for(lambda: f" 600 " not in leaf2.show("show bgp l2vpn evpn vni"),
             what="leaf2's bgpd dropped VNI 600")

    tables = allocations(leaf2, "BGP table")
    leaf2.ok("vni 700", "exit-vni")
    try:
        leaf2.show(SHOW)
        assert allocations(leaf2, "BGP table") == tables + 1
    finally:
        leaf2.ok("no vni 700")
    leaf2.show(SHOW)
    assert allocations(leaf2, "BGP table") == tables, "the deleted VNI's table let go"

    try:
        leaf2.show(SHOW)
        assert imports_kept(leaf2)
        feed = leaf2.json(SHOW + " feed")
        # withdrawn with no show running: waited for through the feed
        leaf1.ok(*["no " + host_line(k) for k in gone])
        wait_for(lambda: leaf2.json(SHOW + " feed")["sessions"] == SESSIONS - IDLE_GONE,
                 what=f"leaf2's feed lost the last {IDLE_GONE}")
        sessions = leaf2.sessions("remote")
        last_show = time.monotonic()
        after = leaf2.json(SHOW + " feed")
        assert after["journalRereads"] == feed["journalRereads"], "read whole again"
        assert after["journalNotHeld"] == feed["journalNotHeld"], "read whole again"
        assert after["journalChangesRead"] - feed["journalChangesRead"] >= IDLE_GONE
        assert len(sessions) == SESSIONS - IDLE_GONE
        wrong = [(s["hostMac"], s["importedInto"]) for s in sessions if s["importedInto"] != [VNI]]
        assert not wrong, f"{len(wrong)} sessions not listed as imported into {VNI}: {wrong[:5]}"

        nodes_kept = settled(leaf2, "BGP node")
        wait_for(lambda: imports_let_go(leaf2), timeout=KEEP_S + 30,
                 what=f"the imports table let go {KEEP_S} s after the last show")
        assert time.monotonic() - last_show >= KEEP_S - 1, "let go before its time"
        assert leaf2.json(SHOW + " feed")["journalReaders"] == 0
        # the slots of the withdrawn routes went with their changes
        assert allocations(leaf2, "BGP node") >= nodes_kept - 10
    finally:
        leaf1.conf(*[host_line(k) for k in gone])
    wait_for(lambda: len(leaf2.sessions("remote")) == SESSIONS, timeout=60,
             what="leaf2 has every session")


def test_a_vni_deleted_under_a_stalled_show(leaves):
    leaf2 = leaves[2]
    stalled = RawVty(leaf2)
    try:
        stalled.send(SHOW + " json")
        stalled.read_some(64 * 1024)
        tables_held = allocations(leaf2, "BGP table")
        subprocess.run(["ip", "-n", f"{PREFIX}-2", "link", "del", "vxlan100"], check=True, timeout=20)
        wait_for(lambda: f" {VNI} " not in leaf2.show("show bgp l2vpn evpn vni"),
                 what="leaf2's bgpd dropped the VNI")
        # the next slice reads the imports again and lets the VNI's table go
        stalled.read_some(512 * 1024)
        assert not stalled.done()
        wait_for(lambda: allocations(leaf2, "BGP table") < tables_held,
                 what="the VNI's table freed while the show goes on")
        out, code = stalled.answer()
    finally:
        stalled.close()
    assert code == 0
    sessions = json.loads(out)["sessions"]
    # written before the VNI went: imported into it; the last ones, written
    # after: imported into nothing (the show read its imports again)
    assert sessions[0]["importedInto"] == [VNI]
    assert sessions[-1]["importedInto"] == []
    wait_for(lambda: shows_in_progress(leaf2) == 0, what="the show freed")


def test_no_router_bgp_under_a_stalled_show(leaves):
    leaf2 = leaves[2]
    total = len(leaf2.sessions())
    stalled = RawVty(leaf2)
    try:
        stalled.send(SHOW + " json")
        stalled.read_some(64 * 1024)
        assert shows_in_progress(leaf2) >= 1
        cp = leaf2.vtysh("configure terminal", f"no router bgp {leaf2.asn}")
        assert cp.returncode == 0, cp.stdout + cp.stderr
        # the show let go of the instance at once: bgpd freed it while the
        # reader still waits
        wait_for(lambda: "router bgp" not in leaf2.show("show running-config"),
                 what="the instance deleted")
        wait_for(lambda: allocations(leaf2, "BGP instance") == 0,
                 what="the instance freed while the show waits for its reader")
        # and so is the imports table, with its locks on the instance's
        # tables (kept, it would unlock them after the instance is gone)
        wait_for(lambda: imports_let_go(leaf2), timeout=KEEP_S / 2,
                 what="the imports table let go with the instance")
        out, code = stalled.answer()
    finally:
        stalled.close()
    assert code == 0
    doc = json.loads(out)
    assert 0 < len(doc["sessions"]) < total, "the output ends where the walk stood"
    assert doc["configured"] == []
    wait_for(lambda: shows_in_progress(leaf2) == 0, what="the show freed")


def test_bgpd_exits_cleanly_with_a_show_stalled(leaves):
    leaf1 = leaves[1]
    stalled = RawVty(leaf1)
    try:
        stalled.send(SHOW + " json")
        stalled.read_some(16 * 1024)
        assert shows_in_progress(leaf1) >= 1
        pid = int((leaf1.d / "bgpd.pid").read_text())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and os.path.exists(f"/proc/{pid}"):
            time.sleep(0.1)
        assert not os.path.exists(f"/proc/{pid}"), "bgpd exited"
    finally:
        stalled.close()
    log = (leaf1.d / "bgpd.log").read_text(errors="replace")
    assert "Terminating on signal" in log
    for crash in ("Received signal", "Backtrace", "Assertion"):
        assert crash not in log, f"bgpd's exit: {crash}"
