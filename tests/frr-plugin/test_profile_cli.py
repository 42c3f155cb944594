"""Mirror profiles in the bgpd module's CLI (`monitor profile NAME ...`).

Two patched leaves, back to back, in network namespaces of this test (the
lightest setup with a second BGP speaker to look at what is advertised):
every profile command and its `no` form, running-config (profile lines
before server/host lines, presets written back as presets), show and JSON,
rejected input leaving the running-config unchanged, a session naming a
missing profile (kept, not advertised, state profile-missing), a profile
change re-advertising the same route, and frr-reload.py round-tripping a
configuration with profiles.

Run as root: /usr/bin/python3 -m pytest tests/frr-plugin/test_profile_cli.py
"""
from __future__ import annotations

import os

import pytest

from two_leaves import SERVER, VNI, frr_reload, two_leaves, wait_for

PREFIX = f"emp{os.getpid()}"
HOST_MAC = "00:00:00:00:02:31"


@pytest.fixture(scope="module")
def leaves():
    with two_leaves(PREFIX) as out:
        yield out


@pytest.fixture
def leaf1(leaves):
    """leaf1 with no profile and no session (each test starts clean)."""
    leaf = leaves[1]
    yield leaf
    leaf.clear_monitor()


# ---------------------------------------------------------------------------
# every command, its `no` form, running-config
# ---------------------------------------------------------------------------

FULL = [
    "monitor profile p1",
    "monitor profile p1 direction rx",
    "monitor profile p1 filter 1 protocol tcp src 10.1.0.0/16 dst 10.2.0.0/24 sport 1000 to 2000 dport 443",
    "monitor profile p1 filter 1 udf 2 l4 offset 12 value 0x0002 mask 0x0002",
    "monitor profile p1 filter 2 preset rocev2-nak",
    "monitor profile p1 filter 3 protocol 132 dst 2001:db8::/32",
    "monitor profile p1 filter 4 udf 1 l3 offset 0 value 0x4500 mask 0xff00",
    "monitor profile p1 sample 1-in 1000",
    "monitor profile p1 truncate 128",
    "monitor profile p1 police pps 1000 burst 100",
]


def test_every_command_in_running_config_in_order(leaf1):
    leaf1.ok(*reversed(FULL[1:]))          # settings create the profile too
    leaf1.ok("monitor profile a0 filter 1 preset rocev2-cnp",
             f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER} profile p1")
    lines = leaf1.monitor_lines()
    # grouped per profile, profiles by name, before servers and hosts
    assert lines == ["monitor profile a0", "monitor profile a0 filter 1 preset rocev2-cnp",
                     *FULL,
                     f"monitor server {SERVER} mac 00:00:00:00:00:21 ip 192.168.100.21",
                     f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER} profile p1"]


def test_no_forms_remove_exactly_their_line(leaf1):
    leaf1.ok(*FULL)
    removals = {
        "no monitor profile p1 direction": FULL[1],
        "no monitor profile p1 sample": FULL[7],
        "no monitor profile p1 truncate 128": FULL[8],
        "no monitor profile p1 police": FULL[9],
        "no monitor profile p1 filter 1 udf 2": FULL[3],
        "no monitor profile p1 filter 2 preset rocev2-nak": FULL[4],
        "no monitor profile p1 filter 3": FULL[5],
        "no monitor profile p1 filter 4 udf 1 l3 offset 0 value 0x4500 mask 0xff00": FULL[6],
        "no monitor profile p1 filter 1 protocol tcp": FULL[2],
    }
    want = list(FULL)
    for cmd, gone in removals.items():
        leaf1.ok(cmd)
        want.remove(gone)
        assert leaf1.profile_lines() == want, cmd
    leaf1.ok("no monitor profile p1")
    assert leaf1.profile_lines() == []


def test_filter_line_keeps_udfs_and_preset_written_back_only_while_equal(leaf1):
    leaf1.ok("monitor profile p2 filter 1 preset rocev2-cnp",
             "monitor profile p2 filter 1 udf 3 l5 offset 4 value 7 mask 65535")
    assert leaf1.profile_lines()[1:] == [
        "monitor profile p2 filter 1 protocol udp dport 4791",
        "monitor profile p2 filter 1 udf 1 l5 offset 0 value 0x8100 mask 0xff00",
        "monitor profile p2 filter 1 udf 3 l5 offset 4 value 0x0007 mask 0xffff"]
    # a new 5-tuple keeps the UDFs
    leaf1.ok("monitor profile p2 filter 1 protocol udp dport 4792")
    assert leaf1.profile_lines()[1:] == [
        "monitor profile p2 filter 1 protocol udp dport 4792",
        "monitor profile p2 filter 1 udf 1 l5 offset 0 value 0x8100 mask 0xff00",
        "monitor profile p2 filter 1 udf 3 l5 offset 4 value 0x0007 mask 0xffff"]
    # `no ... filter N` removes the whole line
    leaf1.ok("no monitor profile p2 filter 1")
    assert leaf1.profile_lines() == ["monitor profile p2"]


def test_zero_length_prefix_written_back_where_given(leaf1):
    leaf1.ok("monitor profile z filter 1 dst ::/0", "monitor profile z filter 2 src 0.0.0.0/0 dst 10.0.0.0/8")
    assert leaf1.profile_lines() == ["monitor profile z", "monitor profile z filter 1 dst ::/0",
                                     "monitor profile z filter 2 src 0.0.0.0/0 dst 10.0.0.0/8"]
    j = leaf1.json("show bgp l2vpn evpn monitor profile z")["profiles"]["z"]
    assert [f["family"] for f in j["filters"]] == [6, 4]


def test_show_profile_text_and_json(leaf1):
    leaf1.ok(*FULL, f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER} profile p1")
    text = leaf1.show("show bgp l2vpn evpn monitor profile p1")
    assert text.splitlines()[0].startswith("Profile p1: 1 session(s), ")
    assert [l.strip() for l in text.splitlines()[1:]] == FULL
    j = leaf1.json("show bgp l2vpn evpn monitor profile")["profiles"]
    assert list(j) == ["p1"]
    p = j["p1"]
    assert p["direction"] == "rx" and p["sample"] == 1000 and p["truncate"] == 128
    assert p["police"] == {"unit": "pps", "rate": 1000, "burst": 100}
    assert [f["line"] for f in p["filters"]] == [1, 2, 3, 4]
    f1 = p["filters"][0]
    assert (f1["protocol"], f1["src"], f1["dst"]) == (6, "10.1.0.0/16", "10.2.0.0/24")
    assert (f1["sportFrom"], f1["sportTo"], f1["dportFrom"], f1["dportTo"]) == (1000, 2000, 443, 443)
    assert f1["udfs"] == [{"udf": 2, "base": "l4", "offset": 12, "value": "0x0002", "mask": "0x0002"}]
    assert p["filters"][1]["preset"] == "rocev2-nak" and len(p["filters"][1]["udfs"]) == 2
    assert p["filters"][2]["dst"] == "2001:db8::/32" and p["filters"][2]["family"] == 6
    assert 0 < p["optionsLength"] <= 182
    assert [s["hostMac"] for s in p["sessions"]] == [HOST_MAC]
    assert leaf1.json("show bgp l2vpn evpn monitor profile nope")["profiles"] == {}
    assert "No monitor profile nope" in leaf1.show("show bgp l2vpn evpn monitor profile nope")
    cfg = [c for c in leaf1.configured() if c.get("hostMac") == HOST_MAC]
    assert cfg and cfg[0]["profile"] == "p1"


# ---------------------------------------------------------------------------
# rejected input: the usual error, nothing changed
# ---------------------------------------------------------------------------

TOO_BIG = [f"monitor profile big filter {n} protocol udp src 2001:db8:{n}::/48 dst 2001:db9:{n}::/48 "
           f"sport 1 to 2 dport 3 to 4" for n in (1, 2, 3, 4)] + \
          [f"monitor profile big filter {n} udf {u} l5 offset {u} value 0x0001 mask 0x0001"
           for n in (1, 2, 3, 4) for u in range(1, 9)]


@pytest.mark.parametrize("cmd, error", [
    ("monitor profile p1 sample 1-in 0", "Unknown command"),
    ("monitor profile p1 sample 1-in 8388609", "Unknown command"),
    ("monitor profile p1 truncate 63", "Unknown command"),
    ("monitor profile p1 truncate 9217", "Unknown command"),
    ("monitor profile p1 filter 1 udf 1 l4 offset 127 value 1 mask 1", "Unknown command"),
    ("monitor profile p1 filter 1 udf 1 l4 offset 12 value 0x10000 mask 1", "Malformed value 0x10000"),
    ("monitor profile p1 filter 1 udf 1 l4 offset 12 value 1 mask 65536", "Malformed mask 65536"),
    ("monitor profile p1 filter 1 udf 1 l4 offset 12 value 0xg mask 1", "Malformed value"),
    ("monitor profile p1 filter 1 udf 9 l4 offset 12 value 1 mask 1", "Unknown command"),
    ("monitor profile p1 filter 5 protocol udp", "Unknown command"),
    ("monitor profile this-name-is-too-long direction rx", "Malformed profile name"),
    ("monitor profile bad/name", "Malformed profile name"),
    (f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER} profile bad,name", "Malformed profile name"),
    ("monitor profile p1 filter 1 dport 80", "ports without protocol tcp, udp or sctp"),
    ("monitor profile p1 filter 1 protocol icmp sport 1", "ports without protocol tcp, udp or sctp"),
    ("monitor profile p1 filter 1 protocol tcp sport 90 to 80", "port range reversed"),
    ("monitor profile p1 filter 1 src 10.0.0.0/8 dst 2001:db8::/32", "same address family"),
    ("monitor profile p1 filter 1 src 10.0.0.1/8", "host bits set"),
    ("monitor profile p1 filter 1 protocol udp sport 0", "match any port"),
    ("monitor profile p1 filter 1 protocol udp dport 0 to 65535", "match any port"),
    ("monitor profile p1 police pps 100000001 burst 1", "police unit unknown, or rate or burst out of range"),
    ("monitor profile p1 police bps 7999 burst 1", "police unit unknown, or rate or burst out of range"),
])
def test_bad_input_rejected_and_nothing_changed(leaf1, cmd, error):
    leaf1.ok(*FULL)
    before = leaf1.monitor_lines()
    cp = leaf1.conf(cmd)
    assert cp.returncode != 0, cp.stdout
    assert error in cp.stdout + cp.stderr
    assert leaf1.monitor_lines() == before


def test_profile_that_would_not_fit_a_route(leaf1):
    accepted = []
    for cmd in TOO_BIG:
        cp = leaf1.conf(cmd)
        if cp.returncode != 0:
            break
        accepted.append(cmd)
    else:
        pytest.fail("a profile larger than a route accepted")
    assert "% profile big would not fit in a route (" in cp.stdout
    assert "octets of options, at most 182)" in cp.stdout
    n = int(cp.stdout.split("(")[1].split()[0])
    assert n > 182
    # the refused line left the profile as it was before it
    lines = [l for l in leaf1.monitor_lines() if l.startswith("monitor profile big ")]
    assert sorted(lines) == sorted(accepted)
    assert leaf1.json("show bgp l2vpn evpn monitor profile big")["profiles"]["big"]["optionsLength"] <= 182
    leaf1.ok("no monitor profile big")


# ---------------------------------------------------------------------------
# sessions and their profile
# ---------------------------------------------------------------------------

def remote_route(leaves, mac=HOST_MAC) -> list[dict]:
    return [s for s in leaves[2].sessions("remote") if s.get("hostMac") == mac]


def test_missing_profile_then_created_then_deleted(leaves, leaf1):
    leaf1.ok(f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER} profile late")
    wait_for(lambda: [c["state"] for c in leaf1.configured() if c.get("hostMac") == HOST_MAC] == ["profile-missing"],
             what="state profile-missing")
    assert f"vni {VNI} host {HOST_MAC} - server {SERVER} profile late: profile-missing" in \
        leaf1.show("show bgp l2vpn evpn monitor")
    # kept in the configuration, not advertised (the other leaf is in sync
    # with leaf1: the BGP session is up and leaf1 has nothing to send)
    assert f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER} profile late" in leaf1.monitor_lines()
    assert not leaf1.sessions("local")
    # a session configured after it, without a profile, is the barrier:
    # once leaf2 has it, it would have had the first one too
    barrier = "00:00:00:00:02:99"
    leaf1.ok(f"monitor host vni {VNI} mac {barrier} server {SERVER}")
    wait_for(lambda: remote_route(leaves, barrier), what="barrier session on leaf2")
    assert not remote_route(leaves)
    leaf1.ok(f"no monitor host vni {VNI} mac {barrier} server {SERVER}")

    leaf1.ok("monitor profile late truncate 256")
    r = wait_for(lambda: remote_route(leaves), what="route advertised once the profile exists")
    assert r[0]["profile"] == "late" and r[0]["options"]["truncate"] == 256
    assert [c["state"] for c in leaf1.configured() if c.get("hostMac") == HOST_MAC] == ["advertised"]
    assert [c["sessionId"] for c in leaf1.configured()] == [r[0]["sessionId"]]

    leaf1.ok("no monitor profile late")
    wait_for(lambda: not remote_route(leaves), what="route withdrawn with its profile")
    wait_for(lambda: [c["state"] for c in leaf1.configured()] == ["profile-missing"], what="state back to profile-missing")


def test_profile_change_readvertises_same_key(leaves, leaf1):
    leaf1.ok("monitor profile chg sample 1-in 10",
             f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER} profile chg")
    r = wait_for(lambda: remote_route(leaves), what="route advertised")
    sid = r[0]["sessionId"]
    assert r[0]["options"]["sample"] == 10

    leaf1.ok("monitor profile chg sample 1-in 1000", "monitor profile chg direction tx")
    r = wait_for(lambda: [x for x in remote_route(leaves) if x["options"]["sample"] == 1000
                          and x["options"]["direction"] == "tx"],
                 what="new options advertised")
    assert len(remote_route(leaves)) == 1 and r[0]["sessionId"] == sid
    # the route on leaf2 is one route: one prefix in the type-254 RIB
    rib = leaves[2].show("show bgp l2vpn evpn route type monitor")
    assert rib.count(f"[254]:[{SERVER}]:[{HOST_MAC}]") == 1

    # a session line without a profile: same route, no options
    leaf1.ok(f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER}")
    wait_for(lambda: [x for x in remote_route(leaves) if "options" not in x], what="options gone")
    assert len(remote_route(leaves)) == 1
    leaf1.ok("no monitor profile chg")


# ---------------------------------------------------------------------------
# frr-reload.py
# ---------------------------------------------------------------------------

RELOAD_FROM = [
    "monitor profile alpha",
    "monitor profile alpha direction rx",
    "monitor profile alpha filter 1 protocol udp dport 4791",
    "monitor profile alpha filter 1 udf 1 l5 offset 0 value 0x8100 mask 0xff00",
    "monitor profile alpha sample 1-in 100",
    "monitor profile beta",
    "monitor profile beta filter 1 preset rocev2-cnp",
    f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER} profile alpha",
]
RELOAD_TO = [
    "monitor profile alpha",
    "monitor profile alpha direction tx",
    "monitor profile alpha filter 1 protocol tcp dport 80",
    "monitor profile alpha filter 1 udf 1 l5 offset 0 value 0x8100 mask 0xff00",
    "monitor profile alpha filter 2 preset rocev2-nak",
    "monitor profile alpha truncate 128",
    "monitor profile gamma",
    "monitor profile gamma filter 3 udf 2 l4 offset 12 value 0x0002 mask 0x0002",
    "monitor profile gamma police bps 1000000 burst 15000",
    f"monitor host vni {VNI} mac {HOST_MAC} server {SERVER} profile gamma",
    f"monitor host vni {VNI} ip 192.168.100.77 server {SERVER} profile alpha",
]


def test_frr_reload_round_trip(leaf1, tmp_path):
    leaf1.ok(*RELOAD_FROM)
    assert leaf1.monitor_lines() == RELOAD_FROM[:-1] + [
        f"monitor server {SERVER} mac 00:00:00:00:00:21 ip 192.168.100.21", RELOAD_FROM[-1]]
    running = "".join(l + "\n" for l in leaf1.show("show running-config bgpd no-header").splitlines()
                      if l.strip())
    server = f"  monitor server {SERVER} mac 00:00:00:00:00:21 ip 192.168.100.21\n"
    assert server in running
    # the target: the running-config with the module's lines replaced
    head, _, tail = running.partition(" address-family l2vpn evpn\n")
    af, _, rest = tail.partition(" exit-address-family\n")
    af_other = [l for l in af.splitlines(keepends=True) if not l.strip().startswith("monitor ")]
    target_text = head + " address-family l2vpn evpn\n" + "".join(af_other) + \
        "".join(f"  {l}\n" for l in RELOAD_TO[:-2]) + server + \
        "".join(f"  {l}\n" for l in RELOAD_TO[-2:]) + " exit-address-family\n" + rest
    target = tmp_path / "target.conf"
    target.write_text(target_text)
    os.chmod(tmp_path, 0o755)

    cp = frr_reload(leaf1, target, "--test")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "no monitor profile beta" in cp.stdout and "monitor profile gamma" in cp.stdout

    cp = frr_reload(leaf1, target, "--reload")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    want = RELOAD_TO[:-2] + [server.strip()] + RELOAD_TO[-2:]
    assert leaf1.monitor_lines() == want

    # and nothing left to do
    cp = frr_reload(leaf1, target, "--test")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "monitor " not in cp.stdout, cp.stdout
    for line in RELOAD_TO[-2:]:
        leaf1.ok("no " + line)
