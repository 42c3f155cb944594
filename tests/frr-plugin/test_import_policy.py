"""Import policy and session limits of the bgpd module (`monitor import ...`).

Two patched leaves, back to back (two_leaves.py): leaf1 originates sessions,
leaf2 receives them and decides. Checked:

* every command and its canonical form in the running-config, defaults not
  written, `no` forms; bad input refused with FRR's `% ...` and nothing
  written;
* `show bgp l2vpn evpn monitor import [json]` (policy, limits, counts per
  originator, counters) and the decision + reason per session in `show bgp
  l2vpn evpn monitor [json]`;
* a policy change, a MAC access-list change and a prefix-list created after
  the rule that names it re-evaluate the held sessions without a BGP
  session reset; the feed sends the flips (version 4: the same identity
  with the new decision; version 3: a DEL or an ADD; sessions the change
  does not affect: no delta);
* sessions configured on the leaf itself are permitted by any policy;
* limits: admission in arrival order, the newest refused, a raised limit or
  a withdrawal installs the oldest waiting session, a lowered limit sets the
  newest installed waiting; the warning threshold and the log lines;
* a rule given again exactly changes nothing (no re-evaluation, no counter
  reset), a replaced rule keeps its denials;
* a waiting session's reason follows limit changes (show and feed v4),
  sessions a change does not affect get no delta on the v4 view;
* a waiting session withdrawn; a flapping session keeps its rank; the
  leaf's own sessions are admitted first when room frees.

Run as root: /usr/bin/python3 -m pytest tests/frr-plugin/test_import_policy.py
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from two_leaves import SERVER, SERVER_LINE, VNI, Leaf, two_leaves, wait_for  # noqa: E402

PREFIX = f"emi{os.getpid()}"
LEAF1_ORIG = "10.0.0.1"
INSTALLED, DENIED, OVER_LIMIT = 0, 1, 2


def mac(i: int) -> str:
    return f"00:00:00:00:05:{i:02x}"


@pytest.fixture(scope="module")
def leaves():
    with two_leaves(PREFIX) as out:
        yield out


def global_conf(leaf: Leaf, *lines: str) -> None:
    cp = leaf.vtysh("configure terminal", *lines)
    assert cp.returncode == 0 and "%" not in cp.stdout, f"{lines}: {cp.stdout} {cp.stderr}"


@pytest.fixture
def pair(leaves):
    """leaf1 and leaf2 without sessions or import settings, afterwards too."""
    yield leaves[1], leaves[2]
    for leaf in (leaves[1], leaves[2]):
        leaf.clear_monitor()
        for l in leaf.show("show running-config").splitlines():
            if l.startswith(("ip prefix-list T", "mac access-list T")):
                leaf.vtysh("configure terminal", "no " + l)
    wait_for(lambda: not leaves[2].sessions("remote"), what="leaf2 without leaf1's sessions")


def import_lines(leaf: Leaf) -> list[str]:
    return [l for l in leaf.monitor_lines() if l.startswith("monitor import ")]


def remote(leaf2: Leaf) -> dict[str, dict]:
    """leaf2's received sessions by host MAC."""
    return {s["hostMac"]: s for s in leaf2.sessions("remote") if "hostMac" in s}


def decisions(leaf2: Leaf) -> dict[str, tuple[str, str]]:
    """(importState, importReason) by host MAC, of the sessions leaf2 holds."""
    return {m: (s["importState"], s["importReason"]) for m, s in remote(leaf2).items()
            if "importState" in s}


def imp(leaf: Leaf) -> dict:
    return leaf.json("show bgp l2vpn evpn monitor import")


def originate(leaf1: Leaf, leaf2: Leaf, *ids: int) -> None:
    """leaf1 originates the sessions one at a time, each held by leaf2
    before the next (the arrival order is the order given)."""
    for i in ids:
        leaf1.ok(f"monitor host vni {VNI} mac {mac(i)} server {SERVER}")
        wait_for(lambda: mac(i) in decisions(leaf2), what=f"leaf2 holds session {i}")


def feed_by_mac(client) -> dict[str, dict]:
    client.poll(0.3)
    return {s["hostMac"]: s for s in client.sessions.values()
            if s["originator"] == LEAF1_ORIG}


def peer_up_once(leaf2: Leaf) -> None:
    p = leaf2.json("show bgp neighbors")["172.16.0.1"]
    assert p["bgpState"] == "Established"
    assert p.get("connectionsEstablished") == 1 and p.get("connectionsDropped", 0) == 0, p


def log_lines(leaf: Leaf, pattern: str) -> list[str]:
    text = (leaf.d / "bgpd.log").read_text(errors="replace")
    return [l for l in text.splitlines() if re.search(pattern, l)]


# ---------------------------------------------------------------------------
# commands, running-config, bad input
# ---------------------------------------------------------------------------

def test_defaults(pair):
    _, leaf2 = pair
    j = imp(leaf2)
    assert j["default"] == "permit" and j["rules"] == []
    assert (j["maximumSessions"], j["warningThreshold"]) == (16384, 75)
    assert (j["maximumSessionsPerOriginator"], j["perOriginatorWarningThreshold"]) == (4096, 75)
    assert import_lines(leaf2) == [], "defaults are not written"


RULES = [
    "monitor import rule 5 deny originator prefix-list TROGUE",
    "monitor import rule 10 permit vni 100 host-id 20 29",
    "monitor import rule 11 permit host-id 21",
    "monitor import rule 20 deny collector prefix-list TCOLL",
    "monitor import rule 30 permit host-mac access-list TMACS host-ip prefix-list THOSTS",
    "monitor import rule 40 deny",
]
LIMITS = [
    "monitor import default deny",
    "monitor import maximum-sessions 100 warning-threshold 50",
    "monitor import maximum-sessions per-originator 10",
]


def test_commands_in_running_config(pair):
    _, leaf2 = pair
    leaf2.ok(*reversed(LIMITS), *reversed(RULES), "monitor import rule 11 permit host-id 21 21")
    # rules by number, then the default and the limits; canonical forms
    assert import_lines(leaf2) == RULES + LIMITS
    j = imp(leaf2)
    assert [r["rule"] for r in j["rules"]] == [5, 10, 11, 20, 30, 40]
    r10 = j["rules"][1]
    assert (r10["action"], r10["vni"], r10["hostIdFrom"], r10["hostIdTo"]) == ("permit", 100, 20, 29)
    assert j["rules"][4]["hostMacAccessList"] == "TMACS"
    assert j["rules"][4]["hostIpPrefixList"] == "THOSTS"
    assert j["default"] == "deny" and j["maximumSessions"] == 100 and j["warningThreshold"] == 50
    assert (j["maximumSessionsPerOriginator"], j["perOriginatorWarningThreshold"]) == (10, 75)
    # a rule given again is replaced as a whole
    leaf2.ok("monitor import rule 40 permit vni 100")
    assert import_lines(leaf2)[5] == "monitor import rule 40 permit vni 100"
    # no forms: short and full
    leaf2.ok("no monitor import rule 40", "no " + RULES[0], "no monitor import default",
             "no monitor import maximum-sessions", "no monitor import maximum-sessions per-originator 10")
    assert import_lines(leaf2) == RULES[1:5]
    text = leaf2.show("show bgp l2vpn evpn monitor import")
    assert "rule 10 permit vni 100 host-id 20 29" in text
    assert "Limits: maximum-sessions 16384 (warning at 75%), per originator 4096 (warning at 75%)" in text


@pytest.mark.parametrize("cmd, error", [
    ("monitor import rule 0 permit", "Unknown command"),
    ("monitor import rule 65536 permit", "Unknown command"),
    ("monitor import rule 1 allow", "Unknown command"),
    ("monitor import rule 1", "Command incomplete"),
    ("monitor import rule 1 permit vni 0", "Unknown command"),
    ("monitor import rule 1 permit host-id 0", "Unknown command"),
    ("monitor import rule 1 permit host-id 30 20", "last HOST ID is below its first"),
    ("monitor import rule 1 permit host-id 20 collector prefix-list TC", "would match nothing"),
    ("monitor import rule 1 permit originator prefix-list", "Command incomplete"),
    ("no monitor import rule 77", "No monitor import rule 77"),
    ("monitor import default maybe", "Unknown command"),
    ("monitor import maximum-sessions 0", "Unknown command"),
    ("monitor import maximum-sessions 4294967296", "Unknown command"),
    ("monitor import maximum-sessions 10 warning-threshold 0", "Unknown command"),
    ("monitor import maximum-sessions 10 warning-threshold 101", "Unknown command"),
    ("monitor import maximum-sessions per-originator 0", "Unknown command"),
])
def test_bad_input_rejected_and_nothing_changed(pair, cmd, error):
    _, leaf2 = pair
    leaf2.ok("monitor import rule 1 deny vni 100", "monitor import maximum-sessions 50")
    before = leaf2.monitor_lines()
    cp = leaf2.conf(cmd)
    assert error in cp.stdout + cp.stderr, cp
    assert leaf2.monitor_lines() == before


# ---------------------------------------------------------------------------
# policy and re-evaluation
# ---------------------------------------------------------------------------

def test_mac_access_list_rule_and_its_changes(pair):
    """Rule 10 denies the MACs of an access-list: the session it names is
    denied (shown with the reason, counted, logged), the feed of version 4
    has it as DENIED and version 3 does not have it. Adding a MAC to the
    list flips a second session, removing the rule installs both; the
    session no change affects gets no delta; no BGP session reset."""
    leaf1, leaf2 = pair
    global_conf(leaf2, f"mac access-list TDENY seq 5 permit {mac(2)}")
    leaf2.ok("monitor import rule 10 deny host-mac access-list TDENY")
    v4, v3 = leaf2.feed(version=4), leaf2.feed(version=3)
    try:
        originate(leaf1, leaf2, 1, 2, 3)
        want = {mac(1): ("installed", "permitted by default"),
                mac(2): ("denied", "denied by rule 10"),
                mac(3): ("installed", "permitted by default")}
        wait_for(lambda: decisions(leaf2) == want, what="rule 10 denies session 2")
        s2 = remote(leaf2)[mac(2)]
        assert s2["import"] == [{"vni": VNI, "state": "denied", "reason": "denied by rule 10"}]
        wait_for(lambda: {m: (s["importState"], s["importReason"]) for m, s in feed_by_mac(v4).items()}
                 == {mac(1): (INSTALLED, "permitted by default"),
                     mac(2): (DENIED, "denied by rule 10"),
                     mac(3): (INSTALLED, "permitted by default")}, what="feed v4")
        wait_for(lambda: set(feed_by_mac(v3)) == {mac(1), mac(3)}, what="feed v3: installed only")
        j = imp(leaf2)
        assert j["sessions"]["denied"] == 1 and j["counters"]["denialsByRule"]["10"] == 1
        assert j["originators"][LEAF1_ORIG] == {"installed": 2, "denied": 1, "overLimit": 0}
        assert j["rules"][0]["sessions"] == 1
        assert log_lines(leaf2, rf"import: session {LEAF1_ORIG}/{VNI}/{SERVER}/{mac(2)}/- "
                                rf"denied \(denied by rule 10\)")
        text = leaf2.show("show bgp l2vpn evpn monitor")
        assert re.search(rf"{mac(2)}.*denied \(denied by rule 10\)", text), text

        # the list grows: session 3 flips, session 1 is not touched
        reevals = imp(leaf2)["counters"]["reEvaluations"]
        s1_v3, deltas_v3 = feed_by_mac(v3)[mac(1)], v3.deltas
        global_conf(leaf2, f"mac access-list TDENY seq 6 permit {mac(3)}")
        wait_for(lambda: decisions(leaf2)[mac(3)] == ("denied", "denied by rule 10"),
                 what="session 3 denied after the access-list change")
        wait_for(lambda: set(feed_by_mac(v3)) == {mac(1)}, what="feed v3: DEL of session 3")
        wait_for(lambda: feed_by_mac(v4)[mac(3)]["importState"] == DENIED, what="feed v4 flip")
        assert v3.deltas == deltas_v3 + 1, "one DEL, nothing for session 1"
        assert feed_by_mac(v3)[mac(1)] == s1_v3
        assert imp(leaf2)["counters"]["reEvaluations"] > reevals
        assert log_lines(leaf2, rf"{mac(3)}/-: installed -> denied \(denied by rule 10\)")

        # the rule goes: both installed again
        leaf2.ok("no monitor import rule 10")
        wait_for(lambda: {st for st, _ in decisions(leaf2).values()} == {"installed"},
                 what="all installed without the rule")
        wait_for(lambda: set(feed_by_mac(v3)) == {mac(1), mac(2), mac(3)}, what="feed v3: ADDs")
        c = imp(leaf2)["counters"]
        assert c["stateChanges"] >= 3 and c["denials"] >= 2
        peer_up_once(leaf2)
    finally:
        v4.close()
        v3.close()


def test_prefix_list_created_after_the_rule(pair):
    """A rule naming a prefix-list that does not exist matches nothing
    (FRR's route-map behaviour); creating the list re-evaluates, deleting it
    too."""
    leaf1, leaf2 = pair
    leaf2.ok("monitor import rule 20 deny originator prefix-list TLATE")
    originate(leaf1, leaf2, 1, 2)
    wait_for(lambda: {st for st, _ in decisions(leaf2).values()} == {"installed"},
             what="installed: the list does not exist")
    global_conf(leaf2, "ip prefix-list TLATE seq 5 permit 10.0.0.0/24")   # contains 10.0.0.1
    wait_for(lambda: set(decisions(leaf2).values()) == {("denied", "denied by rule 20")},
             what="denied once the list exists")
    global_conf(leaf2, "no ip prefix-list TLATE")
    wait_for(lambda: {st for st, _ in decisions(leaf2).values()} == {"installed"},
             what="installed again without the list")
    peer_up_once(leaf2)


def test_vni_and_host_id_conditions_and(pair):
    leaf1, leaf2 = pair
    leaf2.ok("monitor import rule 1 permit vni 100 host-id 21", "monitor import rule 2 deny vni 100",
             "monitor import rule 3 permit")
    originate(leaf1, leaf2, 1)
    wait_for(lambda: decisions(leaf2) == {mac(1): ("installed", "permitted by rule 1")},
             what="rule 1 (vni AND host-id) permits")
    leaf2.ok("monitor import rule 1 permit vni 100 host-id 22 30")
    wait_for(lambda: decisions(leaf2) == {mac(1): ("denied", "denied by rule 2")},
             what="rule 1 no longer matches: rule 2 denies")


def test_collector_condition_follows_the_collector_ip(pair):
    """`collector prefix-list` matches collector sessions by the collector's
    IP, which rides in the route's payload: a new IP under the same key is
    decided again (the server session next to it is not a collector
    session: rule 1 does not match it)."""
    leaf1, leaf2 = pair
    global_conf(leaf2, "ip prefix-list TCOLL seq 5 permit 10.9.0.0/24")
    leaf2.ok("monitor import rule 1 deny collector prefix-list TCOLL")
    leaf1.ok("monitor collector 7 ip 10.9.0.1 erspan 3",
             f"monitor host vni {VNI} mac {mac(1)} collector 7",
             f"monitor host vni {VNI} mac {mac(2)} server {SERVER}")

    def by_dest():
        return {(s.get("destination"), s["hostMac"]): (s.get("importState"), s.get("importReason"))
                for s in leaf2.sessions("remote") if "hostMac" in s}
    wait_for(lambda: by_dest() == {("collector", mac(1)): ("denied", "denied by rule 1"),
                                   ("server", mac(2)): ("installed", "permitted by default")},
             what="the collector session in 10.9.0.0/24 denied")
    leaf1.ok("monitor collector 7 ip 10.8.0.1 erspan 3")
    wait_for(lambda: by_dest()[("collector", mac(1))] == ("installed", "permitted by default"),
             what="the same session with collector 10.8.0.1 installed")
    assert log_lines(leaf2, rf"{LEAF1_ORIG}/{VNI}/c7/{mac(1)}/-: denied -> installed \(permitted by default\)")


def test_default_deny_keeps_local_sessions(pair):
    leaf1, leaf2 = pair
    leaf2.ok("monitor import default deny")
    originate(leaf1, leaf2, 1)
    wait_for(lambda: decisions(leaf2) == {mac(1): ("denied", "denied by default")},
             what="denied by default")
    leaf2.ok(f"monitor host vni {VNI} mac {mac(9)} server {SERVER}")

    def local():
        return [(s["importState"], s["importReason"]) for s in leaf2.sessions("local")
                if s.get("hostMac") == mac(9) and "importState" in s]
    wait_for(lambda: local() == [("installed", "configured on this leaf")],
             what="the leaf's own session installed")
    assert imp(leaf2)["counters"]["denialsByRule"]["default"] >= 1


# ---------------------------------------------------------------------------
# limits
# ---------------------------------------------------------------------------

def test_limits_in_arrival_order(pair):
    leaf1, leaf2 = pair
    leaf2.ok("monitor import maximum-sessions per-originator 3 warning-threshold 50")
    v3 = leaf2.feed(version=3)
    try:
        originate(leaf1, leaf2, 1, 2, 3, 4, 5)
        refused = f"maximum-sessions per-originator 3 reached for {LEAF1_ORIG}"
        want = {mac(i): ("installed", "permitted by default") for i in (1, 2, 3)}
        want.update({mac(i): ("over-limit", refused) for i in (4, 5)})
        wait_for(lambda: decisions(leaf2) == want, what="the oldest three installed")
        wait_for(lambda: set(feed_by_mac(v3)) == {mac(1), mac(2), mac(3)}, what="feed v3")
        j = imp(leaf2)
        assert j["originators"][LEAF1_ORIG] == {"installed": 3, "denied": 0, "overLimit": 2}
        assert j["counters"]["overLimitRefusals"] >= 2
        assert log_lines(leaf2, rf"{mac(5)}/- refused \({refused}\)")
        assert log_lines(leaf2, rf"from originator {LEAF1_ORIG}, at or above 50% of "
                                r"maximum-sessions per-originator 3")
        deltas = v3.deltas

        # raised: the oldest waiting one (4) is installed, 5 still waits
        leaf2.ok("monitor import maximum-sessions per-originator 4 warning-threshold 50")
        wait_for(lambda: decisions(leaf2)[mac(4)][0] == "installed"
                 and decisions(leaf2)[mac(5)][0] == "over-limit", what="4 installed, 5 waits")
        wait_for(lambda: set(feed_by_mac(v3)) == {mac(i) for i in (1, 2, 3, 4)}, what="feed v3 + 4")
        assert v3.deltas == deltas + 1, "one ADD, nothing for 1-3"

        # a withdrawal frees room: 5 is installed
        leaf1.ok(f"no monitor host vni {VNI} mac {mac(1)} server {SERVER}")
        wait_for(lambda: mac(1) not in decisions(leaf2) and decisions(leaf2)[mac(5)][0] == "installed",
                 what="5 installed after 1 left")

        # lowered: the newest installed wait (5, 4), the oldest (2, 3) stay
        leaf2.ok("monitor import maximum-sessions per-originator 2")
        wait_for(lambda: {m: st for m, (st, _) in decisions(leaf2).items()}
                 == {mac(2): "installed", mac(3): "installed",
                     mac(4): "over-limit", mac(5): "over-limit"}, what="lowered per-originator")
        # and the global limit, below that
        leaf2.ok("monitor import maximum-sessions 1")
        wait_for(lambda: decisions(leaf2)[mac(3)] == ("over-limit", "maximum-sessions 1 reached")
                 and decisions(leaf2)[mac(2)][0] == "installed", what="global limit 1")
        wait_for(lambda: set(feed_by_mac(v3)) == {mac(2)}, what="feed v3: the oldest only")
        assert log_lines(leaf2, rf"{mac(3)}/-: installed -> over-limit \(maximum-sessions 1 reached\)")

        leaf2.ok("no monitor import maximum-sessions", "no monitor import maximum-sessions per-originator")
        wait_for(lambda: {st for st, _ in decisions(leaf2).values()} == {"installed"},
                 what="defaults: everything installed")
        wait_for(lambda: set(feed_by_mac(v3)) == {mac(i) for i in (2, 3, 4, 5)}, what="feed v3: all")
        peer_up_once(leaf2)
    finally:
        v3.close()


def states(leaf2: Leaf) -> dict[str, str]:
    return {m: st for m, (st, _) in decisions(leaf2).items()}


def test_rule_given_again_changes_nothing(pair):
    leaf1, leaf2 = pair
    leaf2.ok(f"monitor import rule 10 deny vni {VNI}")
    originate(leaf1, leaf2, 1, 2)
    wait_for(lambda: states(leaf2) == {mac(1): "denied", mac(2): "denied"}, what="denied by rule 10")
    j = imp(leaf2)
    assert j["rules"][0]["denials"] == 2
    v4 = leaf2.feed(version=4)
    try:
        wait_for(lambda: len(feed_by_mac(v4)) == 2, what="feed v4 snapshot")
        deltas, reevals = v4.deltas, j["counters"]["reEvaluations"]
        # the same rule again (a config reload): no re-evaluation, nothing
        # reset, nothing sent
        leaf2.ok(f"monitor import rule 10 deny vni {VNI}")
        # A re-evaluation is counted by the feed's next walk: a change that
        # makes one (a new limit), and a walk after it, settle whatever
        # the rule asked for.
        walks = leaf2.json("show bgp l2vpn evpn monitor feed")["walks"]
        leaf2.ok("monitor import maximum-sessions 16000")
        wait_for(lambda: leaf2.json("show bgp l2vpn evpn monitor feed")["walks"] > walks,
                 what="a walk of the feed after the rule")
        j = imp(leaf2)
        assert j["maximumSessions"] == 16000
        assert j["counters"]["reEvaluations"] == reevals, "an identical rule re-evaluated"
        assert j["rules"][0]["denials"] == 2 and j["counters"]["denialsByRule"]["10"] == 2
        feed_by_mac(v4)
        assert v4.deltas == deltas
        # replaced by another rule 10 that still denies them: the counter
        # goes with the rule number
        leaf2.ok(f"monitor import rule 10 deny vni {VNI} host-id 1 65535")
        wait_for(lambda: imp(leaf2)["counters"]["reEvaluations"] == reevals + 1, what="re-evaluated")
        j = imp(leaf2)
        assert j["rules"][0]["hostIdFrom"] == 1
        assert j["rules"][0]["denials"] == 2, j["rules"]
        assert states(leaf2) == {mac(1): "denied", mac(2): "denied"}
    finally:
        v4.close()


def test_reasons_follow_limit_changes_and_no_delta_for_others(pair):
    leaf1, leaf2 = pair
    leaf2.ok("monitor import maximum-sessions per-originator 2")
    v4 = leaf2.feed(version=4)
    try:
        originate(leaf1, leaf2, 1, 2, 3, 4)
        orig2 = f"maximum-sessions per-originator 2 reached for {LEAF1_ORIG}"
        wait_for(lambda: {m: (s["importState"], s["importReason"]) for m, s in feed_by_mac(v4).items()}
                 == {mac(1): (INSTALLED, "permitted by default"), mac(2): (INSTALLED, "permitted by default"),
                     mac(3): (OVER_LIMIT, orig2), mac(4): (OVER_LIMIT, orig2)}, what="feed v4: 3, 4 wait")
        before = dict(v4.deltas_by_mac)

        # raised by one: 3 installed; 4 still waits, its reason quotes the
        # new limit (show and feed); 1 and 2 get no delta
        leaf2.ok("monitor import maximum-sessions per-originator 3")
        orig3 = f"maximum-sessions per-originator 3 reached for {LEAF1_ORIG}"
        wait_for(lambda: decisions(leaf2)[mac(4)] == ("over-limit", orig3)
                 and decisions(leaf2)[mac(3)][0] == "installed", what="show: 3 installed, 4 new reason")
        wait_for(lambda: feed_by_mac(v4)[mac(4)]["importReason"] == orig3, what="feed v4: 4's new reason")
        assert feed_by_mac(v4)[mac(3)]["importState"] == INSTALLED
        for m in (mac(1), mac(2)):
            assert v4.deltas_by_mac.get(m, 0) == before.get(m, 0), f"{m} got a delta"

        # the global limit reached: 4 waits for it now, in show and feed
        leaf2.ok("monitor import maximum-sessions 3")
        glob = "maximum-sessions 3 reached"
        wait_for(lambda: decisions(leaf2)[mac(4)] == ("over-limit", glob), what="show: global reason")
        wait_for(lambda: feed_by_mac(v4)[mac(4)]["importReason"] == glob, what="feed v4: global reason")
        # raised: the global limit is no longer what holds it
        leaf2.ok("monitor import maximum-sessions 10")
        wait_for(lambda: decisions(leaf2)[mac(4)] == ("over-limit", orig3), what="show: per-originator again")
        wait_for(lambda: feed_by_mac(v4)[mac(4)]["importReason"] == orig3, what="feed v4: per-originator again")
        for m in (mac(1), mac(2), mac(3)):
            assert v4.deltas_by_mac.get(m, 0) == before.get(m, 0) + (1 if m == mac(3) else 0), \
                f"{m}: unexpected delta"
    finally:
        v4.close()


def test_waiting_session_withdrawn_and_a_flap_keeps_its_rank(pair):
    leaf1, leaf2 = pair
    leaf2.ok("monitor import maximum-sessions per-originator 2")
    originate(leaf1, leaf2, 1, 2, 3, 4, 5)
    wait_for(lambda: states(leaf2) == {mac(1): "installed", mac(2): "installed", mac(3): "over-limit",
                                       mac(4): "over-limit", mac(5): "over-limit"}, what="3-5 wait")
    # a waiting session withdrawn: it leaves the counts, nothing else moves
    leaf1.ok(f"no monitor host vni {VNI} mac {mac(5)} server {SERVER}")
    wait_for(lambda: mac(5) not in decisions(leaf2), what="5 gone")
    assert imp(leaf2)["originators"][LEAF1_ORIG] == {"installed": 2, "denied": 0, "overLimit": 2}
    assert states(leaf2) == {mac(1): "installed", mac(2): "installed",
                             mac(3): "over-limit", mac(4): "over-limit"}
    # 3 flaps (withdrawn, announced again at once): it keeps its place
    # ahead of 4, so the room 1 frees goes to 3
    leaf1.ok(f"no monitor host vni {VNI} mac {mac(3)} server {SERVER}")
    wait_for(lambda: mac(3) not in decisions(leaf2), what="3 withdrawn")
    originate(leaf1, leaf2, 3)
    leaf1.ok(f"no monitor host vni {VNI} mac {mac(1)} server {SERVER}")
    wait_for(lambda: mac(1) not in decisions(leaf2), what="1 gone")
    wait_for(lambda: states(leaf2) == {mac(2): "installed", mac(3): "installed", mac(4): "over-limit"},
             what="3 (the older) installed, not 4")


def test_local_sessions_first_when_room_frees(pair):
    leaf1, leaf2 = pair
    leaf2.ok("monitor import maximum-sessions 2")
    originate(leaf1, leaf2, 1, 2, 3)
    wait_for(lambda: states(leaf2) == {mac(1): "installed", mac(2): "installed", mac(3): "over-limit"},
             what="3 waits")
    leaf2.ok(f"monitor host vni {VNI} mac {mac(9)} server {SERVER}")

    def local():
        return [s["importState"] for s in leaf2.sessions("local")
                if s.get("hostMac") == mac(9) and "importState" in s]
    wait_for(lambda: local() == ["over-limit"], what="the local session waits: nothing is pushed out")
    leaf1.ok(f"no monitor host vni {VNI} mac {mac(1)} server {SERVER}")
    wait_for(lambda: mac(1) not in decisions(leaf2), what="1 gone")
    wait_for(lambda: local() == ["installed"], what="the local session takes the room")
    assert states(leaf2) == {mac(2): "installed", mac(3): "over-limit"}


# ---------------------------------------------------------------------------
# frr-reload.py
# ---------------------------------------------------------------------------

def test_frr_reload_round_trip(pair, tmp_path):
    from two_leaves import frr_reload
    _, leaf2 = pair
    leaf2.ok("monitor import rule 10 deny originator prefix-list TA",
             "monitor import rule 20 permit vni 100", "monitor import default deny",
             "monitor import maximum-sessions 500 warning-threshold 90")
    want = ["monitor import rule 10 deny originator prefix-list TB",
            "monitor import rule 30 permit host-id 21 22",
            "monitor import maximum-sessions per-originator 100"]
    running = leaf2.show("show running-config bgpd no-header")
    lines = [l for l in running.splitlines() if l.strip() and not l.strip().startswith("monitor import ")]
    i = lines.index(" address-family l2vpn evpn") + 1
    target = tmp_path / "target.conf"
    target.write_text("\n".join(lines[:i] + [f"  {l}" for l in want] + lines[i:]) + "\n")
    os.chmod(tmp_path, 0o755)
    cp = frr_reload(leaf2, target, "--reload")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert import_lines(leaf2) == want
    cp = frr_reload(leaf2, target, "--test")
    assert cp.returncode == 0 and "monitor import" not in cp.stdout, cp.stdout
