"""The trust scenarios' own checks, without a fabric (no root): a run of
probes with a gap, a duplicate or a late copy is seen as such; bgpd's
import decision is read whatever its spelling; the ceiling's octets come
from the IPv4 header, not from the capture's cut length."""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fabric as F  # noqa: E402
import profiles as P  # noqa: E402
import trust as T  # noqa: E402


def flow_copies(copied: dict[int, int], n: int = 10, rate: float = 10.0) -> T.FlowCopies:
    flow = T.Flow("vm210", 1, rate, [b""] * n)
    sent = P.Sent("vm210", T.SINK, {}, t_first=100.0, t_last=100.0 + n / rate)
    return T.FlowCopies(flow, sent, copied, [])


def test_every_probe_once():
    fc = flow_copies({s: 1 for s in range(10)})
    assert not fc.missing(range(10)) and not fc.duplicated()
    assert fc.longest_gap() == (0, -1)


def test_gap_duplicate_and_timing():
    fc = flow_copies({0: 1, 1: 1, 2: 2, 6: 1, 7: 1, 8: 1, 9: 1})
    assert fc.missing(range(10)) == [3, 4, 5]
    assert fc.duplicated() == [2]
    assert fc.longest_gap() == (3, 3)
    assert fc.send_time(5) == 100.5
    assert "duplicated 1" in fc.summary()


def test_empty_run_is_one_gap():
    fc = flow_copies({})
    assert fc.longest_gap() == (10, 0)
    assert fc.missing(range(10)) == list(range(10))


def test_import_state_spellings():
    assert T.import_state({"importState": "installed"}) == "installed"
    assert T.import_state({"importState": "over-limit"}) == "overlimit"
    assert T.import_state({"importState": "IMPORT_OVER_LIMIT"}) == "overlimit"
    assert T.import_state({"importState": "denied", "importReason": "rule 5"}) == "denied"
    assert T.import_state({"import": {"state": "denied"}}) == "denied"
    assert T.import_state({"hostMac": "02:00:00:00:02:10"}) is None
    assert T.import_reason({"importReason": "rule 5 deny"}) == "rule 5 deny"
    assert T.import_reason({}) is None


def _pkt(frame: bytes) -> F.Pkt:
    p = F.Pkt(ts=0.0, frame=frame)
    p.eth_dst, p.eth_src = F._mac(frame[0:6]), F._mac(frame[6:12])
    p.ethertype = int.from_bytes(frame[12:14], "big")
    p.proto = frame[23]
    return p


def test_octets_from_the_ip_header_even_when_cut():
    from scapy.all import IP, TCP, Ether, Raw, raw
    full = raw(Ether(src=F.VM210_MAC, dst=F.HOSTS["vm220"][0]) /
               IP(src="192.168.100.210", dst="192.168.100.220") /
               TCP(sport=1, dport=T.BULK_PORT, flags="A") / Raw(bytes(1448)))
    assert len(full) == 14 + 20 + 20 + 1448
    cut = _pkt(full[:128])                 # what a snap length of 128 keeps
    assert T.l2_octets(cut) == len(full)
    assert T.tcp_payload(cut) == 1448
    ack = _pkt(raw(Ether(src=F.HOSTS["vm220"][0], dst=F.VM210_MAC) /
                   IP(src="192.168.100.220", dst="192.168.100.210") /
                   TCP(sport=T.BULK_PORT, dport=1, flags="A")))
    assert T.tcp_payload(ack) == 0
    d = T.by_direction([cut, ack], F.VM210_MAC)
    assert d["from"] == [cut] and d["to"] == [ack]


def test_median():
    assert T.median([3.0, 1.0, 2.0]) == 2.0
    assert T.median([4.0, 1.0, 3.0, 2.0]) == 2.5
