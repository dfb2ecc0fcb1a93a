"""Per-port filters as configured, without a host: the interface XML carries
clean-traffic with the port's MAC and address, and the nftables script lets
guests reach only the host ports an operator allowed. (That the filters
drop what they should is proven on real guests in
tests/integration/test_antispoofing.py.)"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from novalite import exception
from novalite.conf import CONF
from novalite.network import filtering
from novalite.network import model as network_model
from novalite.virt.libvirt import vif

FIP = {"uuid": "6f1c2a3b-0000-4000-8000-000000000001", "mac": "FA:16:3E:00:00:05",
       "address": "10.9.0.5",
       "network": {"uuid": "n1", "name": "private", "bridge": "nlbr9", "cidr": "10.9.0.0/24",
                   "gateway": "10.9.0.1"}}


@pytest.fixture
def conf() -> Iterator[None]:
    yield
    CONF.clear_override("port_security", group="network")
    CONF.clear_override("guest_host_allowed_ports", group="network")


def _interface_xml() -> ET.Element:
    devices = ET.Element("devices")
    vif.get_config(network_model.vif_from_fixed_ip(FIP)).format_dom(devices)
    iface = devices.find("interface")
    assert iface is not None
    return iface


def test_interface_has_clean_traffic_with_the_ports_mac_and_address(conf: None) -> None:
    ref = _interface_xml().find("filterref")
    assert ref is not None and ref.get("filter") == "clean-traffic"
    assert [(p.get("name"), p.get("value")) for p in ref.findall("parameter")] == [
        ("MAC", "fa:16:3e:00:00:05"), ("IP", "10.9.0.5")]


def test_port_security_off_leaves_the_interface_unfiltered(conf: None) -> None:
    CONF.set_override("port_security", False, group="network")
    assert _interface_xml().find("filterref") is None


def test_guests_reach_no_host_port_unless_allowed(conf: None) -> None:
    script = filtering._base_script()
    assert "dport" not in script
    assert script.rstrip().endswith('counter drop comment "guest to host"')
    CONF.set_override("guest_host_allowed_ports", ["udp/67", "TCP/80"], group="network")
    script = filtering._base_script()
    assert "meta l4proto udp udp dport 67 accept" in script
    assert "meta l4proto tcp tcp dport 80 accept" in script
    # the allowances come before the drop
    assert script.index("dport 80") < script.index("counter drop")


@pytest.mark.parametrize("bad", ["80", "icmp/1", "tcp/0", "tcp/70000", "tcp/80;drop"])
def test_bad_allowed_port_is_named_in_the_error(conf: None, bad: str) -> None:
    CONF.set_override("guest_host_allowed_ports", [bad], group="network")
    with pytest.raises(exception.InvalidNetwork) as info:
        filtering.allowed_ports()
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("args", [("br0", "tap1", "fa:16:3e:00:00:0g"),
                                  ("br0", 'tap1" accept', "fa:16:3e:00:00:01"),
                                  ("br 0", "tap1", "fa:16:3e:00:00:01")])
def test_names_that_could_change_the_rule_are_refused(args: tuple[str, str, str]) -> None:
    with pytest.raises(exception.InvalidNetwork):
        filtering.protect_host(*args)
