"""bgpd as distributions run it: daemonized (-d) and configured from a file
(-f). Two leaves, back to back, in namespaces of this test.

Regressions: the feed must answer after bgpd forked (its ZeroMQ context is
created after the fork), and `monitor host` lines in bgpd.conf must be
accepted although zebra reports the VNI only later.
"""
from __future__ import annotations

import os
import time

import pytest

from feedclient import FeedClient
from two_leaves import SERVER, VNI, bgpd_conf, two_leaves

PREFIX = f"emd{os.getpid()}"


def conf(i: int) -> str:
    return bgpd_conf(i, evpn=[f"monitor host vni {VNI} mac 00:00:00:00:02:1{i} server {SERVER}"],
                     ipv4=[f"network 10.0.0.{i}/32"])


@pytest.fixture
def leaves():
    """The two leaves' directories, as soon as their daemons started."""
    with two_leaves(PREFIX, conf, zebra_route=True, wait=False) as out:
        yield {i: leaf.d for i, leaf in out.items()}


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
