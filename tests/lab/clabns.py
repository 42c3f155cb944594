#!/usr/bin/python3
"""clabns: run a containerlab topology file with Linux network namespaces.

The containerlab file (docker/clab/evpn-monitor.clab.yml) is the single source
of truth.  Where Docker/containerlab cannot run, this runner instantiates the
same file with one network namespace per node and one veth pair per link,
runs each node's ``exec:`` lines inside its namespace, and starts the node's
FRR daemons with per-node paths.  See docs/lab.md for the conventions.

Python API (run with /usr/bin/python3, as root)::

    from clabns import Lab
    with Lab("docker/clab/evpn-monitor.clab.yml", force_stock=True) as lab:
        lab.wait_for(lambda: all(lab.bgp_established(n) for n in lab.frr_nodes),
                     timeout=60, what="BGP sessions")
        lab.exec("vm210", "ping -c1 -W1 192.168.100.220")
        print(lab.vtysh("vtep101", "show evpn mac vni all"))
        lab.move_link("vm210", "vtep101", "vtep102")

Leaving the ``with`` block (normally, on an exception, on SIGINT or SIGTERM)
kills every process started in the lab's namespaces, deletes the namespaces
(and with them every veth, bridge and VXLAN device) and removes the run
directory.

CLI::

    clabns.py up     TOPOLOGY [--prefix P] [--stock] [--frr-prefix DIR] ...
    clabns.py down   [TOPOLOGY] [--prefix P | --all]
    clabns.py status [TOPOLOGY] [--prefix P] [--json]
    clabns.py exec   --prefix P NODE CMD...
    clabns.py vtysh  --prefix P NODE CMD...
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fnmatch
import grp
import json
import logging
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

log = logging.getLogger("clabns")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RUN_BASE = Path("/run/clabns")
# What tests give the FRR daemons (Lab's frr_env): glibc fills what they
# free (and allocate) with a pattern, so that a read of freed memory reads
# garbage and fails instead of what the memory happened to hold still.
# Without its per-thread cache: a chunk freed into it (up to 7 of each size
# up to 1 KB) is not filled, and a node freed alone goes there, so that
# MALLOC_PERTURB_ alone would leave it as it was.
TEST_FRR_ENV = {"GLIBC_TUNABLES": "glibc.malloc.tcache_count=0:glibc.malloc.perturb=165"}
# And the fpm-consumer's (Lab's consumer_env): its jemalloc fills freed
# memory with 0x5a and new memory with 0xa5.
TEST_CONSUMER_ENV = {"MALLOC_CONF": "junk:true"}
# Both, as Lab's keyword arguments: Lab(topology, **TEST_HEAP).
TEST_HEAP = {"frr_env": TEST_FRR_ENV, "consumer_env": TEST_CONSUMER_ENV}


def process_tunables(pid: int) -> str | None:
    """A process's GLIBC_TUNABLES as it was given. glibc (2.36), parsing
    it, may end each tunable in place with a NUL, so that the ones after
    the first look like entries of their own in /proc/PID/environ."""
    env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    for i, e in enumerate(env):
        if e.startswith(b"GLIBC_TUNABLES="):
            tunables = [e.partition(b"=")[2]]
            for t in env[i + 1:]:
                if not t.startswith(b"glibc.") or b"=" not in t:
                    break
                tunables.append(t)
            return b":".join(tunables).decode()
    return None


DEFAULT_FRR_PREFIX = Path(os.environ.get("EVPNMON_FRR_PREFIX") or REPO_ROOT / "build" / "frr")
DEFAULT_CONSUMER_CANDIDATES = (
    "build/fpm-consumer/evpnmon-fpm-consumer",
    "build/fpm-consumer/fpm-consumer",
    "build/fpm-consumer/evpn-monitor-fpm-consumer",
)
# Daemons the runner knows how to start, in start order.
FRR_DAEMONS = ("zebra", "bgpd", "staticd")
# Image name (fnmatch pattern) -> binary set: "stock", "patched" or an FRR
# install prefix.  First match wins.  Unknown images with FRR binds: stock.
DEFAULT_IMAGE_MAP = (
    ("*evpn-monitor-stock*", "stock"),
    ("*frr-stock*", "stock"),
    ("*evpn-monitor*", "patched"),
    ("*", "stock"),
)
FRR_CONF = "/etc/frr/frr.conf"
FRR_DAEMONS_FILE = "/etc/frr/daemons"
# Options the runner sets itself; removed from *_options of the daemons file.
_RUNNER_OPTS_WITH_ARG = {"-f", "--config_file", "-i", "--pid_file", "-z", "--socket",
                         "--vty_socket", "-P", "--vty_port", "-N", "--pathspace",
                         "--log", "-u", "--user", "-g", "--group"}
_RUNNER_OPTS_FLAG = {"-d", "--daemon"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,14}$")

SUBPROCESS_TIMEOUT = 30.0


class LabError(RuntimeError):
    """Anything that went wrong bringing up or driving the lab."""


class LabTimeout(LabError):
    """wait_for() gave up."""


# --------------------------------------------------------------------------
# Topology file
# --------------------------------------------------------------------------

@dataclass
class Node:
    name: str
    kind: str
    image: str
    binds: dict[str, Path]          # container path -> host path
    exec: list[str]
    labels: dict[str, str]
    env: dict[str, str]

    @property
    def is_frr(self) -> bool:
        return FRR_DAEMONS_FILE in self.binds

    @property
    def frr_conf(self) -> Path | None:
        return self.binds.get(FRR_CONF)

    @property
    def daemons_file(self) -> Path | None:
        return self.binds.get(FRR_DAEMONS_FILE)


@dataclass
class Link:
    a: tuple[str, str]              # (node, interface)
    b: tuple[str, str]
    mtu: int | None = None

    def other(self, node: str) -> tuple[str, str]:
        if self.a[0] == node:
            return self.b
        if self.b[0] == node:
            return self.a
        raise KeyError(node)

    def iface(self, node: str) -> str:
        if self.a[0] == node:
            return self.a[1]
        if self.b[0] == node:
            return self.b[1]
        raise KeyError(node)

    def to_json(self) -> dict:
        return {"endpoints": [f"{self.a[0]}:{self.a[1]}", f"{self.b[0]}:{self.b[1]}"],
                "mtu": self.mtu}


@dataclass
class Topology:
    name: str
    path: Path
    nodes: dict[str, Node]
    links: list[Link]


# containerlab default MTU of veth links
CLAB_DEFAULT_MTU = 9500


def _merge_node(defaults: dict, kind: dict, node: dict) -> dict:
    """containerlab inheritance: node > kinds.<kind> > defaults.

    Scalars: most specific wins.  binds: concatenated (duplicates on the same
    container path: the most specific wins).  labels/env: dict merge.
    exec: most specific list wins.
    """
    out: dict[str, Any] = {}
    for layer in (defaults, kind, node):
        for k, v in (layer or {}).items():
            if k in ("labels", "env"):
                out.setdefault(k, {}).update({str(a): str(b) for a, b in (v or {}).items()})
            elif k == "binds":
                out.setdefault(k, []).extend(v or [])
            else:
                out[k] = v
    return out


def load_topology(path: str | os.PathLike) -> Topology:
    path = Path(path).resolve()
    with open(path) as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict) or "topology" not in doc:
        raise LabError(f"{path}: not a containerlab topology (no 'topology' key)")
    top = doc["topology"] or {}
    defaults = top.get("defaults") or {}
    kinds = top.get("kinds") or {}
    nodes: dict[str, Node] = {}
    for name, spec in (top.get("nodes") or {}).items():
        name = str(name)
        if not _NAME_RE.match(name):
            raise LabError(f"node name {name!r} is not usable as a netns suffix")
        spec = spec or {}
        kind = spec.get("kind") or defaults.get("kind") or "linux"
        m = _merge_node(defaults, kinds.get(kind) or {}, spec)
        binds: dict[str, Path] = {}
        for b in m.get("binds", []):
            parts = str(b).replace("__clabNodeName__", name).split(":")
            if len(parts) < 2:
                raise LabError(f"node {name}: bad bind {b!r}")
            src, dst = parts[0], parts[1]
            srcp = Path(src) if os.path.isabs(src) else (path.parent / src)
            binds[dst] = srcp.resolve()
        ex = m.get("exec") or []
        if isinstance(ex, str):
            ex = [ex]
        nodes[name] = Node(name=name, kind=kind, image=str(m.get("image") or ""),
                           binds=binds, exec=[str(e) for e in ex],
                           labels=m.get("labels", {}), env=m.get("env", {}))
    links: list[Link] = []
    for i, l in enumerate(top.get("links") or []):
        eps = l.get("endpoints") or []
        if len(eps) != 2:
            raise LabError(f"link {i}: need exactly two endpoints, got {eps!r}")
        ends = []
        for ep in eps:
            if isinstance(ep, dict):   # extended format {node:, interface:}
                ends.append((str(ep["node"]), str(ep["interface"])))
            else:
                n, _, ifn = str(ep).partition(":")
                ends.append((n, ifn))
        for n, ifn in ends:
            if n not in nodes:
                raise LabError(f"link {i}: unknown node {n!r}")
            if not ifn or len(ifn) > 15:
                raise LabError(f"link {i}: bad interface name {ifn!r}")
        links.append(Link(a=ends[0], b=ends[1], mtu=l.get("mtu")))
    return Topology(name=str(doc.get("name") or path.stem), path=path, nodes=nodes, links=links)


# --------------------------------------------------------------------------
# FRR binaries and daemons file
# --------------------------------------------------------------------------

@dataclass
class FrrBinaries:
    """One FRR installation: where its daemons, vtysh and modules are."""
    name: str
    daemon_dir: Path
    vtysh: Path
    module_dirs: list[Path]
    env: dict[str, str] = field(default_factory=dict)

    def daemon(self, d: str) -> Path:
        return self.daemon_dir / d

    def has_module(self, mod: str, daemon: str = "") -> bool:
        """Like FRR's loader: -M name loads <daemon>_<name>.so or <name>.so."""
        mod = mod.split(":", 1)[0]
        if "/" in mod:
            return Path(mod).exists()
        names = [f"{mod}.so"] + ([f"{daemon}_{mod}.so"] if daemon else [])
        return any((d / n).exists() for d in self.module_dirs for n in names)

    @classmethod
    def stock(cls) -> "FrrBinaries":
        mods = [Path("/usr/lib/x86_64-linux-gnu/frr/modules"), Path("/usr/lib/frr/modules")]
        return cls("stock", Path("/usr/lib/frr"), Path("/usr/bin/vtysh"), mods)

    @classmethod
    def from_prefix(cls, prefix: str | os.PathLike, name: str = "patched") -> "FrrBinaries | None":
        """Find an FRR 'make install' tree under prefix (sbin/, lib/frr/ or libexec/frr/)."""
        p = Path(prefix)
        if not p.is_absolute():
            p = REPO_ROOT / p
        ddir = None
        for cand in ("sbin", "lib/frr", "libexec/frr"):
            if (p / cand / "zebra").exists() and (p / cand / "bgpd").exists():
                ddir = p / cand
                break
        vtysh = p / "bin" / "vtysh"
        if ddir is None or not vtysh.exists():
            return None
        mods = [p / "lib" / "frr" / "modules", p / "lib" / "x86_64-linux-gnu" / "frr" / "modules",
                p / "lib64" / "frr" / "modules"]
        libdirs = [str(d) for d in (p / "lib", p / "lib" / "x86_64-linux-gnu", p / "lib64")
                   if d.is_dir()]
        env = {"LD_LIBRARY_PATH": ":".join(libdirs)} if libdirs else {}
        return cls(name, ddir, vtysh, mods, env)


@dataclass
class DaemonsFile:
    enabled: dict[str, bool]
    options: dict[str, list[str]]
    # <daemon>_wrap and all_wrap: argv words frrcommon.sh puts before the
    # daemon's binary ("$all_wrap $wrap $bin ..."), e.g. `env VAR=value`
    wraps: dict[str, list[str]] = field(default_factory=dict)

    def wrap(self, daemon: str) -> list[str]:
        return [*self.wraps.get("all", []), *self.wraps.get(daemon, [])]


def _with_tunables(env: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """extra over env, but for GLIBC_TUNABLES: a list, extra's appended."""
    out = dict(extra)
    if env.get("GLIBC_TUNABLES") and "GLIBC_TUNABLES" in extra:
        out["GLIBC_TUNABLES"] = env["GLIBC_TUNABLES"] + ":" + extra["GLIBC_TUNABLES"]
    return out


def parse_daemons(path: Path) -> DaemonsFile:
    """Parse Debian's /etc/frr/daemons format (shell variable assignments)."""
    enabled: dict[str, bool] = {}
    options: dict[str, list[str]] = {}
    wraps: dict[str, list[str]] = {}
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, val = line.partition("=")
        key = key.strip()
        try:
            words = shlex.split(val, comments=True)
        except ValueError as e:
            raise LabError(f"{path}: cannot parse {raw!r}: {e}")
        val = " ".join(words)
        if key.endswith("_options"):
            options[key[:-len("_options")]] = shlex.split(val)
        elif key.endswith("_wrap"):
            wraps[key[:-len("_wrap")]] = shlex.split(val)
        elif re.match(r"^[a-z0-9]+$", key):
            enabled[key] = val.lower() in ("yes", "1", "true")
    return DaemonsFile(enabled, options, wraps)


def _clean_options(opts: list[str]) -> list[str]:
    out, skip = [], False
    for o in opts:
        if skip:
            skip = False
            continue
        name = o.split("=", 1)[0]
        if name in _RUNNER_OPTS_FLAG:
            continue
        if name in _RUNNER_OPTS_WITH_ARG:
            skip = "=" not in o
            continue
        out.append(o)
    return out


def _split_modules(opts: list[str]) -> list[tuple[str, list[str]]]:
    """[(module or '', [tokens])] so -M options can be filtered."""
    out, i = [], 0
    while i < len(opts):
        o = opts[i]
        if o in ("-M", "--module") and i + 1 < len(opts):
            out.append((opts[i + 1], [o, opts[i + 1]]))
            i += 2
        elif o.startswith("--module="):
            out.append((o.split("=", 1)[1], [o]))
            i += 1
        elif o.startswith("-M") and len(o) > 2:
            out.append((o[2:], [o]))
            i += 1
        else:
            out.append(("", [o]))
            i += 1
    return out


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def _run(argv: list[str], *, check: bool = True, timeout: float = SUBPROCESS_TIMEOUT,
         input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                            input=input, env=env)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"timeout after {timeout}s: {shlex.join(argv)}") from e
    if check and cp.returncode != 0:
        raise LabError(f"command failed (rc={cp.returncode}): {shlex.join(argv)}\n"
                       f"stdout: {cp.stdout.strip()}\nstderr: {cp.stderr.strip()}")
    return cp


def _netns_list() -> list[str]:
    cp = _run(["ip", "-j", "netns", "list"], check=False)
    try:
        return [e["name"] for e in json.loads(cp.stdout or "[]")]
    except ValueError:
        return [l.split()[0] for l in cp.stdout.splitlines() if l.strip()]


def _netns_pids(ns: str) -> list[int]:
    cp = _run(["ip", "netns", "pids", ns], check=False, timeout=10)
    return [int(x) for x in cp.stdout.split() if x.isdigit()]


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def wait_quiet(path: str | os.PathLike, quiet: float, timeout: float) -> None:
    """Wait until a capture file has not grown for `quiet` seconds: the
    last frames in flight have landed (bounded by `timeout`; then it
    returns, and the caller's checks say what is wrong)."""
    path = Path(path)
    deadline = time.monotonic() + timeout
    size, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        s = path.stat().st_size if path.exists() else 0
        if s != size:
            size, since = s, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.05)


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


_GARP_PY = r"""
import socket, struct, sys, time
ifn, ip, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
mac = bytes.fromhex(open(f"/sys/class/net/{ifn}/address").read().strip().replace(":", ""))
ipb = socket.inet_aton(ip)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifn, 0))
for op in [1, 2] * count:
    # gratuitous ARP: request and reply, sender IP == target IP, broadcast
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, mac, ipb,
                      b"\x00" * 6 if op == 1 else b"\xff" * 6, ipb)
    s.send(b"\xff" * 6 + mac + b"\x08\x06" + arp + b"\x00" * 18)
    time.sleep(0.05)
"""


# --------------------------------------------------------------------------
# Lab
# --------------------------------------------------------------------------

class Lab:
    """A containerlab topology instantiated with network namespaces.

    Parameters
    ----------
    topology_path: the .clab.yml file.
    prefix:        namespace prefix; netns are named ``<prefix>-<node>``.
                   Default ``em<pid>`` (plus a counter for a second Lab in the
                   same process).  [a-z][a-z0-9]{0,14}.
    frr_prefix:    install prefix of the patched FRR build (images mapped to
                   "patched").  Default $EVPNMON_FRR_PREFIX or <repo>/build/frr.
    stock_ok:      allow falling back to stock Debian FRR when the patched
                   build is missing, and strip ``-M module`` options whose
                   module does not exist in the chosen binary set (e.g.
                   ``-M evpn_mon`` with stock bgpd).  When False, either
                   situation is an error.
    force_stock:   run every FRR node with stock Debian FRR (implies
                   stripping missing modules).
    image_map:     extra [(fnmatch pattern, "stock"|"patched"|prefix)] tried
                   before DEFAULT_IMAGE_MAP.
    run_base:      run directories go to <run_base>/<prefix>/<node>.
    consumer_bin:  fpm-consumer binary for nodes with env EVPNMON_CONSUMER=1.
    require_extras: if True, a missing consumer binary is an error (default:
                   warn and skip).
    config_mode:   "vtysh" (default): each daemon starts with -f
                   <node dir>/<daemon>.conf (empty at first), the integrated
                   frr.conf is applied with ``vtysh -f`` once all daemons are
                   up, then each daemon's running config is saved to its
                   <daemon>.conf so restart_daemon() brings it back with its
                   config.  "file": every daemon starts with -f frr.conf
                   (integrated file) -- kept only to demonstrate that it is
                   wrong: zebra parses bgpd's ``vni 100`` as an L3 VNI etc.
                   (see docs/lab.md).
    startup_timeout: bound for each daemon's vty socket to appear.
    frr_env:       environment added to every FRR daemon's (after the binary
                   set's own), e.g. TEST_FRR_ENV; kept in the run's state, so
                   that a restarted daemon gets it too.  Its GLIBC_TUNABLES
                   is appended to one already in the environment and to one
                   a daemon's wrap sets (``env GLIBC_TUNABLES=...``), which
                   would replace it otherwise.
    consumer_env:  environment added to the fpm-consumer's (e.g.
                   TEST_CONSUMER_ENV); kept in the run's state too.
    """

    _counter = 0

    def __init__(self, topology_path: str | os.PathLike, prefix: str | None = None,
                 frr_prefix: str | os.PathLike | None = DEFAULT_FRR_PREFIX,
                 stock_ok: bool = True, force_stock: bool = False,
                 image_map: Iterable[tuple[str, str]] | None = None,
                 run_base: str | os.PathLike = DEFAULT_RUN_BASE,
                 consumer_bin: str | os.PathLike | None = None,
                 require_extras: bool = False, config_mode: str = "vtysh",
                 startup_timeout: float = 15.0,
                 frr_env: dict[str, str] | None = None,
                 consumer_env: dict[str, str] | None = None):
        self.topology = load_topology(topology_path)
        if prefix is None:
            Lab._counter += 1
            prefix = f"em{os.getpid()}" + (f"x{Lab._counter - 1}" if Lab._counter > 1 else "")
        if not _PREFIX_RE.match(prefix):
            raise LabError(f"bad prefix {prefix!r} (want [a-z][a-z0-9]{{0,14}})")
        if config_mode not in ("file", "vtysh"):
            raise LabError(f"bad config_mode {config_mode!r}")
        self.prefix = prefix
        self.frr_prefix = Path(frr_prefix) if frr_prefix else None
        self.stock_ok = stock_ok
        self.force_stock = force_stock
        self.image_map = list(image_map or []) + list(DEFAULT_IMAGE_MAP)
        self.run_dir = Path(run_base) / prefix
        self.consumer_bin = Path(consumer_bin) if consumer_bin else None
        self.require_extras = require_extras
        self.config_mode = config_mode
        self.startup_timeout = startup_timeout
        self.frr_env = dict(frr_env or {})
        self.consumer_env = dict(consumer_env or {})
        self.links: list[Link] = [Link(l.a, l.b, l.mtu) for l in self.topology.links]
        self.procs: dict[tuple[str, str], subprocess.Popen | int] = {}
        self.binaries: dict[str, FrrBinaries] = {}
        self.daemon_args: dict[tuple[str, str], list[str]] = {}
        self.created_netns: list[str] = []
        self.skipped: list[str] = []
        self._extras: list[tuple[str, str]] = []
        self.extra_argv: dict[tuple[str, str], list[str]] = {}
        self._owns_run_dir = False
        self._up = False
        self._down_done = False
        self._old_handlers: dict[int, Any] = {}
        self._patched: FrrBinaries | None | bool = False   # False = not resolved yet

    # ---- properties -----------------------------------------------------
    @property
    def nodes(self) -> list[str]:
        return list(self.topology.nodes)

    @property
    def frr_nodes(self) -> list[str]:
        return [n for n, nd in self.topology.nodes.items() if nd.is_frr]

    @property
    def hosts(self) -> list[str]:
        return [n for n, nd in self.topology.nodes.items() if not nd.is_frr]

    def netns(self, node: str) -> str:
        self._node(node)
        return f"{self.prefix}-{node}"

    def node_dir(self, node: str) -> Path:
        return self.run_dir / node

    def _node(self, node: str) -> Node:
        try:
            return self.topology.nodes[node]
        except KeyError:
            raise LabError(f"unknown node {node!r}") from None

    # ---- context manager / signals ------------------------------------------
    def __enter__(self) -> "Lab":
        self._install_signal_handlers()
        try:
            self.up()
        except BaseException:
            self._restore_signal_handlers()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.down()
        finally:
            self._restore_signal_handlers()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, frame):
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + signum)
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                self._old_handlers[s] = signal.signal(s, handler)
            except (ValueError, OSError):
                pass

    def _restore_signal_handlers(self) -> None:
        for s, h in self._old_handlers.items():
            with contextlib.suppress(Exception):
                signal.signal(s, h)
        self._old_handlers.clear()

    # ---- state file (lets `clabns.py down` clean up a crashed run) -----------
    def _save_state(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        st = {
            "prefix": self.prefix, "topology": str(self.topology.path),
            "created_netns": self.created_netns,
            "links": [l.to_json() for l in self.links],
            "procs": {f"{n}/{d}": (p.pid if isinstance(p, subprocess.Popen) else p)
                      for (n, d), p in self.procs.items()},
            "binaries": {n: {"name": b.name, "daemon_dir": str(b.daemon_dir),
                             "vtysh": str(b.vtysh), "env": b.env}
                         for n, b in self.binaries.items()},
            "daemon_args": {f"{n}/{d}": a for (n, d), a in self.daemon_args.items()},
            "extra_argv": {f"{n}/{d}": a for (n, d), a in self.extra_argv.items()},
            "skipped": self.skipped, "config_mode": self.config_mode,
            "frr_env": self.frr_env, "consumer_env": self.consumer_env,
            "started": time.time(),
        }
        tmp = self.run_dir / "state.json.tmp"
        tmp.write_text(json.dumps(st, indent=1))
        tmp.replace(self.run_dir / "state.json")

    @classmethod
    def attach(cls, prefix: str, run_base: str | os.PathLike = DEFAULT_RUN_BASE) -> "Lab":
        """Re-create a Lab object for a run started elsewhere (e.g. `clabns.py up`)."""
        sf = Path(run_base) / prefix / "state.json"
        try:
            st = json.loads(sf.read_text())
        except (OSError, ValueError) as e:
            raise LabError(f"no state for prefix {prefix!r} in {run_base}: {e}") from None
        lab = cls(st["topology"], prefix=prefix, run_base=run_base,
                  config_mode=st.get("config_mode", "vtysh"),
                  frr_env=st.get("frr_env"), consumer_env=st.get("consumer_env"))
        lab.created_netns = st.get("created_netns", [])
        lab.links = []
        for l in st.get("links", []):
            a, b = (tuple(e.split(":", 1)) for e in l["endpoints"])
            lab.links.append(Link(a, b, l.get("mtu")))
        lab.procs = {tuple(k.split("/", 1)): v for k, v in st.get("procs", {}).items()}
        for n, b in st.get("binaries", {}).items():
            lab.binaries[n] = FrrBinaries(b["name"], Path(b["daemon_dir"]), Path(b["vtysh"]),
                                          [], b.get("env", {}))
        lab.daemon_args = {tuple(k.split("/", 1)): v for k, v in st.get("daemon_args", {}).items()}
        lab.extra_argv = {tuple(k.split("/", 1)): v for k, v in st.get("extra_argv", {}).items()}
        lab.skipped = st.get("skipped", [])
        lab._owns_run_dir = True
        lab._up = True
        return lab

    # ---- bring-up ---------------------------------------------------------------
    def up(self) -> "Lab":
        if self._up:
            return self
        if os.geteuid() != 0:
            raise LabError("clabns needs root (network namespaces)")
        t0 = time.monotonic()
        # a Lab can be brought up again after down()
        self._down_done = False
        self.created_netns, self.procs, self.skipped, self._extras = [], {}, [], []
        self.extra_argv = {}
        self.links = [Link(l.a, l.b, l.mtu) for l in self.topology.links]
        # checks before anything is created: a clash must not tear down
        # somebody else's run
        existing = set(_netns_list())
        clash = [self.netns(n) for n in self.nodes if self.netns(n) in existing]
        if clash:
            raise LabError(f"namespaces already exist (prefix in use?): {clash}")
        if self.run_dir.exists():
            raise LabError(f"run dir {self.run_dir} already exists (prefix in use?)")
        self._resolve_binaries()
        atexit.register(self.down)
        try:
            self.run_dir.mkdir(parents=True)
            self._owns_run_dir = True
            self._save_state()
            for n in self.nodes:
                self._create_netns(n)
            self._save_state()
            for l in self.links:
                self._create_veth(l.a, l.b, l.mtu or CLAB_DEFAULT_MTU)
            # exec lines run before the links come up, so a MAC address set
            # by exec is the first one the bridge (and EVPN) ever sees
            for n, nd in self.topology.nodes.items():
                for line in nd.exec:
                    self.exec(n, line, check=True, timeout=SUBPROCESS_TIMEOUT)
            for l in self.links:
                for n, ifn in (l.a, l.b):
                    _run(["ip", "-n", self.netns(n), "link", "set", ifn, "up"])
            for n in self.frr_nodes:
                self._prepare_frr_node(n)
            for n in self.nodes:
                self._start_extras(n)
            # zebra first, everywhere, and wait for its zserv socket: a client
            # daemon that finds no zserv.api retries only after 10 s
            for phase in (["zebra"], [d for d in FRR_DAEMONS if d != "zebra"]):
                started = []
                for n in self.frr_nodes:
                    for d in self._enabled_daemons(n):
                        if d in phase:
                            self.start_daemon(n, d, wait=False)
                            started.append((n, d))
                for n, d in started:
                    self._wait_daemon(n, d)
            if self.config_mode == "vtysh":
                for n in self.frr_nodes:
                    self._apply_config_vtysh(n)
                    self.save_config(n)
            for n, name in self._extras:        # extras that died at once
                p = self.procs.get((n, name))
                if isinstance(p, subprocess.Popen) and p.poll() is not None:
                    msg = (f"{n}/{name} exited rc={p.returncode}: "
                           f"{_tail(self.node_dir(n) / f'{name}.out', 5)}")
                    if self.require_extras:
                        raise LabError(msg)
                    log.warning("%s", msg)
            self._up = True
            self._save_state()
            log.info("lab %s up in %.2fs (%d nodes, %d links)", self.prefix,
                     time.monotonic() - t0, len(self.nodes), len(self.links))
            return self
        except BaseException:
            log.error("bring-up of %s failed; tearing down", self.prefix)
            self.down()
            raise

    def _resolve_binaries(self) -> None:
        for n in self.frr_nodes:
            self.binaries[n] = self._binaries_for(self._node(n))
            log.debug("%s: image %s -> %s (%s)", n, self._node(n).image,
                      self.binaries[n].name, self.binaries[n].daemon_dir)

    def _binaries_for(self, nd: Node) -> FrrBinaries:
        if self.force_stock:
            return FrrBinaries.stock()
        target = "stock"
        for pat, tgt in self.image_map:
            if fnmatch.fnmatch(nd.image, pat):
                target = tgt
                break
        if target == "stock":
            return FrrBinaries.stock()
        if target == "patched":
            if self._patched is False:
                self._patched = (FrrBinaries.from_prefix(self.frr_prefix)
                                 if self.frr_prefix else None)
            if self._patched:
                return self._patched
            if self.stock_ok:
                log.warning("%s: patched FRR not found under %s; using stock Debian FRR",
                            nd.name, self.frr_prefix)
                return FrrBinaries.stock()
            raise LabError(f"{nd.name}: patched FRR not found under {self.frr_prefix} "
                           "(build it or pass stock_ok=True / --stock)")
        b = FrrBinaries.from_prefix(target, name=target)
        if b is None:
            raise LabError(f"{nd.name}: no FRR install under {target}")
        return b

    def _create_netns(self, node: str) -> None:
        ns = self.netns(node)
        self.created_netns.append(ns)      # before creation: down() tolerates absence
        _run(["ip", "netns", "add", ns])
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])

    def _create_veth(self, a: tuple[str, str], b: tuple[str, str], mtu: int) -> None:
        (na, ia), (nb, ib) = a, b
        _run(["ip", "link", "add", ia, "netns", self.netns(na), "mtu", str(mtu), "type", "veth",
              "peer", "name", ib, "netns", self.netns(nb), "mtu", str(mtu)])

    def _enabled_daemons(self, node: str) -> list[str]:
        df = parse_daemons(self._node(node).daemons_file)
        return [d for d in FRR_DAEMONS if df.enabled.get(d)]

    def _prepare_frr_node(self, node: str) -> None:
        nd = self._node(node)
        bins = self.binaries[node]
        d = self.node_dir(node)
        d.mkdir(parents=True, exist_ok=True)
        uid, gid = pwd.getpwnam("frr").pw_uid, grp.getgrnam("frr").gr_gid
        conf = d / "frr.conf"
        if nd.frr_conf and nd.frr_conf.exists():
            shutil.copyfile(nd.frr_conf, conf)
        else:
            conf.write_text(f"hostname {node}\n")
        shutil.copyfile(nd.daemons_file, d / "daemons")
        own = [d, conf, d / "daemons"]
        for daemon in self._enabled_daemons(node):
            (d / f"{daemon}.conf").write_text("")
            own.append(d / f"{daemon}.conf")
        for p in own:
            os.chown(p, uid, gid)
        os.chmod(d, 0o775)
        df = parse_daemons(nd.daemons_file)
        for daemon in self._enabled_daemons(node):
            opts = []
            for mod, toks in _split_modules(_clean_options(df.options.get(daemon, []))):
                if mod and not bins.has_module(mod, daemon):
                    if self.stock_ok or self.force_stock or bins.name == "stock":
                        log.warning("%s/%s: module %s not in %s FRR; stripped",
                                    node, daemon, mod, bins.name)
                        continue
                    raise LabError(f"{node}/{daemon}: module {mod} not found in {bins.name} FRR")
                opts += toks
            cfg = conf if self.config_mode == "file" else d / f"{daemon}.conf"
            self.daemon_args[(node, daemon)] = [
                *df.wrap(daemon), str(bins.daemon(daemon)),
                "-f", str(cfg), "-i", str(d / f"{daemon}.pid"),
                "-z", str(d / "zserv.api"), "--vty_socket", str(d), "-P", "0",
                "--log", f"file:{d / f'{daemon}.log'}", *opts]

    # ---- daemons ----------------------------------------------------------------
    def _ns_prefix(self, node: str) -> list[str]:
        """argv prefix for long-running processes: node's netns plus a private
        UTS namespace whose hostname is the node name (as in a container).
        FRR takes its hostname from uname() at start, and vtysh does not pass
        ``hostname`` on to the daemons.  Every step execs, so the pid of the
        Popen is the pid of the final process."""
        return ["ip", "netns", "exec", self.netns(node), "unshare", "--uts",
                "sh", "-c", 'hostname "$0" && exec "$@"', node]

    def start_daemon(self, node: str, daemon: str, wait: bool = True) -> int:
        """Start one FRR daemon of node (foreground process, tracked). Returns pid."""
        key = (node, daemon)
        if key not in self.daemon_args:
            raise LabError(f"{node}: daemon {daemon} not configured")
        p = self.procs.get(key)
        if p is not None and _pid_alive(p.pid if isinstance(p, subprocess.Popen) else p):
            raise LabError(f"{node}/{daemon} already running")
        d = self.node_dir(node)
        stale = [d / f"{daemon}.vty"] + ([d / "zserv.api"] if daemon == "zebra" else [])
        for f in stale:                     # so _wait_daemon sees the new ones
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
        env = {**os.environ, **self.binaries[node].env}
        env.update(_with_tunables(env, self.frr_env))
        out = open(d / f"{daemon}.out", "ab")
        try:
            proc = subprocess.Popen([*self._ns_prefix(node), *self._daemon_argv(key)],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True, env=env)
        finally:
            out.close()
        self.procs[key] = proc
        self._save_state()
        if wait:
            self._wait_daemon(node, daemon)
        return proc.pid

    def _daemon_argv(self, key: tuple[str, str]) -> list[str]:
        """The daemon's argv, frr_env's tunables added to its wrap's."""
        argv = list(self.daemon_args[key])
        tunables = self.frr_env.get("GLIBC_TUNABLES")
        if tunables:
            binary = str(self.binaries[key[0]].daemon(key[1]))
            if binary not in argv:
                raise LabError(f"{key[0]}/{key[1]}: {binary} not in its argv {argv}")
            for i in range(argv.index(binary)):
                if argv[i].startswith("GLIBC_TUNABLES="):
                    argv[i] += ":" + tunables
        return argv

    def _wait_daemon(self, node: str, daemon: str) -> None:
        d = self.node_dir(node)
        sock = d / f"{daemon}.vty"
        deadline = time.monotonic() + self.startup_timeout
        proc = self.procs[(node, daemon)]
        while time.monotonic() < deadline:
            if isinstance(proc, subprocess.Popen) and proc.poll() is not None:
                raise LabError(f"{node}/{daemon} exited rc={proc.returncode}\n"
                               f"{_tail(d / f'{daemon}.out')}\n{_tail(d / f'{daemon}.log')}")
            if sock.exists() and (daemon != "zebra" or (d / "zserv.api").exists()):
                return
            time.sleep(0.05)
        raise LabError(f"{node}/{daemon}: no vty socket after {self.startup_timeout}s\n"
                       f"{_tail(d / f'{daemon}.log')}")

    def stop_daemon(self, node: str, daemon: str, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after timeout (zebra+FPM can hang on SIGTERM)."""
        p = self.procs.pop((node, daemon), None)
        if p is None:
            return
        self._kill([p], timeout)
        self._save_state()

    @contextlib.contextmanager
    def paused(self, node: str, daemon: str):
        """Freeze one daemon (SIGSTOP) for the duration of the block, then
        SIGCONT it, also when the block raises.  Used to fix the order of two
        events that otherwise race, e.g. the old leaf's withdrawal and the new
        leaf's local learning in a MAC move."""
        p = self.procs.get((node, daemon))
        if p is None:
            raise LabError(f"{node}/{daemon} not running")
        pid = p.pid if isinstance(p, subprocess.Popen) else p
        os.kill(pid, signal.SIGSTOP)
        try:
            yield pid
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def restart_daemon(self, node: str, daemon: str, timeout: float = 10.0,
                       cascade: bool = True) -> int:
        """Stop and start one daemon; it comes back with its saved config.

        Restarting zebra alone leaves EVPN broken in FRR 8.4 (bgpd
        reconnects to the new zebra but does not re-push VNIs, remote MACs
        and VTEPs; zebra flushed them from the kernel on exit), so with
        cascade=True (default) a zebra restart restarts every daemon of the
        node, like watchfrr does.  Returns the new pid of `daemon`.
        """
        if (node, daemon) in self.extra_argv:         # e.g. the fpm-consumer
            self.stop_daemon(node, daemon, timeout)
            return self.spawn(node, self.extra_argv[(node, daemon)], name=daemon,
                              env=self.consumer_env).pid
        if daemon == "zebra" and cascade:
            others = [d for d in self._enabled_daemons(node) if d != "zebra"]
            for d in reversed(others):
                self.stop_daemon(node, d, timeout)
            self.stop_daemon(node, "zebra", timeout)
            pid = self.start_daemon(node, "zebra", wait=True)
            for d in others:
                self.start_daemon(node, d, wait=True)
            return pid
        self.stop_daemon(node, daemon, timeout)
        return self.start_daemon(node, daemon, wait=True)

    def daemon_running(self, node: str, daemon: str) -> bool:
        p = self.procs.get((node, daemon))
        if p is None:
            return False
        return _pid_alive(p.pid if isinstance(p, subprocess.Popen) else p)

    def _apply_config_vtysh(self, node: str) -> None:
        bins = self.binaries[node]
        cp = _run([str(bins.vtysh), "--vty_socket", str(self.node_dir(node)), "-f",
                   str(self.node_dir(node) / "frr.conf")], check=False,
                  env={**os.environ, **bins.env})
        (self.node_dir(node) / "vtysh-apply.out").write_text(cp.stdout + cp.stderr)
        if cp.returncode != 0:
            raise LabError(f"{node}: vtysh -f frr.conf failed rc={cp.returncode}:\n"
                           f"{cp.stdout.strip()}\n{cp.stderr.strip()}")

    def save_config(self, node: str) -> None:
        """Save each daemon's running config to <node dir>/<daemon>.conf.

        Done once after bring-up; call it again after changing the config
        with vtysh if a later restart_daemon() must keep the change.
        """
        uid, gid = pwd.getpwnam("frr").pw_uid, grp.getgrnam("frr").gr_gid
        for daemon in self._enabled_daemons(node):
            out = self.vtysh(node, "show running-config", daemon=daemon)
            lines = out.splitlines()
            while lines and not lines[0].startswith(("!", "frr ")):
                lines.pop(0)          # "Building configuration...", "Current configuration:"
            # vtysh adds its own part (hostname of the root UTS namespace)
            lines = [l for l in lines if not (l.startswith("hostname ") and l != f"hostname {node}")]
            f = self.node_dir(node) / f"{daemon}.conf"
            f.write_text("\n".join(lines) + "\n")
            os.chown(f, uid, gid)

    # ---- extra processes (env convention, see docs/lab.md) ----------------------
    def _consumer_path(self) -> Path | None:
        if self.consumer_bin:
            return self.consumer_bin if self.consumer_bin.exists() else None
        for c in DEFAULT_CONSUMER_CANDIDATES:
            if (REPO_ROOT / c).exists():
                return REPO_ROOT / c
        return None

    def _start_extras(self, node: str) -> None:
        nd = self._node(node)
        env = {**nd.env, **{k.upper().replace(".", "_"): v for k, v in nd.labels.items()}}
        if env.get("EVPNMON_CONSUMER", "").lower() in ("1", "true", "yes"):
            if node in self.binaries and self.binaries[node].name == "stock":
                # the consumer belongs to the patched image (the stock image has none)
                log.info("%s: runs stock FRR; fpm-consumer not started", node)
                self.skipped.append(f"{node}/fpm-consumer (stock FRR)")
                return
            cmd = self._subst(node, env.get("EVPNMON_CONSUMER_CMD", ""))
            if cmd:
                argv = shlex.split(cmd)
            else:
                b = self._consumer_path()
                if b is None:
                    msg = f"{node}: EVPNMON_CONSUMER set but no fpm-consumer binary found"
                    if self.require_extras:
                        raise LabError(msg)
                    log.warning("%s; skipped", msg)
                    self.skipped.append(f"{node}/fpm-consumer")
                    return
                argv = [str(b)] + shlex.split(
                    self._subst(node, env.get("EVPNMON_CONSUMER_ARGS", "")))
            self.extra_argv[(node, "fpm-consumer")] = argv
            self.spawn(node, argv, name="fpm-consumer", env=self.consumer_env)
            self._extras.append((node, "fpm-consumer"))

    def _subst(self, node: str, s: str) -> str:
        """Placeholders of EVPNMON_CONSUMER_ARGS/_CMD: @RUNDIR@ (the node's FRR
        state dir), @NODE@ (node name), @BPFDIR@ (a private bpffs instance
        mounted at <node dir>/bpffs: bpffs is shared by all network
        namespaces, so each leaf's consumer needs its own pin directory, and
        a mount of our own disappears with the lab; the entrypoint uses
        /sys/fs/bpf, private to the container)."""
        if "@BPFDIR@" in s:
            s = s.replace("@BPFDIR@", str(self._bpffs(node)))
        return s.replace("@RUNDIR@", str(self.node_dir(node))).replace("@NODE@", node)

    def _bpffs(self, node: str) -> Path:
        d = self.node_dir(node) / "bpffs"
        if not os.path.ismount(d):
            d.mkdir(parents=True, exist_ok=True)
            _run(["mount", "-t", "bpf", "-o", "mode=0700", "bpf", str(d)])
        return d

    def _mounts_in_run_dir(self) -> list[str]:
        out = []
        with contextlib.suppress(OSError):
            for line in Path("/proc/self/mounts").read_text().splitlines():
                mp = line.split()[1].encode().decode("unicode_escape")
                if mp.startswith(str(self.run_dir) + "/"):
                    out.append(mp)
        return sorted(out, key=len, reverse=True)

    def spawn(self, node: str, argv: list[str] | str, name: str,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a tracked background process in node's netns.

        Output goes to <run_dir>/<node>/<name>.out.  It is killed by
        kill_process(node, name) or at teardown.
        """
        if (node, name) in self.procs and self.daemon_running(node, name):
            raise LabError(f"{node}/{name} already running")
        if isinstance(argv, str):
            argv = ["sh", "-c", argv]
        d = self.node_dir(node)
        d.mkdir(parents=True, exist_ok=True)
        out = open(d / f"{name}.out", "ab")
        try:
            proc = subprocess.Popen([*self._ns_prefix(node), *argv],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                    start_new_session=True,
                                    env={**os.environ, **(env or {})})
        finally:
            out.close()
        self.procs[(node, name)] = proc
        self._save_state()
        return proc

    def kill_process(self, node: str, name: str, timeout: float = 5.0) -> None:
        self.stop_daemon(node, name, timeout)

    # ---- running things ---------------------------------------------------------
    def exec(self, node: str, cmd: str | list[str], check: bool = True,
             timeout: float = SUBPROCESS_TIMEOUT, input: str | None = None
             ) -> subprocess.CompletedProcess:
        """Run cmd in node's netns (a string goes through ``sh -c``).

        Returns CompletedProcess (text stdout/stderr).  check=True raises
        LabError on a non-zero exit; a timeout always raises LabError.
        """
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return _run(["ip", "netns", "exec", self.netns(node), *argv], check=check,
                    timeout=timeout, input=input)

    def vtysh(self, node: str, cmd: str | list[str], timeout: float = SUBPROCESS_TIMEOUT,
              check: bool = True, daemon: str | None = None) -> str:
        """Run vtysh command(s) on node; a list becomes several -c in one session.

        daemon: talk to that daemon only (vtysh -d).
        """
        if node not in self.binaries:
            raise LabError(f"{node} is not an FRR node")
        bins = self.binaries[node]
        cmds = [cmd] if isinstance(cmd, str) else list(cmd)
        argv = [str(bins.vtysh), "--vty_socket", str(self.node_dir(node))]
        if daemon:
            argv += ["-d", daemon]
        for c in cmds:
            argv += ["-c", c]
        cp = _run(argv, check=False, timeout=timeout, env={**os.environ, **bins.env})
        if check and cp.returncode != 0:
            raise LabError(f"{node}: vtysh {cmds!r} failed rc={cp.returncode}: "
                           f"{cp.stdout.strip()} {cp.stderr.strip()}")
        return cp.stdout

    def vtysh_json(self, node: str, cmd: str, timeout: float = SUBPROCESS_TIMEOUT) -> Any:
        if not cmd.rstrip().endswith(" json"):
            cmd = cmd.rstrip() + " json"
        out = self.vtysh(node, cmd, timeout=timeout)
        try:
            return json.loads(out) if out.strip() else {}
        except ValueError as e:
            raise LabError(f"{node}: {cmd!r} returned non-JSON: {out[:300]!r}") from e

    def configure(self, node: str, lines: str | list[str]) -> str:
        """Apply configuration lines (``configure terminal`` is added)."""
        if isinstance(lines, str):
            lines = [l for l in lines.splitlines() if l.strip()]
        return self.vtysh(node, ["configure terminal", *lines])

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 30.0, what: str = "",
                 interval: float = 0.2) -> Any:
        """Poll predicate until it returns a truthy value (returned).

        Exceptions raised by predicate count as 'not yet'.  Raises LabTimeout
        naming `what` and the last value/exception.
        """
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                v = predicate()
                if v:
                    return v
                last = v
            except (LabError, OSError, ValueError, KeyError, TypeError) as e:
                last = e
            if time.monotonic() >= deadline:
                raise LabTimeout(f"timed out after {timeout}s waiting for "
                                 f"{what or predicate!r}; last: {last!r}")
            time.sleep(interval)

    def bgp_neighbors(self, node: str) -> dict[str, str]:
        """{neighbor address: state} from ``show bgp neighbors json``."""
        j = self.vtysh_json(node, "show bgp neighbors json")
        return {k: v.get("bgpState", "?") for k, v in j.items() if isinstance(v, dict)}

    def bgp_established(self, node: str) -> bool:
        """True if node has at least one BGP neighbour and all are Established."""
        st = self.bgp_neighbors(node)
        return bool(st) and all(s == "Established" for s in st.values())

    def ping(self, node: str, dst: str, count: int = 1, wait: float = 1.0) -> bool:
        cp = self.exec(node, ["ping", "-n", "-q", "-c", str(count), "-W", str(wait), dst],
                       check=False, timeout=count * (wait + 1) + 5)
        return cp.returncode == 0

    def garp(self, node: str, ifname: str, ip: str | None = None, count: int = 2) -> None:
        """Send gratuitous ARP (request + reply) for ip (default: first IPv4 of ifname)."""
        if ip is None:
            j = json.loads(_run(["ip", "-n", self.netns(node), "-j", "-4", "addr", "show",
                                 "dev", ifname]).stdout)
            addrs = [a["local"] for e in j for a in e.get("addr_info", [])]
            if not addrs:
                raise LabError(f"{node}/{ifname}: no IPv4 address for gratuitous ARP")
            ip = addrs[0]
        self.exec(node, ["/usr/bin/python3", "-c", _GARP_PY, ifname, ip, str(count)])

    def link_of(self, node: str, peer: str) -> Link:
        for l in self.links:
            if {l.a[0], l.b[0]} == {node, peer} and node != peer:
                return l
        raise LabError(f"no link between {node} and {peer}")

    def move_link(self, host: str, from_node: str, to_node: str, bridge: str = "br100",
                  to_ifname: str | None = None, garp: bool = True) -> str:
        """Move host's link from from_node to to_node's bridge.

        Deletes the veth, creates a new pair (same interface name, MAC, MTU
        and addresses on the host side; next free ethN on to_node unless
        to_ifname is given), enslaves it to `bridge`, brings both ends up and
        sends a gratuitous ARP from the host.  Returns to_node's interface.
        """
        link = self.link_of(host, from_node)
        h_if = link.iface(host)
        hns, tns = self.netns(host), self.netns(to_node)
        info = json.loads(_run(["ip", "-n", hns, "-j", "addr", "show", "dev", h_if]).stdout)[0]
        mac, mtu = info["address"], info["mtu"]
        addrs = [f"{a['local']}/{a['prefixlen']}" for a in info.get("addr_info", [])
                 if not (a["family"] == "inet6" and a.get("scope") == "link")]
        if to_ifname is None:
            used = {l.iface(to_node) for l in self.links if to_node in (l.a[0], l.b[0])}
            used |= {e["ifname"] for e in json.loads(
                _run(["ip", "-n", tns, "-j", "link", "show"]).stdout)}
            i = 1
            while f"eth{i}" in used:
                i += 1
            to_ifname = f"eth{i}"
        _run(["ip", "-n", hns, "link", "del", h_if])
        self.links.remove(link)
        self._save_state()
        _run(["ip", "link", "add", h_if, "netns", hns, "mtu", str(mtu), "address", mac,
              "type", "veth", "peer", "name", to_ifname, "netns", tns, "mtu", str(mtu)])
        new = Link((to_node, to_ifname), (host, h_if), link.mtu)
        self.links.append(new)
        self._save_state()
        for a in addrs:
            _run(["ip", "-n", hns, "addr", "add", a, "dev", h_if])
        _run(["ip", "-n", tns, "link", "set", to_ifname, "master", bridge])
        _run(["ip", "-n", tns, "link", "set", to_ifname, "up"])
        _run(["ip", "-n", hns, "link", "set", h_if, "up"])
        if garp:
            self.wait_for(lambda: json.loads(_run(
                ["ip", "-n", hns, "-j", "link", "show", h_if]).stdout)[0]["operstate"] == "UP",
                timeout=5, what=f"{host}/{h_if} up", interval=0.05)
            self.garp(host, h_if)
        log.info("moved %s:%s from %s to %s:%s", host, h_if, from_node, to_node, to_ifname)
        return to_ifname

    def status(self) -> dict:
        existing = set(_netns_list())
        out: dict[str, Any] = {"prefix": self.prefix, "topology": str(self.topology.path),
                               "run_dir": str(self.run_dir), "nodes": {}, "skipped": self.skipped}
        for n in self.nodes:
            e: dict[str, Any] = {"netns": self.netns(n),
                                 "netns_exists": self.netns(n) in existing}
            procs = {d: (p.pid if isinstance(p, subprocess.Popen) else p)
                     for (nn, d), p in self.procs.items() if nn == n}
            e["processes"] = {d: {"pid": pid, "alive": _pid_alive(pid)}
                              for d, pid in procs.items()}
            if n in self.binaries:
                e["frr"] = self.binaries[n].name
                if e["netns_exists"]:
                    with contextlib.suppress(LabError):
                        e["bgp"] = self.bgp_neighbors(n)
            out["nodes"][n] = e
        out["links"] = [l.to_json()["endpoints"] for l in self.links]
        return out

    # ---- teardown ---------------------------------------------------------------
    def _kill(self, procs: list, timeout: float) -> None:
        pids = []
        for p in procs:
            pid = p.pid if isinstance(p, subprocess.Popen) else int(p)
            if _pid_alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
            pids.append(pid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_pid_alive(x) for x in pids):
            for p in procs:
                if isinstance(p, subprocess.Popen):
                    p.poll()
            time.sleep(0.05)
        for pid in pids:
            if _pid_alive(pid):
                name = "?"
                with contextlib.suppress(OSError):
                    name = Path(f"/proc/{pid}/comm").read_text().strip()
                log.warning("pid %d (%s) ignored SIGTERM for %.0fs; SIGKILL", pid, name, timeout)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        for p in procs:
            if isinstance(p, subprocess.Popen):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=2)

    def _pids_using_run_dir(self) -> list[int]:
        needle = (str(self.run_dir) + "/").encode()
        out = []
        for e in os.listdir("/proc"):
            if not e.isdigit() or int(e) == os.getpid():
                continue
            try:
                with open(f"/proc/{e}/cmdline", "rb") as f:
                    if needle in f.read():
                        out.append(int(e))
            except OSError:
                pass
        return [p for p in out if _pid_alive(p)]

    def down(self) -> None:
        """Tear everything down; idempotent, never raises for missing pieces."""
        if self._down_done:
            return
        blocked = {}
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                with contextlib.suppress(Exception):
                    blocked[s] = signal.signal(s, signal.SIG_IGN)
        try:
            t0 = time.monotonic()
            existing = set(_netns_list())
            ours = [ns for ns in dict.fromkeys(self.created_netns) if ns in existing]
            # 1. processes we tracked, 2. anything else living in our namespaces
            # in phases: zebra's clients, then zebra, then the rest (the
            # fpm-consumer, spawned processes).  SIGTERM to all at once made
            # zebra with dplane_fpm_nl hang in its shutdown most of the time
            # (then SIGKILL after 5 s); in this order it exits at once.
            phases = ([p for (n, d), p in self.procs.items() if d in FRR_DAEMONS and d != "zebra"],
                      [p for (n, d), p in self.procs.items() if d == "zebra"],
                      [p for (n, d), p in self.procs.items() if d not in FRR_DAEMONS])
            # The patience grows with the phase: a leaf's bgpd with 10,000
            # sessions stops in 0.15 s alone, but 32 leaves' bgpds stopping
            # at once, each withdrawing 10,000 MACs from a zebra that still
            # runs, took more than 5 s on 2 cores (16.5 s allowed there).
            for procs in phases:
                self._kill(procs, timeout=max(5.0, 0.25 * len(procs)))
            self.procs.clear()
            for _ in range(3):
                stray = [pid for ns in ours for pid in _netns_pids(ns)]
                # processes whose netns vanished (deleted by someone else) are
                # still recognisable by our unique run dir on their command line
                if self._owns_run_dir:
                    stray += [p for p in self._pids_using_run_dir() if p not in stray]
                if not stray:
                    break
                self._kill(stray, timeout=3.0)
            for mp in self._mounts_in_run_dir():    # private bpffs of consumers
                cp = _run(["umount", "-l", mp], check=False, timeout=10)
                if cp.returncode != 0:
                    log.error("cannot unmount %s: %s", mp, cp.stderr.strip())
            for ns in ours:
                cp = _run(["ip", "netns", "del", ns], check=False, timeout=10)
                if cp.returncode != 0:
                    log.error("cannot delete netns %s: %s", ns, cp.stderr.strip())
            if self._owns_run_dir and self.run_dir.exists():
                shutil.rmtree(self.run_dir, ignore_errors=True)
            self._owns_run_dir = False
            self._down_done = True
            self._up = False
            with contextlib.suppress(Exception):
                atexit.unregister(self.down)
            log.info("lab %s down in %.2fs", self.prefix, time.monotonic() - t0)
        finally:
            for s, h in blocked.items():
                with contextlib.suppress(Exception):
                    signal.signal(s, h)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def _runs(run_base: Path, topology: str | None) -> list[str]:
    out = []
    if not run_base.is_dir():
        return out
    want = str(Path(topology).resolve()) if topology else None
    for d in sorted(run_base.iterdir()):
        sf = d / "state.json"
        if not sf.exists():
            continue
        try:
            st = json.loads(sf.read_text())
        except ValueError:
            continue
        if want is None or st.get("topology") == want:
            out.append(d.name)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="clabns.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--run-base", default=str(DEFAULT_RUN_BASE))
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("up", help="instantiate a topology (stays up until `down`)")
    p.add_argument("topology")
    p.add_argument("--prefix", help="netns prefix (default em<pid>)")
    p.add_argument("--frr-prefix", default=str(DEFAULT_FRR_PREFIX),
                   help="install prefix of the patched FRR build")
    p.add_argument("--stock", action="store_true", help="stock Debian FRR for every node")
    p.add_argument("--no-stock-fallback", action="store_true",
                   help="fail instead of falling back to stock FRR / stripping modules")
    p.add_argument("--image-map", action="append", default=[], metavar="PATTERN=TARGET",
                   help="map image (fnmatch) to stock|patched|<prefix>; repeatable")
    p.add_argument("--consumer-bin", help="fpm-consumer binary (EVPNMON_CONSUMER=1 nodes)")
    p.add_argument("--frr-env", action="append", default=[], metavar="NAME=VALUE",
                   help="environment of every FRR daemon (repeatable; Lab's frr_env)")
    p.add_argument("--consumer-env", action="append", default=[], metavar="NAME=VALUE",
                   help="environment of the fpm-consumer (repeatable; Lab's consumer_env)")
    p.add_argument("--config-mode", choices=("vtysh", "file"), default="vtysh",
                   help="how frr.conf reaches the daemons (see docs/lab.md)")
    p.add_argument("--wait-bgp", type=float, default=0,
                   help="wait up to N s for BGP Established on all FRR nodes")

    p = sub.add_parser("down", help="tear down runs (by prefix, topology, or --all)")
    p.add_argument("topology", nargs="?")
    p.add_argument("--prefix")
    p.add_argument("--all", action="store_true")

    p = sub.add_parser("status", help="show runs")
    p.add_argument("topology", nargs="?")
    p.add_argument("--prefix")
    p.add_argument("--json", action="store_true")

    for name in ("exec", "vtysh"):
        p = sub.add_parser(name, help=f"{name} on a node of a running lab")
        p.add_argument("--prefix", required=True)
        p.add_argument("node")
        p.add_argument("command", nargs=argparse.REMAINDER)

    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if a.verbose else logging.INFO,
                        format="clabns: %(levelname)s %(message)s")
    run_base = Path(a.run_base)

    if a.cmd == "up":
        imap = []
        for m in a.image_map:
            pat, _, tgt = m.partition("=")
            imap.append((pat, tgt))
        lab = Lab(a.topology, prefix=a.prefix, frr_prefix=a.frr_prefix,
                  stock_ok=not a.no_stock_fallback, force_stock=a.stock, image_map=imap,
                  run_base=run_base, consumer_bin=a.consumer_bin, config_mode=a.config_mode,
                  frr_env=dict(e.split("=", 1) for e in a.frr_env),
                  consumer_env=dict(e.split("=", 1) for e in a.consumer_env))
        lab._install_signal_handlers()   # Ctrl-C during bring-up still cleans up
        lab.up()
        try:
            if a.wait_bgp:
                lab.wait_for(lambda: all(lab.bgp_established(n) for n in lab.frr_nodes),
                             timeout=a.wait_bgp, what="BGP Established on all FRR nodes")
        except BaseException:
            lab.down()
            raise
        atexit.unregister(lab.down)      # the lab outlives this process
        lab._restore_signal_handlers()
        print(lab.prefix)
        print(f"down with: {sys.argv[0]} down --prefix {lab.prefix}", file=sys.stderr)
        return 0

    if a.cmd == "down":
        if a.prefix:
            prefixes = [a.prefix]
        elif a.topology or a.all:
            prefixes = _runs(run_base, None if a.all else a.topology)
        else:
            ap.error("down: give TOPOLOGY, --prefix or --all")
        rc = 0
        for pf in prefixes:
            try:
                Lab.attach(pf, run_base).down()
                print(f"down: {pf}")
            except LabError as e:
                print(f"down: {pf}: {e}", file=sys.stderr)
                rc = 1
        return rc

    if a.cmd == "status":
        prefixes = [a.prefix] if a.prefix else _runs(run_base, a.topology)
        res = {}
        for pf in prefixes:
            try:
                res[pf] = Lab.attach(pf, run_base).status()
            except LabError as e:
                res[pf] = {"error": str(e)}
        if a.json:
            print(json.dumps(res, indent=1))
            return 0
        if not res:
            print("no runs")
        for pf, st in res.items():
            if "error" in st:
                print(f"{pf}: {st['error']}")
                continue
            print(f"{pf}: {st['topology']}  (run dir {st['run_dir']})")
            for n, e in st["nodes"].items():
                procs = " ".join(f"{d}:{'up' if v['alive'] else 'DEAD'}"
                                 for d, v in e["processes"].items())
                bgp = ""
                if "bgp" in e:
                    bgp = " bgp " + ",".join(f"{k}={v}" for k, v in e["bgp"].items())
                ns = "" if e["netns_exists"] else " (netns missing)"
                print(f"  {n:10s} {e['netns']}{ns} {e.get('frr', 'host')} {procs}{bgp}")
            if st["skipped"]:
                print(f"  skipped: {', '.join(st['skipped'])}")
        return 0

    if a.cmd in ("exec", "vtysh"):
        lab = Lab.attach(a.prefix, run_base)
        cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
        if a.cmd == "exec":
            cp = lab.exec(a.node, cmd if len(cmd) > 1 else (cmd[0] if cmd else "sh"),
                          check=False, timeout=300)
            sys.stdout.write(cp.stdout)
            sys.stderr.write(cp.stderr)
            return cp.returncode
        sys.stdout.write(lab.vtysh(a.node, " ".join(cmd), check=False))
        return 0
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LabError as e:
        print(f"clabns: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
