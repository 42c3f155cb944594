"""Several sessions at once, configured on a leaf that holds none of the hosts
(vtep103), in the reference fabric (issue 5):

  VM210 by SERV21 (HOST ID 21) and by VM240 as a second server (HOST ID 24,
        behind the same VTEP104 as SERV21: two copies to one VTEP, each
        decapsulated to its own port);
  VM220 by SERV21 (two monitored hosts, one server: VM210 <-> VM220 traffic
        must reach SERV21 once, not twice);
  VM230 by SERV21, IP-only (no MAC: entry 1 on every VTEP, IPv4 matching).

Checked: every VTEP's entries are exactly the rule's; for each (host, server)
pair, every frame to/from the host seen at its port reaches that server
exactly once; a server gets nothing of hosts it does not watch; VM210 then
moves to vtep102 and everything holds again. Also: zebra's FPM stream carries
every remote MAC the kernel has (the L2VNI replay of the patched zebra).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

import fabric as F  # noqa: E402

SESSIONS = [dict(host="vm210", server="serv21", hid=21),
            dict(host="vm210", server="vm240", hid=24),
            dict(host="vm220", server="serv21", hid=21),
            dict(host="vm230", server="serv21", hid=21, mac=False)]
CONFIG = ["router bgp 65103", "address-family l2vpn evpn",
          f"monitor server 21 mac {F.SERV21_MAC} ip {F.SERV21_IP}",
          f"monitor server 24 mac {F.HOSTS['vm240'][0]} ip {F.HOSTS['vm240'][1]}",
          f"monitor host vni 100 mac {F.VM210_MAC} ip {F.VM210_IP} server 21",
          f"monitor host vni 100 mac {F.VM210_MAC} ip {F.VM210_IP} server 24",
          f"monitor host vni 100 mac {F.HOSTS['vm220'][0]} ip {F.HOSTS['vm220'][1]} server 21",
          f"monitor host vni 100 ip {F.HOSTS['vm230'][1]} server 21"]
PAIRS = [("vm210", "vm220"), ("vm210", "vm230"), ("vm220", "vm230"), ("vm210", "vm240"),
         ("vm220", "vm240"), ("vm230", "vm240")]
WATCHED = {"serv21": ["vm210", "vm220", "vm230"], "vm240": ["vm210"]}



@pytest.fixture(scope="module")
def lab():
    with F.ready_fabric(PAIRS + [("vm210", "serv21")],
                        ["vm210", "vm220", "vm230", "vm240"]) as lab:
        yield lab


def test_fpm_carries_every_remote_mac(lab):
    """patch 0202: remote MACs installed before zebra's FPM connection are
    replayed, so the FPM view equals the kernel's on every leaf."""
    def same():
        c = {n: F.counters(lab, n) for n in F.LEAVES}
        return all(x["macs-fpm"] == x["macs-kernel-fdb"] > 0 for x in c.values()) and c
    lab.wait_for(same, timeout=15, what="macs-fpm == macs-kernel-fdb on every leaf")


def check(lab, outdir, tag):
    want = F.expected_for(lab, SESSIONS)
    F.wait_entries(lab, want, timeout=20)
    ports = {h: lab.link_of(h, F.where_is(lab, h)).iface(h)
             for h in ("vm210", "vm220", "vm230", "vm240", "serv21")}
    caps = {h: F.Capture(lab, h, ports[h], outdir / f"{tag}-{h}.pcap") for h in ports}
    try:
        res = F.pair_traffic(lab, PAIRS)
        for c in caps.values():     # the last copies in flight have landed
            F.wait_quiet(c.path, 0.5, 10)
    finally:
        pk = {h: c.stop() for h, c in caps.items()}
    assert all(res.values()), f"traffic failed: {[k for k, v in res.items() if not v]}"
    bad = []
    for server in ("serv21", "vm240"):
        smac = F.HOSTS[server][0]
        for host in ("vm210", "vm220", "vm230"):
            ip_only = host == "vm230"
            c = F.compare(pk[host], pk[server], host_mac=F.HOSTS[host][0], server_mac=smac,
                          host_ip=F.HOSTS[host][1] if ip_only else None)
            if host in WATCHED[server]:
                assert c.at_host > 0
                if not c.exactly_once:
                    bad.append(f"{server} watching {host}: {c} {c.examples}")
            else:
                # copies of this host's frames that no watched host explains
                watched = {F.HOSTS[w][0] for w in WATCHED[server]}
                stray = [f for f in F.monitored_frames(pk[server], F.HOSTS[host][0], (smac,))
                         if not {F._mac(f[0:6]), F._mac(f[6:12])} & watched]
                if stray:
                    bad.append(f"{server} got {len(stray)} copies of {host}'s frames, which "
                               f"it does not watch")
    assert not bad, "\n".join(bad)
    assert F.all_entries(lab) == want


def test_sessions_configured_on_a_third_leaf(lab, outdir):
    lab.configure("vtep103", CONFIG)
    check(lab, outdir, "initial")


def test_after_vm210_move(lab, outdir):
    F.move_host(lab, "vm210", "vtep101", "vtep102")
    check(lab, outdir, "moved")
