#!/usr/bin/python3
"""A clean Debian 12 root with evpn-monitor's .debs installed by apt.

Used by test_install_fabric.py; as a tool (root)::

    tests/package/pkgroot.py base                 # make/refresh the cached base tarball
    tests/package/pkgroot.py install DIR DEB...   # DIR/root with the .debs installed

* The base is ``mmdebstrap --variant=apt bookworm`` (Debian's mirror,
  bookworm, bookworm-updates, bookworm-security), cached as a tarball in
  $EVPNMON_CACHE_DIR/rootfs/ (default ~/.cache/evpn-monitor), keyed by the
  mmdebstrap arguments and the ISO week: at most one download a week.
* Each run extracts it to a fresh directory and installs the .debs with
  ``apt-get install ./x.deb ...``: dependencies come from the mirror (the
  downloaded .debs are kept in $EVPNMON_CACHE_DIR/apt-archives).
  Before that: a policy-rc.d that forbids starting services (the frr
  package would start its daemons in the host's network namespace), and
  the frr user and groups with this machine's IDs (tests/lab/clabns.py
  chowns the node directories with them).
* Every command runs in a private mount namespace (``unshare --mount``) in
  which the root's /proc, /sys and /dev are mounted: the mounts go away with
  the process, nothing is left mounted on the host.
* ``wrappers()`` makes an install prefix of small scripts (sbin/zebra,
  sbin/bgpd, sbin/staticd, sbin/fpm-consumer, bin/vtysh, bin/evpnmon-ctl)
  that run the installed binaries in the root, with the lab's run directory
  bind-mounted at the same path. clabns.Lab takes it as ``frr_prefix`` and
  ``consumer_bin`` and never notices the difference.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import grp
import hashlib
import json
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(os.environ.get("EVPNMON_CACHE_DIR") or Path.home() / ".cache" / "evpn-monitor")
SUITE = "bookworm"
MIRRORS = [
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
]
MMDEBSTRAP_ARGS = ["--variant=apt", "--format=tar", "--mode=root"]
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                      check=True).stdout.strip()
MULTIARCH = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}.get(ARCH, f"{ARCH}-linux-gnu")
MODULE_DIR = f"/usr/lib/{MULTIARCH}/frr/modules"
# what the wrappers run: prefix path -> path inside the root
WRAPPED = {
    "sbin/zebra": "/usr/lib/frr/zebra",
    "sbin/bgpd": "/usr/lib/frr/bgpd",
    "sbin/staticd": "/usr/lib/frr/staticd",
    "sbin/fpm-consumer": "/usr/sbin/fpm-consumer",
    "bin/vtysh": "/usr/bin/vtysh",
    "bin/evpnmon-ctl": "/usr/bin/evpnmon-ctl",
}
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "HOME": "/root",
       "DEBIAN_FRONTEND": "noninteractive"}


class PkgRootError(RuntimeError):
    pass


def _run(argv: list[str], timeout: float, env: dict | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                            env=env if env is not None else ENV)
    except subprocess.TimeoutExpired as e:
        raise PkgRootError(f"timeout after {timeout}s: {shlex.join(argv)}") from e
    if check and cp.returncode != 0:
        raise PkgRootError(f"rc={cp.returncode}: {shlex.join(argv)}\n"
                           f"{cp.stdout[-3000:]}\n{cp.stderr[-3000:]}")
    return cp


def base_tarball(log=print) -> Path:
    """The cached mmdebstrap tarball (made when missing; about 1 minute)."""
    week = "%d-W%02d" % datetime.date.today().isocalendar()[:2]
    key = hashlib.sha256(json.dumps([SUITE, MMDEBSTRAP_ARGS, MIRRORS, ARCH]).encode()
                         ).hexdigest()[:12]
    d = CACHE / "rootfs"
    d.mkdir(parents=True, exist_ok=True)
    tar = d / f"{SUITE}-{ARCH}-apt-{key}-{week}.tar"
    with open(d / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if tar.exists():
            return tar
        if not shutil.which("mmdebstrap", path=ENV["PATH"]):
            raise PkgRootError("mmdebstrap missing (scripts/setup-deps.sh installs it)")
        t0 = time.monotonic()
        tmp = d / f".{tar.name}.tmp"
        tmp.unlink(missing_ok=True)
        _run(["mmdebstrap", "--quiet", *MMDEBSTRAP_ARGS, SUITE, str(tmp), *MIRRORS], timeout=1200)
        tmp.rename(tar)
        log(f"pkgroot: base {tar.name} made in {time.monotonic() - t0:.0f} s")
        # older bases of the same kind
        for old in d.glob(f"{SUITE}-{ARCH}-apt-*.tar"):
            if old != tar:
                old.unlink(missing_ok=True)
        return tar


def _mounts_under(path: Path) -> list[str]:
    out = []
    prefix = str(path.resolve()) + "/"
    for line in Path("/proc/self/mounts").read_text().splitlines():
        mp = line.split()[1].encode().decode("unicode_escape")
        if mp.startswith(prefix) or mp == prefix[:-1]:
            out.append(mp)
    return sorted(out, key=len, reverse=True)


class PkgRoot:
    """DIR/root: a Debian root; DIR/prefix: the chroot wrappers."""

    def __init__(self, workdir: str | os.PathLike, log=print):
        self.dir = Path(workdir).resolve()
        self.root = self.dir / "root"
        self.prefix = self.dir / "prefix"
        self.log = log
        self.times: dict[str, float] = {}

    # ---- setup ---------------------------------------------------------------
    def create(self) -> "PkgRoot":
        t0 = time.monotonic()
        tar = base_tarball(self.log)
        self.times["base"] = time.monotonic() - t0
        t0 = time.monotonic()
        if self.root.exists():
            raise PkgRootError(f"{self.root} exists")
        self.root.mkdir(parents=True)
        _run(["tar", "-C", str(self.root), "--numeric-owner", "-xpf", str(tar)], timeout=300)
        self.times["extract"] = time.monotonic() - t0
        return self

    def _in_ns(self, script: str, timeout: float) -> subprocess.CompletedProcess:
        """sh script in a private mount namespace with the root's /proc and /dev."""
        r = shlex.quote(str(self.root))
        pre = f"mount -t proc proc {r}/proc && mount --rbind /dev {r}/dev && "
        return _run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                     pre + script], timeout=timeout)

    def chroot(self, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
        return self._in_ns(shlex.join(["chroot", str(self.root), *argv]), timeout)

    def _prepare(self) -> None:
        r = self.root
        resolv = r / "etc" / "resolv.conf"
        if resolv.is_symlink() or resolv.exists():
            resolv.unlink()
        shutil.copyfile("/etc/resolv.conf", resolv)
        prc = r / "usr" / "sbin" / "policy-rc.d"
        prc.write_text("#!/bin/sh\n# evpn-monitor package test: start no service\nexit 101\n")
        prc.chmod(0o755)
        # frr's user and groups with this machine's IDs (the lab chowns with them)
        u = pwd.getpwnam("frr")
        g, gv = grp.getgrnam("frr"), grp.getgrnam("frrvty")
        self._add_line("etc/group", "frr", f"frr:x:{g.gr_gid}:")
        self._add_line("etc/group", "frrvty", f"frrvty:x:{gv.gr_gid}:frr")
        self._add_line("etc/passwd", "frr",
                       f"frr:x:{u.pw_uid}:{g.gr_gid}:FRRouting suite,,,:/nonexistent:/usr/sbin/nologin")
        if (r / "etc/shadow").exists():
            self._add_line("etc/shadow", "frr", "frr:*:19000:0:99999:7:::")
        if (r / "etc/gshadow").exists():
            self._add_line("etc/gshadow", "frr", "frr:!::")
            self._add_line("etc/gshadow", "frrvty", "frrvty:!::frr")

    def _add_line(self, rel: str, name: str, line: str) -> None:
        f = self.root / rel
        lines = f.read_text().splitlines() if f.exists() else []
        fields = line.split(":")
        for l in lines:
            lf = l.split(":")
            if lf[0] == name:
                return
            # the same numeric ID under another name: the lab's chown would lie
            if rel in ("etc/passwd", "etc/group") and len(lf) > 2 and lf[2] == fields[2]:
                raise PkgRootError(f"{rel}: ID {fields[2]} of {name} is taken by {lf[0]}")
        f.write_text("\n".join(lines + [line]) + "\n")

    def install(self, debs: list[Path]) -> "PkgRoot":
        """apt-get install the .debs (dependencies from the mirror)."""
        t0 = time.monotonic()
        self._prepare()
        inside = Path("/tmp/evpnmon-debs")
        (self.root / inside.relative_to("/")).mkdir(parents=True, exist_ok=True)
        for d in debs:
            shutil.copyfile(d, self.root / inside.relative_to("/") / d.name)
        arch = CACHE / "apt-archives"
        (arch / "partial").mkdir(parents=True, exist_ok=True)
        r = shlex.quote(str(self.root))
        apt = "chroot {r} apt-get -q -y -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0".format(r=r)
        script = (f"mount --bind {shlex.quote(str(arch))} {r}/var/cache/apt/archives && "
                  f"{apt} update && "
                  f"{apt} install " + " ".join(shlex.quote(str(inside / d.name)) for d in debs))
        cp = self._in_ns(script, timeout=1200)
        (self.dir / "apt-install.log").write_text(cp.stdout + cp.stderr)
        self.times["install"] = time.monotonic() - t0
        return self

    def wrappers(self, run_base: str | os.PathLike) -> Path:
        """Install prefix of chroot wrappers; run_base (the lab's run dir) is
        bind-mounted into the root at the same path."""
        run_base = Path(run_base)
        (self.root / run_base.relative_to("/")).mkdir(parents=True, exist_ok=True)
        # FRR's compiled-in state dir, in case a daemon wants it despite -z/-i
        frrrun = self.root / "run" / "frr"
        frrrun.mkdir(parents=True, exist_ok=True)
        u = pwd.getpwnam("frr")
        os.chown(frrrun, u.pw_uid, u.pw_gid)
        script = ('r=$0 b=$1; shift; '
                  'mount -t proc proc "$r/proc" && mount --rbind /sys "$r/sys" && '
                  'mount --rbind /dev "$r/dev" && mount --rbind "$b" "$r$b" && '
                  'exec chroot "$r" "$@"')
        for rel, target in WRAPPED.items():
            if not (self.root / target.lstrip("/")).exists():
                raise PkgRootError(f"not installed: {target}")
            w = self.prefix / rel
            w.parent.mkdir(parents=True, exist_ok=True)
            w.write_text(
                "#!/bin/sh\n"
                f"# the installed {target}, run inside {self.root}\n"
                "# (tests/package/pkgroot.py); private mount namespace: the\n"
                "# mounts go away with the process, the pid stays the same.\n"
                "exec env -u LD_LIBRARY_PATH unshare --mount --propagation private "
                f"sh -c {shlex.quote(script)} {shlex.quote(str(self.root))} "
                f"{shlex.quote(str(run_base))} {shlex.quote(target)} \"$@\"\n")
            w.chmod(0o755)
        # clabns checks -M modules against <prefix>/lib/<multiarch>/frr/modules:
        # the installed module directory
        m = self.prefix / "lib" / MULTIARCH / "frr" / "modules"
        m.parent.mkdir(parents=True, exist_ok=True)
        if not m.exists():
            m.symlink_to(self.root / MODULE_DIR.lstrip("/"))
        return self.prefix

    # ---- teardown -------------------------------------------------------------
    def remove(self) -> None:
        """Remove DIR; refuses while anything is mounted below it."""
        if not self.dir.exists():
            return
        for mp in _mounts_under(self.dir):
            _run(["umount", "-R", "-l", mp], timeout=30, check=False)
        left = _mounts_under(self.dir)
        if left:
            raise PkgRootError(f"still mounted, {self.dir} not removed: {left}")
        _run(["rm", "-rf", "--one-file-system", str(self.dir)], timeout=300)


def main(argv: list[str]) -> int:
    if argv[:1] == ["base"]:
        print(base_tarball())
        return 0
    if len(argv) >= 3 and argv[0] == "install":
        p = PkgRoot(argv[1]).create().install([Path(a).resolve() for a in argv[2:]])
        print(f"{p.root} ({', '.join(f'{k} {v:.0f} s' for k, v in p.times.items())})")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
