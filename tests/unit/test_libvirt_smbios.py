"""The guest's SMBIOS system table in the domain XML, as Nova's libvirt
driver writes it: cloud-init's ds-identify looks for the OpenStack metadata
service only when the DMI product name is 'OpenStack Nova'."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from novalite import __version__
from novalite.virt.libvirt.driver import LibvirtDriver
from tests.unit.test_libvirt_config import UUID, _instance, _xml, driver  # noqa: F401


def test_sysinfo_says_openstack_nova_and_the_os_uses_it(driver: LibvirtDriver) -> None:  # noqa: F811
    dom = ET.fromstring(_xml(driver, _instance()))
    sysinfo = dom.findall("sysinfo")
    assert len(sysinfo) == 1 and sysinfo[0].get("type") == "smbios"
    entries = {e.get("name"): e.text for e in sysinfo[0].findall("system/entry")}
    assert entries == {"manufacturer": "OpenStack Foundation", "product": "OpenStack Nova",
                       "version": __version__, "serial": UUID, "uuid": UUID,
                       "family": "Virtual Machine"}
    assert [s.get("mode") for s in dom.findall("os/smbios")] == ["sysinfo"]
    # The SMBIOS uuid is the domain's (libvirt refuses a mismatch).
    assert dom.findtext("uuid") == UUID
