"""Minimal client of the bgpd module's session feed (proto/monitor_feed.proto),
for integration tests: subscribe, read the snapshot, follow deltas.
Run with Debian's /usr/bin/python3 (python3-zmq, python3-protobuf)."""
from __future__ import annotations

import importlib
import ipaddress
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zmq

REPO = Path(__file__).resolve().parents[2]
_pb = None


def pb():
    """The generated Python module (protoc run once per process; its
    directory goes once the module is loaded)."""
    global _pb
    if _pb is None:
        with tempfile.TemporaryDirectory(prefix="evpnmon-pb-") as out:
            subprocess.run(["protoc", f"-I{REPO / 'proto'}", f"--python_out={out}",
                            str(REPO / "proto" / "monitor_feed.proto")], check=True)
            sys.path.insert(0, out)
            try:
                _pb = importlib.import_module("monitor_feed_pb2")
            finally:
                sys.path.remove(out)
    return _pb


def session_dict(s) -> dict:
    def ip(b):
        return str(ipaddress.ip_address(bytes(b))) if b else None

    def mac(b):
        return ":".join(f"{x:02x}" for x in b) if b else None
    return {"vni": s.vni, "ethTag": s.eth_tag, "hostMac": mac(s.host_mac),
            "hostIp": ip(s.host_ip), "hostId": s.host_id,
            "serverMac": mac(s.server_mac), "serverIp": ip(s.server_ip),
            "rd": s.rd, "originator": ip(s.originator), "local": s.local,
            # feed version 2: the options area as on the wire (hex, "" = no
            # profile) and the session id
            "options": bytes(s.options).hex(), "sessionId": s.session_id,
            # feed version 3: a session to an ERSPAN collector (hostId 0)
            "collectorId": s.collector_id,
            # feed version 4: this VTEP's import decision (0 installed,
            # 1 denied, 2 over limit) and why
            "importState": s.import_state, "importReason": s.import_reason}


class FeedClient:
    """DEALER subscriber. `sessions` mirrors bgpd's published set."""

    def __init__(self, endpoint: str, name: str = "test", version: int | None = None):
        # the feed version asked for: bgpd sends collector sessions only
        # from version 3 on
        self.asked = pb().VERSION_3 if version is None else version
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.name = name
        self.epoch = None
        self.seq = None
        self.sessions: dict[tuple, dict] = {}
        self.snapshots = 0
        self.deltas = 0
        self.heartbeats = 0
        self.deltas_by_mac: dict[str, int] = {}  # host MAC -> deltas received
        self.version = None  # the feed version bgpd announces
        self.last_rx = time.monotonic()
        self.subscribe()

    @staticmethod
    def key(d: dict) -> tuple:
        return (d["vni"], d["ethTag"], d["hostMac"], d["hostIp"], d["hostId"],
                d["collectorId"], d["rd"], d["originator"])

    def subscribe(self) -> int:
        """Sends a subscription; returns its length in octets."""
        req = pb().Request(kind=pb().Request.SUBSCRIBE, client=self.name,
                           version=self.asked).SerializeToString()
        self.sock.send(req)
        return len(req)

    def poll(self, timeout: float = 0.2) -> None:
        """Read what is there. Silence for 3 heartbeats (bgpd restarted and
        does not know us): subscribe again."""
        deadline = time.monotonic() + timeout
        if time.monotonic() - self.last_rx > 3.0:
            self.last_rx = time.monotonic()
            self.subscribe()
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000)):
                return
            self._handle(self.sock.recv())

    def _handle(self, data: bytes) -> None:
        self.last_rx = time.monotonic()
        m = pb().FeedMessage()
        m.ParseFromString(data)
        body = m.WhichOneof("body")
        if body == "snapshot":
            self.epoch, self.seq = m.snapshot.epoch, m.snapshot.seq
            self.version = m.snapshot.version
            self.sessions = {}
            for s in m.snapshot.sessions:
                d = session_dict(s)
                self.sessions[self.key(d)] = d
            self.snapshots += 1
        elif body == "delta":
            if self.seq is None or m.delta.epoch != self.epoch or m.delta.seq != self.seq + 1:
                self.seq = None
                self.subscribe()       # gap: resync
                return
            self.seq = m.delta.seq
            d = session_dict(m.delta.session)
            if m.delta.op == pb().Delta.ADD:
                self.sessions[self.key(d)] = d
            else:
                self.sessions.pop(self.key(d), None)
            self.deltas += 1
            if d.get("hostMac"):
                self.deltas_by_mac[d["hostMac"]] = self.deltas_by_mac.get(d["hostMac"], 0) + 1
        elif body == "heartbeat":
            self.heartbeats += 1
            self.version = m.heartbeat.version
            if m.heartbeat.epoch != self.epoch or (self.seq is not None and m.heartbeat.seq != self.seq):
                self.seq = None
                self.subscribe()

    def close(self) -> None:
        self.sock.close(0)
