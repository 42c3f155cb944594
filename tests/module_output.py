"""A test module's output directory (captures, file sets, logs), kept when
one of its tests failed: the files that explain a failure seen once."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

# Where a failed module's directory goes; the newest KEPT_MAX stay.
KEPT_ROOT = Path(os.environ.get("EVPNMON_KEPT_DIR", "/tmp/evpnmon-kept"))
KEPT_MAX = 5


@contextlib.contextmanager
def module_outdir(request, name: str):
    """A temporary directory for a module's files (captures, file sets,
    logs). Removed afterwards, unless a test of the module failed: then it
    moves under KEPT_ROOT (the path is printed), or EVPNMON_KEEP_OUTPUT is
    set: then it stays where it is."""
    keep_all = bool(os.environ.get("EVPNMON_KEEP_OUTPUT"))
    d = Path(tempfile.mkdtemp(prefix=f"evpnmon-{name}-"))
    try:
        yield d
    finally:
        failed = getattr(request.module, "_evpnmon_failed", False)
        report = request.config.pluginmanager.get_plugin("terminalreporter")
        if keep_all:
            where = d
        elif failed:
            KEPT_ROOT.mkdir(parents=True, exist_ok=True)
            where = KEPT_ROOT / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
            shutil.move(str(d), where)
            for old in sorted(KEPT_ROOT.iterdir(), key=lambda p: p.stat().st_mtime)[:-KEPT_MAX]:
                shutil.rmtree(old, ignore_errors=True)
        else:
            shutil.rmtree(d, ignore_errors=True)
            where = None
        if where is not None and report is not None:
            report.write_line(f"{name}: output kept in {where}"
                              + (" (a test failed)" if failed else ""))
