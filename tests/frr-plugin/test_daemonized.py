"""bgpd as distributions run it: daemonized (-d) and configured from a file
(-f). Two leaves, back to back, in namespaces of this test.

Regressions: the feed must answer after bgpd forked (its ZeroMQ context is
created after the fork), and `monitor host` lines in bgpd.conf must be
accepted although zebra reports the VNI only later.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import FRR_PREFIX
from feedclient import FeedClient

PREFIX = f"emd{os.getpid()}"


def sh(cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True, timeout=20)


def bgpd_conf(i: int) -> str:
    other = 3 - i
    return f"""hostname leaf{i}
router bgp 6500{i}
 bgp router-id 10.0.0.{i}
 no bgp ebgp-requires-policy
 neighbor 172.16.0.{other} remote-as 6500{other}
 neighbor 172.16.0.{other} timers 3 9
 neighbor 172.16.0.{other} timers connect 2
 address-family ipv4 unicast
  network 10.0.0.{i}/32
 exit-address-family
 address-family l2vpn evpn
  neighbor 172.16.0.{other} activate
  advertise-all-vni
  monitor server 21 mac 00:00:00:00:00:21 ip 192.168.100.21
  monitor host vni 100 mac 00:00:00:00:02:1{i} server 21
 exit-address-family
"""


@pytest.fixture
def leaves():
    frr = Path(FRR_PREFIX)
    if not (frr / "sbin" / "bgpd").exists():
        pytest.skip(f"no patched FRR at {frr}")
    dirs = {}
    # the daemons drop to user frr: a directory it can reach (not pytest's 0700 tmp)
    base = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-", dir="/tmp"))
    base.chmod(0o755)
    try:
        for i in (1, 2):
            sh(f"ip netns add {PREFIX}-{i}")
        sh(f"ip link add eth0 netns {PREFIX}-1 type veth peer name eth0 netns {PREFIX}-2")
        for i in (1, 2):
            ns, other = f"{PREFIX}-{i}", 3 - i
            sh(f"ip -n {ns} link set lo up; ip -n {ns} addr add 10.0.0.{i}/32 dev lo; "
               f"ip -n {ns} addr add 172.16.0.{i}/24 dev eth0; ip -n {ns} link set eth0 up; "
               f"ip -n {ns} link add br100 type bridge; ip -n {ns} link set br100 up; "
               f"ip -n {ns} link add vxlan100 type vxlan id 100 local 10.0.0.{i} dstport 4789 nolearning; "
               f"ip -n {ns} link set vxlan100 master br100; ip -n {ns} link set vxlan100 up")
            d = base / f"leaf{i}"
            d.mkdir()
            (d / "zebra.conf").write_text(f"hostname leaf{i}\nip route 10.0.0.{other}/32 172.16.0.{other}\n")
            (d / "bgpd.conf").write_text(bgpd_conf(i))
            sh(f"chown -R frr:frr {d}")
            common = f"-i {{pid}} -z {d}/zserv.api --vty_socket {d} -P 0"
            sh(f"ip netns exec {ns} {frr}/sbin/zebra -d -f {d}/zebra.conf "
               + common.format(pid=d / "zebra.pid") + f" --log file:{d}/zebra.log")
            sh(f"ip netns exec {ns} {frr}/sbin/bgpd -d -M evpn_mon -f {d}/bgpd.conf "
               + common.format(pid=d / "bgpd.pid") + f" --log file:{d}/bgpd.log")
            dirs[i] = d
        yield dirs
    finally:
        for i in (1, 2):
            ns = f"{PREFIX}-{i}"
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for sig in (signal.SIGTERM, signal.SIGKILL):
                for p in pids:
                    try:
                        os.kill(int(p), sig)
                    except ProcessLookupError:
                        pass
                time.sleep(1 if sig == signal.SIGTERM else 0)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_daemonized_bgpd_feed_and_config_file(leaves):
    client = FeedClient(f"ipc://{leaves[2]}/evpnmon-feed.sock", "test")
    try:
        deadline = time.monotonic() + 30
        want = {("00:00:00:00:02:11", False), ("00:00:00:00:02:12", True)}
        got = set()
        while time.monotonic() < deadline and got != want:
            client.poll(0.5)
            got = {(s["hostMac"], s["local"]) for s in client.sessions.values()}
        assert client.snapshots >= 1, "daemonized bgpd answered the subscription"
        assert got == want, "own session from bgpd.conf and the other leaf's, both published"
        # checked only now: `bgpd -d` returns before it has read its config
        for d in leaves.values():
            assert "Config Failed" not in (d / "bgpd.log").read_text(errors="replace")
    finally:
        client.close()
