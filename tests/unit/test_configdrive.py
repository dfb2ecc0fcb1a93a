"""The config drive (built with genisoimage, read back with isoinfo), the
network_data.json and addresses derived from network_info, and the guest
XML's NIC and CD-ROM."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from novalite import exception
from novalite.conf import CONF
from novalite.network import model
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from novalite.virt import configdrive
from novalite.virt.libvirt.driver import DiskInfo, LibvirtDriver
from tests.unit.test_libvirt_config import NullVirtAPI

UUID = "0b0e2a3c-1d4e-4f5a-8b6c-7d8e9f0a1b2c"
PORT = "5d1c6a52-9a0e-4b8c-a0a2-2f4f8b8f0e11"
FIP = {"uuid": PORT, "mac": "fa:16:3e:0a:0b:0c", "address": "10.77.0.7",
       "network": {"uuid": "net-uuid", "name": "private", "bridge": "nlbr0",
                   "cidr": "10.77.0.0/24", "gateway": "10.77.0.1"}}


def _instance(**fields: str) -> Instance:
    flavor = Flavor(id=1, flavorid="1", name="m1.tiny", memory_mb=128, vcpus=1, root_gb=1,
                    ephemeral_gb=0, swap=0, extra_specs={})
    return Instance(id=3, uuid=UUID, display_name="web <1>", hostname="web-1",
                    project_id="proj", user_id="user", image_ref="img", flavor=flavor,
                    launch_index=2, availability_zone="az1", key_name="mykey",
                    metadata={"role": "db"}, config_drive=True,
                    system_metadata={k: v for k, v in fields.items() if k not in Instance.fields},
                    **{k: v for k, v in fields.items() if k in Instance.fields})


def _iso_read(iso: str, path: str) -> bytes:
    return subprocess.run(["isoinfo", "-i", iso, "-R", "-x", path], capture_output=True,
                          check=True).stdout


def test_config_drive_holds_openstack_layout(tmp_path: Any) -> None:
    files = [{"path": "/etc/motd", "contents": base64.b64encode(b"hello\n").decode()}]
    inst = _instance(user_data=base64.b64encode(b"#!/bin/sh\necho hi\n").decode(),
                     key_data="ssh-ed25519 AAAA k@h")
    iso = configdrive.make_drive(str(tmp_path / "disk.config"), inst,
                                 [model.vif_from_fixed_ip(FIP)], files)
    info = subprocess.run(["isoinfo", "-d", "-i", iso], capture_output=True, text=True,
                          check=True).stdout
    assert "Volume id: config-2" in info
    meta = json.loads(_iso_read(iso, "/openstack/latest/meta_data.json"))
    assert meta["uuid"] == UUID and meta["name"] == "web <1>" and meta["hostname"] == "web-1"
    assert meta["launch_index"] == 2 and meta["availability_zone"] == "az1"
    assert meta["public_keys"] == {"mykey": "ssh-ed25519 AAAA k@h"}
    assert meta["meta"] == {"role": "db"}
    assert meta["files"] == [{"path": "/etc/motd", "content_path": "/content/0000"}]
    assert _iso_read(iso, "/openstack/content/0000") == b"hello\n"
    assert _iso_read(iso, "/openstack/latest/user_data") == b"#!/bin/sh\necho hi\n"
    net = json.loads(_iso_read(iso, "/openstack/latest/network_data.json"))
    assert net["links"] == [{"id": "tap5d1c6a52-9a", "vif_id": PORT, "type": "bridge",
                             "ethernet_mac_address": "fa:16:3e:0a:0b:0c", "mtu": 1500}]
    assert net["networks"][0]["ip_address"] == "10.77.0.7"
    assert net["networks"][0]["netmask"] == "255.255.255.0"
    assert net["networks"][0]["routes"][0]["gateway"] == "10.77.0.1"
    # No user-given path reaches the host's file system.
    listing = subprocess.run(["isoinfo", "-i", iso, "-R", "-f"], capture_output=True,
                             text=True, check=True).stdout
    assert "motd" not in listing and "etc" not in listing


@pytest.mark.parametrize("path", ["relative", "/etc/../shadow", "/../x"])
def test_bad_personality_paths_are_refused_on_compute_too(tmp_path: Any, path: str) -> None:
    inst = _instance()
    with pytest.raises(exception.InstanceSpawnError, match="personality path"):
        configdrive.make_drive(str(tmp_path / "d"), inst, [], [{"path": path, "contents": ""}])


def test_addresses_in_the_compute_api_shape() -> None:
    info = [model.vif_from_fixed_ip(FIP)]
    assert model.addresses(info) == {"private": [{
        "version": 4, "addr": "10.77.0.7", "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:0a:0b:0c"}]}


def test_guest_xml_has_the_nic_and_the_config_drive(tmp_path: Any) -> None:
    CONF.set_override("virt_type", "qemu", group="libvirt")
    CONF.set_override("instances_path", str(tmp_path), group="libvirt")
    try:
        drv = LibvirtDriver(NullVirtAPI())
        cd = os.path.join(str(tmp_path), UUID, "disk.config")
        xml = drv.to_xml(None, _instance(), {"id": "img"},
                         DiskInfo(root=str(tmp_path / "disk"), config_drive=cd),
                         [model.vif_from_fixed_ip(FIP)])
    finally:
        CONF.clear_override("virt_type", group="libvirt")
        CONF.clear_override("instances_path", group="libvirt")
    dom = ET.fromstring(xml)
    iface = dom.find("devices/interface")
    assert iface is not None and iface.get("type") == "bridge"
    assert iface.find("mac").get("address") == "fa:16:3e:0a:0b:0c"  # type: ignore[union-attr]
    assert iface.find("source").get("bridge") == "nlbr0"  # type: ignore[union-attr]
    assert iface.find("target").get("dev") == "tap5d1c6a52-9a"  # type: ignore[union-attr]
    assert iface.find("model").get("type") == "virtio"  # type: ignore[union-attr]
    drive = [d for d in dom.findall("devices/disk")
             if d.find("source").get("file") == cd][0]  # type: ignore[union-attr]
    assert drive.find("target").attrib == {"dev": "vdz", "bus": "virtio"}  # type: ignore[union-attr]
    assert drive.find("readonly") is not None
    assert drive.find("driver").get("type") == "raw"  # type: ignore[union-attr]
