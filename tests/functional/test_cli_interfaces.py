"""The unmodified ``openstack`` CLI against ``novalite-all-in-one`` for a
server's interfaces (os-interface): ``server add port``, ``server add
network`` (with a 2.49 tag), ``port list --server``, ``server remove port``
and ``server remove network``."""

from __future__ import annotations

import time

import pytest

from tests.functional.test_openstack_cli import (  # noqa: F401
    all_in_one,
    openstack,
    openstack_proc,
)

pytestmark = pytest.mark.process


def _ports_of(aio, server: str) -> set[str]:
    return {p["ID"] for p in openstack(aio, "port", "list", "--server", server, "-f", "json")}


def _wait_ports(aio, server: str, expected: set[str], timeout: float = 30.0) -> None:
    """Detach is a cast (202): wait for the server's ports to become ``expected``."""
    deadline = time.monotonic() + timeout
    have: set[str] = set()
    while time.monotonic() < deadline:
        have = _ports_of(aio, server)
        if have == expected:
            return
        time.sleep(0.5)
    raise AssertionError(f"{server} has ports {have}, expected {expected}")


def test_server_add_and_remove_port_and_network(all_in_one):  # noqa: F811
    aio = all_in_one
    openstack(aio, "network", "create", "if-cli-net", "-f", "json")
    openstack(aio, "subnet", "create", "--network", "if-cli-net", "--subnet-range",
              "10.124.0.0/24", "if-cli-sub", "-f", "json")
    server = openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image",
                       "novalite-tiny", "--network", "private", "--wait", "if-cli-vm",
                       "-f", "json")
    assert server["status"] == "ACTIVE"
    (boot_port,) = _ports_of(aio, "if-cli-vm")

    # server add port: the user's port, by name.
    port = openstack(aio, "port", "create", "--network", "if-cli-net", "--fixed-ip",
                     "subnet=if-cli-sub,ip-address=10.124.0.50", "if-cli-port", "-f", "json")
    openstack(aio, "server", "add", "port", "if-cli-vm", "if-cli-port")
    assert _ports_of(aio, "if-cli-vm") == {boot_port, port["id"]}
    bound = openstack(aio, "port", "show", "if-cli-port", "-f", "json")
    assert (bound["device_id"], bound["device_owner"], bound["status"]) == (
        server["id"], "compute:nova", "ACTIVE")
    shown = openstack(aio, "server", "show", "if-cli-vm", "-f", "json")
    assert shown["addresses"]["if-cli-net"] == ["10.124.0.50"]

    # server add network, tagged (2.49).
    openstack(aio, "--os-compute-api-version", "2.49", "server", "add", "network",
              "--tag", "data", "if-cli-vm", "if-cli-net")
    ports = _ports_of(aio, "if-cli-vm")
    (made,) = ports - {boot_port, port["id"]}
    addresses = openstack(aio, "server", "show", "if-cli-vm", "-f", "json")["addresses"]
    assert len(addresses["if-cli-net"]) == 2 and "10.124.0.50" in addresses["if-cli-net"]

    # server remove port: the user's port stays, unbound.
    openstack(aio, "server", "remove", "port", "if-cli-vm", "if-cli-port")
    _wait_ports(aio, "if-cli-vm", {boot_port, made})
    kept = openstack(aio, "port", "show", "if-cli-port", "-f", "json")
    assert (kept["device_id"], kept["status"]) == ("", "DOWN")

    # server remove network: every port of it goes; the one made for it is deleted.
    openstack(aio, "server", "add", "port", "if-cli-vm", "if-cli-port")
    openstack(aio, "server", "remove", "network", "if-cli-vm", "if-cli-net")
    _wait_ports(aio, "if-cli-vm", {boot_port})
    gone = openstack_proc(aio, "port", "show", made)
    assert gone.returncode != 0
    assert openstack(aio, "port", "show", "if-cli-port", "-f", "json")["device_id"] == ""
    assert "if-cli-net" not in openstack(aio, "server", "show", "if-cli-vm", "-f", "json")[
        "addresses"]

    # Another server's port: refused with Nova's 409.
    other = openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image",
                      "novalite-tiny", "--nic", f"port-id={port['id']}", "--wait",
                      "if-cli-other", "-f", "json")
    refused = openstack_proc(aio, "server", "add", "port", "if-cli-vm", "if-cli-port")
    assert refused.returncode != 0 and "409" in refused.stderr, refused.stderr
    openstack(aio, "server", "delete", "--wait", "if-cli-vm", other["id"])
    openstack(aio, "port", "delete", "if-cli-port")
    openstack(aio, "subnet", "delete", "if-cli-sub")
    openstack(aio, "network", "delete", "if-cli-net")
