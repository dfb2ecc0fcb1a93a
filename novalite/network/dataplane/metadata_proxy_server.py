"""The metadata proxy program: one per network leg, listening on
169.254.169.254:80 inside a router's (or DHCP) namespace and forwarding to the
metadata service with who asked, signed (see :mod:`metadata_proxy`, which
starts and stops these, for the why).

Standard library only, on purpose: it is run as a script (``python3 -I
metadata_proxy_server.py ...``), not through the ``novalite`` package, whose
import pulls in oslo.service and eventlet, and a host runs one per network
(measured here, load 8 on 2 cores: through the package 3.1 s to ready and
46 MiB resident per proxy; as a script 0.45 s and 23 MiB).

    python3 -I metadata_proxy_server.py --netns NS --device LEG \
        --network-id ID --upstream URL --state-dir DIR   # secret on stdin

It prints ``ready`` once it listens. ``--state-dir`` and ``--fingerprint``
only tell its manager whose it is and with which settings it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import hmac
import http.client
import logging
import os
import signal
import socket
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOG = logging.getLogger("novalite.metadata_proxy")

# The same as novalite.network.dataplane.state's (a test holds them equal).
HDR_FORWARDED_FOR = "X-Forwarded-For"
HDR_NETWORK_ID = "X-Novalite-Network-ID"
HDR_SIGNATURE = "X-Novalite-Signature"

ADDRESS = "169.254.169.254"
PORT = 80
CLIENT_DEADLINE = 10.0
UPSTREAM_TIMEOUT = 30.0
MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
MAX_RESPONSE = 16 * 1024 * 1024
MAX_CONNECTIONS = 64
NETNS_DIR = "/run/netns"

_CLONE_NEWNET = 0x40000000
_SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
# Hop-by-hop headers (RFC 9110 7.6.1) and what only the proxy may say.
_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "proxy-connection", "host",
        "content-length"}
_IDENTITY = {"forwarded", "x-real-ip", "x-instance-id", "x-instance-id-signature",
             "x-tenant-id", "x-neutron-network-id", "x-neutron-router-id"}


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def socket_in(namespace: str, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A socket made inside a named network namespace: it stays there,
    whatever namespace the process is in. A short-lived thread enters the
    namespace and makes it, so no other thread ever changes namespace."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def make() -> None:
        try:
            fd = os.open(os.path.join(NETNS_DIR, namespace), os.O_RDONLY)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            made.append(socket.socket(family, kind, proto))
        except BaseException as e:
            failed.append(e)

    worker = threading.Thread(target=make, name=f"netns-{namespace}")
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return made[0]


def sign(secret: str, network_id: str, address: str) -> str:
    """What the service checks: hex HMAC-SHA256(secret, "{network_id} {address}")."""
    return hmac.new(secret.encode(), f"{network_id} {address}".encode(),
                    hashlib.sha256).hexdigest()


def _guest_header_kept(name: str) -> bool:
    low = name.lower()
    return not (low in _HOP or low in _IDENTITY or low.startswith(("x-forwarded-",
                                                                    "x-novalite-"))
                or low == HDR_FORWARDED_FOR.lower())


def listen_socket(netns: str | None, device: str, address: str, port: int) -> socket.socket:
    """A listening TCP socket made inside ``netns`` (None: here), bound to
    ``device``."""
    sock = (socket_in(netns, socket.AF_INET, socket.SOCK_STREAM) if netns
            else socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, _SO_BINDTODEVICE, device.encode())
        sock.bind((address, port))
        sock.listen(MAX_CONNECTIONS)
    except BaseException:
        sock.close()
        raise
    return sock


class _HeadTooLarge(Exception):
    pass


class _CappedReader:
    """The connection's reader, refusing more than ``limit`` bytes of request
    line and headers (the body is read with ``read`` and capped apart)."""

    def __init__(self, raw: Any, limit: int) -> None:
        self._raw, self._left = raw, limit

    def readline(self, size: int = -1) -> bytes:
        cap = self._left + 1 if size < 0 else min(size, self._left + 1)
        line: bytes = self._raw.readline(cap)
        self._left -= len(line)
        if self._left < 0:
            raise _HeadTooLarge()
        return line

    def read(self, size: int = -1) -> bytes:
        return bytes(self._raw.read(size))

    def close(self) -> None:
        self._raw.close()


@contextlib.contextmanager
def _deadline(conn: socket.socket, seconds: float) -> Iterator[None]:
    """Cut the connection if the block has not finished in ``seconds``
    (a per-read timeout alone lets a client send one byte at a time)."""
    def cut() -> None:
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(seconds, cut)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = MAX_CONNECTIONS

    def __init__(self, sock: socket.socket, network_id: str, upstream: str,
                 secret: str) -> None:
        super().__init__(sock.getsockname(), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.network_id = network_id
        self.upstream = urllib.parse.urlsplit(upstream)
        if self.upstream.scheme not in ("http", "https") or not self.upstream.hostname:
            raise ValueError(f"metadata service URL {upstream!r} is not http(s)://HOST[:PORT]")
        self.secret = secret
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        LOG.info("metadata proxy: request from %s failed: %s", client_address,
                 sys.exc_info()[1])

    def upstream_connection(self) -> http.client.HTTPConnection:
        u = self.upstream
        if u.scheme == "https":
            return http.client.HTTPSConnection(u.hostname or "", u.port,
                                               timeout=UPSTREAM_TIMEOUT)
        return http.client.HTTPConnection(u.hostname or "", u.port, timeout=UPSTREAM_TIMEOUT)


class _Handler(BaseHTTPRequestHandler):
    server: ProxyServer
    protocol_version = "HTTP/1.0"
    server_version = "novalite-metadata-proxy"
    sys_version = ""
    timeout = CLIENT_DEADLINE

    def setup(self) -> None:
        super().setup()
        self.rfile = _CappedReader(self.rfile, MAX_HEAD)  # type: ignore[assignment]

    def handle(self) -> None:
        self.close_connection = True
        try:
            with _deadline(self.connection, CLIENT_DEADLINE):
                if not self._read_request():
                    return
                body = self._read_body()
            if body is None:
                return
            self._forward(body)
        except _HeadTooLarge:
            with contextlib.suppress(OSError):
                self.send_error(431, "Request header fields too large")

    def _read_request(self) -> bool:
        self.raw_requestline = self.rfile.readline(MAX_HEAD + 1)
        if not self.raw_requestline:
            return False
        if not self.parse_request():
            return False
        if self.command not in ("GET", "HEAD", "POST"):
            self.send_error(405, f"{self.command} is not served here")
            return False
        if not self.path.startswith("/"):
            self.send_error(400, "the request target must be a path")
            return False
        return True

    def _read_body(self) -> bytes | None:
        if "transfer-encoding" in {k.lower() for k in self.headers}:
            self.send_error(411, "send a Content-Length")
            return None
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        if not raw.strip().isdigit():
            self.send_error(400, "bad Content-Length")
            return None
        length = int(raw)
        if length > MAX_BODY:
            self.send_error(413, f"a body is at most {MAX_BODY} bytes")
            return None
        body = self.rfile.read(length)
        if len(body) != length:
            return None
        return body

    def _forward(self, body: bytes) -> None:
        server = self.server
        address = str(self.client_address[0])
        conn = server.upstream_connection()
        try:
            try:
                conn.putrequest(self.command, server.upstream.path.rstrip("/") + self.path,
                                skip_accept_encoding=True)
                for name, value in self.headers.items():
                    if _guest_header_kept(name):
                        conn.putheader(name, value)
            except (ValueError, http.client.InvalidURL) as e:
                # NOTE: what http.client refuses to send (control characters
                # in the path or a header) is the guest's error, not the service's.
                LOG.info("metadata proxy: refused a request from %s: %s", address, e)
                self.send_error(400, "the request cannot be forwarded")
                return
            conn.putheader(HDR_FORWARDED_FOR, address)
            conn.putheader(HDR_NETWORK_ID, server.network_id)
            conn.putheader(HDR_SIGNATURE, sign(server.secret, server.network_id, address))
            if body or self.command == "POST":
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read(MAX_RESPONSE + 1)
            if len(data) > MAX_RESPONSE:
                raise http.client.HTTPException("answer larger than "
                                                f"{MAX_RESPONSE} bytes")
            headers = resp.getheaders()
        except (OSError, http.client.HTTPException) as e:
            LOG.warning("metadata proxy: %s %s for %s on network %s: service failed: %s",
                        self.command, self.path[:200], address, server.network_id, e)
            self.send_error(502, "the metadata service did not answer")
            return
        finally:
            conn.close()
        with _deadline(self.connection, CLIENT_DEADLINE):
            self.send_response(resp.status, resp.reason)
            for name, value in headers:
                if name.lower() not in _HOP | {"server", "date"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("metadata proxy %s: " + format, self.client_address[0], *args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--netns", default=None)
    parser.add_argument("--device", required=True)
    parser.add_argument("--network-id", required=True)
    parser.add_argument("--listen", default=f"{ADDRESS}:{PORT}")
    parser.add_argument("--upstream", required=True)
    # Identify the process to its manager (see _running); unused here.
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--fingerprint", default="")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    secret = sys.stdin.readline().rstrip("\n")
    host, _, port = args.listen.rpartition(":")
    sock = listen_socket(args.netns, args.device, host, int(port))
    server = ProxyServer(sock, args.network_id, args.upstream, secret)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print("ready", flush=True)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
