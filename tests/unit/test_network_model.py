"""network_info from ports and network_data.json from network_info."""

from __future__ import annotations

from novalite.network import model

PORT = {"uuid": "0123456789abcdef-port", "mac": "fa:16:3e:00:00:01", "vnic_type": "normal",
        "port_security_enabled": True, "allowed_address_pairs": [],
        "preserve_on_delete": True,
        "fixed_ips": [{"subnet_id": "s4", "ip_address": "10.0.0.5"},
                      {"subnet_id": "s6", "ip_address": "fd00::5"}]}
NET = {"uuid": "net", "name": "private", "bridge": "brqnet", "mtu": 1450,
       "segmentation_id": 1007}
SUBNETS = {
    "s4": {"uuid": "s4", "cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.1", "ip_version": 4,
           "enable_dhcp": True, "dns_nameservers": ["10.0.0.53"],
           "host_routes": [{"destination": "10.9.0.0/16", "nexthop": "10.0.0.254"}]},
    "s6": {"uuid": "s6", "cidr": "fd00::/64", "gateway_ip": "fd00::1", "ip_version": 6,
           "enable_dhcp": True, "dns_nameservers": [], "host_routes": []},
}


def test_a_vif_from_a_port_keeps_the_shape_the_drivers_read() -> None:
    vif = model.vif_from_port(PORT, NET, SUBNETS, ["sg-1"])
    assert (vif["id"], vif["address"], vif["type"], vif["devname"], vif["vnic_type"]) == (
        PORT["uuid"], PORT["mac"], "bridge", "tap0123456789a", "normal")
    assert vif["security_groups"] == ["sg-1"] and vif["preserve_on_delete"] is True
    net = vif["network"]
    assert (net["id"], net["label"], net["bridge"], net["mtu"], net["vni"]) == (
        "net", "private", "brqnet", 1450, 1007)
    assert [(s["cidr"], s["gateway"], [ip["address"] for ip in s["ips"]])
            for s in net["subnets"]] == [("10.0.0.0/24", "10.0.0.1", ["10.0.0.5"]),
                                         ("fd00::/64", "fd00::1", ["fd00::5"])]
    assert net["subnets"][0]["routes"] == [{"cidr": "10.9.0.0/16", "gateway": "10.0.0.254"}]
    assert [ip["address"] for ip in model.fixed_ips(vif)] == ["10.0.0.5", "fd00::5"]
    assert model.addresses([vif])["private"][1]["version"] == 6


def test_network_data_default_route_first_then_host_routes_dns_and_ipv6() -> None:
    data = model.network_data([model.vif_from_port(PORT, NET, SUBNETS)])
    assert data["links"][0]["mtu"] == 1450
    v4, v6 = data["networks"]
    assert (v4["type"], v4["netmask"]) == ("ipv4", "255.255.255.0")
    assert v4["routes"] == [
        {"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"},
        {"network": "10.9.0.0", "netmask": "255.255.0.0", "gateway": "10.0.0.254"}]
    assert (v6["type"], v6["routes"][0]["gateway"]) == ("ipv6", "fd00::1")
    assert data["services"] == [{"type": "dns", "address": "10.0.0.53"}]
