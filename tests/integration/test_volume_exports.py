"""Real NBD exports by qemu-storage-daemon (novalite/volume/exports.py).

Files under /var/lib/novalite-tests, a network namespace with a veth pair
of the test's own (the "other client"), nftables tables with a per-run
prefix; qemu-io / qemu-img as the NBD clients. Everything is removed at the
end and the test fails if a daemon or a table is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator

import pytest
from oslo_concurrency import processutils

from novalite.volume.exports import ExportError, Exports
from tests.integration.libvirt_host import TEST_ROOT, _free_slash30

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MiB = 1024 * 1024
# NOTE: the clients' deadline where a filter drops their SYN (they would
# wait for the kernel's connect timeout).
REFUSED_TIMEOUT = 5


class Net:
    """A namespace behind a veth: the root side ``a`` is where the exports
    listen, ``b`` is the namespace's address (another client host)."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.ns = f"nve{tag}"
        self.veth = f"nve{tag}r"
        net = _free_slash30()
        hosts = list(net.hosts())
        self.a, self.b = str(hosts[0]), str(hosts[1])

    def start(self) -> None:
        _run("ip", "netns", "add", self.ns)
        _run("ip", "link", "add", self.veth, "type", "veth", "peer", "name", self.ns + "n")
        _run("ip", "link", "set", self.ns + "n", "netns", self.ns)
        _run("ip", "addr", "add", f"{self.a}/30", "dev", self.veth)
        _run("ip", "link", "set", self.veth, "up")
        _run("ip", "-n", self.ns, "addr", "add", f"{self.b}/30", "dev", self.ns + "n")
        _run("ip", "-n", self.ns, "link", "set", self.ns + "n", "up")
        _run("ip", "-n", self.ns, "link", "set", "lo", "up")

    def stop(self) -> None:
        with contextlib.suppress(processutils.ProcessExecutionError):
            _run("ip", "link", "del", self.veth)
        with contextlib.suppress(processutils.ProcessExecutionError):
            _run("ip", "netns", "del", self.ns)


def _run(*argv: str) -> str:
    out, _err = processutils.execute(*argv)
    return str(out)


def _nbd(info: dict, name: str | None = None) -> str:
    return f"nbd://{info['host']}:{info['port']}/{name or info['name']}"


def qemu_io(url: str, command: str, netns: str | None = None) -> subprocess.CompletedProcess:
    argv = ["timeout", str(REFUSED_TIMEOUT), "qemu-io", "-f", "raw", "-c", command, url]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def assert_reads(url: str, pattern: int, offset: int = 0, netns: str | None = None) -> None:
    r = qemu_io(url, f"read -P {pattern:#x} {offset} 64k", netns)
    assert r.returncode == 0 and "read 65536/65536" in r.stdout, (url, r.stdout, r.stderr)


def assert_refused(url: str, netns: str | None = None) -> None:
    r = qemu_io(url, "read 0 4k", netns)
    assert r.returncode != 0, (url, r.stdout, r.stderr)


def virtual_size(url: str) -> int:
    out = _run("timeout", "30", "qemu-img", "info", "-f", "raw", "--output=json", url)
    return int(json.loads(out)["virtual-size"])


def daemons(state_dir: str) -> list[int]:
    """Pids of qemu-storage-daemons whose command line names ``state_dir``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"qemu-storage-daemon") and any(
                a.startswith(state_dir.encode() + b"/") for a in argv):
            out.append(int(entry))
    return out


def nft_tables() -> str:
    return _run("nft", "list", "tables")


@pytest.fixture(scope="module")
def env() -> Iterator[dict]:
    os.makedirs(TEST_ROOT, mode=0o755, exist_ok=True)
    base = tempfile.mkdtemp(prefix="exports-", dir=TEST_ROOT)
    net = Net()
    prefix = f"t{uuid.uuid4().hex[:8]}"
    low = 11000 + (os.getpid() % 400) * 10
    state = os.path.join(base, "state")
    try:
        net.start()
        yield {"base": base, "state": state, "net": net, "prefix": prefix,
               "ports": (low, low + 9), "table": f"{prefix}_nbd_exports"}
    finally:
        left = daemons(state)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        tables = nft_tables()
        with contextlib.suppress(processutils.ProcessExecutionError):
            _run("nft", "delete", "table", "inet", f"{prefix}_nbd_exports")
        net.stop()
        shutil.rmtree(base, ignore_errors=True)
        assert not left, f"daemons left: {left}"
        assert f"{prefix}_nbd_exports" not in tables, tables


def volume(env: dict, name: str, size: int = 16 * MiB, fmt: str = "raw") -> str:
    path = os.path.join(env["base"], name)
    _run("qemu-img", "create", "-q", "-f", fmt, path, str(size))
    return path


def make(env: dict, listen: str | None = None) -> Exports:
    return Exports(env["state"], listen or env["net"].a, env["ports"], nft_prefix=env["prefix"])


def test_export_serves_only_its_client_and_unexport_closes_it(env: dict) -> None:
    net = env["net"]
    ex = make(env)
    path = volume(env, "vol-a")
    info = ex.export("att-host", path, "raw", net.a)
    assert info["host"] == net.a and env["ports"][0] <= info["port"] <= env["ports"][1]
    assert len(info["name"]) == 32
    # NOTE: idempotent: the same attachment is the same export.
    assert ex.export("att-host", path, "raw", net.a) == info
    st = os.stat(env["state"])
    assert st.st_mode & 0o777 == 0o700
    assert os.stat(os.path.join(env["state"], "att-host.json")).st_mode & 0o777 == 0o600

    # The host (source address a) writes and reads through NBD; the bytes are in the file.
    r = qemu_io(_nbd(info), "write -P 0x5a 4096 64k")
    assert r.returncode == 0, r.stderr
    assert_reads(_nbd(info), 0x5A, 4096)
    with open(path, "rb") as f:
        f.seek(4096)
        assert f.read(65536) == b"\x5a" * 65536
    # Another export name from the right client: no such export.
    assert_refused(_nbd(info, name="0" * 32))
    # The namespace (source address b) is dropped.
    assert_refused(_nbd(info), netns=net.ns)

    # An export for the namespace's client (another volume): it reads it, the host is dropped.
    path_b = volume(env, "vol-a2")
    with open(path_b, "r+b") as f:
        f.write(b"\xc3" * 65536)
    info_b = ex.export("att-ns", path_b, "raw", net.b)
    assert info_b["port"] != info["port"] and info_b["name"] != info["name"]
    assert_reads(_nbd(info_b), 0xC3, netns=net.ns)
    assert_refused(_nbd(info_b))
    assert_reads(_nbd(info), 0x5A, 4096)

    assert len(daemons(env["state"])) == 2
    ex.unexport("att-host")
    assert len(daemons(env["state"])) == 1
    ex.unexport("att-ns")
    ex.unexport("att-ns")  # idempotent
    assert daemons(env["state"]) == []
    assert env["table"] not in nft_tables()
    assert [n for n in os.listdir(env["state"]) if n.startswith("att-")] == []
    # Closed: no daemon, no rule: the port answers with a reset.
    r = qemu_io(_nbd(info_b), "read 0 4k", net.ns)
    assert r.returncode != 0
    assert "Connection refused" in r.stderr, r.stderr


def test_loopback_client(env: dict) -> None:
    ex = make(env, listen="127.0.0.1")
    path = volume(env, "vol-lo")
    info = ex.export("att-lo", path, "raw", "127.0.0.1")
    try:
        assert info["host"] == "127.0.0.1"
        r = qemu_io(_nbd(info), "write -P 0x11 0 64k")
        assert r.returncode == 0, r.stderr
        assert_reads(_nbd(info), 0x11)
        # Only 127.0.0.2 may connect: the host's 127.0.0.1 is dropped.
        ex.unexport("att-lo")
        info = ex.export("att-lo", path, "raw", "127.0.0.2")
        assert_refused(_nbd(info))
    finally:
        ex.unexport("att-lo")
    assert daemons(env["state"]) == []


def test_daemon_outlives_its_caller_is_adopted_and_restarted(env: dict) -> None:
    net = env["net"]
    path = volume(env, "vol-b")
    wanted = {"att-b": (path, "raw", net.a)}
    # A service process exports and exits: the daemon stays.
    code = ("import sys, json; from novalite.volume.exports import Exports; "
            "ex = Exports(sys.argv[1], sys.argv[2], (int(sys.argv[3]), int(sys.argv[4])), "
            "nft_prefix=sys.argv[5]); "
            "print(json.dumps(ex.export('att-b', sys.argv[6], 'raw', sys.argv[2])))")
    out = subprocess.run([sys.executable, "-c", code, env["state"], net.a,
                          str(env["ports"][0]), str(env["ports"][1]), env["prefix"], path],
                         capture_output=True, text=True, timeout=60, check=True,
                         cwd=REPO)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    ex = make(env)
    try:
        [pid] = daemons(env["state"])
        assert os.getsid(pid) != os.getsid(0)
        # Adopted: the new Exports knows it and gives the same export.
        got = ex.exported()
        assert got["att-b"]["running"] is True
        assert {k: got["att-b"][k] for k in ("host", "port", "name")} == info
        assert ex.export("att-b", path, "raw", net.a) == info
        assert daemons(env["state"]) == [pid]
        r = qemu_io(_nbd(info), "write -P 0x77 0 64k")
        assert r.returncode == 0, r.stderr

        # Killed: ensure starts it again at the same port and name, with the data.
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if not daemons(env["state"]):
                break
            time.sleep(0.05)
        assert ex.exported()["att-b"]["running"] is False
        assert_refused(_nbd(info))
        other = volume(env, "vol-c")
        ex.export("att-c", other, "raw", net.a)
        ex.ensure(wanted)
        [pid2] = daemons(env["state"])
        assert pid2 != pid
        assert set(ex.exported()) == {"att-b"}  # att-c was not wanted
        assert_reads(_nbd(info), 0x77)

        # A pidfile naming a live process that is not our daemon is not ours.
        with open(os.path.join(env["state"], "att-b.pid"), "w") as f:
            f.write(str(os.getpid()))
        assert ex.exported()["att-b"]["running"] is False
        os.kill(pid2, signal.SIGKILL)
        for _ in range(100):
            if not daemons(env["state"]):
                break
            time.sleep(0.05)
        ex.ensure(wanted)
        assert_reads(_nbd(info), 0x77)
        ex.ensure({})
        assert daemons(env["state"]) == []
        assert env["table"] not in nft_tables()
    finally:
        ex.ensure({})


def test_resize_and_qcow2(env: dict) -> None:
    net = env["net"]
    ex = make(env)
    raw = volume(env, "vol-r", 16 * MiB)
    qcow = volume(env, "vol-q", 16 * MiB, fmt="qcow2")
    try:
        info = ex.export("att-r", raw, "raw", net.a)
        qemu_io(_nbd(info), "write -P 0x33 0 64k")
        ex.resize("att-r", 48 * MiB)
        assert virtual_size(_nbd(info)) == 48 * MiB
        assert os.path.getsize(raw) == 48 * MiB
        assert_reads(_nbd(info), 0x33)
        # The file backend grows a raw file by truncate first (the daemon's lock allows it).
        os.truncate(raw, 64 * MiB)
        assert virtual_size(_nbd(info)) == 48 * MiB
        ex.resize("att-r", 64 * MiB)
        assert virtual_size(_nbd(info)) == 64 * MiB
        assert_reads(_nbd(info), 0x33)

        qinfo = ex.export("att-q", qcow, "qcow2", net.a)
        assert virtual_size(_nbd(qinfo)) == 16 * MiB
        r = qemu_io(_nbd(qinfo), "write -P 0x44 1M 64k")
        assert r.returncode == 0, r.stderr
        ex.resize("att-q", 32 * MiB)
        assert virtual_size(_nbd(qinfo)) == 32 * MiB
        assert_reads(_nbd(qinfo), 0x44, MiB)
    finally:
        ex.ensure({})
    out = _run("qemu-img", "info", "-f", "qcow2", "--output=json", qcow)
    assert '"virtual-size": 33554432' in out
    with pytest.raises(ExportError, match="has no NBD export"):
        ex.resize("att-q", 64 * MiB)


def test_refusals(env: dict) -> None:
    ex = make(env)
    path = volume(env, "vol-x")
    with pytest.raises(ExportError, match="format 'vmdk'"):
        ex.export("att-x", path, "vmdk", "10.0.0.1")
    with pytest.raises(ExportError, match="client address"):
        ex.export("att-x", path, "raw", "not-an-ip")
    with pytest.raises(ExportError, match="attachment id"):
        ex.export("../etc", path, "raw", "10.0.0.1")
    with pytest.raises(ExportError, match="does not exist"):
        ex.export("att-x", path + ".missing", "raw", "10.0.0.1")
    with pytest.raises(ExportError, match="nftables prefix"):
        Exports(env["state"], "127.0.0.1", (1, 2), nft_prefix="bad prefix")
    assert daemons(env["state"]) == []


def test_ports_in_use_are_skipped(env: dict) -> None:
    net = env["net"]
    low, _high = env["ports"]
    path = volume(env, "vol-p")
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind((net.a, low))
        busy.listen()
        ex = make(env)
        try:
            info = ex.export("att-p", path, "raw", net.a)
            assert info["port"] != low
            assert_reads(_nbd(info), 0)
        finally:
            ex.unexport("att-p")
        only_busy = Exports(env["state"], net.a, (low, low), nft_prefix=env["prefix"])
        with pytest.raises(ExportError, match=f"no free port in {low}-{low}"):
            only_busy.export("att-p", path, "raw", net.a)
    assert daemons(env["state"]) == []
    assert env["table"] not in nft_tables()


def test_a_long_state_directory_keeps_its_sockets_in_a_short_private_one(env: dict) -> None:
    """A state directory too long for a unix socket's path (a test's tmp
    path, a deep --state-dir) still exports: the QMP sockets go to a short
    0700 directory of this user, and resize (through QMP) works."""
    low, high = env["ports"]
    deep = os.path.join(env["base"], "d" * 60, "e" * 40, "volume-exports")
    ex = Exports(deep, "127.0.0.1", (low, high), nft_prefix=env["prefix"])
    assert ex.socket_dir != ex.state_dir and len(ex.socket_dir) < 60
    path = volume(env, "vol-long")
    info = ex.export("att-long", path, "raw", "127.0.0.1")
    try:
        st = os.lstat(ex.socket_dir)
        assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.getuid()
        assert qemu_io(_nbd(info), "write -P 0x22 0 64k").returncode == 0
        ex.resize("att-long", 32 * MiB)
        out = _run("timeout", "30", "qemu-img", "info", "-f", "raw", "--output=json",
                   _nbd(info))
        assert json.loads(out)["virtual-size"] == 32 * MiB
    finally:
        ex.unexport("att-long")
    assert daemons(deep) == []
    # NOTE: the short directory goes with the last export (none pile up in tmp).
    assert not os.path.exists(ex.socket_dir)


def test_unexport_does_not_wait_for_init_to_reap_the_daemon(env: dict) -> None:
    """The daemonized qemu-storage-daemon is not our child: after it exits it
    stays a zombie until init reaps it; unexport counts it stopped then."""
    ex = make(env, listen="127.0.0.1")
    path = volume(env, "vol-z")
    ex.export("att-z", path, "raw", "127.0.0.1")
    started = time.monotonic()
    ex.unexport("att-z")
    assert time.monotonic() - started < 1.0
    assert daemons(env["state"]) == []
