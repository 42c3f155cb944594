"""Shared fixtures of the scenario tests."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/
from module_output import module_outdir  # noqa: E402


@pytest.fixture(scope="module")
def outdir(request):
    """A directory for this module's captures: removed afterwards, kept
    when a test failed (tests/module_output.py)."""
    name = request.module.__name__.removeprefix("test_").replace("_", "-")
    with module_outdir(request, name) as d:
        yield d
