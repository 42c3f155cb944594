#!/usr/bin/python3
"""Writes the fuzz target's seed corpus (seeds/): raw IPv4 GRE datagrams as
a raw socket delivers them, whole Ethernet frames, VXLAN-GBP payloads and
inner frames, built with scapy. Re-run after a format change:
    /usr/bin/python3 collector/fuzz/make_seeds.py collector/fuzz/seeds"""
import os
import sys

from scapy.all import Dot1Q, Ether, GRE, IP, IPv6, TCP, UDP, Raw
from scapy.contrib.erspan import ERSPAN_I, ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific
from scapy.contrib.roce import AETH, BTH
from scapy.layers.vxlan import VXLAN

ETH = Ether(src="02:00:00:00:00:11", dst="02:00:00:00:00:22")
SYN = ETH / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(
    sport=40000, dport=80, flags="S", options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)),
                                               ("NOP", None), ("WScale", 7)])
CNP = ETH / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=50000, dport=4791) / BTH(opcode=0x81, dqpn=77) / Raw(
    b"\0" * 16)
NAK = ETH / IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=50000, dport=4791) / BTH(opcode=0x11, dqpn=78,
                                                                                    psn=9) / AETH(syndrome=0x60)
V6 = ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=1, dport=443, flags="SA")
TAGGED = Ether(src="02:00:00:00:00:11", dst="02:00:00:00:00:22") / Dot1Q(vlan=100) / Dot1Q(vlan=200) / IP() / TCP()
INNER = {"syn": SYN, "cnp": CNP, "nak": NAK, "v6": V6, "qinq": TAGGED}

OUTER = IP(src="192.0.2.7", dst="10.9.0.1")


def gre_copies():
    yield "iii_sub", GRE(proto=0x22EB, seqnum_present=1, seqence_number=5) / ERSPAN_III(
        session_id=12, gra=1, o=1, p=1, d=1, hw=3, timestamp=0x12345678) / ERSPAN_PlatformSpecific(
        platf_id=3, info1=7, info2=0x0418)
    yield "iii_nosub_100us", GRE(proto=0x22EB, seqnum_present=1) / ERSPAN_III(session_id=1, gra=0)
    yield "iii_1588", GRE(proto=0x22EB, seqnum_present=1) / ERSPAN_III(gra=2, o=1, timestamp=5) / \
        ERSPAN_PlatformSpecific(platf_id=7, info2=1796288400)
    yield "ii", GRE(proto=0x88BE, seqnum_present=1, seqence_number=1) / ERSPAN_II(ver=1, session_id=1023,
                                                                                    index=0xfffff, en=3)
    yield "i", GRE(proto=0x88BE) / ERSPAN_I()
    yield "gre_ck", GRE(proto=0x22EB, chksum_present=1, key_present=1, seqnum_present=1, key=9) / ERSPAN_III()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    def write(name, pkt):
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes(pkt))

    for gname, g in gre_copies():
        for iname in ("syn", "nak"):
            write(f"ip_{gname}_{iname}", OUTER / g / INNER[iname])
        write(f"eth_{gname}_cnp", Ether() / Dot1Q(vlan=5) / OUTER / g / INNER["cnp"])
    for iname, inner in INNER.items():
        write(f"vxlan_{iname}", VXLAN(flags=0x88, gpid=4660, vni=10100) / inner)
        write(f"frame_{iname}", inner)


if __name__ == "__main__":
    main()
