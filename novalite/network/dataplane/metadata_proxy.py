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
a short-lived thread enters that namespace with ``setns(2)`` and creates the
socket, which is bound to the leg (``SO_BINDTODEVICE``, so two legs of one
router each get their own listener on the same address and port and a
request is attributed to the network it came in on). A socket stays in the namespace it was made in, so nothing else
(no unix socket relay, no veth to the host) is needed. The leg holds
``169.254.169.254/32``; guests reach it through their gateway (or DHCP's
classless route).

Limits, so that no guest can freeze or flood it: a request must arrive whole
(line, headers, body) within ``CLIENT_DEADLINE`` seconds or the connection is
cut; headers are capped at ``MAX_HEAD`` bytes (431), bodies (POST of a
password) at ``MAX_BODY`` (413); at most ``MAX_CONNECTIONS`` at once (more are
closed at once); GET, HEAD and POST only; one request per connection; the
service gets ``UPSTREAM_TIMEOUT`` seconds (then 502).

The secret reaches the process on its stdin (never its command line). The
manager side (:func:`apply`) finds the proxies of this deployment from
``/proc`` (their command line names the deployment's state directory), stops
those the state no longer wants or whose settings changed, and starts the
missing ones; applying the same state twice changes nothing.

The program itself is :mod:`metadata_proxy_server` (standard library only,
run as a script: 23 MiB and 0.45 s to ready per proxy here, against 46 MiB and
3.1 s through the package's oslo imports). This module is the manager.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from oslo_log import log as logging

from novalite import exception
from novalite.network.dataplane import l3
from novalite.network.dataplane import metadata_proxy_server as server
from novalite.network.dataplane.state import HostState

LOG = logging.getLogger(__name__)

SERVER = os.path.realpath(server.__file__)
ADDRESS = server.ADDRESS
PORT = server.PORT
CLIENT_DEADLINE = server.CLIENT_DEADLINE
MAX_HEAD = server.MAX_HEAD
MAX_BODY = server.MAX_BODY
READY_TIMEOUT = 15.0
sign = server.sign


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
        # NOTE: by the program's name, not its path: a proxy started from
        # an earlier install of the package is still found (and replaced).
        at = next((i for i, a in enumerate(argv[:4])
                   if os.path.basename(a) == os.path.basename(SERVER)), None)
        if at is None:
            continue
        opts = dict(zip(argv[at + 1::2], argv[at + 2::2], strict=False))
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
    cmd = [sys.executable, "-I", SERVER, "--netns", listener.namespace,
           "--device", listener.device, "--network-id", listener.network_id,
           "--listen", f"{ADDRESS}:{PORT}", "--upstream", service_url,
           "--state-dir", os.path.realpath(state_dir),
           "--fingerprint", _fingerprint(listener, service_url, secret)]
    if host_netns:
        cmd = ["ip", "netns", "exec", host_netns, *cmd]
    log_path = _log_path(state_dir, listener)
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


def _log_path(state_dir: str, listener: Listener) -> str:
    """Where a proxy's stderr goes (removed with the proxy's listener)."""
    return os.path.join(state_dir, f"{listener.namespace}.{listener.device}.log")


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
          dhcp_legs: dict[str, tuple[str, str]] | None = None) -> list[str]:
    """Make this host's metadata proxies match ``state`` (call it after the
    legs exist: :func:`novalite.network.dataplane.l3.apply` and DHCP's).

    A proxy that cannot start is logged and named in the returned list, and
    the others go on: one network's metadata must not stop the rest of the
    host's data plane (the next apply tries it again)."""
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
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(_log_path(state_dir, proc.listener))
    problems = []
    for listener in want:
        assert meta is not None
        try:
            _ensure_address(host, listener)
            if listener not in have:
                _start(listener, meta.service_url, meta.shared_secret, state_dir, host_netns)
        except exception.NetworkSetupError as e:
            LOG.error("No metadata proxy for network %s on %s/%s: %s", listener.network_id,
                      listener.namespace, listener.device, e)
            problems.append(f"{listener.namespace}/{listener.device}: {e}")
    return problems


def stop_all(state_dir: str) -> None:
    """Every proxy of the deployment of ``state_dir`` (its namespaces may be gone)."""
    for proc in running(state_dir):
        _stop(proc)
