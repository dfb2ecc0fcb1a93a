"""The unmodified ``openstack`` CLI against ``novalite-all-in-one`` for
security groups, routers and floating IPs: security group (rule) create,
router create / set --external-gateway / add subnet, floating ip create /
set --port / unset --port, server add floating ip, server add/remove
security group, and the server showing its floating IP."""

from __future__ import annotations

import pytest

from tests.functional.test_openstack_cli import (  # noqa: F401
    all_in_one,
    openstack,
    openstack_proc,
)

pytestmark = pytest.mark.process


def test_security_groups_routers_and_floating_ips(all_in_one):  # noqa: F811
    aio = all_in_one
    group = openstack(aio, "security", "group", "create", "--description", "web", "cli-web",
                      "-f", "json")
    assert group["name"] == "cli-web"
    assert {r["direction"] for r in group["rules"]} == {"egress"}
    http = openstack(aio, "security", "group", "rule", "create", "--protocol", "tcp",
                     "--dst-port", "80", "--remote-ip", "0.0.0.0/0", "cli-web", "-f", "json")
    assert (http["protocol"], http["port_range_min"], http["port_range_max"],
            http["direction"]) == ("tcp", 80, 80, "ingress")
    again = openstack_proc(aio, "security", "group", "rule", "create", "--protocol", "tcp",
                           "--dst-port", "80", "--remote-ip", "0.0.0.0/0", "cli-web")
    assert again.returncode != 0 and "already exists" in again.stderr
    rules = openstack(aio, "security", "group", "rule", "list", "cli-web", "-f", "json")
    assert http["id"] in [r["ID"] for r in rules]

    openstack(aio, "network", "create", "--external", "cli-public", "-f", "json")
    openstack(aio, "subnet", "create", "--network", "cli-public", "--subnet-range",
              "172.29.9.0/24", "--no-dhcp", "cli-public-sub", "-f", "json")
    openstack(aio, "network", "create", "cli-inside", "-f", "json")
    inside_sub = openstack(aio, "subnet", "create", "--network", "cli-inside",
                           "--subnet-range", "10.129.0.0/24", "cli-inside-sub", "-f", "json")
    router = openstack(aio, "router", "create", "cli-router", "-f", "json")
    assert router["status"] == "ACTIVE"
    openstack(aio, "router", "set", "--external-gateway", "cli-public", "cli-router")
    openstack(aio, "router", "add", "subnet", "cli-router", "cli-inside-sub")
    shown = openstack(aio, "router", "show", "cli-router", "-f", "json")
    info = shown["external_gateway_info"]
    assert info["external_fixed_ips"][0]["ip_address"].startswith("172.29.9.")
    ports = openstack(aio, "port", "list", "--router", "cli-router", "-f", "json")
    assert any(p["Fixed IP Addresses"][0]["ip_address"] == "10.129.0.1" for p in ports)
    assert inside_sub["gateway_ip"] == "10.129.0.1"

    server = openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image",
                       "novalite-tiny", "--network", "cli-inside", "--security-group",
                       "cli-web", "--wait", "cli-fip-vm", "-f", "json")
    assert server["status"] == "ACTIVE"
    fip = openstack(aio, "floating", "ip", "create", "cli-public", "-f", "json")
    address = fip["floating_ip_address"]
    assert address.startswith("172.29.9.") and fip["status"] == "DOWN"
    openstack(aio, "server", "add", "floating", "ip", "cli-fip-vm", address)
    fip = openstack(aio, "floating", "ip", "show", address, "-f", "json")
    assert fip["status"] == "ACTIVE" and fip["router_id"] == router["id"]
    shown = openstack(aio, "server", "show", "cli-fip-vm", "-f", "json")
    assert address in shown["addresses"]["cli-inside"]
    openstack(aio, "floating", "ip", "unset", "--port", address)
    assert openstack(aio, "floating", "ip", "show", address, "-f", "json")["port_id"] is None
    (port,) = openstack(aio, "port", "list", "--server", "cli-fip-vm", "-f", "json")
    openstack(aio, "floating", "ip", "set", "--port", port["ID"], address)
    assert openstack(aio, "floating", "ip", "show", address, "-f", "json")["port_id"] == \
        port["ID"]

    groups = [g["name"] for g in openstack(aio, "server", "show", "cli-fip-vm", "-f",
                                           "json")["security_groups"]]
    assert groups == ["cli-web"]
    openstack(aio, "server", "add", "security", "group", "cli-fip-vm", "default")
    groups = [g["name"] for g in openstack(aio, "server", "show", "cli-fip-vm", "-f",
                                           "json")["security_groups"]]
    assert sorted(groups) == ["cli-web", "default"]
    openstack(aio, "server", "remove", "security", "group", "cli-fip-vm", "cli-web")
    in_use = openstack_proc(aio, "security", "group", "delete", "default")
    assert in_use.returncode != 0
    port_groups = openstack(aio, "port", "show", port["ID"], "-f", "json")["security_group_ids"]
    assert len(port_groups) == 1
    openstack(aio, "security", "group", "delete", "cli-web")

    openstack(aio, "server", "delete", "--wait", "cli-fip-vm")
    openstack(aio, "floating", "ip", "delete", address)
    openstack(aio, "router", "remove", "subnet", "cli-router", "cli-inside-sub")
    openstack(aio, "router", "unset", "--external-gateway", "cli-router")
    openstack(aio, "router", "delete", "cli-router")
    assert "cli-router" not in [r["Name"] for r in openstack(aio, "router", "list",
                                                             "-f", "json")]
