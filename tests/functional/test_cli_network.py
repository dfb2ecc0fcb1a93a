"""The unmodified ``openstack`` CLI against ``novalite-all-in-one`` for the
Network API: networks, subnets, ports, and a server on a port made
beforehand (``server create --nic port-id=``) or on a network by name
(``--network``)."""

from __future__ import annotations

import pytest

from tests.functional.test_openstack_cli import (  # noqa: F401
    all_in_one,
    openstack,
    openstack_proc,
)

pytestmark = pytest.mark.process


def test_network_subnet_port_and_servers_on_them(all_in_one):  # noqa: F811
    aio = all_in_one
    created = openstack(aio, "network", "create", "--description", "cli net", "cli-net",
                        "-f", "json")
    assert (created["name"], created["status"], created["shared"], created["mtu"]) == (
        "cli-net", "ACTIVE", False, 1450)
    assert created["provider:network_type"] == "vxlan"  # the admin sees provider:*
    net_id = created["id"]
    listed = {n["Name"]: n["ID"] for n in openstack(aio, "network", "list", "-f", "json")}
    assert listed["cli-net"] == net_id and "private" in listed

    sub = openstack(aio, "subnet", "create", "--network", "cli-net", "--subnet-range",
                    "10.123.0.0/24", "--dns-nameserver", "10.123.0.53", "cli-sub",
                    "-f", "json")
    assert (sub["cidr"], sub["gateway_ip"], sub["network_id"], sub["enable_dhcp"]) == (
        "10.123.0.0/24", "10.123.0.1", net_id, True)
    assert sub["dns_nameservers"] == ["10.123.0.53"]
    assert sub["allocation_pools"] == [{"start": "10.123.0.2", "end": "10.123.0.254"}]
    shown = openstack(aio, "network", "show", "cli-net", "-f", "json")
    assert shown["subnets"] == [sub["id"]]

    port = openstack(aio, "port", "create", "--network", "cli-net", "--fixed-ip",
                     "subnet=cli-sub,ip-address=10.123.0.77", "cli-port", "-f", "json")
    assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.123.0.77"}]
    assert port["device_id"] == "" and port["status"] == "DOWN"

    server = openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image",
                       "novalite-tiny", "--nic", f"port-id={port['id']}", "--wait",
                       "on-port", "-f", "json")
    assert server["status"] == "ACTIVE"
    assert server["addresses"] == {"cli-net": ["10.123.0.77"]}
    bound = openstack(aio, "port", "show", port["id"], "-f", "json")
    assert (bound["device_id"], bound["device_owner"]) == (server["id"], "compute:nova")
    by_server = openstack(aio, "port", "list", "--server", "on-port", "-f", "json")
    assert [p["ID"] for p in by_server] == [port["id"]]

    on_net = openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image",
                       "novalite-tiny", "--network", "cli-net", "--wait", "on-net",
                       "-f", "json")
    (address,) = on_net["addresses"]["cli-net"]
    assert address.startswith("10.123.0.") and address != "10.123.0.77"

    # In use: the network cannot go.
    refused = openstack_proc(aio, "network", "delete", "cli-net")
    assert refused.returncode != 0 and "ports still in use" in refused.stderr, refused.stderr

    openstack(aio, "server", "delete", "--wait", "on-port", "on-net")
    # The user's port stays (unbound), the one Nova made is gone.
    ports = openstack(aio, "port", "list", "--network", "cli-net", "-f", "json")
    assert [p["ID"] for p in ports] == [port["id"]]
    assert openstack(aio, "port", "show", port["id"], "-f", "json")["device_id"] == ""
    openstack(aio, "port", "delete", "cli-port")
    openstack(aio, "subnet", "delete", "cli-sub")
    openstack(aio, "network", "delete", "cli-net")
    assert "cli-net" not in {n["Name"] for n in openstack(aio, "network", "list", "-f", "json")}
