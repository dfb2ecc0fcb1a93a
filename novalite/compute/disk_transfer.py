"""The authenticated channel a resize or cold migration moves disks through.

No SSH keys are shared between hosts. Per migration, the destination opens
a listener on its ``[DEFAULT] my_ip`` (any free port) and makes a random
token; both go to the source inside the compute RPC of that migration
(``resize_instance``). The source connects, sends one header line (JSON:
token, instance, file name, size, SHA-256) and the file's bytes; the
destination refuses a wrong token before it reads any data, stores what
arrives in a staging directory, checks size and checksum, and answers ``OK``
or why not. ``receive`` then moves the staged file into place. The
listener accepts only while its migration needs it and is closed when the
destination has what it needs (or the move failed).

NOTE: the FakeDriver has no files; its paths are ``fake://...``. For such
a path the channel carries the path's text as the file's content (so the
token, the checksum and the hand-over are exercised), and ``receive``
writes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
from typing import Any

from oslo_log import log as logging

from novalite.conf import CONF
from novalite.virt import driver

LOG = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
_MAX_HEADER = 4096
_FAKE = "fake://"


def _channel_error(reason: str) -> driver.MigrationError:
    return driver.MigrationError(reason=reason)


def _payload_size(path: str) -> int:
    if path.startswith(_FAKE):
        return len(path.encode())
    return os.path.getsize(path)


def _chunks(path: str) -> Any:
    if path.startswith(_FAKE):
        yield path.encode()
        return
    with open(path, "rb") as f:
        while True:
            data = f.read(_CHUNK)
            if not data:
                return
            yield data


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    for chunk in _chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


class DiskReceiver:
    """The destination's listener for one migration. ``endpoint()`` is what
    the source needs (host, port, token); ``transfer()`` the DiskTransfer
    the destination's driver receives through."""

    def __init__(self, migration_uuid: str, instance_uuid: str,
                 address: str | None = None) -> None:
        self.migration_uuid = migration_uuid
        self.instance_uuid = instance_uuid
        self.token = secrets.token_hex(32)
        self._staging = tempfile.mkdtemp(prefix=f"novalite-move-{migration_uuid[:8]}-")
        self._received: dict[str, str] = {}
        self._failed: dict[str, str] = {}
        self._cond = threading.Condition()
        self._sock = socket.create_server((address or CONF.my_ip, 0))
        self._sock.settimeout(0.5)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name=f"disk-receiver-{migration_uuid[:8]}")
        self._thread.start()

    def endpoint(self) -> dict[str, Any]:
        host, port = self._sock.getsockname()[:2]
        return {"host": host, "port": port, "token": self.token}

    def transfer(self) -> driver.DiskTransfer:
        return _ReceivingTransfer(self)

    # -- server ------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _peer = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(CONF.compute.disk_transfer_timeout)
            stream = conn.makefile("rwb")
            try:
                name, error = self._receive_one(stream)
            except Exception as e:  # noqa: BLE001 - reported to the sender
                name, error = None, f"{type(e).__name__}: {e}"
            with contextlib.suppress(OSError):
                stream.write(b"OK\n" if error is None else f"ERR {error}\n".encode())
                stream.flush()
            if error is not None and name is not None:
                with self._cond:
                    self._failed[name] = error
                    self._cond.notify_all()

    def _receive_one(self, stream: Any) -> tuple[str | None, str | None]:
        line = stream.readline(_MAX_HEADER)
        try:
            header = json.loads(line)
        except ValueError:
            return None, "malformed header"
        if not hmac.compare_digest(str(header.get("token", "")), self.token):
            LOG.warning("Disk transfer of migration %s: refused a connection with a wrong "
                        "token", self.migration_uuid)
            return None, "wrong token"
        name = str(header.get("name", ""))
        if (header.get("instance_uuid") != self.instance_uuid or not name
                or "/" in name or name.startswith(".")):
            return None, f"unexpected file {name!r} of instance {header.get('instance_uuid')}"
        size = int(header["size"])
        staged = os.path.join(self._staging, name)
        digest = hashlib.sha256()
        left = size
        with open(staged, "wb") as f:
            while left > 0:
                data = stream.read(min(_CHUNK, left))
                if not data:
                    return name, f"file {name}: connection closed after {size - left} of " \
                                 f"{size} bytes"
                digest.update(data)
                f.write(data)
                left -= len(data)
        if digest.hexdigest() != header.get("sha256"):
            os.unlink(staged)
            return name, f"file {name}: checksum mismatch"
        with self._cond:
            self._received[name] = staged
            self._cond.notify_all()
        return name, None

    # -- hand-over -----------------------------------------------------------------

    def wait_for(self, name: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while name not in self._received:
                if name in self._failed:
                    raise _channel_error(f"file {name} of instance {self.instance_uuid}: "
                                         f"{self._failed[name]}")
                left = deadline - time.monotonic()
                if left <= 0 or self._closed.is_set():
                    raise _channel_error(
                        f"file {name} of instance {self.instance_uuid} did not arrive from "
                        f"the source within {timeout:.0f} s")
                self._cond.wait(min(left, 1.0))
            return self._received.pop(name)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        with self._cond:
            self._cond.notify_all()
        shutil.rmtree(self._staging, ignore_errors=True)


class _ReceivingTransfer(driver.DiskTransfer):
    def __init__(self, receiver: DiskReceiver) -> None:
        self.receiver = receiver

    def send(self, instance_uuid: str, name: str, path: str) -> None:
        raise _channel_error("the destination's end of a disk channel does not send")

    def receive(self, instance_uuid: str, name: str, source_path: str, dest_path: str) -> None:
        staged = self.receiver.wait_for(name, CONF.compute.disk_transfer_timeout)
        if dest_path.startswith(_FAKE):
            os.unlink(staged)
            return
        try:
            os.makedirs(os.path.dirname(dest_path), exist_ok=True)
            shutil.move(staged, dest_path)
        except OSError as e:
            raise _channel_error(f"could not write file {name} of instance {instance_uuid} "
                                 f"to {dest_path}: {e.strerror}") from e


class ChannelSender(driver.DiskTransfer):
    """The source's end: streams each offered file to the destination's
    listener with the migration's token."""

    def __init__(self, endpoint: dict[str, Any]) -> None:
        self.host = str(endpoint["host"])
        self.port = int(endpoint["port"])
        self.token = str(endpoint["token"])

    def send(self, instance_uuid: str, name: str, path: str) -> None:
        try:
            size = _payload_size(path)
            header = {"token": self.token, "instance_uuid": instance_uuid, "name": name,
                      "size": size, "sha256": _sha256(path)}
            with socket.create_connection((self.host, self.port),
                                          timeout=CONF.compute.disk_transfer_timeout) as conn:
                stream = conn.makefile("rwb")
                stream.write(json.dumps(header).encode() + b"\n")
                for chunk in _chunks(path):
                    stream.write(chunk)
                stream.flush()
                answer = stream.readline(_MAX_HEADER).decode(errors="replace").strip()
        except OSError as e:
            raise _channel_error(f"could not send file {name} of instance {instance_uuid} to "
                                 f"{self.host}:{self.port}: {e}") from e
        if answer != "OK":
            raise _channel_error(f"the destination refused file {name} of instance "
                                 f"{instance_uuid}: {answer or 'no answer'}")

    def receive(self, instance_uuid: str, name: str, source_path: str, dest_path: str) -> None:
        raise _channel_error("the source's end of a disk channel does not receive")
