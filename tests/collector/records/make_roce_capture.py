#!/usr/bin/python3
"""Writes a nanosecond pcap of RoCEv2 traffic (scapy contrib/roce.py) with
known CNP and NAK counts per (source IP, destination IP, destination QP),
and a JSON file with those counts.

usage: make_roce_capture.py OUT.pcap OUT.json

Besides the counted packets the capture holds what must not count: data
(SEND, RDMA WRITE), positive ACKs (syndrome 0x00-0x1f), reserved
syndromes (0x40-0x5f), the InfiniBand CNP opcode 0x80 and non-RoCE UDP.
"""
import json
import random
import sys
from decimal import Decimal

from scapy.contrib.roce import AETH, BTH
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapWriter

T0 = 1_764_700_100_000_000_000
S = 1_000_000_000
rng = random.Random(4791)
packets = []
entries = {}


def l3(src, dst):
    return IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst, flags="DF")


def add(t, src, dst, qp, opcode, psn=0, syndrome=None, counted=True):
    bth = BTH(opcode=opcode, dqpn=qp, psn=psn)
    if syndrome is not None:
        pkt_l4 = bth / AETH(syndrome=syndrome, msn=rng.randrange(1 << 24))
    elif opcode == 0x81:
        pkt_l4 = bth / Raw(b"\x00" * 16)
    else:
        pkt_l4 = bth / Raw(b"\xab" * 64)
    pkt = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b") / l3(src, dst) / \
        UDP(sport=rng.randrange(49152, 65536), dport=4791) / pkt_l4
    packets.append((t, pkt))
    if not counted:
        return
    e = entries.setdefault((src, dst, qp), {
        "src": src, "dst": dst, "qp": qp, "cnp": 0, "0x60": 0, "0x61": 0, "0x62": 0, "0x63": 0,
        "rnr": 0, "other": 0, "last_nak_psn": 0, "last_nak_syndrome": 0, "first_ns": t, "last_ns": t})
    e["first_ns"] = min(e["first_ns"], t)
    e["last_ns"] = max(e["last_ns"], t)
    if opcode == 0x81:
        e["cnp"] += 1
        return
    if syndrome in (0x60, 0x61, 0x62, 0x63):
        e["0x%02x" % syndrome] += 1
    elif 0x20 <= syndrome <= 0x3F:
        e["rnr"] += 1
    else:
        e["other"] += 1
    # packets are appended in time order per entry below, so the last
    # one written is the last NAK
    if t >= e.get("_last_nak_t", 0):
        e["_last_nak_t"] = t
        e["last_nak_psn"] = psn
        e["last_nak_syndrome"] = syndrome


# Fixed per-QP plans: (src, dst, qp, cnp, {syndrome: count})
plans = [
    ("192.168.1.10", "192.168.1.20", 0x000011, 37, {}),
    ("192.168.1.20", "192.168.1.10", 0x000022, 0, {0x60: 5, 0x61: 2, 0x62: 3, 0x63: 1}),
    ("192.168.1.20", "192.168.1.10", 0x000023, 4, {0x20: 2, 0x2F: 3, 0x3F: 1, 0x60: 1}),
    ("192.168.1.30", "192.168.1.10", 0xABCDEF, 11, {0x64: 2, 0x7F: 1}),
    ("2001:db8:1::1", "2001:db8:1::2", 0x000100, 6, {0x60: 2}),
]
t = T0
for src, dst, qp, cnp, naks in plans:
    kinds = [("cnp", None)] * cnp + [("nak", s) for s, n in naks.items() for _ in range(n)]
    rng.shuffle(kinds)
    psn = rng.randrange(1 << 24)
    for kind, syn in kinds:
        t += rng.randrange(1_000, 50_000_000)
        psn = (psn + rng.randrange(1, 100)) & 0xFFFFFF
        if kind == "cnp":
            add(t, src, dst, qp, 0x81)
        else:
            add(t, src, dst, qp, 0x11, psn=psn, syndrome=syn)
        # noise in between: data, positive ACKs, reserved syndromes, IB CNP
        for _ in range(rng.randrange(0, 3)):
            t += rng.randrange(1_000, 1_000_000)
            choice = rng.randrange(5)
            if choice == 0:
                add(t, src, dst, qp, 0x04, psn=psn, counted=False)          # RC SEND only
            elif choice == 1:
                add(t, dst, src, qp ^ 1, 0x0A, psn=psn, counted=False)      # RC RDMA WRITE only
            elif choice == 2:
                add(t, src, dst, qp, 0x11, psn=psn, syndrome=rng.randrange(0x20), counted=False)
            elif choice == 3:
                add(t, src, dst, qp, 0x11, psn=psn, syndrome=0x40 + rng.randrange(0x20), counted=False)
            else:
                add(t, src, dst, qp, 0x80, counted=False)

packets.sort(key=lambda p: p[0])
with PcapWriter(sys.argv[1], nano=True, linktype=1, sync=True) as w:
    for ts, p in packets:
        p.time = Decimal(ts) / Decimal(S)
        w.write(p)
for e in entries.values():
    e.pop("_last_nak_t", None)
with open(sys.argv[2], "w") as f:
    json.dump({"entries": list(entries.values())}, f, indent=1)
