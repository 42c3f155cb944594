"""The capture comparison and the pcap reader of the fabric scenarios must be
able to fail: missing, duplicated and unexpected copies are each detected.
No root, no fabric."""
from __future__ import annotations

import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "lab"))

import fabric as F  # noqa: E402


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def frame(src, dst, n):
    return mac(dst) + mac(src) + b"\x08\x00" + bytes([0x45]) + bytes(19) + struct.pack("!I", n)


VM, OTHER, SERV = F.VM210_MAC, "02:00:00:00:02:20", F.SERV21_MAC


def pk(f):
    p = F.Pkt(ts=0.0, frame=f)
    p.eth_dst, p.eth_src = F._mac(f[0:6]), F._mac(f[6:12])
    return p


def test_exactly_once():
    fr = [frame(VM, OTHER, i) for i in range(5)] + [frame(OTHER, VM, i) for i in range(5)]
    c = F.compare([pk(f) for f in fr], [pk(f) for f in fr])
    assert c.exactly_once and c.at_host == 10


def test_missing_duplicate_unexpected():
    fr = [frame(VM, OTHER, i) for i in range(5)]
    c = F.compare([pk(f) for f in fr], [pk(f) for f in fr[1:]])
    assert (c.missing, c.duplicated, c.unexpected) == (1, 0, 0) and not c.exactly_once
    c = F.compare([pk(f) for f in fr], [pk(f) for f in fr + fr[:2]])
    assert (c.missing, c.duplicated, c.unexpected) == (0, 2, 0) and not c.exactly_once
    c = F.compare([pk(f) for f in fr], [pk(f) for f in fr + [frame(OTHER, VM, 99)]])
    assert (c.missing, c.duplicated, c.unexpected) == (0, 0, 1) and not c.exactly_once


def test_out_of_scope_frames_ignored():
    bcast = frame(VM, "ff:ff:ff:ff:ff:ff", 1)
    to_server = frame(VM, SERV, 2)
    unrelated = frame(OTHER, "02:00:00:00:02:30", 3)
    c = F.compare([pk(bcast), pk(to_server)], [pk(bcast), pk(bcast), pk(to_server), pk(unrelated)])
    assert c.at_host == 0 and c.at_server == 0 and c.exactly_once


def test_ignore_from_stock_host():
    stock = "02:00:00:00:02:50"
    fr = [frame(stock, VM, 1), frame(VM, stock, 1)]
    c = F.compare([pk(f) for f in fr], [pk(fr[1])], ignore_from=(stock,))
    assert c.exactly_once and c.at_host == 1


def test_pcap_roundtrip(tmp_path):
    fr = [frame(VM, OTHER, i) for i in range(3)]
    p = tmp_path / "x.pcap"
    data = struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
    for i, f in enumerate(fr):
        data += struct.pack("<IIII", 100 + i, 5, len(f), len(f)) + f
    p.write_bytes(data)
    got = F.read_pcap(p)
    assert [g.frame for g in got] == fr
    assert got[1].ts == 101.000005 and got[0].eth_src == VM


def test_expected_entries_rule():
    class L:   # minimal lab: links as in the topology
        def link_of(self, host, leaf):
            class K:
                def iface(self, n):
                    return "eth3"
            return K()
    w = F.expected_entries(L(), "vtep104")
    assert {e[0] for e in w["vtep101"]} == {"mirror-source", "mirror-dest"}
    assert {e[0] for e in w["vtep102"]} == {"mirror-source", "mirror-dest"}
    assert {e[0] for e in w["vtep104"]} == {"mirror-source", "mirror-dest", "decap"}
    assert all(e[5] == ("vxlan", "10.0.0.104", 100, 21) for n in ("vtep101", "vtep102", "vtep103")
               for e in w[n])
    assert all(e[5] == ("port", "eth3") for e in w["vtep104"])
