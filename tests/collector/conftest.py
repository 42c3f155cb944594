"""Shared fixtures of the collector's end-to-end tests."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def outdir(request):
    """A directory for this module's files (captures, the collector's file
    sets, logs), removed afterwards unless EVPNMON_KEEP_OUTPUT is set."""
    import os
    name = request.module.__name__.removeprefix("test_").replace("_", "-")
    if os.environ.get("EVPNMON_KEEP_OUTPUT"):
        d = Path(tempfile.mkdtemp(prefix=f"evpnmon-{name}-"))
        print(f"\n  output kept in {d}")
        yield d
        return
    with tempfile.TemporaryDirectory(prefix=f"evpnmon-{name}-") as d:
        yield Path(d)
