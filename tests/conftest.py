"""Shared pytest policy for every test under tests/.

Under ctest (EVPNMON_NO_SKIP=1, set by tests/CMakeLists.txt) a skipped test
is reported as a failure: scripts/test.sh provides root, the patched FRR
build and every package, so a skip there means the run did not test what it
claims to.  Run by hand without the variable, the usual skips apply (e.g. no
root on a laptop).

Every module gets `outdir`, a directory for its files that is kept when one
of its tests failed (module_output.py).
"""
import os

import pytest

from module_output import module_outdir


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if (os.environ.get("EVPNMON_NO_SKIP") == "1" and rep.skipped
            and not hasattr(rep, "wasxfail")):
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        rep.outcome = "failed"
        rep.longrepr = f"skipped under ctest (EVPNMON_NO_SKIP=1): {reason}"
    module = getattr(item, "module", None)
    if rep.failed and module is not None:
        module._evpnmon_failed = True    # module_output.py keeps its files


@pytest.fixture(scope="module")
def outdir(request):
    """A directory for a module's files (captures, file sets, logs): removed
    afterwards, kept when one of its tests failed (module_output.py)."""
    name = request.module.__name__.removeprefix("test_").replace("_", "-")
    with module_outdir(request, name) as d:
        yield d
