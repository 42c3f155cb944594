"""Two patched leaves, back to back, in network namespaces of a test module
(test_profile_cli.py, test_collector_cli.py, test_daemonized.py).

Leaf i (1 or 2) lives in namespace PREFIX-i: loopback 10.0.0.i/32 (its VTEP
address), eth0 172.16.0.i/24 (a veth to the other leaf), br100 with
vxlan100 (VNI 100), and zebra plus bgpd with the evpn_mon module, both
daemonized and configured from files in a directory the user frr can reach.
eBGP between the two, l2vpn evpn with advertise-all-vni and monitor server
21.
"""
from __future__ import annotations

import json
import os
import shutil
import shlex
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pytest

from clabns import TEST_FRR_ENV
from conftest import FRR_PREFIX

FRR = Path(FRR_PREFIX)
VNI = 100
SERVER = 21
SERVER_LINE = f"monitor server {SERVER} mac 00:00:00:00:00:21 ip 192.168.100.21"
AF = ["configure terminal", "router bgp {asn}", "address-family l2vpn evpn"]


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True, timeout=20)


def bgpd_conf(i: int, evpn: Sequence[str] = (), ipv4: Sequence[str] = ()) -> str:
    """leaf{i}'s bgpd.conf; `evpn`: more lines of its address-family l2vpn
    evpn (after the server), `ipv4`: the lines of an address-family ipv4
    unicast before it (none without)."""
    other = 3 - i
    af_ipv4 = "".join([" address-family ipv4 unicast\n", *(f"  {l}\n" for l in ipv4),
                       " exit-address-family\n"]) if ipv4 else ""
    extra = "".join(f"  {l}\n" for l in evpn)
    return f"""hostname leaf{i}
router bgp 6500{i}
 bgp router-id 10.0.0.{i}
 no bgp ebgp-requires-policy
 neighbor 172.16.0.{other} remote-as 6500{other}
 neighbor 172.16.0.{other} timers 3 9
 neighbor 172.16.0.{other} timers connect 2
{af_ipv4} address-family l2vpn evpn
  neighbor 172.16.0.{other} activate
  advertise-all-vni
  {SERVER_LINE}
{extra} exit-address-family
"""


class Leaf:
    def __init__(self, i: int, d: Path):
        self.i, self.d, self.asn = i, d, 65000 + i

    def vtysh(self, *cmds: str) -> subprocess.CompletedProcess:
        argv = [str(FRR / "bin" / "vtysh"), "--vty_socket", str(self.d)]
        for c in cmds:
            argv += ["-c", c]
        env = {**os.environ, "LD_LIBRARY_PATH": str(FRR / "lib")}
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)

    def show(self, cmd: str) -> str:
        cp = self.vtysh(cmd)
        assert cp.returncode == 0, f"{cmd}: {cp.stdout} {cp.stderr}"
        return cp.stdout

    def json(self, cmd: str):
        return json.loads(self.show(cmd + " json"))

    def conf(self, *lines: str) -> subprocess.CompletedProcess:
        """Lines inside `address-family l2vpn evpn`; stops at the first error."""
        return self.vtysh(*[a.format(asn=self.asn) for a in AF], *lines)

    def ok(self, *lines: str) -> None:
        cp = self.conf(*lines)
        assert cp.returncode == 0 and "%" not in cp.stdout, f"{lines}: {cp.stdout} {cp.stderr}"

    def monitor_lines(self) -> list[str]:
        """The module's lines of the running-config, in order."""
        return [l.strip() for l in self.show("show running-config").splitlines()
                if l.strip().startswith("monitor ")]

    def clear_monitor(self) -> None:
        """Removes every session, collector, profile and import setting
        (`no` of their lines, last first); the servers stay."""
        for line in reversed(self.monitor_lines()):
            words = line.split()
            if line.startswith("monitor host ") or words[:2] == ["monitor", "collector"] \
                    or words[:2] == ["monitor", "profile"] and len(words) == 3 \
                    or words[:2] == ["monitor", "import"]:
                self.conf("no " + line)

    def profile_lines(self) -> list[str]:
        return [l for l in self.monitor_lines() if l.startswith("monitor profile ")]

    def collector_lines(self) -> list[str]:
        return [l for l in self.monitor_lines() if l.startswith("monitor collector ")]

    def configured(self) -> list[dict]:
        return self.json("show bgp l2vpn evpn monitor")["configured"]

    def sessions(self, origin: str | None = None) -> list[dict]:
        s = self.json("show bgp l2vpn evpn monitor")["sessions"]
        return [x for x in s if origin is None or x["origin"] == origin]

    def collectors(self) -> dict:
        return self.json("show bgp l2vpn evpn monitor collector")["collectors"]

    def feed(self, **kw):
        """A FeedClient subscribed to this leaf's feed."""
        from feedclient import FeedClient  # ZeroMQ: only for the tests that use it
        return FeedClient(f"ipc://{self.d}/evpnmon-feed.sock", f"leaf{self.i}", **kw)


def _running(pid: str) -> bool:
    """The process exists and has not exited (a zombie has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(pred, timeout=30.0, what=""):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (AssertionError, KeyError, ValueError, IndexError) as e:
            last = e
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def frr_reload(leaf: Leaf, target: Path, mode: str) -> subprocess.CompletedProcess:
    rundir = leaf.d / "reload"
    rundir.mkdir(exist_ok=True)
    env = {**os.environ, "LD_LIBRARY_PATH": str(FRR / "lib")}
    return subprocess.run(
        ["/usr/bin/python3", str(FRR / "sbin" / "frr-reload.py"), mode, "--stdout",
         "--bindir", str(FRR / "bin"), "--confdir", str(FRR / "etc"),
         "--rundir", str(rundir), "--vty_socket", str(leaf.d), "--daemon", "bgpd",
         str(target)],
        capture_output=True, text=True, timeout=120, env=env)


@contextmanager
def two_leaves(prefix: str, bgpd: Callable[[int], str] = bgpd_conf,
               zebra_route: bool = False, wait: bool = True) -> Iterator[dict[int, Leaf]]:
    """Builds the pair in namespaces prefix-1 and prefix-2, yields {1: Leaf,
    2: Leaf}, then kills every process of the namespaces and deletes them.

    bgpd(i): leaf i's bgpd.conf. The route to the other leaf's VTEP
    address: a kernel route, or with zebra_route a static route in
    zebra.conf. wait: return only once BGP is established and bgpd knows
    the VNI on both (otherwise right after the daemons started). Skips the
    test without a patched FRR."""
    if not (FRR / "sbin" / "bgpd").exists():
        pytest.skip(f"no patched FRR at {FRR}")
    # the daemons drop to user frr: a directory it can reach (not pytest's 0700 tmp)
    base = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir="/tmp"))
    base.chmod(0o755)
    out = {}
    try:
        for i in (1, 2):
            sh(f"ip netns add {prefix}-{i}")
        sh(f"ip link add eth0 netns {prefix}-1 type veth peer name eth0 netns {prefix}-2")
        for i in (1, 2):
            ns, other = f"{prefix}-{i}", 3 - i
            sh(f"ip -n {ns} link set lo up; ip -n {ns} addr add 10.0.0.{i}/32 dev lo; "
               f"ip -n {ns} addr add 172.16.0.{i}/24 dev eth0; ip -n {ns} link set eth0 up; "
               f"ip -n {ns} link add br100 type bridge; ip -n {ns} link set br100 up; "
               f"ip -n {ns} link add vxlan100 type vxlan id {VNI} local 10.0.0.{i} dstport 4789 nolearning; "
               f"ip -n {ns} link set vxlan100 master br100; ip -n {ns} link set vxlan100 up"
               # the other leaf's VTEP address: the next hop of its routes
               + ("" if zebra_route else f"; ip -n {ns} route add 10.0.0.{other}/32 via 172.16.0.{other}"))
            d = base / f"leaf{i}"
            d.mkdir()
            (d / "zebra.conf").write_text(f"hostname leaf{i}\n" + (
                f"ip route 10.0.0.{other}/32 172.16.0.{other}\n" if zebra_route else ""))
            (d / "bgpd.conf").write_text(bgpd(i))
            sh(f"chown -R frr:frr {d}")
            common = f"-i {{pid}} -z {d}/zserv.api --vty_socket {d} -P 0"
            # freed memory filled with a pattern (clabns.TEST_FRR_ENV)
            run = f"ip netns exec {ns} env " + " ".join(shlex.quote(f"{k}={v}")
                                                        for k, v in TEST_FRR_ENV.items())
            sh(f"{run} {FRR}/sbin/zebra -d -f {d}/zebra.conf "
               + common.format(pid=d / "zebra.pid") + f" --log file:{d}/zebra.log")
            sh(f"{run} {FRR}/sbin/bgpd -d -M evpn_mon -f {d}/bgpd.conf "
               + common.format(pid=d / "bgpd.pid") + f" --log file:{d}/bgpd.log")
            out[i] = Leaf(i, d)
        for leaf in out.values() if wait else ():
            peer = f"172.16.0.{3 - leaf.i}"
            wait_for(lambda: leaf.json("show bgp neighbors")[peer]["bgpState"] == "Established",
                     timeout=60, what=f"leaf{leaf.i} BGP established")
            # bgpd must know the VNI: `monitor host` refuses unknown ones
            wait_for(lambda: f" {VNI} " in leaf.show("show bgp l2vpn evpn vni"),
                     what=f"leaf{leaf.i} bgpd knows VNI {VNI}")
        yield out
    finally:
        for i in (1, 2):
            ns = f"{prefix}-{i}"
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for sig in (signal.SIGTERM, signal.SIGKILL):
                for p in pids:
                    try:
                        os.kill(int(p), sig)
                    except ProcessLookupError:
                        pass
                # the daemons' own exit, 2 s at most, before SIGKILL
                deadline = time.monotonic() + (2 if sig == signal.SIGTERM else 0)
                while any(map(_running, pids)) and time.monotonic() < deadline:
                    time.sleep(0.05)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
