"""The destination XML of a libvirt live migration: the source's paths
moved to the destination's instance directory and deployment, the disks
QEMU copies; the peer URI."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from novalite.virt import driver as virt_driver
from novalite.virt.libvirt.driver import _destination_xml, _format_uri

SRC = "/var/lib/a/instances/u1"
DST = "/var/lib/b/instances/u1"

XML = f"""<domain type='qemu'>
  <name>instance-u1</name>
  <metadata>
    <novalite:instance xmlns:novalite="http://novalite.example/xmlns/1">
      <novalite:deployment instancesPath="/var/lib/a/instances"/>
    </novalite:instance>
  </metadata>
  <os><type>hvm</type><kernel>{SRC}/kernel</kernel><initrd>{SRC}/ramdisk</initrd></os>
  <devices>
    <disk type='file' device='disk'><source file='{SRC}/disk'/><target dev='vda'/></disk>
    <disk type='file' device='disk'><source file='{SRC}/disk.config'/><target dev='vdz'/>
      <readonly/></disk>
    <disk type='file' device='disk'><source file='{SRC}-other/disk'/><target dev='vdb'/></disk>
    <serial type='tcp'><source mode='bind' host='127.0.0.1' service='10000' tls='no'/>
      <protocol type='raw'/><log file='{SRC}/console.log' append='off'/></serial>
  </devices>
</domain>"""


def test_paths_move_to_the_destination() -> None:
    xml, disks = _destination_xml(XML, (SRC, DST),
                                  ("/var/lib/a/instances", "/var/lib/b/instances"),
                                  ("192.0.2.7", [10004]))
    root = ET.fromstring(xml)
    assert root.findtext("os/kernel") == f"{DST}/kernel"
    assert root.findtext("os/initrd") == f"{DST}/ramdisk"
    sources = [d.find("source").get("file") for d in root.findall("devices/disk")]  # type: ignore[union-attr]
    # NOTE: only the instance's own directory moves, not a sibling with the same prefix.
    assert sources == [f"{DST}/disk", f"{DST}/disk.config", f"{SRC}-other/disk"]
    assert root.find("devices/serial/log").get("file") == f"{DST}/console.log"  # type: ignore[union-attr]
    source = root.find("devices/serial/source")
    assert source is not None
    assert (source.get("host"), source.get("service")) == ("192.0.2.7", "10004")
    deployment = next(e for e in root.iter() if e.tag.endswith("deployment"))
    assert deployment.get("instancesPath") == "/var/lib/b/instances"
    assert "/var/lib/a/" not in xml.replace(f"{SRC}-other", "")
    # The read-only config drive is not copied by QEMU (the destination has it).
    assert disks == ["vda", "vdb"]


def test_serial_sockets_need_a_port_each() -> None:
    with pytest.raises(virt_driver.MigrationError):
        _destination_xml(XML, (SRC, DST), ("/a", "/b"), ("192.0.2.7", []))


def test_peer_uri() -> None:
    assert _format_uri("tcp", "10.1.2.3") == "qemu+tcp://10.1.2.3/system"
    assert _format_uri("tls", "fd00::2") == "qemu+tls://[fd00::2]/system"
