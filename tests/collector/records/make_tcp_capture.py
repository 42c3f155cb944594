#!/usr/bin/python3
"""Writes a nanosecond pcap of TCP connections with known handshake times,
and a JSON file with what the record of each connection must say.

usage: make_tcp_capture.py OUT.pcap OUT.json

Each connection has its own client port (>= 30000; servers < 30000), the
key the test matches records, tshark's output and the expectations by.
Times are exact integers of ns so that nothing is lost to floats.
"""
import json
import random
import sys
from decimal import Decimal

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.utils import PcapWriter

T0 = 1_764_700_000_000_000_000  # UNIX ns
US = 1_000
MS = 1_000_000
S = 1_000_000_000

CLIENT_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]
SERVER_OPTS = [("MSS", 1400), ("NOP", None), ("WScale", 9), ("SAckOK", b"")]

packets = []  # (time_ns, scapy packet)
expect = {}


class Conn:
    def __init__(self, cport, sport=80, c="10.0.0.1", s="10.0.0.2", v6=False, vlan=None, isn=1000, risn=5000):
        self.cport, self.sport, self.c, self.s, self.v6, self.vlan = cport, sport, c, s, v6, vlan
        self.seq = {True: isn, False: risn}  # next sequence number per side (True = client)
        self.exp = {"orig_pkts": 0, "resp_pkts": 0, "orig_ip_bytes": 0, "resp_ip_bytes": 0,
                    "orig_bytes": 0, "resp_bytes": 0}
        expect[str(cport)] = self.exp

    def send(self, t, from_client, flags, payload=b"", opts=None, seq=None, advance=True, window=64240):
        src, dst = (self.c, self.s) if from_client else (self.s, self.c)
        sp, dp = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        s = self.seq[from_client] if seq is None else seq
        a = self.seq[not from_client] if "A" in flags else 0
        ip = IPv6(src=src, dst=dst) if self.v6 else IP(src=src, dst=dst)
        tcp = TCP(sport=sp, dport=dp, flags=flags, seq=s, ack=a, window=window, options=opts or [])
        l2 = Ether(src="02:00:00:00:00:01" if from_client else "02:00:00:00:00:02",
                   dst="02:00:00:00:00:02" if from_client else "02:00:00:00:00:01")
        if self.vlan:
            l2 = l2 / Dot1Q(vlan=self.vlan)
        pkt = l2 / ip / tcp / payload
        packets.append((t, pkt))
        side = "orig" if from_client else "resp"
        self.exp[side + "_pkts"] += 1
        self.exp[side + "_ip_bytes"] += len(ip / tcp / payload)
        if advance:
            if seq is None or seq == self.seq[from_client]:
                self.seq[from_client] = s + len(payload) + (1 if ("S" in flags or "F" in flags) else 0)
                self.exp[side + "_bytes"] += len(payload)
        return t


def full_close(c, t, gap=20 * US):
    c.send(t, True, "FA")
    c.send(t + gap, False, "FA")
    c.send(t + 2 * gap, True, "A")


# 30001: textbook connection with options, data both ways, FIN/FIN/ACK.
c = Conn(30001)
t = T0 + 1 * MS
c.send(t, True, "S", opts=CLIENT_OPTS)
c.send(t + 123_456_789 // 1000, False, "SA", opts=SERVER_OPTS)     # 123.456 us
c.send(t + 123_456 + 45_679, True, "A")
c.send(t + 200 * US, True, "PA", b"x" * 100)
c.send(t + 260 * US, False, "A")
c.send(t + 300 * US, False, "PA", b"y" * 300)
c.send(t + 340 * US, True, "A")
full_close(c, t + 1 * MS)
c.exp.update(outcome="ESTABLISHED", conn_state="SF", history="ShADadFf", close_reason="FIN",
             syn_retransmissions=0, synack_retransmissions=0, handshake_ns=123_456 + 45_679,
             syn_to_synack_ns=123_456, synack_to_ack_ns=45_679,
             orig_options=[1460, 7, True, True], resp_options=[1400, 9, True, False])

# 30002: SYN retransmitted twice (same ISN); the clock restarts at the last one.
c = Conn(30002, isn=77)
t = T0 + 2 * MS
c.send(t, True, "S", opts=CLIENT_OPTS, advance=False)
c.send(t + 1 * S, True, "S", opts=CLIENT_OPTS, seq=77, advance=False)
c.send(t + 3 * S, True, "S", opts=CLIENT_OPTS, seq=77)
c.send(t + 3 * S + 200_001, False, "SA", opts=SERVER_OPTS)
c.send(t + 3 * S + 230_002, True, "A")
c.send(t + 3 * S + 500 * US, True, "RA")
c.exp.update(outcome="ESTABLISHED", conn_state="RSTO", history="ShAR", close_reason="RST",
             syn_retransmissions=2, synack_retransmissions=0, handshake_ns=230_002,
             syn_to_synack_ns=200_001, synack_to_ack_ns=30_001)

# 30003: SYN/ACK retransmitted; the connection stays open (closed at shutdown).
c = Conn(30003)
t = T0 + 3 * MS
c.send(t, True, "S", opts=CLIENT_OPTS)
c.send(t + 100 * US, False, "SA", opts=SERVER_OPTS, advance=False)
c.send(t + 1 * S + 100 * US, False, "SA", opts=SERVER_OPTS)
c.send(t + 1 * S + 150 * US + 7, True, "A")
c.exp.update(outcome="ESTABLISHED", conn_state="S1", history="ShA", close_reason="SHUTDOWN",
             syn_retransmissions=0, synack_retransmissions=1, handshake_ns=1 * S + 150 * US + 7,
             syn_to_synack_ns=100 * US, synack_to_ack_ns=1 * S + 50 * US + 7)

# 30004: refused. Wireshark's initial_rtt is SYN -> RST here (its first
# segment with ACK and without SYN); ours stays 0: no handshake.
c = Conn(30004, sport=81)
t = T0 + 4 * MS
c.send(t, True, "S", opts=CLIENT_OPTS)
c.send(t + 80 * US, False, "RA")
c.exp.update(outcome="REFUSED", conn_state="REJ", history="Sr", close_reason="RST",
             syn_retransmissions=0, synack_retransmissions=0, handshake_ns=0,
             syn_to_synack_ns=0, synack_to_ack_ns=0, tshark_rtt_ns=80 * US)

# 30005: nobody answers: timed out after the handshake timeout, closed idle.
c = Conn(30005, sport=82, s="10.0.0.3")
t = T0 + 5 * MS
c.send(t, True, "S", opts=CLIENT_OPTS, advance=False)
c.send(t + 1 * S, True, "S", opts=CLIENT_OPTS, seq=1000, advance=False)
c.send(t + 3 * S, True, "S", opts=CLIENT_OPTS, seq=1000)
c.exp.update(outcome="TIMED_OUT", conn_state="S0", history="S", close_reason="SHUTDOWN",
             syn_retransmissions=2, synack_retransmissions=0, handshake_ns=0,
             syn_to_synack_ns=0, synack_to_ack_ns=0)

# 30006: IPv6 in VLAN 100.
c = Conn(30006, sport=443, c="2001:db8::1", s="2001:db8::2", v6=True, vlan=100)
t = T0 + 6 * MS
c.send(t, True, "S", opts=CLIENT_OPTS)
c.send(t + 77_777, False, "SA", opts=SERVER_OPTS)
c.send(t + 77_777 + 11_111, True, "A")
full_close(c, t + 2 * MS)
c.exp.update(outcome="ESTABLISHED", conn_state="SF", history="ShAFf", close_reason="FIN",
             syn_retransmissions=0, synack_retransmissions=0, handshake_ns=88_888,
             syn_to_synack_ns=77_777, synack_to_ack_ns=11_111)

# 30007: the handshake's ACK carries data already.
c = Conn(30007, sport=25)
t = T0 + 7 * MS
c.send(t, True, "S")
c.send(t + 10 * US, False, "SA")
c.send(t + 19 * US + 999, True, "PA", b"EHLO x\r\n")
c.send(t + 40 * US, False, "RA")
c.exp.update(outcome="ESTABLISHED", conn_state="RSTR", history="ShDr", close_reason="RST",
             syn_retransmissions=0, synack_retransmissions=0, handshake_ns=19 * US + 999,
             syn_to_synack_ns=10 * US, synack_to_ack_ns=9 * US + 999,
             orig_options=[0, -1, False, False], resp_options=[0, -1, False, False])

# 30008: picked up midstream.
c = Conn(30008, sport=22, isn=123456, risn=654321)
t = T0 + 8 * MS
c.send(t, True, "PA", b"a" * 10)
c.send(t + 5 * US, False, "PA", b"b" * 20)
c.send(t + 9 * US, True, "A")
c.exp.update(outcome="UNSEEN", conn_state="OTH", history="DdA", close_reason="SHUTDOWN",
             syn_retransmissions=0, synack_retransmissions=0, handshake_ns=0,
             syn_to_synack_ns=0, synack_to_ack_ns=0)

# 31000..31099: many interleaved connections with random latencies, some
# with retransmitted SYNs, on the same server: the tshark comparison at scale.
rng = random.Random(11)
for i in range(100):
    c = Conn(31000 + i, sport=8080, c=f"10.1.{i // 200}.{1 + i % 200}", s="10.2.0.1",
             isn=rng.randrange(1 << 32), risn=rng.randrange(1 << 32))
    t = T0 + 10 * MS + i * 137 * US + rng.randrange(1000)
    retries = 1 if rng.random() < 0.2 else 0
    isn = c.seq[True]
    for r in range(retries):
        c.send(t, True, "S", opts=CLIENT_OPTS, seq=isn, advance=False)
        t += 1 * S
    c.send(t, True, "S", opts=CLIENT_OPTS, seq=isn)
    a = rng.randrange(5 * US, 2 * MS)
    b = rng.randrange(1 * US, 500 * US)
    c.send(t + a, False, "SA", opts=SERVER_OPTS)
    c.send(t + a + b, True, "A")
    c.send(t + a + b + 3 * US, True, "PA", b"GET / HTTP/1.0\r\n\r\n")
    c.exp.update(outcome="ESTABLISHED", syn_retransmissions=retries, synack_retransmissions=0,
                 handshake_ns=a + b, syn_to_synack_ns=a, synack_to_ack_ns=b,
                 conn_state="S1", history="ShAD", close_reason="SHUTDOWN")

packets.sort(key=lambda p: p[0])
with PcapWriter(sys.argv[1], nano=True, linktype=1, sync=True) as w:
    for t, p in packets:
        p.time = Decimal(t) / Decimal(S)
        w.write(p)
with open(sys.argv[2], "w") as f:
    json.dump({"end_ns": packets[-1][0], "connections": expect}, f, indent=1)
