"""A test module's output directory (captures, file sets, logs), kept when
one of its tests failed: the files that explain a failure seen once."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

# Where a failed module's directory goes; the newest KEPT_MAX stay.
KEPT_ROOT = Path(os.environ.get("EVPNMON_KEPT_DIR", "/tmp/evpnmon-kept"))
KEPT_MAX = 5


def prune_kept() -> None:
    """Removes all but the newest KEPT_MAX kept directories (only names
    module_outdir gives: KEPT_ROOT may be shared)."""
    kept = []
    for d in KEPT_ROOT.glob("evpnmon-*"):
        if re.fullmatch(r"evpnmon-.+-\d{8}-\d{6}-\d+", d.name) and d.is_dir():
            with contextlib.suppress(FileNotFoundError):
                kept.append((d.stat().st_mtime, d))
    for _, d in sorted(kept)[:-KEPT_MAX]:
        shutil.rmtree(d, ignore_errors=True)


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
            where = KEPT_ROOT / f"evpnmon-{name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
            shutil.move(str(d), where)
            prune_kept()
        else:
            shutil.rmtree(d, ignore_errors=True)
            where = None
        if where is not None and report is not None:
            report.write_line(f"{name}: output kept in {where}"
                              + (" (a test failed)" if failed else ""))
