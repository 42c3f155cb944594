"""The generated N-leaf fabric (docker/gen_fabric.py, tests/lab/genfabric.py).

* the committed docker/clab/fabric32/ is exactly what the generator makes
  (a change to the generator must be committed with its output);
* a generated topology follows the plan (nodes, links, addresses, one
  consumer per leaf with its own ERSPAN HW ID) as the runner parses it;
* a 2-leaf generation runs in the netns runner unchanged: BGP, flood lists,
  a ping across VXLAN, every consumer's gates, one session whose entries
  reach both leaves and whose copies reach the server, and nothing left after
  teardown.

The 32-leaf, 10,000-session run is a benchmark (bench/lab/bench_fabric_scale.py),
not a test: it takes minutes.
"""
from __future__ import annotations

import ipaddress
import os
import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "docker"))
sys.path.insert(0, str(REPO / "tests" / "scenarios"))

import gen_fabric as G  # noqa: E402
from clabns import TEST_HEAP, _netns_list, load_topology  # noqa: E402


def test_committed_fabric32_equals_a_fresh_generation():
    d = G.check(32, REPO / "docker" / "clab" / "fabric32")
    assert not d, "docker/clab/fabric32 differs from `docker/gen_fabric.py -n 32`:\n" + "\n".join(d)


def test_generation_is_deterministic_and_bounded():
    assert G.files(5) == G.files(5)
    for bad in (0, G.MAX_LEAVES + 1):
        with pytest.raises(ValueError):
            G.files(bad)


@pytest.mark.parametrize("n", [1, 3, 32, G.MAX_LEAVES])
def test_generated_topology_follows_the_plan(n, tmp_path):
    topo = load_topology(G.write(n, tmp_path))
    leaves = [G.leaf_name(i) for i in range(1, n + 1)]
    hosts = [G.host_name(i) for i in range(1, n + 1)]
    assert set(topo.nodes) == {"spine", "serv21", *leaves, *hosts}
    assert len(topo.links) == 2 * n + 1
    frr = sorted(x for x, nd in topo.nodes.items() if nd.is_frr)
    assert frr == sorted(["spine", *leaves])
    for nd in topo.nodes.values():            # every bind exists
        for src in nd.binds.values():
            assert src.exists(), src
    hw_ids, vteps = set(), set()
    for i, leaf in enumerate(leaves, 1):
        nd = topo.nodes[leaf]
        assert nd.env["EVPNMON_CONSUMER"] == "1"
        args = nd.env["EVPNMON_CONSUMER_ARGS"].split()
        hw_ids.add(args[args.index("--erspan-hw-id") + 1])
        vteps.add(args[args.index("--local-vtep") + 1])
        assert f"ip addr add {G.leaf_ip(i)}/32 dev lo" in nd.exec
        conf = nd.frr_conf.read_text()
        assert f"router bgp {65100 + i}" in conf and f"neighbor {G.spine_if_ip(i)} remote-as 65000" in conf
        assert "-M evpn_mon" in nd.daemons_file.read_text()
        assert "-M dplane_fpm_nl" in nd.daemons_file.read_text()
    assert len(hw_ids) == n and len(vteps) == n
    spine = topo.nodes["spine"].frr_conf.read_text()
    assert spine.count("peer-group LEAVES") == n              # n members of the group
    nets = [ipaddress.ip_interface(l.split()[3]) for l in topo.nodes["spine"].exec
            if l.startswith("ip addr add 10.1.")]
    assert len({x.network for x in nets}) == n                # one /31 per leaf
    assert topo.nodes[G.leaf_name(n)].exec.count("ip link set eth3 master br100") == 1


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


@needs_root
def test_two_leaf_generation_runs_in_the_netns_runner(tmp_path):
    import fabric as F
    from genfabric import CTL, FRR_PREFIX, GenFabric
    assert (Path(FRR_PREFIX) / "bin").exists(), f"no patched FRR build at {FRR_PREFIX}"
    assert CTL.exists(), f"no evpnmon-ctl at {CTL}"
    gf = GenFabric(2, topology=G.write(2, tmp_path / "fabric2"))
    prefix = f"fg{os.getpid() % 100000}"
    try:
        with gf.lab(prefix=prefix, **TEST_HEAP) as lab:
            gf.wait_bgp(lab, timeout=90)
            gf.wait_vteps(lab, timeout=60)
            gf.quiet_hosts(lab)
            lab.wait_for(lambda: lab.ping("vm101", gf.host_ip["vm102"]), 30, "vm101 -> vm102")
            lab.wait_for(lambda: lab.ping(gf.server, gf.host_ip["vm101"]), 30, "serv21 -> vm101")
            gf.wait_mac_everywhere(lab, gf.server_mac, timeout=60)
            gf.wait_gates(lab, timeout=60)
            lab.configure("vtep101", [
                "router bgp 65101", "address-family l2vpn evpn",
                f"monitor server 21 mac {gf.server_mac} ip {gf.server_ip}",
                f"monitor host vni 100 mac {gf.host_mac['vm101']} server 21"])
            want = {"vtep101": {"mirror-source": 1, "mirror-dest": 1},
                    "vtep102": {"mirror-source": 1, "mirror-dest": 1, "decap": 1}}
            lab.wait_for(lambda: all(gf.entry_counts(lab, l) == w for l, w in want.items()),
                         timeout=30, what="entries on both leaves")
            assert gf.entry_counts(lab, "vtep101", "10.0.0.102") == want["vtep101"]
            assert gf.entry_counts(lab, "vtep102", "port:eth3") == want["vtep102"]
            # vm101's requests (entry 1 at vtep101) and the replies to it
            # (entry 2 at vtep102): every frame at its port copied to serv21
            # exactly once, byte for byte
            kw = dict(host_mac=gf.host_mac["vm101"], server_mac=gf.server_mac)
            with F.Capture(lab, "vm101", "eth1", tmp_path / "host.pcap", "icmp") as ch, \
                 F.Capture(lab, gf.server, "eth1", tmp_path / "serv.pcap", "icmp") as cs:
                assert lab.ping("vm101", gf.host_ip["vm102"], count=3)

                def copied():
                    c = F.compare(F.read_pcap(ch.path), F.read_pcap(cs.path), **kw)
                    return c.at_host >= 6 and c.at_server >= c.at_host
                lab.wait_for(copied, 10, "vm101's frames copied to serv21")
                hp, sp = ch.stop(), cs.stop()
            c = F.compare(hp, sp, **kw)
            assert c.at_host >= 6 and c.exactly_once, str(c)
    finally:
        shutil.rmtree(tmp_path / "fabric2", ignore_errors=True)
    assert not [ns for ns in _netns_list() if ns.startswith(prefix + "-")]
