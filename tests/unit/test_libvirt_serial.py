"""The serial console's domain XML and port bookkeeping (the real socket is
tested on a real guest in tests/integration/test_libvirt_lifecycle.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from novalite import exception
from novalite.virt.libvirt import config, serial


def _devices(dev: config.LibvirtConfigGuestSerial) -> ET.Element:
    devices = ET.Element("devices")
    dev.format_dom(devices)
    return devices


def test_tcp_serial_binds_the_port_and_keeps_the_log() -> None:
    devices = _devices(config.LibvirtConfigGuestSerial("/i/console.log", tcp_host="127.0.0.1",
                                                       tcp_port=10042))
    source = devices.find("serial[@type='tcp']/source")
    assert source is not None and source.attrib == {
        "mode": "bind", "host": "127.0.0.1", "service": "10042", "tls": "no"}
    assert devices.find("serial/protocol").get("type") == "raw"  # type: ignore[union-attr]
    assert devices.find("serial/log").get("file") == "/i/console.log"  # type: ignore[union-attr]
    domain = ET.Element("domain")
    domain.append(devices)
    assert serial.ports_of(ET.tostring(domain, encoding="unicode")) == [("127.0.0.1", 10042)]


def test_pty_serial_has_no_port() -> None:
    domain = ET.Element("domain")
    domain.append(_devices(config.LibvirtConfigGuestSerial("/i/console.log")))
    assert serial.ports_of(ET.tostring(domain, encoding="unicode")) == []


@pytest.mark.parametrize("text", ["0:10", "20:10", "1:70000"])
def test_bad_port_range_is_refused_naming_the_option(text: str) -> None:
    with pytest.raises(exception.Invalid, match="serial_port_range"):
        serial.parse_range(text)
