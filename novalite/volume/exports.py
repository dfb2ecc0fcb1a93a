"""NBD exports of volumes, one ``qemu-storage-daemon`` per attachment.

A volume reaches a compute host over NBD, served by QEMU's own userspace
storage daemon (the kernel here has no device-mapper, configfs or NBD
device, see FACTS.md). Each attachment gets a daemon of its own with:

- a ``file`` node on the volume's path and a format node (raw or qcow2)
  above it (``discard=unmap``, so a guest's discards free the backend's
  blocks);
- an NBD server on ``listen_address`` at a port of ``port_range`` that no
  one else uses, serving that one node writable under a random export name
  (``secrets.token_hex``): the name is the attachment's credential next to
  the address filter below;
- a QMP monitor on a unix socket in ``state_dir`` (for ``resize``);
- ``--pidfile`` and ``--daemonize``: the daemon runs in its own session and
  outlives the volume service, so a restart of the service does not cut
  the guests' disks.

Only the attachment's compute host may connect: an nftables table of the
exports' own (``inet <prefix>_nbd_exports``, a hook on ``input``) drops
TCP to the port from any other source address. It is rewritten whole from
the state files in one ``nft -f`` transaction on every change (so it comes
back after a host reboot, and each rule goes with its export) and deleted
when no export is left. The rule is in place before the daemon listens.

What the service knows of its exports is a JSON file per attachment (0600,
in a 0700 ``state_dir``): a new ``Exports`` on the same directory adopts
the running daemons (pidfile + ``/proc/<pid>/cmdline`` naming that pidfile,
so a recycled pid is not taken for ours), and ``ensure`` restarts a dead one
at the same address, port and name, which QEMU's NBD client reconnects to
by itself.

Every call takes one lock (in-process and a file lock in ``state_dir``):
two services or threads on the same directory do not pick the same port.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import stat
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

from oslo_concurrency import lockutils, processutils
from oslo_log import log as logging

from novalite import exception, filemodes

LOG = logging.getLogger(__name__)

DAEMON = "qemu-storage-daemon"
FORMATS = ("raw", "qcow2")
STOP_TIMEOUT = 10.0
QMP_TIMEOUT = 30.0
# NOTE: sun_path is 108 bytes with its NUL.
_UNIX_PATH_MAX = 107
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
_FORMAT_NODE = "fmt0"
_EXPORT_ID = "exp0"


class ExportError(exception.NovaliteException):
    msg_fmt = "NBD export failed: %(reason)s"


@dataclass
class _Export:
    attachment_id: str
    path: str
    fmt: str
    client_ip: str
    host: str
    port: int
    name: str

    def info(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "name": self.name}


class Exports:
    """The NBD exports of this volume host (see the module docstring)."""

    def __init__(self, state_dir: str, listen_address: str, port_range: tuple[int, int],
                 nft_prefix: str = "novalite") -> None:
        low, high = port_range
        if not 0 < low <= high < 65536:
            raise ExportError(reason=f"port range {low}-{high} is not within 1-65535")
        if not _PREFIX.match(nft_prefix):
            raise ExportError(reason=f"nftables prefix {nft_prefix!r} is not a letter "
                                     "followed by at most 31 letters, digits or '_'")
        try:
            ipaddress.ip_address(listen_address)
        except ValueError as e:
            raise ExportError(reason=f"listen address {listen_address!r} is not an IP "
                                     "address") from e
        self.state_dir = os.path.abspath(state_dir)
        self.listen_address = listen_address
        self.port_range = (low, high)
        self.table = f"{nft_prefix}_nbd_exports"
        filemodes.private_dir(self.state_dir)
        # NOTE: a unix socket's path has at most 107 bytes: with a long
        # state directory (a test's tmp path, a deep --state-dir) the QMP
        # sockets go to a short private directory named after it instead.
        self.socket_dir = self.state_dir
        if len(self._qmp_path("x")) > _UNIX_PATH_MAX:
            digest = hashlib.sha256(self.state_dir.encode()).hexdigest()[:16]
            self.socket_dir = os.path.join(tempfile.gettempdir(),
                                           f"novalite-qmp-{os.getuid()}-{digest}")
        if len(self._qmp_path("x")) > _UNIX_PATH_MAX:
            raise ExportError(reason=f"no directory short enough for the exports' QMP "
                                     f"sockets ({self.socket_dir!r})")

    # -- the contract --------------------------------------------------------------

    def export(self, attachment_id: str, path: str, fmt: str,
               client_ip: str) -> dict[str, Any]:
        """``{"host", "port", "name"}`` of the attachment's export, started if
        needed; the same answer for the same attachment while it runs."""
        _check_id(attachment_id)
        if fmt not in FORMATS:
            raise ExportError(reason=f"format {fmt!r} of {path!r} is not one of "
                                     f"{', '.join(FORMATS)}")
        client = _check_ip(client_ip)
        if not os.path.isfile(path):
            raise ExportError(reason=f"volume file {path!r} does not exist")
        with self._lock():
            current = self._load(attachment_id)
            if current is not None and (current.path, current.fmt, current.client_ip) == (
                    path, fmt, client):
                if not self._alive(current):
                    self._start(current)
                self._apply_firewall()
                return current.info()
            if current is not None:
                # NOTE: another client (a new connector) gets a new port and name.
                self._stop(current)
            return self._create(attachment_id, path, fmt, client).info()

    def unexport(self, attachment_id: str) -> None:
        """Stop the attachment's daemon and remove its rule; nothing if it
        has no export."""
        _check_id(attachment_id)
        with self._lock():
            current = self._load(attachment_id)
            if current is not None:
                self._stop(current)
            self._apply_firewall()
            self._drop_socket_dir()

    def exported(self) -> dict[str, dict[str, Any]]:
        """attachment_id -> host, port, name, path, fmt, client_ip and
        ``running`` (its daemon is alive), for every export in the state
        directory (adopted from an earlier process too)."""
        with self._lock():
            return {e.attachment_id: {**asdict(e), "running": self._alive(e)}
                    for e in self._all()}

    def ensure(self, wanted: dict[str, tuple[str, str, str]]) -> None:
        """Make the exports what ``wanted`` (attachment_id -> (path, fmt,
        client_ip)) says: a dead daemon is started again at its address,
        port and name (the guest's NBD client reconnects), a missing export
        is made, an export not wanted is stopped. Failures of single exports
        are logged and the others still done; the first is raised at the end."""
        errors: list[Exception] = []
        with self._lock():
            current = self._all()
            if not current and not wanted:
                # NOTE: nothing exported, nothing wanted: no daemon and no
                # nftables (a host without nft, a user without CAP_NET_ADMIN
                # runs a volume service that serves only local attachments).
                return
            for e in current:
                if e.attachment_id not in wanted:
                    LOG.info("Stopping the NBD export of attachment %s (not wanted)",
                             e.attachment_id)
                    self._stop(e)
            self._apply_firewall()
        for attachment_id, (path, fmt, client_ip) in sorted(wanted.items()):
            try:
                self.export(attachment_id, path, fmt, client_ip)
            except (ExportError, OSError) as err:
                LOG.error("Cannot export attachment %s (%s): %s", attachment_id, path, err)
                errors.append(err)
        if errors:
            raise errors[0]

    def resize(self, attachment_id: str, size_bytes: int) -> None:
        """Grow the exported image to ``size_bytes`` through its daemon.

        The daemon holds the image's lock, so ``qemu-img resize`` on an
        exported image fails; this grows it instead (for a raw file a
        backend already truncated, it makes the daemon see the new size).
        An NBD export refuses a resize of its node while it exists, so the
        export is removed (its client disconnected), the node resized and
        the export added again under the same name: the client reconnects
        and reads the new size."""
        _check_id(attachment_id)
        with self._lock():
            current = self._load(attachment_id)
            if current is None:
                raise ExportError(reason=f"attachment {attachment_id} has no NBD export")
            if not self._alive(current):
                self._start(current)
            with _Qmp(self._qmp_path(attachment_id)) as qmp:
                qmp.command("block-export-del", {"id": _EXPORT_ID, "mode": "hard"})
                qmp.wait_export_gone(_EXPORT_ID)
                try:
                    qmp.command("block_resize", {"node-name": _FORMAT_NODE,
                                                 "size": size_bytes})
                finally:
                    qmp.command("block-export-add", _export_args(current))
            LOG.info("Resized the NBD export of attachment %s to %d bytes",
                     attachment_id, size_bytes)

    # -- state ---------------------------------------------------------------------

    def _file(self, attachment_id: str, suffix: str) -> str:
        return os.path.join(self.state_dir, attachment_id + suffix)

    def _qmp_path(self, attachment_id: str) -> str:
        # NOTE: short (a unix socket's path has at most 107 bytes), one per attachment.
        digest = hashlib.sha256(attachment_id.encode()).hexdigest()[:16]
        return os.path.join(self.socket_dir, f"qmp-{digest}.sock")

    def _drop_socket_dir(self) -> None:
        """The short private directory of the QMP sockets (a long state
        directory's) goes when no export is left."""
        if self.socket_dir != self.state_dir and not self._all():
            with contextlib.suppress(OSError):
                os.rmdir(self.socket_dir)

    def _qmp_dir(self) -> None:
        """Make (again, after the last export removed it) the short private
        directory of the QMP sockets; refused when it is not this user's."""
        if self.socket_dir == self.state_dir:
            return
        filemodes.private_dir(self.socket_dir)
        st = os.lstat(self.socket_dir)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or \
                stat.S_IMODE(st.st_mode) != 0o700:
            # NOTE: in a shared /tmp, a name another user made first is not ours.
            raise ExportError(reason=f"{self.socket_dir!r} is not a private directory of "
                                     "this user: remove it or use a shorter state directory")

    def _lock(self) -> Any:
        return lockutils.lock("nbd-exports", external=True, lock_path=self.state_dir)

    def _load(self, attachment_id: str) -> _Export | None:
        try:
            with open(self._file(attachment_id, ".json")) as f:
                data = json.load(f)
            return _Export(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as e:
            raise ExportError(reason=f"state of attachment {attachment_id} "
                                     f"({self._file(attachment_id, '.json')}) is unreadable: "
                                     f"{e}") from e

    def _all(self) -> list[_Export]:
        out = []
        for entry in sorted(os.listdir(self.state_dir)):
            if entry.endswith(".json") and _ID.match(entry[:-5]):
                e = self._load(entry[:-5])
                if e is not None:
                    out.append(e)
        return out

    def _save(self, e: _Export) -> None:
        tmp = self._file(e.attachment_id, ".json.tmp")
        with filemodes.private_file(tmp, "w") as f:
            json.dump(asdict(e), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._file(e.attachment_id, ".json"))

    # -- daemons -------------------------------------------------------------------

    def _create(self, attachment_id: str, path: str, fmt: str, client: str) -> _Export:
        taken = {e.port for e in self._all()}
        low, high = self.port_range
        for port in range(low, high + 1):
            if port in taken or not self._port_free(port):
                continue
            e = _Export(attachment_id, path, fmt, client, self.listen_address, port,
                        secrets.token_hex(16))
            self._save(e)
            try:
                self._apply_firewall()
                self._start(e)
            except _PortInUse:
                # NOTE: taken between our check and the daemon's bind.
                self._forget(e)
                continue
            except BaseException:
                self._forget(e)
                with contextlib.suppress(ExportError):
                    self._apply_firewall()
                raise
            LOG.info("Exported %s (%s) for attachment %s to %s at nbd://%s:%d",
                     path, fmt, attachment_id, client, e.host, e.port)
            return e
        self._apply_firewall()
        raise ExportError(reason=f"no free port in {low}-{high} on {self.listen_address} "
                                 f"for attachment {attachment_id}")

    def _port_free(self, port: int) -> bool:
        family = socket.AF_INET6 if ":" in self.listen_address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((self.listen_address, port))
            except OSError:
                return False
        return True

    def _argv(self, e: _Export) -> list[str]:
        qmp = self._qmp_path(e.attachment_id).replace(",", ",,")
        file_node = {"driver": "file", "node-name": "file0", "filename": e.path,
                     "discard": "unmap"}
        fmt_node = {"driver": e.fmt, "node-name": _FORMAT_NODE, "file": "file0",
                    "discard": "unmap"}
        server = {"addr": {"type": "inet", "host": e.host, "port": str(e.port)}}
        return [DAEMON,
                "--blockdev", json.dumps(file_node),
                "--blockdev", json.dumps(fmt_node),
                "--nbd-server", json.dumps(server),
                "--export", json.dumps(_export_args(e)),
                "--chardev", f"socket,id=mon0,path={qmp},server=on,wait=off",
                "--monitor", "chardev=mon0",
                "--pidfile", self._file(e.attachment_id, ".pid"),
                "--daemonize"]

    def _start(self, e: _Export) -> None:
        self._qmp_dir()
        for path in (self._file(e.attachment_id, ".pid"), self._qmp_path(e.attachment_id)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        try:
            processutils.execute(*self._argv(e))
        except processutils.ProcessExecutionError as err:
            stderr = (err.stderr or "").strip()
            if "Address already in use" in stderr:
                raise _PortInUse(reason=f"port {e.port} on {e.host} is in use") from err
            raise ExportError(reason=f"{DAEMON} for attachment {e.attachment_id} "
                                     f"({e.path}) failed: {stderr}") from err
        except OSError as err:
            raise ExportError(reason=f"cannot run {DAEMON} (package "
                                     f"qemu-system-common): {err}") from err
        if not self._alive(e):
            raise ExportError(reason=f"{DAEMON} for attachment {e.attachment_id} did not "
                                     f"stay up (pidfile {self._file(e.attachment_id, '.pid')})")

    def _pid(self, e: _Export) -> int | None:
        """The daemon's pid when it runs: its pidfile names a live process
        whose command line is ours with that pidfile."""
        pidfile = self._file(e.attachment_id, ".pid")
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError):
            return None
        if (os.path.basename(argv[0]) == DAEMON.encode()
                and pidfile.encode() in argv and b"--pidfile" in argv):
            return pid
        return None

    def _alive(self, e: _Export) -> bool:
        return self._pid(e) is not None

    def _stop(self, e: _Export) -> None:
        pid = self._pid(e)
        if pid is not None:
            _terminate(pid)
            LOG.info("Stopped the NBD export of attachment %s (pid %d)", e.attachment_id, pid)
        self._forget(e)

    def _forget(self, e: _Export) -> None:
        for path in (self._file(e.attachment_id, ".json"), self._file(e.attachment_id, ".pid"),
                     self._qmp_path(e.attachment_id)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    # -- firewall ------------------------------------------------------------------

    def _apply_firewall(self) -> None:
        """The table from the state files, in one transaction; gone when
        no export is left."""
        lines = [f"add table inet {self.table}", f"delete table inet {self.table}"]
        rules = []
        for e in self._all():
            client = ipaddress.ip_address(e.client_ip)
            if client.version == 4:
                rules += [f"meta nfproto ipv4 tcp dport {e.port} ip saddr != {client} drop",
                          f"meta nfproto ipv6 tcp dport {e.port} drop"]
            else:
                rules += [f"meta nfproto ipv6 tcp dport {e.port} ip6 saddr != {client} drop",
                          f"meta nfproto ipv4 tcp dport {e.port} drop"]
        if rules:
            lines.append(f"table inet {self.table} {{")
            lines.append("  chain input {")
            lines.append("    type filter hook input priority filter; policy accept;")
            lines += [f"    {r}" for r in rules]
            lines.append("  }")
            lines.append("}")
        try:
            processutils.execute("nft", "-f", "-", process_input="\n".join(lines) + "\n")
        except processutils.ProcessExecutionError as err:
            raise ExportError(reason=f"nft table inet {self.table}: "
                                     f"{(err.stderr or '').strip()}") from err
        except OSError as err:
            raise ExportError(reason=f"cannot run nft (package nftables): {err}") from err


class _PortInUse(ExportError):
    pass


def _export_args(e: _Export) -> dict[str, Any]:
    return {"type": "nbd", "id": _EXPORT_ID, "node-name": _FORMAT_NODE, "name": e.name,
            "writable": True}


def _check_id(attachment_id: str) -> None:
    if not isinstance(attachment_id, str) or not _ID.match(attachment_id):
        raise ExportError(reason=f"attachment id {attachment_id!r} is not 1-64 letters, "
                                 "digits, '-' or '_'")


def _check_ip(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError as e:
        raise ExportError(reason=f"client address {address!r} is not an IP address") from e


def _terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if _gone(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _gone(pid: int) -> bool:
    """Whether the daemon has exited. A daemonized one is not our child: it
    stays a zombie until init reaps it (here up to ~2 s), and a zombie still
    answers kill(pid, 0), so its state in /proc/PID/stat counts."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            # NOTE: "pid (comm) state ...": comm may hold spaces and parentheses.
            return f.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


class _Qmp:
    """A QMP client for one daemon's monitor socket: what ``resize`` needs
    (commands in order, events skipped)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(QMP_TIMEOUT)
        self.buf = b""

    def __enter__(self) -> _Qmp:
        try:
            self.sock.connect(self.path)
            self._read()  # the greeting
            self.command("qmp_capabilities")
        except BaseException:
            self.sock.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def _read(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except OSError as e:
                raise ExportError(reason=f"QMP monitor {self.path}: {e}") from e
            if not chunk:
                raise ExportError(reason=f"QMP monitor {self.path} closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return dict(json.loads(line))

    def command(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        msg: dict[str, Any] = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        try:
            self.sock.sendall(json.dumps(msg).encode() + b"\n")
        except OSError as e:
            raise ExportError(reason=f"QMP monitor {self.path}: {e}") from e
        while True:
            reply = self._read()
            if "event" in reply:
                continue
            if "error" in reply:
                raise ExportError(reason=f"QMP {name} on {self.path}: "
                                         f"{reply['error'].get('desc', reply['error'])}")
            return reply.get("return")

    def wait_export_gone(self, export_id: str) -> None:
        deadline = time.monotonic() + QMP_TIMEOUT
        while any(x.get("id") == export_id for x in self.command("query-block-exports")):
            if time.monotonic() > deadline:
                raise ExportError(reason=f"export {export_id} of {self.path} was not "
                                         f"removed within {QMP_TIMEOUT:.0f}s")
            time.sleep(0.05)
