"""Hot-plugging a guest's NICs (os-interface) with libvirt, as Nova's
LibvirtDriver.attach_interface / detach_interface.

Attach: the VIF is plugged on this host first (``vif.plug``: the bridge, and
with the vxlan data plane the agent's apply so the port's bridge and nftables
rules exist; with the flat one the bridge and the host filter, libvirt's
nwfilter comes with the device), then the virtio NIC goes into the domain:
live when the guest runs or is paused (the guest's PCI hot-plug adds it) and
in its persistent definition either way, so a stopped guest has it at its
next start and a hard reboot keeps it. A NIC whose MAC the domain already has
is not added twice. If libvirt refuses, the VIF is unplugged again.

Detach: the NIC (found by its MAC) leaves the persistent definition, then
the live domain; the guest must let it go (ACPI eject), so the request is
repeated until it is gone or :data:`DETACH_TIMEOUT` passes (an error naming
the device then). Afterwards the VIF is unplugged on this host (the tap is
gone with the device; with the flat data plane its host filter goes too).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any

import libvirt
from oslo_log import log as logging

from novalite import exception
from novalite.virt.libvirt import vif as libvirt_vif
from novalite.virt.libvirt.guest import Guest

LOG = logging.getLogger(__name__)

# NOTE: Nova waits device_detach_timeout (20 s) per attempt, 8 attempts; a
# TCG guest takes a few seconds to eject a device.
DETACH_TIMEOUT = 90.0
DETACH_RETRY = 10.0
POLL = 0.5


def interface_xml(vif: dict[str, Any]) -> str:
    """The ``<interface>`` element of ``vif`` as the domain's definition
    has it at spawn (``vif.get_config``)."""
    devices = ET.Element("devices")
    libvirt_vif.get_config(vif).format_dom(devices)
    return ET.tostring(devices[0], encoding="unicode")


def find_interface(xml: str, mac: str) -> ET.Element | None:
    """The domain's ``<interface>`` with MAC ``mac`` (case-insensitive)."""
    for iface in ET.fromstring(xml).iterfind("./devices/interface"):
        found = iface.find("mac")
        if found is not None and str(found.get("address", "")).lower() == mac.lower():
            return iface
    return None


def _live(guest: Guest) -> bool:
    """Whether the domain has a live side to change (running or paused)."""
    return guest.is_active()


def attach(guest: Guest, vif: dict[str, Any], host: str | None = None) -> None:
    mac = str(vif["address"])
    xml = interface_xml(vif)
    flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if _live(guest):
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    if find_interface(guest.xml_desc(inactive=True), mac) is not None:
        flags &= ~libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if flags & libvirt.VIR_DOMAIN_AFFECT_LIVE and \
            find_interface(guest.xml_desc(), mac) is not None:
        flags &= ~libvirt.VIR_DOMAIN_AFFECT_LIVE
    libvirt_vif.plug(vif, host)
    if not flags:
        LOG.info("Domain %s already has NIC %s", guest.uuid, mac)
        return
    try:
        guest.domain.attachDeviceFlags(xml, flags)
    except libvirt.libvirtError as e:
        try:
            libvirt_vif.unplug(vif)
        except Exception:  # noqa: BLE001
            LOG.exception("Could not unplug VIF %s after the failed attach", vif.get("id"))
        raise exception.NovaliteException(
            f"libvirt could not attach NIC {mac} (port {vif.get('id')}) to domain "
            f"{guest.uuid}: {e.get_error_message() or e}") from e
    LOG.info("NIC %s (port %s) attached to %s (%s)", mac, vif.get("id"), guest.uuid,
             "live and persistent" if flags & libvirt.VIR_DOMAIN_AFFECT_LIVE else "persistent")


def detach(guest: Guest, vif: dict[str, Any], timeout: float = DETACH_TIMEOUT) -> None:
    mac = str(vif["address"])
    persistent = find_interface(guest.xml_desc(inactive=True), mac)
    if persistent is not None:
        _detach(guest, persistent, libvirt.VIR_DOMAIN_AFFECT_CONFIG, mac)
    deadline = time.monotonic() + timeout
    asked = 0.0
    while _live(guest):
        live = find_interface(guest.xml_desc(), mac)
        if live is None:
            break
        now = time.monotonic()
        if now >= deadline:
            raise exception.NovaliteException(
                f"the guest of domain {guest.uuid} did not release NIC {mac} (port "
                f"{vif.get('id')}) within {timeout:.0f}s of the detach request")
        if now - asked >= DETACH_RETRY:
            _detach(guest, live, libvirt.VIR_DOMAIN_AFFECT_LIVE, mac)
            asked = now
        time.sleep(POLL)
    libvirt_vif.unplug(vif)
    LOG.info("NIC %s (port %s) detached from %s", mac, vif.get("id"), guest.uuid)


def _detach(guest: Guest, iface: ET.Element, flags: int, mac: str) -> None:
    try:
        guest.domain.detachDeviceFlags(ET.tostring(iface, encoding="unicode"), flags)
    except libvirt.libvirtError as e:
        code = e.get_error_code()
        # NOTE: gone meanwhile (the guest finished a previous request), or
        # an unplug already in progress: the wait decides.
        if code in (libvirt.VIR_ERR_DEVICE_MISSING, libvirt.VIR_ERR_OPERATION_FAILED,
                    libvirt.VIR_ERR_OPERATION_INVALID):
            LOG.debug("Detach of NIC %s from %s: %s", mac, guest.uuid, e)
            return
        raise exception.NovaliteException(
            f"libvirt could not detach NIC {mac} from domain {guest.uuid}: "
            f"{e.get_error_message() or e}") from e
