"""What layer 3 asks of the kernel, computed from a state (no kernel here;
tests/integration/test_dataplane_l3.py runs it for real)."""

from __future__ import annotations

import dataclasses

import pytest

from novalite import exception
from novalite.network.dataplane import l3, metadata_proxy
from novalite.network.dataplane.state import (
    FloatingIP,
    HostState,
    Metadata,
    Network,
    Router,
    RouterGateway,
    RouterInterface,
)

GW = RouterGateway(network_id="ext", address="172.24.4.10", cidr="172.24.4.0/24",
                   gateway_ip="172.24.4.1")
IFACE = RouterInterface(port_id="p1", network_id="n1", subnet_id="s1", address="10.0.0.1",
                        cidr="10.0.0.0/24", mac="FA:16:3E:00:00:01")
FIP = FloatingIP(id="f1", address="172.24.4.20", fixed_address="10.0.0.5", port_id="vm")


def test_nat_rules_of_a_router_with_a_floating_ip() -> None:
    script = l3.nat_script(Router(id="r1", gateway=GW, interfaces=(IFACE,),
                                  floating_ips=(FIP,)))
    assert "ip daddr 172.24.4.20 dnat to 10.0.0.5" in script
    assert 'ip saddr 10.0.0.5 oifname "qg-r1" snat to 172.24.4.20' in script
    assert 'oifname "qg-r1" ip saddr { 10.0.0.0/24 } snat to 172.24.4.10' in script


def test_no_snat_without_enable_snat() -> None:
    gw = dataclasses.replace(GW, enable_snat=False)
    script = l3.nat_script(Router(id="r1", gateway=gw, interfaces=(IFACE,),
                                  floating_ips=(FIP,)))
    assert "snat to 172.24.4.10" not in script
    assert "dnat to 10.0.0.5" in script


def test_no_gateway_no_nat() -> None:
    script = l3.nat_script(Router(id="r1", interfaces=(IFACE,)))
    assert "chain" not in script


def test_the_table_digest_follows_the_rules() -> None:
    a = l3.nat_script(Router(id="r1", gateway=GW, interfaces=(IFACE,)))
    b = l3.nat_script(Router(id="r1", gateway=GW, interfaces=(IFACE,), floating_ips=(FIP,)))
    assert a == l3.nat_script(Router(id="r1", gateway=GW, interfaces=(IFACE,)))
    assert a.splitlines()[1] != b.splitlines()[1]


def test_one_leg_per_port_with_all_its_subnets() -> None:
    second = RouterInterface(port_id="p1", network_id="n1", subnet_id="s2",
                             address="10.0.1.1", cidr="10.0.1.0/24", mac="fa:16:3e:00:00:01")
    state = HostState(host="h", local_ip="192.0.2.1",
                      networks=(Network(id="n1", vni=7, mtu=1400),))
    [leg] = l3._interface_legs(state, "nl", Router(id="r1", interfaces=(IFACE, second)))
    assert leg.addresses == ("10.0.0.1/24", "10.0.1.1/24")
    assert (leg.mac, leg.mtu, leg.inner) == ("fa:16:3e:00:00:01", 1400, "qr-p1")


def test_a_port_on_two_networks_is_refused() -> None:
    other = RouterInterface(port_id="p1", network_id="n2", subnet_id="s2",
                            address="10.0.1.1", cidr="10.0.1.0/24", mac="fa:16:3e:00:00:01")
    state = HostState(host="h", local_ip="192.0.2.1")
    with pytest.raises(exception.InvalidNetwork):
        l3._interface_legs(state, "nl", Router(id="r1", interfaces=(IFACE, other)))


def test_the_gateway_mac_is_stable_and_local() -> None:
    mac = l3.gateway_mac("r1")
    assert mac == l3.gateway_mac("r1") != l3.gateway_mac("r2")
    assert mac.startswith("fa:16:3e:")


def test_proxies_wanted() -> None:
    router = Router(id="r1", gateway=GW, interfaces=(IFACE,))
    meta = Metadata(service_url="http://127.0.0.1:8775", shared_secret="s")
    state = HostState(host="h", local_ip="192.0.2.1", routers=(router,), metadata=meta,
                      dhcp_networks=("n2",))
    legs = {"n2": ("nldhcp-n2", "ns-n2"), "n3": ("nldhcp-n3", "ns-n3")}
    assert metadata_proxy.wanted(state, "nl", legs) == [
        metadata_proxy.Listener("nlr-r1", "qr-p1", "n1"),
        metadata_proxy.Listener("nldhcp-n2", "ns-n2", "n2")]
    assert metadata_proxy.wanted(HostState(host="h", local_ip="192.0.2.1",
                                           routers=(router,)), "nl", legs) == []


def test_signature() -> None:
    # hex HMAC-SHA256(secret, "{network_id} {address}"), as the service checks.
    import hashlib
    import hmac

    assert metadata_proxy.sign("k", "n1", "10.0.0.5") == hmac.new(
        b"k", b"n1 10.0.0.5", hashlib.sha256).hexdigest()
