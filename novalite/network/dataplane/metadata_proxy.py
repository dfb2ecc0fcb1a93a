"""The per-network metadata proxy: 169.254.169.254:80 on a network, forwarded
to the metadata service with who asked (issue 13, items 2 and 3).

On every network leg that has a router interface on this host (and every
network whose DHCP namespace is here) one small process answers
``169.254.169.254:80`` and forwards each request to ``Metadata.service_url``
adding three headers: ``X-Forwarded-For`` (the TCP source address the proxy
saw), ``X-Novalite-Network-ID`` (the network of the leg it listens on) and
``X-Novalite-Signature`` (hex HMAC-SHA256 of ``"{network_id} {address}"``
with the shared secret). Anything the guest sent under those names, any
``X-Novalite-*``, ``Forwarded``/``X-Forwarded-*`` or Nova/Neutron instance
header is dropped first: the service can trust what it gets.

How it reaches the service from inside a namespace: the process runs in the
HOST's namespace (so it connects to the service like any local client) and
makes only its listening socket inside the router's (or DHCP) namespace:
it enters that namespace with ``setns(2)``, creates the socket, binds it to
the leg (``SO_BINDTODEVICE``, so two legs of one router each get their own
listener on the same address and port and a request is attributed to the
network it came in on) and returns to the host namespace before it starts
serving. A socket stays in the namespace it was made in, so nothing else
(no unix socket relay, no veth to the host) is needed. The leg holds
``169.254.169.254/32``; guests reach it through their gateway (or DHCP's
classless route).

Limits, so that no guest can freeze or flood it: a request must arrive whole
(line, headers, body) within ``CLIENT_DEADLINE`` seconds or the connection is
cut; headers are capped at ``MAX_HEAD`` bytes, bodies (POST of a password) at
``MAX_BODY``; at most ``MAX_CONNECTIONS`` at once (more are closed at once);
one request per connection; the service gets ``UPSTREAM_TIMEOUT`` seconds.

The secret reaches the process on its stdin (never its command line). The
manager side (:func:`apply`) finds the proxies of this deployment from
``/proc`` (their command line names the deployment's state directory), stops
those the state no longer wants or whose settings changed, and starts the
missing ones; applying the same state twice changes nothing.

Run as a program: ``python3 -m novalite.network.dataplane.metadata_proxy
--netns NS --device LEG --network-id ID --upstream URL --state-dir DIR``
(secret on stdin; prints ``ready`` once it listens).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import http.client
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from oslo_log import log as logging

from novalite import exception
from novalite.network.dataplane import l3
from novalite.network.dataplane.state import (
    HDR_FORWARDED_FOR,
    HDR_NETWORK_ID,
    HDR_SIGNATURE,
    HostState,
)

LOG = logging.getLogger(__name__)

MODULE = "novalite.network.dataplane.metadata_proxy"
ADDRESS = l3.METADATA_ADDRESS
PORT = 80
CLIENT_DEADLINE = 10.0
UPSTREAM_TIMEOUT = 30.0
MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
MAX_RESPONSE = 16 * 1024 * 1024
MAX_CONNECTIONS = 64
READY_TIMEOUT = 15.0

_SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
# Hop-by-hop headers (RFC 9110 7.6.1) and what only the proxy may say.
_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "proxy-connection", "host",
        "content-length"}
_IDENTITY = {"forwarded", "x-real-ip", "x-instance-id", "x-instance-id-signature",
             "x-tenant-id", "x-neutron-network-id", "x-neutron-router-id"}


def sign(secret: str, network_id: str, address: str) -> str:
    """What the service checks: hex HMAC-SHA256(secret, "{network_id} {address}")."""
    return hmac.new(secret.encode(), f"{network_id} {address}".encode(),
                    hashlib.sha256).hexdigest()


def _guest_header_kept(name: str) -> bool:
    low = name.lower()
    return not (low in _HOP or low in _IDENTITY or low.startswith(("x-forwarded-",
                                                                    "x-novalite-"))
                or low == HDR_FORWARDED_FOR.lower())


# -- the proxy process ---------------------------------------------------------

def listen_socket(netns: str | None, device: str, address: str, port: int) -> socket.socket:
    """A listening TCP socket made inside ``netns`` (None: here), bound to
    ``device``."""
    sock = (l3.socket_in(netns, socket.AF_INET, socket.SOCK_STREAM) if netns
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
            conn.putrequest(self.command, server.upstream.path.rstrip("/") + self.path,
                            skip_accept_encoding=True)
            for name, value in self.headers.items():
                if _guest_header_kept(name):
                    conn.putheader(name, value)
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
    parser = argparse.ArgumentParser(prog=MODULE, description=__doc__.split("\n")[0])
    parser.add_argument("--netns", default=None)
    parser.add_argument("--device", required=True)
    parser.add_argument("--network-id", required=True)
    parser.add_argument("--listen", default=f"{ADDRESS}:{PORT}")
    parser.add_argument("--upstream", required=True)
    # Identify the process to its manager (see _running); unused here.
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--fingerprint", default="")
    args = parser.parse_args(argv)
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


# -- the manager (the agent's side) ------------------------------------------------

@dataclass(frozen=True)
class Listener:
    """One proxy: the namespace and leg it listens on, the leg's network."""

    namespace: str
    device: str
    network_id: str


def wanted(state: HostState, prefix: str,
           dhcp_legs: dict[str, tuple[str, str]] | None = None) -> list[Listener]:
    """The proxies ``state`` wants: one per router interface leg here, one per
    DHCP server here (``dhcp_legs``: network id -> (namespace, device), from
    the DHCP side, which announces 169.254.169.254 via itself to the subnets
    no router serves; guests of the others reach a router's proxy)."""
    if state.metadata is None:
        return []
    found: dict[tuple[str, str], Listener] = {}
    for router in state.routers:
        ns = l3.router_namespace(prefix, router.id)
        for iface in router.interfaces:
            dev = l3.interface_leg(iface.port_id)
            found[(ns, dev)] = Listener(ns, dev, iface.network_id)
    for network_id, (ns, dev) in sorted((dhcp_legs or {}).items()):
        if network_id in state.dhcp_networks:
            found[(ns, dev)] = Listener(ns, dev, network_id)
    return list(found.values())


def _fingerprint(listener: Listener, service_url: str, secret: str) -> str:
    material = "\n".join([listener.network_id, service_url, secret])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Running:
    pid: int
    listener: Listener
    fingerprint: str


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":
        _reap(pid)
        return False
    return True


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def running(state_dir: str) -> list[_Running]:
    """The proxies of the deployment whose state directory is ``state_dir``."""
    found = []
    state_dir = os.path.realpath(state_dir)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        argv = _cmdline(int(entry))
        if MODULE not in argv:
            continue
        opts = dict(zip(argv[argv.index(MODULE) + 1::2], argv[argv.index(MODULE) + 2::2],
                        strict=False))
        if opts.get("--state-dir") != state_dir or not _alive(int(entry)):
            continue
        found.append(_Running(int(entry), Listener(opts.get("--netns", ""),
                                                   opts.get("--device", ""),
                                                   opts.get("--network-id", "")),
                              opts.get("--fingerprint", "")))
    return found


def _stop(proc: _Running) -> None:
    LOG.info("Stopping metadata proxy %s on %s/%s", proc.pid, proc.listener.namespace,
             proc.listener.device)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    end = time.monotonic() + 5
    while _alive(proc.pid) and time.monotonic() < end:
        time.sleep(0.05)
    if _alive(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        while _alive(proc.pid) and time.monotonic() < end + 5:
            time.sleep(0.05)
    _reap(proc.pid)


def _start(listener: Listener, service_url: str, secret: str, state_dir: str,
           host_netns: str | None) -> None:
    LOG.info("Starting metadata proxy on %s/%s for network %s", listener.namespace,
             listener.device, listener.network_id)
    cmd = [sys.executable, "-m", MODULE, "--netns", listener.namespace,
           "--device", listener.device, "--network-id", listener.network_id,
           "--listen", f"{ADDRESS}:{PORT}", "--upstream", service_url,
           "--state-dir", os.path.realpath(state_dir),
           "--fingerprint", _fingerprint(listener, service_url, secret)]
    if host_netns:
        cmd = ["ip", "netns", "exec", host_netns, *cmd]
    log_path = os.path.join(state_dir, f"{listener.namespace}.{listener.device}.log")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=log, start_new_session=True, close_fds=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(secret.encode() + b"\n")
        proc.stdin.close()
        ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT)
        line = proc.stdout.readline() if ready else b""
    finally:
        proc.stdout.close()
    if line.strip() != b"ready":
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        with open(log_path, "rb") as f:
            tail = f.read()[-800:].decode(errors="replace")
        raise exception.NetworkSetupError(
            reason=f"metadata proxy on {listener.namespace}/{listener.device} did not "
                   f"start: {tail.strip()}")
    # NOTE: it is ours to reap when it ends (see _alive); Popen is not kept.
    proc.returncode = 0


def _ensure_address(host: l3.Host, listener: Listener) -> None:
    if f"{ADDRESS}/32" not in host.addresses(listener.device, listener.namespace):
        host.ip_in(listener.namespace, "addr", "add", f"{ADDRESS}/32", "dev",
                   listener.device)


def _drop_address(host: l3.Host, listener: Listener) -> None:
    if listener.namespace not in l3.namespaces():
        return
    with contextlib.suppress(exception.NetworkSetupError):
        if f"{ADDRESS}/32" in host.addresses(listener.device, listener.namespace):
            host.ip_in(listener.namespace, "addr", "del", f"{ADDRESS}/32", "dev",
                       listener.device)


def apply(state: HostState, *, prefix: str, state_dir: str, host_netns: str | None = None,
          dhcp_legs: dict[str, tuple[str, str]] | None = None) -> None:
    """Make this host's metadata proxies match ``state`` (call it after the
    legs exist: :func:`novalite.network.dataplane.l3.apply` and DHCP's)."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    os.chmod(state_dir, 0o700)
    host = l3.Host(host_netns)
    want = wanted(state, prefix, dhcp_legs)
    meta = state.metadata
    prints = ({w: _fingerprint(w, meta.service_url, meta.shared_secret) for w in want}
              if meta else {})
    have: dict[Listener, _Running] = {}
    for proc in running(state_dir):
        if prints.get(proc.listener) == proc.fingerprint and proc.listener not in have:
            have[proc.listener] = proc
        else:
            _stop(proc)
            if proc.listener not in prints:
                _drop_address(host, proc.listener)
    for listener in want:
        assert meta is not None
        _ensure_address(host, listener)
        if listener not in have:
            _start(listener, meta.service_url, meta.shared_secret, state_dir, host_netns)


def stop_all(state_dir: str) -> None:
    """Every proxy of the deployment of ``state_dir`` (its namespaces may be gone)."""
    for proc in running(state_dir):
        _stop(proc)


if __name__ == "__main__":
    sys.exit(main())
