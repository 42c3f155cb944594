"""Shared fixtures of the FRR lab tests: one reference fabric per test module."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

from clabns import TEST_HEAP, Lab  # noqa: E402

TOPOLOGY = HERE.parents[1] / "docker" / "clab" / "evpn-monitor.clab.yml"
FRR_PREFIX = os.environ.get("EVPNMON_FRR_PREFIX", str(HERE.parents[1] / "build" / "frr"))


@pytest.fixture(scope="module")
def lab():
    """The reference fabric with the patched FRR, every BGP session up."""
    with Lab(TOPOLOGY, stock_ok=False, frr_prefix=FRR_PREFIX, **TEST_HEAP) as lab:
        lab.wait_for(lambda: all(lab.bgp_established(n) for n in lab.frr_nodes),
                     timeout=90, what="all BGP sessions established")
        yield lab
