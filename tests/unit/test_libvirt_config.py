"""The guest config tree and its domain XML, without a hypervisor: shape,
escaping of user text, kernel boot, the guest agent channel, names."""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from novalite import exception
from novalite.conf import CONF
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from novalite.virt import virtapi
from novalite.virt.libvirt import config, vif
from novalite.virt.libvirt.driver import DiskInfo, LibvirtDriver, guest_hostname, instance_name

NS = {"n": config.NOVALITE_NS}
NASTY = "a <b> & 'c' \"d\" ]]> e"
UUID = "0b0e2a3c-1d4e-4f5a-8b6c-7d8e9f0a1b2c"


class NullVirtAPI(virtapi.VirtAPI):
    def power_state_changed(self, context: Any, instance_uuid: str, power_state: int) -> None:
        pass

    def instance_event(self, context: Any, instance_uuid: str, event: str,
                       message: str) -> None:
        pass


@pytest.fixture
def driver(tmp_path: Any) -> Any:
    CONF.set_override("virt_type", "qemu", group="libvirt")
    CONF.set_override("instances_path", str(tmp_path), group="libvirt")
    try:
        yield LibvirtDriver(NullVirtAPI())
    finally:
        CONF.clear_override("virt_type", group="libvirt")
        CONF.clear_override("instances_path", group="libvirt")


def _instance(**kw: Any) -> Instance:
    flavor = Flavor(id=7, flavorid="t1", name=kw.pop("flavor_name", "m1.tiny"), memory_mb=128,
                    vcpus=2, root_gb=1, ephemeral_gb=0, swap=0, extra_specs={})
    values = {"id": 0x2A, "uuid": UUID, "display_name": NASTY, "hostname": "web-1",
              "project_id": "proj", "user_id": "user", "image_ref": "img-1", "flavor": flavor,
              "metadata": {}, "system_metadata": {}}
    values.update(kw)
    return Instance(**values)


def _xml(driver: LibvirtDriver, instance: Instance, disk_info: DiskInfo | None = None,
         network_info: list | None = None) -> str:
    disk_info = disk_info or DiskInfo(root=os.path.join(CONF.libvirt.instances_path, UUID,
                                                        "disk"))
    return driver.to_xml(None, instance, {"id": "img-1"}, disk_info, network_info or [])


def test_domain_shape(driver: LibvirtDriver) -> None:
    dom = ET.fromstring(_xml(driver, _instance()))
    assert dom.tag == "domain" and dom.get("type") == "qemu"
    assert dom.findtext("name") == f"instance-{UUID}"
    assert dom.findtext("uuid") == UUID
    assert dom.find("memory").get("unit") == "MiB" and dom.findtext("memory") == "128"
    assert dom.findtext("vcpu") == "2"
    assert dom.find("cpu/topology").attrib == {"sockets": "2", "cores": "1", "threads": "1"}
    os_type = dom.find("os/type")
    assert (os_type.text, os_type.get("machine"), os_type.get("arch")) == ("hvm", "pc", "x86_64")
    assert dom.find("os/boot").get("dev") == "hd"
    assert dom.find("os/kernel") is None
    tb = dom.find("features/tcg/tb-cache")
    assert (tb.text, tb.get("unit")) == ("32", "MiB")
    disk = dom.find("devices/disk")
    assert disk.find("driver").attrib == {"name": "qemu", "type": "qcow2",
                                          "cache": CONF.libvirt.disk_cachemode}
    assert CONF.libvirt.disk_cachemode == "writeback"
    # Nothing uses USB or a balloon; each costs boot time under TCG.
    assert dom.find("devices/controller[@type='usb']").get("model") == "none"
    assert dom.find("devices/memballoon").get("model") == "none"
    assert disk.find("target").attrib == {"dev": "vda", "bus": "virtio"}
    assert disk.find("source").get("file").endswith(f"{UUID}/disk")


def test_serial_console_is_logged_in_the_instance_directory(driver: LibvirtDriver) -> None:
    dom = ET.fromstring(_xml(driver, _instance()))
    serial = dom.find("devices/serial")
    assert serial.get("type") == "pty"
    assert serial.find("log").get("file") == os.path.join(CONF.libvirt.instances_path, UUID,
                                                          "console.log")
    assert dom.find("devices/console/target").get("type") == "serial"


def test_guest_agent_channel(driver: LibvirtDriver) -> None:
    dom = ET.fromstring(_xml(driver, _instance()))
    target = dom.find("devices/channel/target")
    assert dom.find("devices/channel").get("type") == "unix"
    assert target.attrib == {"type": "virtio", "name": "org.qemu.guest_agent.0"}


def test_user_text_is_escaped_in_metadata(driver: LibvirtDriver) -> None:
    xml = _xml(driver, _instance(flavor_name="f<&>\"'"))
    assert "]]>" not in xml.replace("]]&gt;", "")
    dom = ET.fromstring(xml)
    meta = dom.find("metadata/n:instance", NS)
    assert meta.findtext("n:name", namespaces=NS) == NASTY
    assert meta.find("n:flavor", NS).get("name") == "f<&>\"'"
    assert meta.find("n:owner/n:project", NS).get("uuid") == "proj"
    assert meta.find("n:root", NS).get("uuid") == "img-1"
    assert dom.findtext("name") == f"instance-{UUID}"


def test_metadata_element_declares_its_own_namespace(driver: LibvirtDriver) -> None:
    xml = _xml(driver, _instance())
    assert f'<novalite:instance xmlns:novalite="{config.NOVALITE_NS}">' in xml


def test_kernel_initrd_and_cmdline(driver: LibvirtDriver) -> None:
    inst = _instance(hostname="Evil Host</cmdline>; reboot")
    info = DiskInfo(root=None, kernel="/i/kernel", initrd="/i/ramdisk")
    dom = ET.fromstring(_xml(driver, inst, info))
    assert dom.findtext("os/kernel") == "/i/kernel"
    assert dom.findtext("os/initrd") == "/i/ramdisk"
    assert dom.findtext("os/cmdline") == ("console=ttyS0 "
                                          "novalite.hostname=evil-host-cmdline-reboot")
    assert dom.find("os/boot") is None
    assert dom.find("devices/disk") is None


def test_hostname_fallback_and_length() -> None:
    assert guest_hostname(_instance(hostname=None)) == f"instance-{UUID}"
    assert guest_hostname(_instance(hostname="---")) == f"instance-{UUID}"
    assert len(guest_hostname(_instance(hostname="x" * 100))) == 63


def test_domain_name_is_unique_across_deployments() -> None:
    # NOTE: two databases both have an instance with id 1; their guests on
    # one libvirtd must not share a name (the default names by uuid).
    assert instance_name(_instance(id=1)) == f"instance-{UUID}"
    other = "7e571234-0000-4000-8000-000000000001"
    assert instance_name(_instance(id=1, uuid=other)) == f"instance-{other}"


def test_novas_id_template_still_works() -> None:
    CONF.set_override("instance_name_template", "instance-%08x", group="libvirt")
    try:
        assert instance_name(_instance(id=1)) == "instance-00000001"
        assert instance_name(_instance(id=0x7E571234)) == "instance-7e571234"
    finally:
        CONF.clear_override("instance_name_template", group="libvirt")


def test_domain_name_template_is_configurable() -> None:
    CONF.set_override("instance_name_template", "nl2-%08x", group="libvirt")
    try:
        assert instance_name(_instance(id=0x2A)) == "nl2-0000002a"
    finally:
        CONF.clear_override("instance_name_template", group="libvirt")


def test_kvm_uses_host_cpu_and_no_tcg_cache(driver: LibvirtDriver) -> None:
    driver.virt_type = "kvm"
    dom = ET.fromstring(_xml(driver, _instance()))
    assert dom.get("type") == "kvm"
    assert dom.find("cpu").get("mode") == "host-passthrough"
    assert dom.find("features/tcg") is None


def test_tb_cache_can_be_left_to_qemu(driver: LibvirtDriver) -> None:
    CONF.set_override("tb_cache_mb", 0, group="libvirt")
    try:
        dom = ET.fromstring(_xml(driver, _instance()))
    finally:
        CONF.clear_override("tb_cache_mb", group="libvirt")
    assert dom.find("features/tcg") is None


def test_interfaces_from_network_info(driver: LibvirtDriver) -> None:
    vifs = [{"id": "p1", "address": "FA:16:3E:00:00:01", "network": {"bridge": "br-nl"},
             "devname": "tap-p1"}]
    iface = ET.fromstring(_xml(driver, _instance(), network_info=vifs)).find("devices/interface")
    assert iface.get("type") == "bridge"
    assert iface.find("mac").get("address") == "fa:16:3e:00:00:01"
    assert iface.find("source").get("bridge") == "br-nl"
    assert iface.find("target").get("dev") == "tap-p1"
    assert iface.find("model").get("type") == "virtio"


@pytest.mark.parametrize("bad", [
    {"id": "p", "address": "nope", "network": {"bridge": "br0"}},
    {"id": "p", "address": "fa:16:3e:00:00:01", "network": {"bridge": "br0; rm -rf /"}},
    {"id": "p", "address": "fa:16:3e:00:00:01", "network": {"bridge": "br0"},
     "devname": "x" * 16},
])
def test_invalid_vifs_are_refused(bad: dict) -> None:
    with pytest.raises(exception.Invalid):
        vif.get_config(bad)


def test_xml_is_valid_against_libvirts_schema(driver: LibvirtDriver, tmp_path: Any) -> None:
    validator = shutil.which("virt-xml-validate")
    assert validator, "virt-xml-validate (libvirt-clients) is needed to check the XML"
    for info in (None, DiskInfo(root="/i/disk", kernel="/i/kernel", initrd="/i/ramdisk")):
        path = tmp_path / "domain.xml"
        path.write_text(_xml(driver, _instance(), info, [
            {"id": "p1", "address": "fa:16:3e:00:00:01", "network": {"bridge": "br-nl"}}]))
        result = subprocess.run([validator, str(path), "domain"], capture_output=True,
                                text=True)
        assert result.returncode == 0, result.stderr + result.stdout
