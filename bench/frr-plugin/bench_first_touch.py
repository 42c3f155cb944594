#!/usr/bin/env python3
"""What this machine charges for memory a process touches for the first time.

A `show bgp l2vpn evpn monitor [json]` at 50,000 sessions writes 11-45 MB
into bgpd's heap. A repeated show reuses the pages of the one before (the
module keeps freed heap); the first one needs new pages, and its extra cost
is what the machine charges per new page. This measures that charge in the
same invocation, as ratios against rewriting memory already in place:

  * 4 KB pages: a fresh anonymous mapping, one write per 4 KB page;
  * huge pages: the same with madvise(MADV_HUGEPAGE), as glibc does with
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (the lab's and the shipped
    bgpd_wrap), first on memory the kernel has not handed out for a while,
    then on memory unmapped just before (still the process's own freed
    pages, on most kernels not yet returned to the hypervisor);
  * baseline: the same writes into the mapping after its first touch.

Each figure is the median of --reps, in ms per MB. No timed assertion.

  python3 bench/frr-plugin/bench_first_touch.py [--mb 64] [--reps 5] [--pause 5]
"""
from __future__ import annotations

import argparse
import mmap
import statistics
import time

PAGE = 4096


def touch(m: mmap.mmap, size: int) -> float:
    t = time.perf_counter()
    for off in range(0, size, PAGE):
        m[off] = 1
    return time.perf_counter() - t


def one(size: int, huge: bool) -> tuple[float, float]:
    """(first touch, touch again) of a fresh mapping, in seconds."""
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        # 4 KB pages even where transparent_hugepage is "always"
        m.madvise(mmap.MADV_HUGEPAGE if huge else mmap.MADV_NOHUGEPAGE)
        return touch(m, size), touch(m, size)
    finally:
        m.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--pause", type=float, default=5.0,
                    help="seconds idle before each 'not recently used' run (default 5)")
    a = ap.parse_args()
    size = a.mb << 20
    runs: dict[str, list[float]] = {k: [] for k in
                                    ("4k", "huge, cold", "huge, reused", "baseline")}
    for _ in range(a.reps):
        time.sleep(a.pause)            # let freed memory go back, as between shows
        first, again = one(size, huge=False)
        runs["4k"].append(first)
        runs["baseline"].append(again)
        time.sleep(a.pause)
        runs["huge, cold"].append(one(size, huge=True)[0])
        runs["huge, reused"].append(one(size, huge=True)[0])   # right after
    base = statistics.median(runs["baseline"])
    print(f"{a.mb} MB, medians of {a.reps}: ms per MB (ratio to rewriting touched memory)")
    for k, v in runs.items():
        med = statistics.median(v)
        print(f"  {k:13s} {med * 1e3 / a.mb:7.3f} ms/MB  ({med / base:6.1f} x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
