#!/usr/bin/python3
"""Mirror bandwidth against the sampler: copies/s at the monitoring server
with `sample 1-in N` for N = 1, 10, 100, against the offered rate of the same
run, in the reference fabric in network namespaces. Written to the
"### Sampling" part of docs/benchmarks.md (between <!-- sampling:begin -->
and <!-- sampling:end -->).

  sudo /usr/bin/python3 bench/lab/bench_sampling.py [--frames 40000] [--rate 8000]
       [--size 512] [--reps 3] [--update-doc docs/benchmarks.md]

One fabric; one session (VM210, MAC only, watched by SERV21 / HOST ID 21)
configured on vtep103 with a profile `sample 1-in N`, waited for on every
leaf's bgpd and consumer (tests/scenarios/profiles.py). Per N and repetition,
VM220 sends --frames marked UDP frames of --size octets to VM210 at --rate
frames/s (paced AF_PACKET sender in VM220's namespace); they enter the fabric
at vtep102, whose TC program samples them and sends the copies as VXLAN-GBP
to vtep104, which decapsulates them onto SERV21's port.

Figures:
  offered    frames sent / the sender's send time (first to last frame);
  delivered  originals that reached VM210 (capture at its port), per second;
  copies/s   marked copies captured at SERV21's port / the same send time;
  ratio      copies / frames sent (expected 1/N);
  mirror Mb/s  copies x their octets on SERV21's port (the inner frame, as
             delivered after decapsulation), and on the underlay with the
             VXLAN-GBP encapsulation (+50 octets: outer Ethernet, IPv4, UDP,
             VXLAN) between vtep102 and vtep104.
"""
from __future__ import annotations

import argparse
import datetime
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lab"))
sys.path.insert(0, str(REPO / "tests" / "scenarios"))

import fabric as F  # noqa: E402
import profiles as P  # noqa: E402

BEGIN, END = "<!-- sampling:begin -->", "<!-- sampling:end -->"
VXLAN_GBP_OVERHEAD = 14 + 20 + 8 + 8


def log(*a):
    print(*a, flush=True)


def one(lab, outdir: Path, n: int, frames_n: int, rate: float, size: int) -> dict:
    run = P.new_run()
    frames = P.udp_frames(P.PEER, P.HOST, run, frames_n, size=size)
    res = P.traffic(lab, outdir, f"bench-s{n}-{run}", [(P.PEER, frames, rate)])
    s = res.sent[0]
    t = s.duration
    copies = res.total_copies()
    delivered = len(res.at_dst)
    return {"n": n, "frames": frames_n, "t": t, "offered": frames_n / t,
            "delivered": delivered / t, "delivered_n": delivered,
            "copies": copies, "copies_s": copies / t, "ratio": copies / frames_n,
            "dups": len(res.duplicated()),
            "mbps_inner": copies * size * 8 / t / 1e6,
            "mbps_wire": copies * (size + VXLAN_GBP_OVERHEAD) * 8 / t / 1e6}


def measure(ns, frames_n, rate, size, reps) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {n: [] for n in ns}
    # FRR and the consumers as operators run them, without the tests' heap checks
    with tempfile.TemporaryDirectory(prefix="evpnmon-bench-sampling-") as d, \
         F.ready_fabric([(P.HOST, P.PEER), (P.HOST, P.SERVER), (P.PEER, P.SERVER)], [],
                        test_heap=False) as lab:
        outdir = Path(d)
        P.configure(lab, P.server_lines())
        for n in ns:
            P.refresh_macs(lab)
            with P.profile_session(lab, f"bench-s{n}", [f"sample 1-in {n}"],
                                   {"sample": n} if n > 1 else {}):
                for r in range(reps):
                    m = one(lab, outdir, n, frames_n, rate, size)
                    log(f"1-in {n:>3} rep {r + 1}: offered {m['offered']:.0f}/s, delivered "
                        f"{m['delivered_n']}/{frames_n}, copies {m['copies']} "
                        f"({m['copies_s']:.0f}/s, ratio {m['ratio']:.4f}, dups {m['dups']})")
                    out[n].append(m)
    return out


def render(res: dict[int, list[dict]], frames_n, rate, size, reps) -> str:
    med = {n: {k: statistics.median(m[k] for m in ms) for k in ms[0]} for n, ms in res.items()}
    base = med[min(med)]["copies_s"]
    L = [BEGIN, "### Sampling: copies/s at the server against the offered rate", "",
         f"Measured {datetime.date.today().isoformat()} on {platform.release()}, "
         f"{len(__import__('os').sched_getaffinity(0))} CPUs shared with other work, in the "
         f"reference fabric (`bench/lab/bench_sampling.py`, {reps} repetitions per N, medians). "
         f"VM220 sends {frames_n} UDP frames of {size} octets to VM210 at {rate:.0f} frames/s; "
         f"VM210 is watched by SERV21 with a profile `sample 1-in N` (configured on vtep103); "
         f"the copies are made at vtep102 and cross the spine as VXLAN-GBP to vtep104. "
         f"copies/s = copies captured at SERV21's port / the sender's send time; mirror Mb/s "
         f"counts the copies' inner frames (as SERV21 gets them) and, in brackets, with the "
         f"50 octets of VXLAN-GBP encapsulation on the underlay. The offered and delivered "
         f"rates are those of the same runs.", "",
         "| sample | offered frames/s | originals delivered | copies/s | copies / offered "
         "| expected 1/N | copies/s vs 1-in-1 | mirror Mb/s (underlay) |",
         "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n, m in sorted(med.items()):
        L.append(f"| 1-in {n} | {m['offered']:.0f} | {m['delivered_n']:.0f} / {frames_n} | "
                 f"{m['copies_s']:.1f} | {m['ratio']:.4f} | {1 / n:.4f} | "
                 f"1/{base / m['copies_s']:.1f} | {m['mbps_inner']:.2f} ({m['mbps_wire']:.2f}) |"
                 if m["copies_s"] else f"| 1-in {n} | {m['offered']:.0f} | - | 0 | 0 | "
                 f"{1 / n:.4f} | - | 0 |")
    worst = min((m["delivered_n"], n) for n, ms in res.items() for m in ms)
    L += ["", f"Worst run: {worst[0]} of {frames_n} originals reached VM210 (1-in {worst[1]}; "
          "the medians above are per N over all runs)."]
    L += ["", "The sampler draws `bpf_get_prandom_u32()` per packet, so the count is binomial: "
          "for 1-in-100 over these frames one standard deviation is about "
          f"{(frames_n * 0.01 * 0.99) ** 0.5:.0f} copies. Mirror bandwidth falls as 1/N while "
          "the originals keep their rate; the test `scenarios.profiles` "
          "(`test_sample_one_in_100`) asserts the 5-sigma bound on 20,000 frames.", END]
    return "\n".join(L) + "\n"


def update_doc(path: Path, text: str) -> None:
    doc = path.read_text()
    if BEGIN in doc and END in doc:
        doc = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", lambda m: text, doc,
                     flags=re.S)
    elif "<!-- lab:end -->" in doc:
        doc = doc.replace("<!-- lab:end -->", "<!-- lab:end -->\n\n" + text.rstrip("\n"), 1)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=40000)
    ap.add_argument("--rate", type=float, default=8000)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--n", type=int, nargs="+", default=[1, 10, 100])
    ap.add_argument("--update-doc", type=Path)
    a = ap.parse_args()
    t0 = time.monotonic()
    res = measure(a.n, a.frames, a.rate, a.size, a.reps)
    text = render(res, a.frames, a.rate, a.size, a.reps)
    print(text)
    if a.update_doc:
        update_doc(a.update_doc, text)
        log(f"updated {a.update_doc}")
    log(f"took {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
