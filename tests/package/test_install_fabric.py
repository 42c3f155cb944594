"""Install the built .debs into a clean Debian 12 root and run a
small fabric from the INSTALLED files, not from the build tree.

1. The .debs of `cmake --build build --target packages` (ctest
   `package.build` makes them first; cached): the patched frr and
   evpn-monitor.
2. A clean root: the cached `mmdebstrap --variant=apt bookworm` tarball,
   extracted; `apt-get install ./frr_*.deb ./evpn-monitor_*.deb`, the
   dependencies from Debian's mirror (tests/package/pkgroot.py).
3. Checks on the installed tree: versions, `frr (= ...)` dependency, the
   module next to dplane_fpm_nl.so, the unit, the configuration, the FRR
   settings, the YANG module and .proto; apt keeps the patched frr (Debian's
   own 8.4.4 does not replace it).
4. tests/package/fabric/pkg-fabric.clab.yml with tests/lab/clabns.py: two
   patched leaves whose zebra, bgpd, staticd, vtysh, fpm-consumer and
   evpnmon-ctl are the installed ones, run inside the root (chroot
   wrappers), with the installed /etc/frr/daemons merged with the installed
   frr-daemons.evpn-monitor and the installed fpm snippet in frr.conf.
   One session configured with vtysh on leaf1; a ping from the monitored
   host h1 (leaf1) to h2 (leaf2) must produce one VXLAN-GBP copy per echo
   request on the underlay (Group Policy ID = HOST ID 21) and exactly 2N
   ICMP copies at the server's port behind leaf2.

Everything is removed at the end (namespaces by the lab, the root by
PkgRoot.remove(); mounts exist only in private mount namespaces).

Run as root: /usr/bin/python3 -m pytest -s tests/package/test_install_fabric.py
(EVPNMON_PACKAGES_DIR, default build/packages).
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "lab"))

from clabns import TEST_FRR_ENV, TEST_HEAP, Lab, LabTimeout, process_tunables, wait_quiet  # noqa: E402
from pkgroot import MODULE_DIR, PkgRoot  # noqa: E402

BUILD = Path(os.environ.get("EVPNMON_BUILD_DIR") or REPO / "build")
PACKAGES = Path(os.environ.get("EVPNMON_PACKAGES_DIR") or BUILD / "packages")
FABRIC = HERE / "fabric"
RUN_BASE = Path("/run/clabns")
AS = 65000
HOST_MAC, HOST_IP = "02:00:00:00:02:10", "192.168.100.210"
PEER_IP = "192.168.100.220"
SERVER_MAC, SERVER_IP, HOST_ID = "02:00:00:00:00:21", "192.168.100.21", 21
MIRROR_PORT = 4790
N = 5
TIMES: dict[str, float] = {}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, namespaces)")


def _debs() -> list[Path]:
    vfile = PACKAGES / "frr-deb-version"
    if not vfile.exists():
        pytest.fail(f"no {vfile}: build the packages (cmake --build build --target packages)")
    ver = vfile.read_text().strip()
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    frr = PACKAGES / f"frr_{ver}_{arch}.deb"
    ours = sorted(PACKAGES.glob(f"evpn-monitor_*_{arch}.deb"), key=lambda p: p.stat().st_mtime)
    if not frr.exists() or not ours:
        pytest.fail(f"missing .debs in {PACKAGES}: {frr.name} / evpn-monitor_*_{arch}.deb")
    return [frr, ours[-1]]


@pytest.fixture(scope="module")
def pkg():
    t0 = time.monotonic()
    debs = _debs()
    # roots left by a run that was killed (SIGKILL) more than 12 h ago;
    # remove() refuses while anything is mounted below one
    for old in Path("/var/tmp").glob("evpnmon-pkgtest.*"):
        if time.time() - old.stat().st_mtime > 12 * 3600:
            PkgRoot(old).remove()
    work = Path(tempfile.mkdtemp(prefix="evpnmon-pkgtest.", dir="/var/tmp"))
    p = PkgRoot(work)
    try:
        p.create().install(debs)
        p.debs = debs
        TIMES.update({f"root: {k}": v for k, v in p.times.items()})
        TIMES["root: total"] = time.monotonic() - t0
        yield p
    finally:
        p.remove()
        report = ", ".join(f"{k} {v:.1f} s" for k, v in TIMES.items())
        print(f"\npackage install test times: {report}")


def _q(p: PkgRoot, *fmt_pkgs: str) -> str:
    return p.chroot(["dpkg-query", "-W", "-f", *fmt_pkgs]).stdout.strip()


def test_installed_files(pkg):
    frr_deb, ours_deb = pkg.debs
    frr_ver = (PACKAGES / "frr-deb-version").read_text().strip()
    assert _q(pkg, "${Version}", "frr") == frr_ver
    assert "+evpnmon" in frr_ver
    depends = _q(pkg, "${Depends}", "evpn-monitor")
    assert f"frr (= {frr_ver})" in depends, depends
    r = pkg.root
    for f in (f"{MODULE_DIR}/bgpd_evpn_mon.so", f"{MODULE_DIR}/dplane_fpm_nl.so",
              "/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "/usr/bin/vtysh",
              "/usr/sbin/fpm-consumer", "/usr/bin/evpnmon-ctl",
              "/usr/lib/systemd/system/evpnmon-fpm-consumer@.service",
              "/etc/evpn-monitor/fpm-consumer-default.conf",
              "/usr/sbin/evpnmon-collector",
              "/usr/lib/systemd/system/evpnmon-collector@.service",
              "/etc/evpn-monitor/collector-default.conf",
              "/usr/share/evpn-monitor/collector_records.proto",
              "/usr/share/evpn-monitor/frr-daemons.evpn-monitor",
              "/usr/share/evpn-monitor/frr.conf.evpn-monitor",
              "/usr/share/evpn-monitor/monitor_feed.proto",
              "/usr/share/yang/modules/evpn-monitor/evpn-monitor.yang"):
        assert (r / f.lstrip("/")).exists(), f"not installed: {f}"
    # the module belongs to the frr package, the conffile to ours
    assert f"{MODULE_DIR}/bgpd_evpn_mon.so" in pkg.chroot(["dpkg", "-L", "frr"]).stdout
    conffiles = _q(pkg, "${Conffiles}", "evpn-monitor")
    assert "/etc/evpn-monitor/fpm-consumer-default.conf" in conffiles
    assert "/etc/evpn-monitor/collector-default.conf" in conffiles
    # the binaries run (shared libraries resolved from the installed tree)
    assert "fpm-consumer" in pkg.chroot(["/usr/sbin/fpm-consumer", "--version"]).stdout
    pkg.chroot(["/usr/bin/evpnmon-ctl", "--help"])
    assert "evpnmon-collector" in pkg.chroot(["/usr/sbin/evpnmon-collector", "--version"]).stdout
    # apt keeps the patched frr: Debian's own 8.4.4 sorts below it
    sim = pkg.chroot(["apt-get", "-s", "-o", "Debug::NoLocking=1", "install", "frr"]).stdout
    assert "frr is already the newest version" in sim, sim


def _pcap_frames(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if len(data) < 24:
        return []
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    assert struct.unpack(e + "I", data[20:24])[0] == 1, "not an Ethernet capture"
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out


def _ipv4(frame: bytes):
    """(src, dst, proto, payload) of an Ethernet/IPv4 frame, else None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    src, dst = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
    return src, dst, ip[9], ip[ihl:]


def _icmp(frame: bytes):
    """(src, dst, ICMP type) or None."""
    v = _ipv4(frame)
    if not v or v[2] != 1 or not v[3]:
        return None
    return v[0], v[1], v[3][0]


def _gbp_copies(frames: list[bytes]) -> list[tuple[int, int, tuple | None]]:
    """[(VXLAN flags, Group Policy ID, inner ICMP)] of the VXLAN-GBP copies."""
    out = []
    for f in frames:
        v = _ipv4(f)
        if not v or v[2] != 17 or len(v[3]) < 16:
            continue
        udp = v[3]
        if struct.unpack("!H", udp[2:4])[0] != MIRROR_PORT:
            continue
        vx = udp[8:16]
        out.append((vx[0], struct.unpack("!H", vx[2:4])[0], _icmp(udp[16:])))
    return out


def _lab_files(pkg: PkgRoot, dst: Path) -> Path:
    """The fabric directory with the installed FRR settings filled in."""
    shutil.copytree(FABRIC, dst)
    r = pkg.root
    daemons = (r / "etc/frr/daemons").read_text()
    snippet = (r / "usr/share/evpn-monitor/frr-daemons.evpn-monitor").read_text()
    (dst / "daemons").write_text(
        daemons + "\n# tests/lab/clabns.py reads these flags; frrinit starts both always\n"
        "zebra=yes\nstaticd=yes\n\n" + snippet)
    fpm = (r / "usr/share/evpn-monitor/frr.conf.evpn-monitor").read_text()
    assert "fpm address 127.0.0.1 port 2620" in fpm
    for leaf in ("leaf1", "leaf2"):
        c = dst / leaf / "frr.conf"
        c.write_text(c.read_text().replace("! @EVPNMON_FRR_CONF@\n", fpm))
    return dst / "pkg-fabric.clab.yml"


def test_fabric_from_installed_files(pkg, tmp_path):
    t0 = time.monotonic()
    prefix = pkg.wrappers(RUN_BASE)
    ctl = prefix / "bin" / "evpnmon-ctl"
    topo = _lab_files(pkg, tmp_path / "fabric")
    lab = Lab(topo, prefix=f"pk{os.getpid() % 10**8}", frr_prefix=prefix, stock_ok=False,
              consumer_bin=prefix / "sbin" / "fpm-consumer", require_extras=True,
              run_base=RUN_BASE, **TEST_HEAP)
    with lab:
        TIMES["fabric: up"] = time.monotonic() - t0
        # the daemons and consumers are the installed ones, run in the root
        running = {f"{n}/{d}": (pr.pid if hasattr(pr, "pid") else pr)
                   for (n, d), pr in lab.procs.items()}
        assert sorted(running) == sorted(f"{leaf}/{d}" for leaf in ("leaf1", "leaf2")
                                         for d in ("zebra", "bgpd", "staticd", "fpm-consumer"))
        for what, pid in running.items():
            assert os.readlink(f"/proc/{pid}/root") == str(pkg.root), what
            exe = os.readlink(f"/proc/{pid}/exe")
            assert exe.startswith(str(pkg.root) + "/"), (what, exe)
        for leaf in ("leaf1", "leaf2"):
            mods = lab.vtysh(leaf, "show modules")
            assert "bgpd_evpn_mon" in mods and "dplane_fpm_nl" in mods, mods
            # the installed snippet's bgpd_wrap: glibc's heap on huge pages
            # (the tests' tunables after it)
            assert process_tunables(running[f"{leaf}/bgpd"]) == \
                f"glibc.malloc.hugetlb=1:{TEST_FRR_ENV['GLIBC_TUNABLES']}", leaf
        lab.wait_for(lambda: all(lab.bgp_established(n) for n in lab.frr_nodes),
                     timeout=60, what="iBGP leaf1-leaf2 established")

        def imets():
            t = lab.vtysh("leaf1", "show bgp l2vpn evpn route type multicast")
            return "[3]:[0]:[32]:[10.0.0.101]" in t and "[3]:[0]:[32]:[10.0.0.102]" in t
        lab.wait_for(imets, timeout=30, what="both leaves' type-3 routes")
        # EVPN data path; the server sends a frame so that its leaf learns it
        lab.wait_for(lambda: lab.ping("h1", PEER_IP), timeout=30, what="h1 -> h2 over EVPN")
        assert lab.ping("srv", PEER_IP), "srv -> h2"

        t1 = time.monotonic()
        lab.configure("leaf1", [f"router bgp {AS}", "address-family l2vpn evpn",
                                f"monitor server {HOST_ID} mac {SERVER_MAC} ip {SERVER_IP}",
                                f"monitor host vni 100 mac {HOST_MAC} ip {HOST_IP} server {HOST_ID}"])
        lab.wait_for(lambda: "advertised" in lab.vtysh("leaf1", "show bgp l2vpn evpn monitor"),
                     timeout=20, what="session advertised on leaf1")
        lab.wait_for(lambda: lab.vtysh_json("leaf2", "show bgp l2vpn evpn route type monitor json"),
                     timeout=20, what="monitor route on leaf2")

        def entries(leaf):
            cp = subprocess.run([str(ctl), "-s", str(lab.node_dir(leaf) / "fpm-consumer.sock"),
                                 "--json", "entries"], capture_output=True, text=True, timeout=20)
            d = json.loads(cp.stdout)["evpn-monitor:fpm-consumer"]
            return " ".join(sorted(f"{e['kind']}/{e['action']['type']}"
                                   for e in d["entries"].get("entry", [])))
        want = {"leaf1": "mirror-dest/vxlan mirror-source/vxlan",
                "leaf2": "decap/local-port mirror-dest/local-port mirror-source/local-port"}
        seen: dict[str, str] = {}

        def has(leaf, w):
            seen[leaf] = entries(leaf)
            return seen[leaf] == w
        for leaf, w in want.items():
            try:
                lab.wait_for(lambda: has(leaf, w), timeout=60, what=f"{leaf}'s consumer entries")
            except LabTimeout:
                out = (lab.node_dir(leaf) / "fpm-consumer.out").read_text(errors="replace")
                pytest.fail(f"{leaf}: entries {seen.get(leaf)!r}, want {w!r}\n"
                            f"fpm-consumer:\n{out[-3000:]}")
        TIMES["fabric: session -> entries"] = time.monotonic() - t1
        assert lab.ping("h1", PEER_IP), "h1 -> h2 before the captures"

        caps = {"srv": (tmp_path / "srv.pcap", "eth1", ["icmp"]),
                "leaf1": (tmp_path / "underlay.pcap", "eth1", ["udp", "port", str(MIRROR_PORT)])}
        for node, (f, ifn, flt) in caps.items():
            lab.spawn(node, ["tcpdump", "-nn", "-Z", "root", "-i", ifn, "-U", "--immediate-mode",
                              "-w", str(f), *flt], name="tcpdump")
        for node in caps:
            out = lab.node_dir(node) / "tcpdump.out"
            lab.wait_for(lambda: "listening" in out.read_text(errors="replace"), timeout=10,
                         what=f"tcpdump on {node}", interval=0.05)
        cp = lab.exec("h1", ["ping", "-n", "-q", "-c", str(N), "-i", "0.2", "-W", "1", PEER_IP],
                      check=False, timeout=30)
        # every copy landed (10 s at most; then the asserts say what is
        # missing), and nothing more for half a second
        try:
            lab.wait_for(lambda: len([c for c in _gbp_copies(_pcap_frames(caps["leaf1"][0]))
                                      if c[2] == (HOST_IP, PEER_IP, 8)]) >= N
                         and len([i for i in map(_icmp, _pcap_frames(caps["srv"][0])) if i]) >= 2 * N,
                         timeout=10, what="the copies at the underlay and the server",
                         interval=0.05)
        except LabTimeout:
            pass
        for f, _ifn, _flt in caps.values():
            wait_quiet(f, 0.5, 10)
        for node in caps:
            lab.kill_process(node, "tcpdump")
        assert cp.returncode == 0, cp.stdout + cp.stderr

        at_server = [i for i in map(_icmp, _pcap_frames(caps["srv"][0])) if i]
        copies = _gbp_copies(_pcap_frames(caps["leaf1"][0]))
        requests = [c for c in copies if c[2] == (HOST_IP, PEER_IP, 8)]
        print(f"\ncopies: {len(requests)} VXLAN-GBP echo requests on the underlay (want {N}), "
              f"{len(at_server)} ICMP at the server's port (want {2 * N})")
        assert len(requests) == N, copies
        assert all(flags & 0x88 == 0x88 and gpid == HOST_ID for flags, gpid, _ in copies), copies
        assert sorted(at_server) == sorted([(HOST_IP, PEER_IP, 8)] * N + [(PEER_IP, HOST_IP, 0)] * N), \
            at_server
        t2 = time.monotonic()
    TIMES["fabric: down"] = time.monotonic() - t2
    TIMES["fabric: total"] = time.monotonic() - t0
    assert not [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True
                                          ).stdout.split() if n.startswith(lab.prefix + "-")]
