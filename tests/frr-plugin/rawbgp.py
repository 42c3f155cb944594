"""A raw BGP speaker for tests: our own OPEN (with capability 239, EVPN
extension route types: 254) and our own UPDATEs, no BGP library.

Run as a program inside a network namespace:

    python3 rawbgp.py PEER LOCAL_ADDR ASN ROUTER_ID CMD_FILE LOG_FILE

It connects to PEER:179 from LOCAL_ADDR, sends OPEN, answers the peer's
OPEN with a KEEPALIVE and keeps the session up (KEEPALIVE every 3 s, hold
time 9 s). Each line appended to CMD_FILE is the hex of an UPDATE body,
sent as one UPDATE. LOG_FILE gets one line per event: "connected",
"rx OPEN caps=...", "rx KEEPALIVE", "rx UPDATE <len>", "rx NOTIFICATION
<code>/<subcode>", "closed". The test reads it to check that the session
stayed up (one connection, no NOTIFICATION).

Also a module: the helpers that build UPDATE bodies with EVPN NLRI.
"""
from __future__ import annotations

import select
import socket
import struct
import sys
import time

CAP_MP, CAP_AS4, CAP_EVPN_EXT = 1, 65, 239
AFI_L2VPN, SAFI_EVPN = 25, 70


def message(mtype: int, body: bytes) -> bytes:
    return b"\xff" * 16 + struct.pack(">HB", 19 + len(body), mtype) + body


def open_body(asn: int, router_id: str, hold: int = 9) -> bytes:
    caps = [(CAP_MP, struct.pack(">HBB", AFI_L2VPN, 0, SAFI_EVPN)),
            (CAP_MP, struct.pack(">HBB", 1, 0, 1)),
            (CAP_AS4, struct.pack(">I", asn)),
            (CAP_EVPN_EXT, bytes([254]))]
    opt = b"".join(bytes([2, len(v) + 2, code, len(v)]) + v for code, v in caps)
    return struct.pack(">BHH4sB", 4, asn if asn < 65536 else 23456, hold,
                       socket.inet_aton(router_id), len(opt)) + opt


def attr(flags: int, code: int, value: bytes) -> bytes:
    if len(value) > 255:
        return struct.pack(">BBH", flags | 0x10, code, len(value)) + value
    return struct.pack(">BBB", flags, code, len(value)) + value


def evpn_update(asn: int, next_hop: str, nlris: list[bytes], rt: tuple[int, int]) -> bytes:
    """An UPDATE body announcing EVPN NLRI (MP_REACH_NLRI, AFI 25/SAFI 70)
    with ORIGIN, AS_PATH (our AS) and a route target."""
    mp = struct.pack(">HBB", AFI_L2VPN, SAFI_EVPN, 4) + socket.inet_aton(next_hop) + b"\0" \
        + b"".join(nlris)
    attrs = attr(0x40, 1, b"\x00") \
        + attr(0x40, 2, bytes([2, 1]) + struct.pack(">I", asn)) \
        + attr(0xC0, 16, bytes([0x00, 0x02]) + struct.pack(">HI", *rt)) \
        + attr(0x80, 14, mp)
    return struct.pack(">H", 0) + struct.pack(">H", len(attrs)) + attrs


def evpn_withdraw(nlris: list[bytes]) -> bytes:
    mp = struct.pack(">HB", AFI_L2VPN, SAFI_EVPN) + b"".join(nlris)
    attrs = attr(0x80, 15, mp)
    return struct.pack(">H", 0) + struct.pack(">H", len(attrs)) + attrs


def monitor_nlri(rd: bytes, vni: int, host_id: int, host_mac: bytes, host_ip: bytes,
                 server_mac: bytes, server_ip: bytes, originator: bytes) -> bytes:
    """One EVPN NLRI of type 254 (docs/wire-format.md), no options."""
    b = rd + struct.pack(">I", 0) + vni.to_bytes(3, "big") + b"\0" + struct.pack(">I", host_id)
    for f in (host_mac, host_ip, server_mac, server_ip, originator):
        b += bytes([len(f) * 8]) + f
    return bytes([254, len(b)]) + b


def _main() -> None:
    peer, local, asn, rid, cmd_file, log_file = sys.argv[1:7]
    asn = int(asn)
    log = open(log_file, "a", buffering=1)
    s = socket.create_connection((peer, 179), timeout=10, source_address=(local, 0))
    s.settimeout(None)
    log.write("connected\n")
    s.sendall(message(1, open_body(asn, rid)))
    buf, sent_lines, last_ka = b"", 0, 0.0
    while True:
        r, _, _ = select.select([s], [], [], 0.1)
        if r:
            data = s.recv(65536)
            if not data:
                log.write("closed\n")
                return
            buf += data
            while len(buf) >= 19:
                length, mtype = struct.unpack(">HB", buf[16:19])
                if len(buf) < length:
                    break
                body, buf = buf[19:length], buf[length:]
                if mtype == 1:
                    log.write(f"rx OPEN caps={body[10:].hex()}\n")
                    s.sendall(message(4, b""))
                elif mtype == 2:
                    log.write(f"rx UPDATE {len(body)}\n")
                elif mtype == 3:
                    log.write(f"rx NOTIFICATION {body[0]}/{body[1]}\n")
                elif mtype == 4:
                    log.write("rx KEEPALIVE\n")
        now = time.monotonic()
        if now - last_ka >= 3:
            s.sendall(message(4, b""))
            last_ka = now
        with open(cmd_file) as f:
            text = f.read()
        lines = text[:text.rfind("\n") + 1].splitlines()   # whole lines only
        for line in lines[sent_lines:]:
            if line.strip():
                s.sendall(message(2, bytes.fromhex(line.strip())))
                log.write(f"tx UPDATE {len(line) // 2}\n")
        sent_lines = len(lines)


if __name__ == "__main__":
    _main()
