"""Issue 13's story with the Debian 12 cloud image (``novalite-manage image
build-debian``) on the vxlan data plane, under the real libvirt driver:

a project network and subnet, a router (gateway on an external network,
interface on the subnet), a key pair, a security group rule opening tcp/22,
the image booted with the key on the network (no config drive: cloud-init
finds the OpenStack datasource by the guest's SMBIOS, gets its address by
DHCP and reads the metadata service through the router), a floating IP
associated; ``ssh`` (BatchMode, the test's own key, a known_hosts file of
the test) from an "outside" namespace on the external network to the
floating IP runs ``hostname`` and prints the server's name. After delete,
nothing is left of the server's port (the port, its DHCP entry, its nftables
rules, its tap), nor of the router and networks.

The only Debian boot of a CI run (the benchmark smoke leaves its Debian side
out). The first build takes minutes (debootstrap); later runs take the cached
one from /var/cache/novalite-ci/debian-12. TCG boots of a full Debian are
slow: the times are printed (pytest -s) for the record, never asserted.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from novalite.image import debian
from novalite.network.dataplane import names
from novalite.virt.libvirt import agent
from tests.integration.netstack import (
    VxlanStack,
    outside,
    port_leftovers,
    remove_routed_network,
    routed_network,
    run,
    vxlan_stack,
    wait,
    wait_clean,
)
from tests.integration.realstack import libvirt_connection

# NOTE: a full Debian under TCG on a shared host takes minutes to reach sshd.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

ACTIVE_TIMEOUT = 300
SSH_TIMEOUT = 900
FLAVOR = "1"  # m1.tiny: 512 MiB, 1 GB disk


@pytest.fixture(scope="module")
def e() -> Iterator[VxlanStack]:
    # NOTE: no forced config drive, so cloud-init has to use the metadata
    # service (the "a stock cloud image with cloud-init").
    with vxlan_stack(label="debian", config_drive=False) as stack:
        yield stack


def _ssh(key: str, known_hosts: str, ns: str, address: str, *command: str,
         timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns,
         "ssh", "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
         "-o", f"UserKnownHostsFile={known_hosts}", "-o", "ConnectTimeout=5",
         "-o", "LogLevel=ERROR", f"{debian.DEFAULT_USER}@{address}", *command],
        capture_output=True, text=True, timeout=timeout, check=False)


def test_debian_image_over_a_floating_ip_ssh_prints_the_server_name(
        e: VxlanStack, tmp_path: Any) -> None:
    started = time.monotonic()
    built = debian.build(progress=print)
    print(f"build: {'cached' if built.cached else 'built'} in {built.seconds:.0f} s, "
          f"{built.manifest['size'] / 2**20:.0f} MiB qcow2, "
          f"{built.manifest['virtual_size'] / 2**20:.0f} MiB virtual")
    assert built.manifest["virtual_size"] < 600 * 2**20
    image = debian.register(built, progress=print)
    shown = e.rs.stack.request("GET", f"/image/v2/images/{image['id']}").json()
    assert shown["os_distro"] == "debian" and shown["hw_qemu_guest_agent"] == "yes"

    r = routed_network(e)
    ns_ext = f"{e.prefix}-ext"
    outside(e, r.outside_ip, r.ext_cidr.prefixlen,
            bridge=names.bridge_for_id(e.prefix, r.ext["id"]), ns=ns_ext, mtu=1500, tag="x")
    key = str(tmp_path / "id_ed25519")
    known_hosts = str(tmp_path / "known_hosts")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "n5-test", "-f", key],
                   check=True)
    with open(key + ".pub") as f:
        public_key = f.read().strip()
    name = f"deb-{uuid.uuid4().hex[:6]}"
    resp = e.rs.stack.compute("POST", "/os-keypairs", {"keypair": {
        "name": name, "public_key": public_key}})
    assert resp.status_code in (200, 201), resp.text
    rule: dict = {}
    fip: dict = {}
    with e.rs.servers(180) as ids:
        posted = time.monotonic()
        resp = e.rs.stack.compute("POST", "/servers", {"server": {
            "name": name, "imageRef": image["id"], "flavorRef": FLAVOR, "key_name": name,
            "networks": [{"uuid": r.net["id"]}]}})
        assert resp.status_code == 202, resp.text
        server_id = resp.json()["server"]["id"]
        ids.append(server_id)
        server = e.rs.stack.wait_for(server_id, lambda s: s.get("status") in ("ACTIVE", "ERROR")
                                     and s.get("OS-EXT-STS:task_state") is None,
                                     ACTIVE_TIMEOUT, "ACTIVE")
        assert server["status"] == "ACTIVE", server.get("fault")
        active_at = time.monotonic()
        # Port 22 opened in the port's (the project's default) group, a
        # floating IP on the port.
        (port,) = e.api("GET", f"/ports?device_id={server_id}")["ports"]
        (group,) = port["security_groups"]
        rule = e.api("POST", "/security-group-rules", {"security_group_rule": {
            "security_group_id": group, "direction": "ingress", "ethertype": "IPv4",
            "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
            "remote_ip_prefix": "0.0.0.0/0"}}, 201)["security_group_rule"]
        fip = e.api("POST", "/floatingips", {"floatingip": {
            "floating_network_id": r.ext["id"], "port_id": port["id"]}}, 201)["floatingip"]
        address = fip["floating_ip_address"]

        def hostname() -> str | None:
            done = _ssh(key, known_hosts, ns_ext, address, "hostname")
            return done.stdout.strip() if done.returncode == 0 else None
        answered = wait(hostname, SSH_TIMEOUT, f"ssh {debian.DEFAULT_USER}@{address}",
                        interval=3)
        ssh_at = time.monotonic()
        assert answered == name
        keys = _ssh(key, known_hosts, ns_ext, address, "cat", ".ssh/authorized_keys")
        assert keys.returncode == 0 and public_key in keys.stdout, keys
        # cloud-init took the metadata service (no config drive was given).
        data = _ssh(key, known_hosts, ns_ext, address, "cat",
                    "/run/cloud-init/instance-data.json")
        assert data.returncode == 0, data
        v1 = json.loads(data.stdout)["v1"]
        assert v1["platform"] == "openstack" and \
            v1["subplatform"].startswith("metadata (http://169.254.169.254"), v1
        conn = libvirt_connection()
        dom = e.rs.domain(conn, server_id)
        assert dom is not None
        # The guest agent of the image answers too.
        agent.wait_ready(dom, time.monotonic() + 120)
        assert agent.read_file(dom, "/etc/hostname").decode().strip() == name
        conn.close()
        print(f"boot: POST -> ACTIVE {active_at - posted:.0f} s, POST -> ssh answer "
              f"{ssh_at - posted:.0f} s (TCG)")
        e.rs.delete(server_id, timeout=180)

    # The port Nova made for the server went with it, and nothing of it is
    # left on the host; the floating IP stays, unassociated.
    assert e.api("GET", f"/ports?device_id={server_id}")["ports"] == []
    wait_clean(lambda: port_leftovers(e.rs.stack, port, e.state_dir), 60,
               f"port {port['id']}")
    assert e.api("GET", f"/floatingips/{fip['id']}")["floatingip"]["port_id"] is None
    e.api("DELETE", f"/floatingips/{fip['id']}", status=204)
    e.api("DELETE", f"/security-group-rules/{rule['id']}", status=204)
    e.rs.stack.compute("DELETE", f"/os-keypairs/{name}")
    run("ip", "netns", "del", ns_ext, check=False)
    remove_routed_network(e, r)
    print(f"whole test {time.monotonic() - started:.0f} s")
