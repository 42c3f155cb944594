"""A rogue BGP speaker originates monitoring sessions the import policy denies.

Two patched leaves back to back (two_leaves.py) and, in a third network
namespace linked to leaf2, our own raw BGP speaker (rawbgp.py: its own
OPEN with capability 239 for route type 254, its own UPDATEs). leaf2's
policy denies every session whose originator is in 10.66.0.0/16:

    ip prefix-list TROGUE seq 5 permit 10.66.0.0/16
    router bgp 65002 / address-family l2vpn evpn
     monitor import rule 10 deny originator prefix-list TROGUE

The speaker announces sessions from originator 10.66.0.1 and, as the
control that proves the path delivers, one from 10.77.0.1. Checked:

* nothing of the rogue originator is installed: leaf2's feed of version 4
  has every rogue session as IMPORT_DENIED ("denied by rule 10"), feeds of
  version 3 and 2 have none of them (they have the control session);
* the routes stay in BGP: shown by leaf2 with the decision and relayed to
  leaf1 (which has no policy);
* the denial is counted (per rule, per originator) and logged, one line per
  session;
* the BGP session to the speaker stays up: one connection, no
  NOTIFICATION either way.

Run as root: /usr/bin/python3 -m pytest tests/frr-plugin/test_rogue_speaker.py
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

import rawbgp  # noqa: E402
from two_leaves import two_leaves, wait_for  # noqa: E402

PREFIX = f"emr{os.getpid()}"
LEAF2_ADDR, SPEAKER, SPEAKER_AS = "10.99.0.1", "10.99.0.2", 65099
ROGUE, CONTROL = bytes([10, 66, 0, 1]), bytes([10, 77, 0, 1])
N_ROGUE = 12                    # under the log's 20 lines a second
DENIED, INSTALLED = 1, 0


def nlri(orig: bytes, i: int) -> bytes:
    rd = bytes([0, 1]) + orig + bytes([0, 100])            # ORIG:100
    return rawbgp.monitor_nlri(rd, 100, 31, bytes([0, 0, 0, 0, 0x66, i]), b"",
                               bytes([0, 0, 0, 0, 0, 0x31]), bytes([192, 168, 100, 31]), orig)


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True, timeout=20)


class Speaker:
    def __init__(self, leaf2, d: Path):
        self.ns = f"{PREFIX}-rogue"
        self.cmds, self.log = d / "rawbgp.cmds", d / "rawbgp.log"
        self.cmds.write_text("")
        self.log.write_text("")
        self.proc = None
        sh(f"ip netns add {self.ns}")
        sh(f"ip link add rg0 netns {PREFIX}-2 type veth peer name rg1 netns {self.ns}")
        sh(f"ip -n {PREFIX}-2 addr add {LEAF2_ADDR}/30 dev rg0; ip -n {PREFIX}-2 link set rg0 up")
        sh(f"ip -n {self.ns} addr add {SPEAKER}/30 dev rg1; ip -n {self.ns} link set rg1 up; "
           f"ip -n {self.ns} link set lo up")
        # leaf1 gets the routes with the speaker's next hop (EVPN keeps it
        # over eBGP): make it resolvable there
        sh(f"ip -n {PREFIX}-1 route add {SPEAKER}/32 via 172.16.0.2")
        cp = leaf2.vtysh("configure terminal", "router bgp 65002",
                         f"neighbor {SPEAKER} remote-as {SPEAKER_AS}",
                         f"neighbor {SPEAKER} passive", f"neighbor {SPEAKER} timers 3 9",
                         "address-family l2vpn evpn", f"neighbor {SPEAKER} activate")
        assert cp.returncode == 0 and "%" not in cp.stdout, cp
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "/usr/bin/python3", str(HERE / "rawbgp.py"),
             LEAF2_ADDR, SPEAKER, str(SPEAKER_AS), SPEAKER, str(self.cmds), str(self.log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(d / "rawbgp.err", "w"),
            start_new_session=True)

    def send(self, body: bytes) -> None:
        with open(self.cmds, "a") as f:
            f.write(body.hex() + "\n")

    def events(self) -> list[str]:
        return self.log.read_text().splitlines()

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(5)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, timeout=10)


@pytest.fixture(scope="module")
def fabric():
    with two_leaves(PREFIX) as leaves:
        leaf2 = leaves[2]
        cp = leaf2.vtysh("configure terminal", "ip prefix-list TROGUE seq 5 permit 10.66.0.0/16")
        assert cp.returncode == 0 and "%" not in cp.stdout, cp
        leaf2.ok("monitor import rule 10 deny originator prefix-list TROGUE")
        sp = Speaker.__new__(Speaker)
        sp.proc, sp.ns = None, f"{PREFIX}-rogue"
        try:
            sp.__init__(leaf2, leaf2.d)
            wait_for(lambda: leaf2.json("show bgp neighbors")[SPEAKER]["bgpState"] == "Established",
                     timeout=60, what="the raw speaker's session established")
            yield leaves, sp
        finally:
            sp.close()


def by_orig(sessions, orig: str) -> list[dict]:
    return [s for s in sessions if s.get("originatorIp", s.get("originator")) == orig]


def test_rogue_sessions_denied_nothing_installed_session_up(fabric):
    leaves, sp = fabric
    leaf1, leaf2 = leaves[1], leaves[2]
    v4, v3, v2 = leaf2.feed(version=4), leaf2.feed(version=3), leaf2.feed(version=2)
    try:
        assert any(e.startswith("rx OPEN") and "ef01fe" in e for e in sp.events()), \
            "leaf2 announced capability 239 (type 254) to the speaker"
        sp.send(rawbgp.evpn_update(SPEAKER_AS, SPEAKER,
                                   [nlri(ROGUE, i) for i in range(N_ROGUE)] + [nlri(CONTROL, 0)],
                                   rt=(65000, 100)))
        # held by leaf2, with the decision
        wait_for(lambda: len(by_orig(leaf2.sessions("remote"), "10.66.0.1")) == N_ROGUE
                 and by_orig(leaf2.sessions("remote"), "10.77.0.1"), what="leaf2 holds them")
        wait_for(lambda: {(s.get("importState"), s.get("importReason"))
                          for s in by_orig(leaf2.sessions("remote"), "10.66.0.1")}
                 == {("denied", "denied by rule 10")}, what="every rogue session denied")
        wait_for(lambda: [s.get("importState") for s in by_orig(leaf2.sessions("remote"), "10.77.0.1")]
                 == ["installed"], what="the control session installed")

        # the feed: version 4 sees them denied, 3 and 2 do not see them
        def feed_of(c):
            c.poll(0.3)
            return list(c.sessions.values())
        wait_for(lambda: len(by_orig(feed_of(v4), "10.66.0.1")) == N_ROGUE
                 and by_orig(feed_of(v4), "10.77.0.1"), what="feed v4 has them all")
        assert {(s["importState"], s["importReason"]) for s in by_orig(feed_of(v4), "10.66.0.1")} \
            == {(DENIED, "denied by rule 10")}
        assert [s["importState"] for s in by_orig(feed_of(v4), "10.77.0.1")] == [INSTALLED]
        for c in (v3, v2):
            wait_for(lambda: by_orig(feed_of(c), "10.77.0.1"), what=f"feed v{c.asked}: control")
            assert by_orig(feed_of(c), "10.66.0.1") == [], f"feed v{c.asked} got a rogue session"
            assert all(s["importState"] == INSTALLED for s in feed_of(c))

        # kept in BGP: relayed to leaf1
        wait_for(lambda: len(by_orig(leaf1.sessions("remote"), "10.66.0.1")) == N_ROGUE,
                 what="leaf1 receives them through leaf2")

        # counted and logged
        j = leaf2.json("show bgp l2vpn evpn monitor import")
        assert j["counters"]["denialsByRule"]["10"] == N_ROGUE
        assert j["sessions"]["denied"] == N_ROGUE
        assert j["originators"]["10.66.0.1"] == {"installed": 0, "denied": N_ROGUE, "overLimit": 0}
        assert j["rules"][0]["sessions"] == N_ROGUE
        log = (leaf2.d / "bgpd.log").read_text(errors="replace")
        denied_lines = [l for l in log.splitlines()
                        if "import: session 10.66.0.1/100/31/" in l and "denied (denied by rule 10)" in l]
        assert len(denied_lines) == N_ROGUE, denied_lines
        text = leaf2.show("show bgp l2vpn evpn monitor import")
        assert f"{N_ROGUE} denial(s)" in text and "10.66.0.1" in text

        # the BGP session never went down, nothing was refused with a NOTIFICATION
        p = leaf2.json("show bgp neighbors")[SPEAKER]
        assert p["bgpState"] == "Established"
        assert p.get("connectionsEstablished") == 1 and p.get("connectionsDropped", 0) == 0, p
        ev = sp.events()
        assert ev.count("connected") == 1 and "closed" not in ev, ev
        assert not [e for e in ev if "NOTIFICATION" in e], ev
        # (a connection collision at bring-up between the two leaves gets a
        # NOTIFICATION that does not affect any session)
        bad = [l for l in log.splitlines() if "NOTIFICATION" in l and not any(
               k in l for k in ("Connection Collision", "in OpenSent", "in OpenConfirm"))]
        assert not bad, bad
    finally:
        for c in (v4, v3, v2):
            c.close()


def test_policy_change_lets_them_in_without_reset(fabric):
    """The operator removes the rule: the same sessions are installed, on
    the same BGP session (no reset, no re-advertisement asked for)."""
    leaves, sp = fabric
    leaf2 = leaves[2]
    v3 = leaf2.feed(version=3)
    try:
        leaf2.ok("no monitor import rule 10")
        wait_for(lambda: {s.get("importState") for s in by_orig(leaf2.sessions("remote"), "10.66.0.1")}
                 == {"installed"}, what="installed once the rule is gone")

        def rogue_in_v3():
            v3.poll(0.3)
            return by_orig(v3.sessions.values(), "10.66.0.1")
        wait_for(lambda: len(rogue_in_v3()) == N_ROGUE, what="feed v3 gets them")
        p = leaf2.json("show bgp neighbors")[SPEAKER]
        assert p.get("connectionsEstablished") == 1
        assert sp.events().count("connected") == 1
    finally:
        v3.close()


def test_global_and_per_originator_limits_with_two_originators(fabric):
    """Two originators (the rogue and the control one, both the speaker's):
    the per-originator limit holds the rogue one's newest sessions, the
    global limit the next sessions of the other; each waiting session's
    reason names the limit that holds it, in show and in the version-4 feed,
    and follows a limit change."""
    leaves, sp = fabric
    leaf2 = leaves[2]
    v4 = leaf2.feed(version=4)

    def counts():
        return leaf2.json("show bgp l2vpn evpn monitor import")["originators"]

    def reasons(orig):
        return {(s.get("importState"), s.get("importReason"))
                for s in by_orig(leaf2.sessions("remote"), orig)}

    def feed_reasons(orig):
        v4.poll(0.3)
        return {(s["importState"], s["importReason"]) for s in by_orig(v4.sessions.values(), orig)}
    try:
        # after the previous test: every session installed, no rule
        wait_for(lambda: counts().get("10.66.0.1", {}).get("installed") == N_ROGUE,
                 what="the rogue sessions installed")
        leaf2.ok("monitor import maximum-sessions per-originator 5", "monitor import maximum-sessions 8")
        per_orig = "maximum-sessions per-originator 5 reached for 10.66.0.1"
        wait_for(lambda: counts()["10.66.0.1"] == {"installed": 5, "denied": 0, "overLimit": N_ROGUE - 5}
                 and counts()["10.77.0.1"] == {"installed": 1, "denied": 0, "overLimit": 0},
                 what="the rogue originator held at 5")
        assert reasons("10.66.0.1") == {("installed", "permitted by default"), ("over-limit", per_orig)}

        # four more of the control originator: two fit under the global 8
        sp.send(rawbgp.evpn_update(SPEAKER_AS, SPEAKER, [nlri(CONTROL, i) for i in range(1, 5)],
                                   rt=(65000, 100)))
        wait_for(lambda: counts()["10.77.0.1"] == {"installed": 3, "denied": 0, "overLimit": 2},
                 what="control: 3 installed, 2 wait")
        glob = "maximum-sessions 8 reached"
        assert counts()["10.66.0.1"]["installed"] == 5, "nothing of the rogue one pushed out or added"
        # every waiting session is held by the global limit now
        wait_for(lambda: reasons("10.66.0.1") == {("installed", "permitted by default"),
                                                  ("over-limit", glob)}, what="rogue: global reason")
        assert reasons("10.77.0.1") == {("installed", "permitted by default"), ("over-limit", glob)}
        wait_for(lambda: feed_reasons("10.66.0.1") == {(INSTALLED, "permitted by default"),
                                                       (2, glob)}, what="feed v4: global reason")

        # the global limit raised: the control ones are installed, the
        # rogue ones wait for their originator's limit again
        leaf2.ok("monitor import maximum-sessions 20")
        wait_for(lambda: counts()["10.77.0.1"] == {"installed": 5, "denied": 0, "overLimit": 0},
                 what="control: all installed")
        assert counts()["10.66.0.1"]["installed"] == 5
        wait_for(lambda: reasons("10.66.0.1") == {("installed", "permitted by default"),
                                                  ("over-limit", per_orig)}, what="rogue: per-originator")
        wait_for(lambda: feed_reasons("10.66.0.1") == {(INSTALLED, "permitted by default"),
                                                       (2, per_orig)}, what="feed v4: per-originator")
        p = leaf2.json("show bgp neighbors")[SPEAKER]
        assert p.get("connectionsEstablished") == 1
    finally:
        v4.close()
        leaf2.ok("no monitor import maximum-sessions", "no monitor import maximum-sessions per-originator")
