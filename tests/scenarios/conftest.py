"""Shared fixtures of the scenario tests."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def outdir(request):
    """A directory for this module's captures, removed afterwards."""
    name = request.module.__name__.removeprefix("test_").replace("_", "-")
    with tempfile.TemporaryDirectory(prefix=f"evpnmon-{name}-") as d:
        yield Path(d)
