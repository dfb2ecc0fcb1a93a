"""The tiny guest without a config drive behaves like a cloud image (issue 13
item 5): DHCP on its NICs (busybox udhcpc) and its uuid and hostname from the
metadata service at 169.254.169.254.

Real QEMU (TCG, kernel + ramdisk boot, no libvirt) inside a network namespace
this test makes (standing in for a compute host); the data plane
(``agent.apply`` with ``layer3=False``) makes the network's bridge and its
dnsmasq, whose namespace holds 169.254.169.254 on an isolated subnet (the
route the guest gets by DHCP option 121 points there). A small metadata
responder of this test listens on 169.254.169.254:80 in that namespace (the
real proxy and service are others' tests). Everything is named with a
per-run prefix and removed at the end, also on failure.

These fail (never skip) when QEMU, dnsmasq or iproute2 are missing: run
``novalite-manage host prepare``.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.server
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from novalite import tinyguest
from novalite.network.dataplane import agent, dhcp, names
from novalite.network.dataplane.state import (
    HostState,
    Network,
    Port,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)
from novalite.tinyguest import builder, qemu
from tests.procs import pids_whose_cmdline_has

pytestmark = pytest.mark.integration

BOOT_TIMEOUT = 120     # TCG boots take 5-10 s here (+ DHCP); leave room for a loaded CI
HTTP_TIMEOUT = 60
CLONE_NEWNET = 0x40000000
CIDR = "10.61.0.0/24"
GATEWAY = "10.61.0.1"
DHCP_ADDRESS = "10.61.0.2"
GUEST_ADDRESS = "10.61.0.23"
MTU = 1450
METADATA_PATH = "/openstack/latest/meta_data.json"


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True, timeout=60)


@contextlib.contextmanager
def in_netns(name: str) -> Iterator[None]:
    """This thread inside the named namespace for the block (sockets made
    there stay in it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        assert libc.setns(target, CLONE_NEWNET) == 0, os.strerror(ctypes.get_errno())
        try:
            yield
        finally:
            assert libc.setns(home, CLONE_NEWNET) == 0, os.strerror(ctypes.get_errno())
    finally:
        os.close(home)
        os.close(target)


@pytest.fixture(scope="module")
def tiny() -> builder.BuildResult:
    # NOTE: the shared cache dir, as test_tiny_guest.py: an unchanged build
    # is found up to date without downloading anything.
    for tool in ("qemu-system-x86_64", "qemu-img", "genisoimage", "dnsmasq", "ip", "nft"):
        assert shutil.which(tool), f"{tool} is not installed: run novalite-manage host prepare"
    return builder.build(progress=lambda line: print(f"[build] {line}"))


class Metadata:
    """A metadata responder: GET /openstack/latest/meta_data.json answers
    ``document``; every request is recorded (path, source address)."""

    def __init__(self, namespace: str, document: dict[str, Any]) -> None:
        self.document = document
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.requests.append((self.path, self.client_address[0]))
                if self.path != METADATA_PATH:
                    self.send_error(404)
                    return
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        with in_netns(namespace):
            self.server = http.server.ThreadingHTTPServer((dhcp.METADATA_ADDRESS, 80), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class World:
    """One "compute host" (a namespace), its data plane state dir, and what
    was made in it."""

    def __init__(self) -> None:
        self.run = secrets.token_hex(2)
        self.prefix = "t1" + self.run
        self.tmp = tempfile.mkdtemp(prefix=f"t1dhcp-{self.run}-")
        os.chmod(self.tmp, 0o711)
        self.state_dir = os.path.join(self.tmp, "dataplane")
        self.host = f"{self.prefix}host"
        self.local_ip = f"10.253.{secrets.randbelow(200) + 20}.1"
        sh("ip", "netns", "add", self.host)
        try:
            sh("ip", "-n", self.host, "link", "set", "dev", "lo", "up")
            # The VXLAN endpoint address (the network has no peers).
            sh("ip", "-n", self.host, "addr", "add", f"{self.local_ip}/32", "dev", "lo")
        except BaseException:
            sh("ip", "netns", "delete", self.host, check=False)
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def apply(self, state: HostState) -> None:
        agent.apply(state, prefix=self.prefix, state_dir=self.state_dir,
                    host_netns=self.host, layer3=False)

    def dnsmasqs(self) -> list[int]:
        return pids_whose_cmdline_has(b"dnsmasq", self.tmp.encode())

    def close(self) -> list[str]:
        problems = []
        try:
            self.apply(HostState(host="t1", local_ip=self.local_ip))
        except Exception as e:  # noqa: BLE001 - cleanup goes on
            problems.append(f"empty state: {e}")
        for pid in self.dnsmasqs():
            problems.append(f"dnsmasq {pid} left running")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        for ns in sorted(os.listdir("/run/netns")):
            if ns.startswith(self.prefix) and ns != self.host:
                problems.append(f"namespace {ns} left")
                sh("ip", "netns", "delete", ns, check=False)
        sh("ip", "netns", "delete", self.host, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return problems


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    try:
        yield w
    finally:
        problems = w.close()
    assert not problems, problems


def _http_get(namespace: str, address: str, timeout: float) -> str:
    """GET / from inside ``namespace``; retried until ``timeout`` (the body)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        with in_netns(namespace):
            s = socket.socket()
        s.settimeout(3)
        try:
            s.connect((address, 80))
            s.sendall(b"GET / HTTP/1.0\r\nHost: guest\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
            assert head.startswith("HTTP/1.") and " 200 " in head.splitlines()[0], head
            return body
        except OSError as e:
            last = e
            time.sleep(0.5)
        finally:
            s.close()
    raise AssertionError(f"no HTTP answer from {address} in {namespace} within "
                         f"{timeout:.0f} s: {last}")


def _console_line(guest: qemu.Guest, start: str) -> str:
    lines = [ln.strip() for ln in guest.console().splitlines() if ln.strip().startswith(start)]
    assert lines, f"no console line starting {start!r}:\n{guest.console()[-3000:]}"
    return lines[-1]


def test_no_config_drive_dhcp_address_and_uuid_from_the_metadata_service(tiny, world,
                                                                          tmp_path):
    subnet = Subnet(id=str(uuid.uuid4()), network_id="", cidr=CIDR, gateway_ip=GATEWAY,
                    allocation_pools=(("10.61.0.2", "10.61.0.254"),))
    net = Network(id=str(uuid.uuid4()), vni=7000 + secrets.randbelow(1000), mtu=MTU,
                  subnets=(subnet,))
    group = SecurityGroup(id=str(uuid.uuid4()), rules=(
        SecurityGroupRule("egress"),
        SecurityGroupRule("ingress", protocol="tcp", port_range_min=80, port_range_max=80,
                          remote_ip_prefix=f"{DHCP_ADDRESS}/32")))
    mac = "fa:16:3e:" + ":".join(f"{secrets.randbelow(256):02x}" for _ in range(3))
    port = Port(id=str(uuid.uuid4()), network_id=net.id, mac=mac,
                fixed_ips=((subnet.id, GUEST_ADDRESS),), security_groups=(group.id,),
                hostname="dhcp-name")
    dhcp_port = Port(id=str(uuid.uuid4()), network_id=net.id,
                     mac="fa:16:3e:00:00:02", fixed_ips=((subnet.id, DHCP_ADDRESS),),
                     device_owner="network:dhcp")
    state = HostState(host="t1", local_ip=world.local_ip, networks=(net,), ports=(port,),
                      security_groups=(group,), dhcp_networks=(net.id,),
                      dhcp_ports=(port, dhcp_port))
    world.apply(state)
    dhcp_ns = names.dhcp_namespace(world.prefix, net.id)

    server_uuid = str(uuid.uuid4())
    hostname = f"tiny-md-{world.run}.novalocal"
    # Nova's key order; a user's metadata ("meta") holding "uuid" and
    # "hostname" keys must not be taken for the instance's.
    document = {"uuid": server_uuid,
                "meta": {"uuid": "00000000-0000-4000-8000-00000000dead",
                         "hostname": "not-this-one"},
                "public_keys": {"k1": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO1 t1@test"},
                "keys": [{"name": "k1", "type": "ssh",
                          "data": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO1 t1@test"}],
                "hostname": hostname, "name": f"tiny-md-{world.run}", "launch_index": 0,
                "availability_zone": "nova", "devices": []}
    md = Metadata(dhcp_ns, document)
    try:
        # QEMU runs in the host's namespace, so its tap is made there; the
        # next apply puts it on the network's bridge (as plug does).
        argv = ["ip", "netns", "exec", world.host, *qemu.base_argv(),
                "-kernel", tiny.kernel, "-initrd", tiny.ramdisk, "-append", "console=ttyS0",
                "-netdev", f"tap,id=n0,ifname={port.devname},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=n0,mac={mac}"]
        with qemu.Guest(argv, str(tmp_path), "dhcp") as guest:
            deadline = time.monotonic() + 30
            while sh("ip", "-n", world.host, "link", "show", "dev", port.devname,
                     check=False).returncode != 0:
                assert guest.proc.poll() is None, guest.console()
                assert time.monotonic() < deadline, f"QEMU made no tap {port.devname}"
                time.sleep(0.05)
            world.apply(state)

            seconds = guest.wait_booted(hostname, BOOT_TIMEOUT)
            print(f"no config drive, DHCP + metadata: marker after {seconds:.2f} s")
            print(_console_line(guest, "tiny: ready at uptime"))

            # The lease as the guest applied it: address, MTU, option 121's
            # metadata route (isolated subnet: via the DHCP server) and
            # default route, DNS (the DHCP server).
            lease = _console_line(guest, "tiny: eth0 dhcp ")
            assert f" dhcp {GUEST_ADDRESS}/24 " in lease, lease
            assert f" mtu {MTU} " in lease, lease
            assert f"169.254.169.254/32 {DHCP_ADDRESS}" in lease, lease
            assert f"0.0.0.0/0 {GATEWAY}" in lease, lease
            assert lease.endswith(f" dns {DHCP_ADDRESS}"), lease
            print(lease)
            console = guest.console()
            assert "tiny: meta_data.json from the metadata service" in console
            assert "tiny: 1 public key(s) in /root/.ssh/authorized_keys" in console
            assert mac in dhcp.leases(world.state_dir, net.id)

            # It answers HTTP at the DHCP address, with the metadata's uuid.
            body = _http_get(dhcp_ns, GUEST_ADDRESS, HTTP_TIMEOUT)
            assert body.splitlines() == [f"uuid={server_uuid}", f"hostname={hostname}",
                                         "source=metadata"], body
            assert (METADATA_PATH, GUEST_ADDRESS) in md.requests, md.requests
    finally:
        md.close()


def test_no_dhcp_server_boots_with_the_default_hostname(tiny, tmp_path):
    # A NIC on a QEMU hub with nothing else on it: DISCOVERs go nowhere.
    nic = ["-netdev", "hubport,id=n0,hubid=0", "-device", "virtio-net-pci,netdev=n0"]
    with qemu.boot_kernel(tiny.kernel, tiny.ramdisk, str(tmp_path), extra=nic) as guest:
        seconds = guest.wait_booted(tinyguest.DEFAULT_HOSTNAME, BOOT_TIMEOUT)
        print(f"no config drive, no DHCP server: marker after {seconds:.2f} s")
        print(_console_line(guest, "tiny: ready at uptime"))
        console = guest.console()
        assert "tiny: eth0: no DHCP lease" in console, console[-3000:]
        assert "metadata service" not in console, console[-3000:]


def test_config_drive_wins_and_dhcp_only_for_nics_it_does_not_name(tiny, tmp_path):
    disk = qemu.overlay(tiny.disk, str(tmp_path / "instance.qcow2"))
    cdrom = qemu.config_drive(str(tmp_path), "tiny-cd")
    nic = ["-netdev", "hubport,id=n0,hubid=0", "-device", "virtio-net-pci,netdev=n0"]
    with qemu.boot_disk(disk, str(tmp_path), config_drive=cdrom, extra=nic) as guest:
        guest.wait_booted("tiny-cd", BOOT_TIMEOUT)
        console = guest.console()
        # The config drive has no network_data.json: eth0 asks DHCP; its
        # meta_data.json is the source, so the metadata service is not asked.
        assert "tiny: eth0: no DHCP lease" in console, console[-3000:]
        assert "metadata service" not in console, console[-3000:]
