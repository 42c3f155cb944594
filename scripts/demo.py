#!/usr/bin/python3
"""evpn-monitor demo: the reference fabric in network namespaces.

Brings up docker/clab/evpn-monitor.clab.yml with the netns runner (the same
file containerlab deploys), configures "monitor VM210 with SERV21" once on
VTEP101 with vtysh, and shows, step by step, the monitor-config route reaching
every VTEP, what each VTEP's fpm-consumer derived, and the mirrored traffic
arriving at SERV21. Everything it creates is torn down at the end, also on
Ctrl-C.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lab"))

from clabns import Lab, LabError  # noqa: E402

TOPOLOGY = REPO / "docker" / "clab" / "evpn-monitor.clab.yml"
LEAVES = ["vtep101", "vtep102", "vtep103", "vtep104"]
VM210 = {"mac": "00:00:00:00:02:10", "ip": "192.168.100.210"}
SERV21 = {"mac": "00:00:00:00:00:21", "ip": "192.168.100.21", "host_id": 21}


def step(n: int, text: str) -> None:
    print(f"\n\033[1m[{n}] {text}\033[0m", flush=True)


def show(text: str) -> None:
    for line in text.rstrip().splitlines():
        print("    " + line)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.parse_args()

    frr = os.environ.get("EVPNMON_FRR_PREFIX", str(REPO / "build" / "frr"))
    t0 = time.monotonic()
    step(1, "Fabric: spine (eBGP transit, patched bgpd, no VNI), VTEP101-104 (patched), "
            "VTEP105 (stock Debian FRR 8.4.4), VNI 100")
    try:
        with Lab(TOPOLOGY, prefix="demo", frr_prefix=frr, stock_ok=False) as lab:
            run(lab, t0)
            step(6, "Tear down")
        print("    all namespaces and processes removed")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted: everything torn down")
        return 130


def run(lab: Lab, t0: float) -> None:
    lab.wait_for(lambda: all(lab.bgp_established(n) for n in lab.frr_nodes),
                 timeout=90, what="BGP sessions")
    print(f"    all BGP sessions established after {time.monotonic() - t0:.1f} s")
    show(lab.vtysh("spine", "show bgp l2vpn evpn summary"))

    step(2, "Operator, on VTEP101 only: monitor VM210 with SERV21 (vtysh)")
    cfg = ["router bgp 65101", "address-family l2vpn evpn",
           f"monitor server {SERV21['host_id']} mac {SERV21['mac']} ip {SERV21['ip']}",
           f"monitor host vni 100 mac {VM210['mac']} ip {VM210['ip']} server {SERV21['host_id']}"]
    for c in cfg:
        print(f"    vtep101(config)# {c}")
    t_cfg = time.monotonic()
    lab.configure("vtep101", cfg)

    step(3, "The monitor-config route (EVPN type 254) reaches every VTEP of VNI 100")

    def everywhere():
        return all(lab.vtysh_json(n, "show bgp l2vpn evpn monitor json")["sessions"]
                   for n in LEAVES)
    lab.wait_for(everywhere, timeout=30, what="session on every VTEP")
    print(f"    present on VTEP101-104 {1000 * (time.monotonic() - t_cfg):.0f} ms after the configuration")
    show(lab.vtysh("vtep103", "show bgp l2vpn evpn monitor"))
    show(lab.vtysh("spine", "show bgp l2vpn evpn route type monitor"))
    stock = lab.vtysh("vtep105", "show bgp l2vpn evpn route")
    print("    VTEP105 (stock FRR) holds no monitor route: "
          f"{'yes' if '[254]' not in stock else 'NO'}; its BGP session: "
          f"{'Established' if lab.bgp_established('vtep105') else 'DOWN'}")

    step(4, "Each VTEP's fpm-consumer derives its entries")
    ctl = Path(os.environ.get("EVPNMON_BUILD_DIR", REPO / "build")) / "fpm-consumer" / "evpnmon-ctl"
    if ctl.exists() and lab.skipped == []:
        for n in LEAVES:
            r = lab.exec(n, [str(ctl), "entries"], check=False)
            print(f"    {n}:")
            show(r.stdout or r.stderr)
    else:
        print("    (fpm-consumer not running in this fabric yet: see docs/lab.md)")

    step(5, "Traffic to and from VM210; what SERV21 receives")
    pcap = Path("/tmp/evpnmon-demo-serv21.pcap")
    cap = subprocess.Popen(["ip", "netns", "exec", lab.netns("serv21"), "tcpdump", "-i", "eth1",
                            "-w", str(pcap), "-U", "not arp"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    for src in ("vm220", "vm230"):
        r = lab.exec(src, f"ping -c 3 -i 0.2 -W 1 {VM210['ip']}", check=False)
        print(f"    {src} -> VM210 ping: {'ok' if r.returncode == 0 else 'FAILED'}")
    time.sleep(1)
    cap.terminate()
    cap.wait(5)
    if shutil.which("tshark"):
        r = subprocess.run(["tshark", "-r", str(pcap), "-q", "-z", "conv,ip"],
                           capture_output=True, text=True)
        show(r.stdout)
    print(f"    capture at SERV21: {pcap}")


if __name__ == "__main__":
    sys.exit(main())
