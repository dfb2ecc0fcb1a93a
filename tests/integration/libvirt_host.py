"""A second libvirt "host" on this machine: its own network namespace and its
own libvirtd + virtlogd, reached at ``qemu+tcp://<address>/system``.

``SecondLibvirtHost().start()``:

- ``ip netns add <prefix>`` and a veth pair between the root namespace
  (``<prefix>r``, ``10.x.y.1/30``) and the new one (``<prefix>n``,
  ``10.x.y.2/30``), the /30 picked so that no address or route of this host
  overlaps it;
- a private copy of ``/etc/libvirt`` (without ``qemu/``: the root
  daemon's persistent domains and networks stay its own) with ``libvirtd.conf`` listening on TCP
  (``auth_tcp = "none"``) on the namespace's address only and a
  ``host_uuid`` of its own (two daemons with the machine's UUID refuse to
  migrate: "Attempt to migrate guest to the same host");
- inside the namespace, ``unshare --mount --propagation private`` and
  private bind mounts over ``/run/libvirt``, ``/var/lib/libvirt``,
  ``/var/log/libvirt``, ``/var/cache/libvirt`` and ``/etc/libvirt`` (only
  libvirt's own directories: ``/var/lib/novalite-tests`` and everything else
  is the same file system both daemons see), then ``virtlogd`` (pid file
  of its own: the root one holds ``/run/virtlogd.pid``) and ``libvirtd
  --listen`` in the foreground.

``stop()`` destroys and undefines every domain of the second daemon, kills
its QEMUs, virtlogd and libvirtd (the mount namespace and its bind mounts
die with its last process), deletes the veth pair and the namespace and
removes the files. Names carry a per-run prefix, so other engineers'
objects are never touched.

``extra_bridge(name, cidr, gateway)`` makes a Linux bridge with that name
and gateway address inside the namespace: a guest that migrates there finds
the bridge its NIC names (the namespace is isolated, so the same subnet as a
root-namespace bridge does not clash); ``run_in_ns(...)`` runs a command in
the namespace (e.g. to reach the guest there).

Used by tests/integration/test_real_live_migration.py.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import libvirt
from oslo_concurrency import processutils

TEST_ROOT = "/var/lib/novalite-tests"
# NOTE: libvirt's own directories only: the instances paths under TEST_ROOT
# stay shared between the two daemons (and with the compute services).
PRIVATE_DIRS = {"run": "/run/libvirt", "lib": "/var/lib/libvirt", "log": "/var/log/libvirt",
                "cache": "/var/cache/libvirt", "etc": "/etc/libvirt"}
START_TIMEOUT = 60.0


class LibvirtHostError(Exception):
    pass


def _ip(*args: str) -> str:
    out, _err = processutils.execute("ip", *args)
    return str(out)


def _free_slash30() -> ipaddress.IPv4Network:
    """A 10.x.y.z/30 that no address or route of this host overlaps."""
    out = _ip("-o", "-4", "route", "show", "table", "all") + _ip("-o", "-4", "addr")
    used = []
    for word in out.split():
        with contextlib.suppress(ValueError):
            used.append(ipaddress.ip_network(word, strict=False))
    rng = random.Random()
    for _ in range(500):
        net = ipaddress.ip_network(
            f"10.{rng.randint(100, 250)}.{rng.randint(0, 255)}.{rng.randrange(0, 256, 4)}/30")
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            return net  # type: ignore[return-value]
    raise LibvirtHostError("no free 10.x.y.z/30 on this host")


class SecondLibvirtHost:
    def __init__(self, label: str = "lvhost") -> None:
        tag = uuid.uuid4().hex[:6]
        # NOTE: interface names are at most 15 characters.
        self.prefix = f"nlh{tag}"
        self.netns = self.prefix
        self.veth_root = f"{self.prefix}r"
        self.veth_ns = f"{self.prefix}n"
        self.label = label
        self.base = ""
        self.net = ipaddress.ip_network("10.0.0.0/30")
        self.root_addr = ""
        self.address = ""
        self.host_uuid = str(uuid.uuid4())
        self.proc: subprocess.Popen[bytes] | None = None
        self.bridges: list[str] = []
        self._made_netns = False
        self._made_veth = False

    @property
    def uri(self) -> str:
        return f"qemu+tcp://{self.address}/system"

    @property
    def log_path(self) -> str:
        return os.path.join(self.base, "libvirtd.log")

    def path(self, name: str) -> str:
        return os.path.join(self.base, name)

    # -- life cycle --------------------------------------------------------------

    def start(self) -> SecondLibvirtHost:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        os.makedirs(TEST_ROOT, mode=0o755, exist_ok=True)
        self.base = tempfile.mkdtemp(prefix=f"{self.label}-{self.prefix}-", dir=TEST_ROOT)
        os.chmod(self.base, 0o755)
        for name, real in PRIVATE_DIRS.items():
            if name == "etc":
                # NOTE: without qemu/: the root daemon's persistent domains
                # and networks (other engineers' too) live there.
                shutil.copytree(real, self.path(name), symlinks=True,
                                ignore=lambda d, _n, top=real: ["qemu"] if d == top else [])
                os.makedirs(os.path.join(self.path(name), "qemu"), mode=0o755)
            else:
                os.makedirs(self.path(name), mode=0o755)
                st = os.stat(real)
                os.chmod(self.path(name), st.st_mode & 0o7777)
        self.net = _free_slash30()
        hosts = list(self.net.hosts())
        self.root_addr, self.address = str(hosts[0]), str(hosts[1])
        with open(os.path.join(self.path("etc"), "libvirtd.conf"), "w") as f:
            f.write(self._libvirtd_conf())
        _ip("netns", "add", self.netns)
        self._made_netns = True
        _ip("link", "add", self.veth_root, "type", "veth", "peer", "name", self.veth_ns)
        self._made_veth = True
        _ip("link", "set", self.veth_ns, "netns", self.netns)
        _ip("addr", "add", f"{self.root_addr}/30", "dev", self.veth_root)
        _ip("link", "set", self.veth_root, "up")
        self.ns_ip("addr", "add", f"{self.address}/30", "dev", self.veth_ns)
        self.ns_ip("link", "set", self.veth_ns, "up")
        self.ns_ip("link", "set", "lo", "up")
        mounts = " && ".join(f"mount --bind {shlex.quote(self.path(name))} {shlex.quote(real)}"
                             for name, real in PRIVATE_DIRS.items())
        script = (f"{mounts} && virtlogd -d -p {shlex.quote(self.path('virtlogd.pid'))} && "
                  f"exec libvirtd --listen -p {shlex.quote(self.path('libvirtd.pid'))}")
        with open(self.path("libvirtd.out"), "wb") as out:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.netns, "unshare", "--mount", "--propagation",
                 "private", "sh", "-c", script],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self._wait_ready()

    def _libvirtd_conf(self) -> str:
        return "\n".join([
            "listen_tls = 0",
            "listen_tcp = 1",
            f'listen_addr = "{self.address}"',
            'auth_tcp = "none"',
            f'host_uuid = "{self.host_uuid}"',
            f'log_outputs = "3:file:{self.log_path}"',
            "",
        ])

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise LibvirtHostError(
                    f"the second libvirtd exited with {self.proc.returncode}: "
                    f"{self._output()}")
            try:
                libvirt.open(self.uri).close()
                return
            except libvirt.libvirtError as e:
                if time.monotonic() > deadline:
                    raise LibvirtHostError(
                        f"the second libvirtd did not answer at {self.uri} within "
                        f"{START_TIMEOUT:.0f}s: {e}; {self._output()}") from e
            time.sleep(0.3)

    def _output(self) -> str:
        with contextlib.suppress(OSError), open(self.path("libvirtd.out"), "rb") as f:
            return f.read()[-2000:].decode("utf-8", "replace")
        return ""

    def connect(self) -> libvirt.virConnect:
        return libvirt.open(self.uri)

    def ns_ip(self, *args: str) -> str:
        out, _err = processutils.execute("ip", "-n", self.netns, *args)
        return str(out)

    def run_in_ns(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.netns, *argv], capture_output=True,
                              text=True, timeout=timeout, check=False)

    def extra_bridge(self, name: str, cidr: str, gateway: str) -> None:
        prefixlen = ipaddress.ip_network(cidr).prefixlen
        self.ns_ip("link", "add", name, "type", "bridge", "stp_state", "0",
                   "forward_delay", "0")
        self.bridges.append(name)
        self.ns_ip("addr", "add", f"{gateway}/{prefixlen}", "dev", name)
        self.ns_ip("link", "set", name, "up")

    def domains(self) -> list[str]:
        conn = self.connect()
        try:
            return sorted(d.name() for d in conn.listAllDomains(0))
        finally:
            conn.close()

    def stop(self) -> list[str]:
        """Tear everything down; returns what was left behind (domains)."""
        problems: list[str] = []
        if self.proc is not None and self.proc.poll() is None:
            try:
                conn = self.connect()
            except libvirt.libvirtError as e:
                problems.append(f"the second libvirtd did not answer at stop: {e}")
            else:
                try:
                    for dom in conn.listAllDomains(0):
                        problems.append(f"domain left in the second libvirtd: {dom.name()}")
                        with contextlib.suppress(libvirt.libvirtError):
                            dom.destroy()
                        with contextlib.suppress(libvirt.libvirtError):
                            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
                finally:
                    conn.close()
        if self.base:
            self._kill_qemus()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=15)
            self.proc = None
        if self.base:
            self._kill_pidfile(self.path("virtlogd.pid"))
        if self._made_veth:
            with contextlib.suppress(processutils.ProcessExecutionError):
                _ip("link", "del", self.veth_root)
            self._made_veth = False
        if self._made_netns:
            with contextlib.suppress(processutils.ProcessExecutionError):
                _ip("netns", "del", self.netns)
            self._made_netns = False
        if self.base:
            shutil.rmtree(self.base, ignore_errors=True)
        return problems

    def _kill_qemus(self) -> None:
        qemu_run = os.path.join(self.path("run"), "qemu")
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(qemu_run):
                if name.endswith(".pid"):
                    self._kill_pidfile(os.path.join(qemu_run, name))

    @staticmethod
    def _kill_pidfile(path: str) -> None:
        try:
            with open(path) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
