"""Smoke test of the lab runner: the reference fabric with stock Debian FRR.

Brings up docker/clab/evpn-monitor.clab.yml with tests/lab/clabns.py, every
FRR node on stock FRR 8.4.4 (``-M evpn_mon`` stripped), and checks:
BGP Established everywhere, EVPN type-3 routes of all five VTEPs, type-2
routes and kernel FDB entries after traffic, pings across VXLAN from VM210
(VTEP101) to VM220 (VTEP102) and to VM250 (stock leaf VTEP105).  Then checks
that nothing was left behind.

Run: sudo /usr/bin/python3 -m pytest -v tests/lab/test_lab_smoke.py
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clabns import DEFAULT_FRR_PREFIX, TEST_CONSUMER_ENV, TEST_FRR_ENV, TEST_HEAP, FrrBinaries, Lab, process_tunables  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TOPO = REPO / "docker" / "clab" / "evpn-monitor.clab.yml"
VTEPS = {"vtep101": "10.0.0.101", "vtep102": "10.0.0.102", "vtep103": "10.0.0.103",
         "vtep104": "10.0.0.104", "vtep105": "10.0.0.105"}
MAC = {"vm210": "02:00:00:00:02:10", "vm220": "02:00:00:00:02:20",
       "vm250": "02:00:00:00:02:50"}
IP = {"vm210": "192.168.100.210", "vm220": "192.168.100.220", "vm250": "192.168.100.250"}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


def evpn_routes(lab, node, rtype):
    """{route prefix: [next hops of the best path]} of EVPN type rtype on node."""
    kind = {2: "macip", 3: "multicast"}[rtype]
    j = lab.vtysh_json(node, f"show bgp l2vpn evpn route type {kind} json")
    out = {}
    for rd, ent in j.items():
        if not isinstance(ent, dict):
            continue
        for pfx, r in ent.items():
            if not isinstance(r, dict) or "paths" not in r:
                continue
            for path in (p for grp in r["paths"] for p in grp):
                if path.get("bestpath"):
                    out[pfx] = [nh["ip"] for nh in path.get("nexthops", [])]
    return out


def remote_mac_vtep(lab, node, mac):
    """Remote VTEP zebra has for mac on VNI 100, or None."""
    j = lab.vtysh_json(node, "show evpn mac vni 100 json")
    m = j.get("macs", {}).get(mac, {})
    return m.get("remoteVtep") if m.get("type") == "remote" else None


def kernel_fdb_dst(lab, node, mac):
    j = json.loads(lab.exec(node, ["bridge", "-j", "fdb", "show", "dev", "vxlan100"]).stdout)
    return {e.get("dst") for e in j if e.get("mac") == mac and e.get("dst")}


PATCHED = FrrBinaries.from_prefix(DEFAULT_FRR_PREFIX)
HUGETLB = "glibc.malloc.hugetlb=1"   # bgpd_wrap of the patched nodes' daemons files


def test_reference_fabric_stock_frr():
    """The issue's smoke test: every node on stock Debian FRR."""
    run_fabric(stock=True)


@pytest.mark.skipif(PATCHED is None, reason=f"no patched FRR build in {DEFAULT_FRR_PREFIX}")
def test_reference_fabric_patched_frr():
    """Same checks with the images mapped as in containerlab: patched FRR
    (evpn_mon, dplane_fpm_nl, fpm-consumer) on spine and vtep101-104, stock
    FRR on vtep105."""
    run_fabric(stock=False)


def run_fabric(stock):
    timings = {}
    t0 = time.monotonic()
    lab = Lab(TOPO, force_stock=stock, stock_ok=stock, **TEST_HEAP)
    prefix = lab.prefix
    with lab:
        timings["up"] = time.monotonic() - t0
        assert set(lab.frr_nodes) == {"spine", *VTEPS}
        for n in lab.frr_nodes:
            want = "stock" if stock or n == "vtep105" else "patched"
            assert lab.binaries[n].name == want, n
            bgpd = " ".join(lab.daemon_args[(n, "bgpd")])
            # with stock FRR the module flag is stripped, nothing else
            assert ("evpn_mon" in bgpd) == (want == "patched"), bgpd
            assert "-A 127.0.0.1" in bgpd
            # the daemons file's bgpd_wrap (vtep105's file has none) reaches
            # the running bgpd, as frrcommon.sh's "$all_wrap $bgpd_wrap bgpd",
            # and so do the tests' tunables (frr_env), after the wrap's
            test_tunables = TEST_FRR_ENV["GLIBC_TUNABLES"]
            for daemon, wrap in (("bgpd", HUGETLB if n != "vtep105" else None),
                                 ("zebra", None)):
                pid = lab.procs[(n, daemon)]
                pid = getattr(pid, "pid", pid)
                assert os.readlink(f"/proc/{pid}/exe").endswith(f"/{daemon}"), n
                assert process_tunables(pid) == (f"{wrap}:{test_tunables}" if wrap
                                                else test_tunables), (n, daemon, bgpd)
        # the consumers (patched leaves but vtep105) get the tests' jemalloc settings
        consumers = {n: getattr(p, "pid", p) for (n, d), p in lab.procs.items()
                     if d == "fpm-consumer"}
        assert sorted(consumers) == ([] if stock else sorted(set(VTEPS) - {"vtep105"}))
        for n, pid in consumers.items():
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert [f"{k}={v}".encode() for k, v in TEST_CONSUMER_ENV.items()
                    if f"{k}={v}".encode() not in env] == [], n

        lab.wait_for(lambda: all(lab.bgp_established(n) for n in lab.frr_nodes),
                     timeout=60, what="BGP Established on the spine and all leaves")
        timings["bgp"] = time.monotonic() - t0
        assert len(lab.bgp_neighbors("spine")) == 5

        # type-3 (IMET) of every VTEP reaches every leaf, next hop unchanged
        def imet_complete():
            for leaf in VTEPS:
                r = evpn_routes(lab, leaf, 3)
                got = {nh for nhs in r.values() for nh in nhs}
                if got != set(VTEPS.values()):
                    return False
            return True
        lab.wait_for(imet_complete, timeout=30, what="type-3 routes of all VTEPs on all leaves")
        timings["type3"] = time.monotonic() - t0
        # the spine carries EVPN without any VNI of its own
        assert len(evpn_routes(lab, "spine", 3)) == 5
        # and the leaves flood to each other: ingress replication list
        # (zebra installs it after bgpd has the routes: poll, do not assume)
        def flood_list():
            fdb0 = json.loads(lab.exec("vtep101", ["bridge", "-j", "fdb", "show", "dev",
                                                    "vxlan100"]).stdout)
            return {e["dst"] for e in fdb0 if e.get("mac") == "00:00:00:00:00:00"}
        lab.wait_for(lambda: flood_list() == set(VTEPS.values()) - {"10.0.0.101"},
                     timeout=10, what="vtep101's flood list: every other VTEP")

        # traffic across VXLAN: leaf 1 -> leaf 2, leaf 1 -> stock leaf
        lab.wait_for(lambda: lab.ping("vm210", IP["vm220"]), timeout=20,
                     what="vm210 (vtep101) -> vm220 (vtep102) ping")
        timings["ping_vtep102"] = time.monotonic() - t0
        lab.wait_for(lambda: lab.ping("vm210", IP["vm250"]), timeout=20,
                     what="vm210 (vtep101) -> vm250 (stock vtep105) ping")
        timings["ping_vtep105"] = time.monotonic() - t0
        assert lab.ping("vm250", IP["vm220"], count=2)

        # type-2 routes of the hosts, with the right VTEP as next hop, in
        # both directions between patched-image leaves and the stock leaf
        def mac_route(node, mac, vtep):
            r = evpn_routes(lab, node, 2)
            return any(mac in pfx and vtep in nhs for pfx, nhs in r.items())
        for node, mac, vtep in [("vtep101", MAC["vm220"], "10.0.0.102"),
                                ("vtep101", MAC["vm250"], "10.0.0.105"),
                                ("vtep105", MAC["vm210"], "10.0.0.101"),
                                ("vtep102", MAC["vm210"], "10.0.0.101"),
                                ("spine", MAC["vm250"], "10.0.0.105")]:
            lab.wait_for(lambda: mac_route(node, mac, vtep), timeout=10,
                         what=f"type-2 {mac} via {vtep} on {node}")
        # zebra and the kernel FDB installed them (asynchronously: poll)
        for node, mac, vtep in [("vtep101", MAC["vm220"], "10.0.0.102"),
                                ("vtep105", MAC["vm210"], "10.0.0.101")]:
            lab.wait_for(lambda: remote_mac_vtep(lab, node, mac) == vtep, timeout=10,
                         what=f"zebra on {node}: {mac} at {vtep}")
        for node, mac, vtep in [("vtep101", MAC["vm250"], "10.0.0.105"),
                                ("vtep105", MAC["vm210"], "10.0.0.101")]:
            lab.wait_for(lambda: kernel_fdb_dst(lab, node, mac) == {vtep}, timeout=10,
                         what=f"kernel FDB on {node}: {mac} -> {vtep}")
        # the traffic really went through the VXLAN devices
        for leaf in ("vtep101", "vtep102", "vtep105"):
            st = json.loads(lab.exec(leaf, ["ip", "-j", "-s", "link", "show",
                                            "vxlan100"]).stdout)[0]["stats64"]
            assert st["tx"]["packets"] > 0 and st["rx"]["packets"] > 0, (leaf, st)
        if not stock:
            for n in ("vtep101", "vtep102", "vtep103", "vtep104"):
                assert lab.daemon_running(n, "fpm-consumer"), n
        timings["checks"] = time.monotonic() - t0
        pids = [p.pid if isinstance(p, subprocess.Popen) else int(p) for p in lab.procs.values()]
        assert pids
        t_down = time.monotonic()

    timings["down"] = time.monotonic() - t_down
    # nothing left behind
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                        timeout=10).stdout
    assert not [l for l in ns.splitlines() if l.startswith(prefix + "-")]
    assert not lab.run_dir.exists()
    # every process it started is gone
    left = [p for p in pids if running(p)]
    assert not left, left
    print(f"[{'stock' if stock else 'patched'}] timings (s since start): " + ", ".join(f"{k}={v:.2f}" for k, v in timings.items()))


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_cleanup_on_exception():
    """An exception inside the with block still tears everything down."""
    lab = Lab(TOPO, force_stock=True, **TEST_HEAP)
    with pytest.raises(RuntimeError, match="boom"):
        with lab:
            pids = [p.pid for p in lab.procs.values()]
            assert pids
            raise RuntimeError("boom")
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                        timeout=10).stdout
    assert not [l for l in ns.splitlines() if l.startswith(lab.prefix + "-")]
    assert not any(running(p) for p in pids)
    assert not lab.run_dir.exists()


def test_move_link_mac_mobility():
    """move_link: vm210 from vtep101 to vtep102, EVPN follows (MAC mobility)."""
    with Lab(TOPO, force_stock=True, **TEST_HEAP) as lab:
        lab.wait_for(lambda: all(lab.bgp_established(n) for n in lab.frr_nodes),
                     timeout=60, what="BGP Established")
        lab.wait_for(lambda: lab.ping("vm210", "192.168.100.21"), timeout=20,
                     what="vm210 -> serv21 ping")
        lab.wait_for(lambda: remote_mac_vtep(lab, "vtep104", MAC["vm210"]) == "10.0.0.101",
                     timeout=10, what="vm210 at 10.0.0.101 on vtep104")
        # vtep102 must hold the remote entry too: that is what makes its
        # local learning a move (sequence 1) rather than a new MAC (sequence 0)
        lab.wait_for(lambda: remote_mac_vtep(lab, "vtep102", MAC["vm210"]) == "10.0.0.101",
                     timeout=10, what="vm210 at 10.0.0.101 on vtep102")
        t = time.monotonic()
        # Deleting the old veth flushes vtep101's FDB, and vtep101's withdrawal
        # races vtep102's learning from the gratuitous ARP: when the withdrawal
        # wins, vtep102 learns a MAC nobody else has and rightly advertises
        # sequence 0.  MAC mobility (RFC 7432 s15) is the other order, so freeze
        # vtep101's zebra until vtep102's route has reached vtep104.
        with lab.paused("vtep101", "zebra"):
            ifn = lab.move_link("vm210", "vtep101", "vtep102")
            assert ifn == "eth3"
            assert lab.link_of("vm210", "vtep102").iface("vtep102") == "eth3"
            with pytest.raises(Exception):
                lab.link_of("vm210", "vtep101")
            # the gratuitous ARP alone moves the MAC: no traffic from vm210 needed
            lab.wait_for(lambda: remote_mac_vtep(lab, "vtep104", MAC["vm210"]) == "10.0.0.102",
                         timeout=10, what="vm210's MAC at 10.0.0.102 on vtep104")
            moved = time.monotonic() - t
        j = lab.vtysh_json("vtep104", "show evpn mac vni 100 mac 02:00:00:00:02:10 json")
        assert j[MAC["vm210"]]["remoteSequence"] == 1, j
        # the old leaf, once unfrozen, follows the higher sequence number
        lab.wait_for(lambda: remote_mac_vtep(lab, "vtep101", MAC["vm210"]) == "10.0.0.102",
                     timeout=10, what="vm210's MAC at 10.0.0.102 on vtep101")
        # host side kept its identity
        info = json.loads(lab.exec("vm210", ["ip", "-j", "addr", "show", "eth1"]).stdout)[0]
        assert info["address"] == MAC["vm210"] and info["mtu"] == 1500
        assert lab.ping("vm210", "192.168.100.21", count=2)
        lab.wait_for(lambda: lab.ping("vm230", IP["vm210"]), timeout=10,
                     what="vm230 -> vm210 after the move")
        print(f"move_link -> remote leaf updated in {moved:.2f}s")


def test_cli_up_status_down():
    """The CLI: up (lab outlives the command), status --json, down."""
    cli = [sys.executable, str(Path(__file__).resolve().parent / "clabns.py")]
    prefix = f"emc{os.getpid()}"
    try:
        cp = subprocess.run(cli + ["up", str(TOPO), "--stock", "--prefix", prefix,
                                   "--wait-bgp", "60"]
                            + [w for k, v in TEST_FRR_ENV.items() for w in ("--frr-env", f"{k}={v}")],
                            capture_output=True, text=True, timeout=120)
        assert cp.returncode == 0, cp.stderr
        assert cp.stdout.split() == [prefix]
        st = json.loads(subprocess.run(cli + ["status", "--prefix", prefix, "--json"],
                                       capture_output=True, text=True, timeout=60).stdout)
        nodes = st[prefix]["nodes"]
        assert all(nodes[n]["netns_exists"] for n in nodes)
        assert all(v["alive"] for n in nodes for v in nodes[n]["processes"].values())
        assert set(nodes["spine"]["bgp"].values()) == {"Established"}
        cp = subprocess.run(cli + ["exec", "--prefix", prefix, "vm220", "ping", "-c1", "-W2",
                                   "192.168.100.250"], capture_output=True, text=True, timeout=60)
        # first packet may need ARP + flood; retry once
        if cp.returncode != 0:
            cp = subprocess.run(cli + ["exec", "--prefix", prefix, "vm220", "ping", "-c1",
                                       "-W2", "192.168.100.250"],
                                capture_output=True, text=True, timeout=60)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        out = subprocess.run(cli + ["vtysh", "--prefix", prefix, "vtep105", "show", "bgp",
                                    "l2vpn", "evpn", "summary"],
                             capture_output=True, text=True, timeout=60).stdout
        assert "Established" in out or "spine(10.1.0.8)" in out
    finally:
        cp = subprocess.run(cli + ["down", "--prefix", prefix], capture_output=True,
                            text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                        timeout=10).stdout
    assert not [l for l in ns.splitlines() if l.startswith(prefix + "-")]
    assert not Path(f"/run/clabns/{prefix}").exists()
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, timeout=10).stdout
    assert f"/run/clabns/{prefix}/" not in ps
