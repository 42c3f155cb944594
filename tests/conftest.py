"""Shared pytest policy for every test under tests/.

Under ctest (EVPNMON_NO_SKIP=1, set by tests/CMakeLists.txt) a skipped test
is reported as a failure: scripts/test.sh provides root, the patched FRR
build and every package, so a skip there means the run did not test what it
claims to.  Run by hand without the variable, the usual skips apply (e.g. no
root on a laptop).
"""
import os

import pytest


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
