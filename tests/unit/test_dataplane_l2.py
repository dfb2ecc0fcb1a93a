"""The data plane's layer 2 without the kernel: names, the nftables a state
turns into, dnsmasq's entries and options, the state's JSON form."""

from __future__ import annotations

import dataclasses
import json

import pytest

from novalite import exception
from novalite.network.dataplane import agent, dhcp, names, secgroups
from novalite.network.dataplane.state import (
    HostState,
    Network,
    Port,
    Router,
    RouterInterface,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
)

NET_ID = "6f1c2b7e-1234-4d3e-9abc-0123456789ab"


def test_names_fit_and_carry_the_prefix() -> None:
    for prefix in ("nl", "abcdef"):
        for name in (names.bridge_for_id(prefix, NET_ID), names.vxlan(prefix, 16777215),
                     names.dhcp_host_end(prefix, NET_ID),
                     names.router_gateway_host_end(prefix, NET_ID),
                     names.router_interface_host_end(prefix, NET_ID)):
            assert len(name) <= 15 and name.startswith(prefix), name
    assert names.bridge_for_id("nl", NET_ID) == "nlb6f1c2b7e1234"
    assert names.dhcp_namespace("nl", NET_ID) == f"nldhcp-{NET_ID}"
    assert names.is_bridge_name("nl", "nlb6f1c2b7e1234")
    assert not names.is_bridge_name("nl", "nlv1001") and names.is_vxlan_name("nl", "nlv1001")


@pytest.mark.parametrize("prefix", ["", "Nl", "1a", "abcdefg", "n-l"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(exception.InvalidNetwork):
        names.check_prefix(prefix)


def test_ids_that_would_break_a_name_are_refused() -> None:
    with pytest.raises(exception.InvalidNetwork):
        names.dhcp_namespace("nl", "../x")
    with pytest.raises(exception.InvalidNetwork):
        names.vxlan("nl", 0)


def test_rules_translate_as_neutron_means_them() -> None:
    groups = {"g": SecurityGroup(id="g", member_addresses=("10.0.0.3",))}
    match = secgroups.rule_match
    assert match(SecurityGroupRule("ingress", protocol="tcp", port_range_min=22,
                                   port_range_max=22, remote_ip_prefix="10.1.2.3/8"),
                 groups) == "ether type ip ip saddr 10.0.0.0/8 meta l4proto 6 th dport 22"
    assert match(SecurityGroupRule("egress", protocol="udp", port_range_min=1000,
                                   port_range_max=2000, remote_group_id="g"),
                 groups) == "ether type ip ip daddr @sg4-g meta l4proto 17 th dport 1000-2000"
    # "icmp" on an IPv6 rule is ICMPv6; port_range_min/max are type and code.
    assert match(SecurityGroupRule("ingress", ethertype="IPv6", protocol="icmp",
                                   port_range_min=128, port_range_max=0),
                 groups) == "ether type ip6 meta l4proto 58 icmpv6 type 128 icmpv6 code 0"
    assert match(SecurityGroupRule("egress"), groups) == "ether type ip"
    # A remote group this host does not know, or a prefix of the other
    # family, matches nothing.
    assert match(SecurityGroupRule("ingress", remote_group_id="other"), groups) is None
    assert match(SecurityGroupRule("ingress", remote_ip_prefix="fd00::/8"), groups) is None
    with pytest.raises(exception.InvalidNetwork):
        match(SecurityGroupRule("ingress", protocol="bogus"), groups)


def _port(pid: str, ip: str, **kw: object) -> Port:
    return Port(id=pid, network_id=NET_ID, mac="fa:16:3e:00:00:01",
                fixed_ips=(("s", ip),), **kw)  # type: ignore[arg-type]


def test_ports_without_port_security_are_not_filtered() -> None:
    net = Network(id=NET_ID, vni=1001)
    open_port = _port("p-open", "10.0.0.3", port_security_enabled=False)
    state = HostState(host="h", local_ip="192.0.2.1", networks=(net,), ports=(open_port,))
    assert secgroups.ruleset(state, "nl") is None
    guarded = _port("p-guarded", "10.0.0.4")
    text = secgroups.ruleset(dataclasses.replace(state, ports=(open_port, guarded)), "nl")
    assert text is not None and "po-p-guarded" in text and "p-open" not in text
    # Anti-spoofing: the port's own MAC/IP, its IPv6 link-local address.
    assert "ether saddr fa:16:3e:00:00:01 ip saddr 10.0.0.4 goto ps-p-guarded" in text
    assert "ip6 saddr fe80::f816:3eff:fe00:1" in text
    assert secgroups.link_local("fa:16:3e:00:00:01") == "fe80::f816:3eff:fe00:1"


def _dhcp_state(*extra: Port, routers: tuple[Router, ...] = ()) -> HostState:
    subnet = Subnet(id="s", network_id=NET_ID, cidr="10.0.0.0/24", gateway_ip="10.0.0.1",
                    host_routes=(("192.168.0.0/16", "10.0.0.254"),))
    net = Network(id=NET_ID, vni=1001, mtu=1400, subnets=(subnet,))
    ports = (_port("p1", "10.0.0.5", hostname="web-1"), _port("p2", "10.0.0.2",
                                                               hostname="bad_name"))
    return HostState(host="h", local_ip="192.0.2.1", networks=(net,),
                     dhcp_networks=(NET_ID,), dhcp_ports=ports + extra, routers=routers)


def test_dhcp_without_a_router_announces_itself_for_metadata() -> None:
    state = _dhcp_state()
    server = dhcp._server(state, state.networks[0])
    # No network:dhcp port: the first pool address nobody holds (.1 is the
    # gateway, .2 a port).
    assert server.addresses == {"s": "10.0.0.3"} and server.isolated == {"s"}
    assert dhcp._hosts_file(state, server) == ("fa:16:3e:00:00:01,10.0.0.2,host-10-0-0-2\n"
                                               "fa:16:3e:00:00:01,10.0.0.5,web-1\n")
    assert dhcp._addn_hosts_file(state, server) == (
        "10.0.0.2\thost-10-0-0-2.openstacklocal host-10-0-0-2\n"
        "10.0.0.5\tweb-1.openstacklocal web-1\n")
    opts = dhcp._opts_file(server).splitlines()
    routes = "192.168.0.0/16,10.0.0.254,169.254.169.254/32,10.0.0.3,0.0.0.0/0,10.0.0.1"
    assert opts == [f"tag:subnet-s,option:classless-static-route,{routes}",
                    f"tag:subnet-s,249,{routes}",
                    "tag:subnet-s,option:router,10.0.0.1"]
    args = dhcp._args("nl", server, "/d")
    assert "--dhcp-range=set:subnet-s,10.0.0.0,static,255.255.255.0,86400s" in args
    assert "--dhcp-option-force=tag:subnet-s,option:mtu,1400" in args


def test_dhcp_with_a_router_sends_metadata_to_the_gateway() -> None:
    dhcp_port = Port(id="d", network_id=NET_ID, mac="fa:16:3e:aa:bb:cc",
                     fixed_ips=(("s", "10.0.0.9"),), device_owner="network:dhcp")
    router_port = Port(id="r", network_id=NET_ID, mac="fa:16:3e:aa:bb:cd",
                       fixed_ips=(("s", "10.0.0.1"),),
                       device_owner="network:router_interface")
    state = _dhcp_state(dhcp_port, router_port)
    server = dhcp._server(state, state.networks[0])
    assert server.addresses == {"s": "10.0.0.9"} and server.mac == "fa:16:3e:aa:bb:cc"
    assert not server.isolated
    assert "169.254.169.254/32,10.0.0.1" in dhcp._opts_file(server)
    assert "10.0.0.9" not in dhcp._hosts_file(state, server)
    # A router hosted here counts the same.
    iface = RouterInterface(port_id="r", network_id=NET_ID, subnet_id="s",
                            address="10.0.0.1", cidr="10.0.0.0/24", mac="fa:16:3e:aa:bb:cd")
    state = _dhcp_state(routers=(Router(id="x", interfaces=(iface,)),))
    assert not dhcp._server(state, state.networks[0]).isolated


def test_dhcp_sends_the_subnets_dns_servers() -> None:
    state = _dhcp_state()
    net = state.networks[0]
    subnet = dataclasses.replace(net.subnets[0], dns_nameservers=("192.0.2.53", "192.0.2.54"))
    state = dataclasses.replace(state, networks=(dataclasses.replace(net, subnets=(subnet,)),))
    opts = dhcp._opts_file(dhcp._server(state, state.networks[0]))
    assert "tag:subnet-s,option:dns-server,192.0.2.53,192.0.2.54\n" in opts


def test_dhcp_without_gateway_sends_an_empty_router_option() -> None:
    state = _dhcp_state()
    net = state.networks[0]
    subnet = dataclasses.replace(net.subnets[0], gateway_ip=None, host_routes=())
    state = dataclasses.replace(state, networks=(dataclasses.replace(net, subnets=(subnet,)),))
    opts = dhcp._opts_file(dhcp._server(state, state.networks[0]))
    assert "tag:subnet-s,option:router\n" in opts
    # (no gateway: the DHCP server takes .1, the first free address)
    assert "169.254.169.254/32,10.0.0.1" in opts and "0.0.0.0/0" not in opts


def test_state_round_trips_through_json() -> None:
    state = dataclasses.replace(
        _dhcp_state(), ports=(_port("p9", "10.0.0.7", allowed_address_pairs=(
            ("10.0.5.0/24", None),)),),
        security_groups=(SecurityGroup(id="g", rules=(SecurityGroupRule(
            "ingress", protocol="tcp", port_range_min=80, port_range_max=80),)),))
    data = json.loads(json.dumps(dataclasses.asdict(state)))
    assert agent.load_state(data) == state
    with pytest.raises(ValueError):
        agent.load_state({**data, "surprise": 1})
