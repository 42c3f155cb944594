#!/usr/bin/python3
"""Writes a pcap of mirrored copies built with scapy (contrib/erspan.py,
contrib/roce.py, VXLAN-GBP): ERSPAN I, II and III (with and without the
platform subheader, every field random), and VXLAN-GBP, around TCP (with
options), RoCEv2 (CNP, ACK/NAK with AETH, data), IPv6, tagged and ARP inner
frames. test_oracle.cpp decodes them and compares with tshark.

usage: vectors.py OUT.pcap [COUNT]"""
import random
import sys

from scapy.all import ARP, Dot1Q, Ether, GRE, IP, IPv6, TCP, UDP, Raw, wrpcap
from scapy.contrib.erspan import ERSPAN_I, ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
from scapy.contrib.roce import AETH, BTH
from scapy.layers.vxlan import VXLAN

HOST = "02:00:00:00:00:11"
PEER = "02:00:00:00:00:22"


def inner(r):
    kind = r.choice(["syn", "data", "cnp", "ack", "roce", "v6", "tagged", "arp"])
    eth = Ether(src=HOST, dst=PEER) if r.random() < 0.5 else Ether(src=PEER, dst=HOST)
    ip = IP(src="10.0.%d.%d" % (r.randrange(256), r.randrange(1, 255)), dst="10.1.0.%d" % r.randrange(1, 255))
    if kind == "syn":
        opts = []
        if r.random() < 0.8:
            opts.append(("MSS", r.randrange(536, 9001)))
        if r.random() < 0.7:
            opts.append(("SAckOK", b""))
        if r.random() < 0.7:
            opts.append(("Timestamp", (r.randrange(1 << 32), 0)))
        if r.random() < 0.7:
            opts.append(("NOP", None))
            opts.append(("WScale", r.randrange(15)))
        return eth / ip / TCP(sport=r.randrange(1024, 65536), dport=r.choice([22, 80, 443]),
                              flags=r.choice(["S", "SA"]), seq=r.randrange(1 << 32), options=opts)
    if kind == "data":
        return eth / ip / TCP(sport=r.randrange(1, 65536), dport=r.randrange(1, 65536), flags="PA",
                              seq=r.randrange(1 << 32), ack=r.randrange(1 << 32)) / Raw(b"x" * r.randrange(0, 300))
    if kind == "cnp":
        return eth / ip / UDP(sport=r.randrange(49152, 65536), dport=4791) / BTH(
            opcode=0x81, dqpn=r.randrange(1 << 24), psn=r.randrange(1 << 24)) / Raw(b"\0" * 16)
    if kind == "ack":
        return eth / ip / UDP(sport=r.randrange(49152, 65536), dport=4791) / BTH(
            opcode=0x11, dqpn=r.randrange(1 << 24), psn=r.randrange(1 << 24)) / AETH(
            syndrome=r.choice([0x00, 0x1f, 0x20, 0x3f, 0x60, 0x61, 0x62, 0x63]), msn=r.randrange(1 << 24))
    if kind == "roce":
        return eth / ip / UDP(sport=r.randrange(49152, 65536), dport=4791) / BTH(
            opcode=r.choice([0x04, 0x06, 0x0a]), dqpn=r.randrange(1 << 24), psn=r.randrange(1 << 24)) / Raw(
            b"\0" * r.randrange(0, 64))
    if kind == "v6":
        return eth / IPv6(src="2001:db8::%x" % r.randrange(1, 65535), dst="2001:db8:1::1") / TCP(
            sport=r.randrange(1, 65536), dport=443, flags="S", seq=r.randrange(1 << 32), options=[("MSS", 1440)])
    if kind == "tagged":
        return Ether(src=HOST, dst=PEER) / Dot1Q(vlan=r.randrange(1, 4095), prio=r.randrange(8)) / ip / TCP(
            sport=r.randrange(1, 65536), dport=80, flags="A")
    return Ether(src=HOST, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.2")


def outer_ip(r):
    return Ether(src="02:00:00:00:0a:01", dst="02:00:00:00:0a:02") / IP(
        src="192.0.2.%d" % r.randrange(1, 255), dst="10.9.0.1")


def erspan_iii(r, proto):
    o = r.random() < 0.7
    h = ERSPAN_III(vlan=r.randrange(4096), cos=r.randrange(8), bso=r.randrange(4), t=r.randrange(2),
                   session_id=r.randrange(1024), timestamp=r.randrange(1 << 32), sgt_other=r.randrange(1 << 16),
                   p=r.randrange(2), ft=0, hw=r.randrange(64), d=r.randrange(2), gra=r.randrange(4), o=int(o))
    g = GRE(proto=proto, seqnum_present=1, seqence_number=r.randrange(1 << 32))
    if o:
        plat = r.choice([3, 3, 7, 1])
        info1 = r.randrange(1 << 14) if plat == 3 else r.randrange(1 << 26)
        return g / h / ERSPAN_PlatformSpecific(platf_id=plat, info1=info1, info2=r.randrange(1 << 32))
    return g / h


def copy(r):
    kind = r.choice(["iii", "iii", "iii", "iii_88be", "ii", "i", "vxlan"])
    if kind == "iii":
        return outer_ip(r) / erspan_iii(r, 0x22EB) / inner(r)
    if kind == "iii_88be":
        return outer_ip(r) / erspan_iii(r, 0x88BE) / inner(r)
    if kind == "ii":
        return outer_ip(r) / GRE(proto=0x88BE, seqnum_present=1, seqence_number=r.randrange(1 << 32)) / ERSPAN_II(
            ver=1, vlan=r.randrange(4096), cos=r.randrange(8), en=r.randrange(4), t=r.randrange(2),
            session_id=r.randrange(1024), index=r.randrange(1 << 20)) / inner(r)
    if kind == "i":
        return outer_ip(r) / GRE(proto=0x88BE) / ERSPAN_I() / inner(r)
    return outer_ip(r) / UDP(sport=r.randrange(49152, 65536), dport=4789) / VXLAN(
        flags=0x88, gpid=r.randrange(1 << 16), vni=r.randrange(1 << 24)) / inner(r)


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    r = random.Random(11)
    wrpcap(out, [copy(r) for _ in range(count)])


if __name__ == "__main__":
    main()
