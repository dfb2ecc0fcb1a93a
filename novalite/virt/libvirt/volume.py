"""Volumes as libvirt disks: Cinder's ``connection_info`` -> ``<disk>``.

Two kinds of connection, as the volume service hands them out
(novalite/volume/exports.py and the volumes contract):

- ``nbd``: the volume host's qemu-storage-daemon serves the volume; QEMU's
  own NBD client connects to it (``<disk type='network'><source
  protocol='nbd' name=EXPORT><host name= port=/>``). The export name is the
  attachment's secret and the export accepts only this host's address.
- ``local``: the volume's file on this host (the volume service is here):
  ``<disk type='file'>`` with the volume's format as the driver type.

Every volume disk carries the volume id as its ``<serial>`` (as Nova's):
the guest sees it in ``/dev/disk/by-id``, and extend finds the disk by it.
"""

from __future__ import annotations

import json
import platform
import re
import sys
import time
import xml.etree.ElementTree as ET
from typing import Any

import libvirt
import libvirt_qemu
from oslo_log import log as logging

from novalite import exception
from novalite.virt.libvirt import config
from novalite.virt.libvirt.guest import Guest

LOG = logging.getLogger(__name__)

SUPPORTED = ("nbd", "local")
FORMATS = ("raw", "qcow2")
_TARGET = re.compile(r"^(?:/dev/)?((?:vd|sd)[a-z]{1,2})$")


class VolumeDriverError(exception.NovaliteException):
    msg_fmt = "Volume %(volume_id)s: %(reason)s"


def volume_id(connection_info: dict[str, Any]) -> str:
    data = connection_info.get("data") or {}
    return str(connection_info.get("serial") or data.get("volume_id") or "")


def target_dev(mountpoint: str, volume: str = "") -> str:
    """``/dev/vdb`` -> ``vdb``; anything else is refused (it reaches the
    domain XML and a guest's device name)."""
    m = _TARGET.match(mountpoint or "")
    if not m:
        raise VolumeDriverError(volume_id=volume or "?",
                                reason=f"mount point {mountpoint!r} is not /dev/vdX or /dev/sdX")
    return m.group(1)


def disk_config(connection_info: dict[str, Any], mountpoint: str, disk_bus: str | None = None,
                device_type: str | None = None,
                cache: str = "none") -> config.LibvirtConfigGuestDisk:
    """The libvirt disk of a volume at ``mountpoint`` (virtio-blk unless
    ``disk_bus`` says scsi)."""
    vol = volume_id(connection_info)
    kind = connection_info.get("driver_volume_type")
    data = connection_info.get("data") or {}
    fmt = data.get("format") or "raw"
    if kind not in SUPPORTED:
        raise VolumeDriverError(volume_id=vol or "?",
                                reason=f"connection type {kind!r} is not one of "
                                       f"{', '.join(SUPPORTED)}")
    if fmt not in FORMATS:
        raise VolumeDriverError(volume_id=vol or "?",
                                reason=f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if device_type not in (None, "disk"):
        raise VolumeDriverError(volume_id=vol or "?",
                                reason=f"device type {device_type!r} is not supported (disk)")
    dev = target_dev(mountpoint, vol)
    bus = disk_bus or ("scsi" if dev.startswith("sd") else "virtio")
    if bus not in ("virtio", "scsi"):
        raise VolumeDriverError(volume_id=vol or "?",
                                reason=f"disk bus {bus!r} is not virtio or scsi")
    readonly = data.get("access_mode") == "ro"
    if kind == "local":
        path = data.get("device_path")
        if not path:
            raise VolumeDriverError(volume_id=vol or "?", reason="local connection without "
                                                                  "device_path")
        return config.LibvirtConfigGuestDisk(str(path), driver_format=fmt, target_dev=dev,
                                             target_bus=bus, cache=cache, readonly=readonly,
                                             serial=vol or None)
    host, port, name = data.get("host"), data.get("port"), data.get("name")
    if not host or not port or not name:
        raise VolumeDriverError(volume_id=vol or "?",
                                reason="nbd connection without host, port and name")
    return config.LibvirtConfigGuestDisk(
        "", driver_format=fmt, target_dev=dev, target_bus=bus, cache=cache, readonly=readonly,
        serial=vol or None, source_type="network", source_protocol="nbd",
        source_name=str(name), source_hosts=[(str(host), str(int(port)))])


def connector(ip: str, host: str) -> dict[str, Any]:
    """os-brick's get_connector_properties shape: what the volume service
    needs to export a volume to this host."""
    return {"ip": ip, "host": host, "multipath": False, "platform": platform.machine(),
            "os_type": sys.platform, "initiator": None}


def volume_disks(block_device_info: dict[str, Any] | None) -> tuple[
        dict[str, Any] | None, list[dict[str, Any]]]:
    """(the root volume's mapping or None, the other volumes' mappings in
    device order) of Nova's block_device_info."""
    root = None
    others = []
    root_name = (block_device_info or {}).get("root_device_name") or "/dev/vda"
    for bdm in (block_device_info or {}).get("block_device_mapping") or []:
        if root is None and (bdm.get("boot_index") == 0 or bdm.get("mount_device") == root_name):
            root = bdm
        else:
            others.append(bdm)
    others.sort(key=lambda b: str(b.get("mount_device") or ""))
    return root, others


# -- a running or defined guest's volume disks ----------------------------------

# NOTE: how long a guest has to let a hot-unplugged disk go (it acts on an
# ACPI eject request), and how often the request is repeated meanwhile.
DETACH_TIMEOUT = 60.0
DETACH_RETRY_INTERVAL = 15.0
# NOTE: how long an NBD client has to reconnect and read a grown export's size.
EXTEND_TIMEOUT = 30.0


def find_disk(xml: str, target: str | None = None,
              serial: str | None = None) -> ET.Element | None:
    """The ``<disk>`` of domain ``xml`` at ``target`` (vdb) or with ``serial``."""
    for disk in ET.fromstring(xml).iterfind("./devices/disk"):
        tgt = disk.find("target")
        if target is not None and tgt is not None and tgt.get("dev") == target:
            return disk
        ser = disk.find("serial")
        if serial is not None and ser is not None and ser.text == serial:
            return disk
    return None


def same_source(disk: ET.Element, wanted: config.LibvirtConfigGuestDisk) -> bool:
    source = disk.find("source")
    if source is None:
        return False
    if wanted.source_type == "network":
        host = source.find("host")
        return (disk.get("type") == "network" and source.get("name") == wanted.source_name
                and host is not None
                and (host.get("name"), host.get("port")) == wanted.source_hosts[0])
    return disk.get("type") == "file" and source.get("file") == wanted.source_path


def attach(guest: Guest, disk: config.LibvirtConfigGuestDisk, volume: str) -> None:
    """Hot-plug ``disk`` (live when the guest runs) and add it to the
    persistent definition; nothing when it is there with that source."""
    flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
    if guest.is_active():
        flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
    for inactive in (False, True):
        present = find_disk(guest.xml_desc(inactive=inactive), target=disk.target_dev)
        if present is None:
            continue
        if not same_source(present, disk):
            raise VolumeDriverError(volume_id=volume,
                                    reason=f"{disk.target_dev} of {guest.name} is in use by "
                                           "another disk")
        flags &= ~(libvirt.VIR_DOMAIN_AFFECT_CONFIG if inactive
                   else libvirt.VIR_DOMAIN_AFFECT_LIVE)
    if not flags & (libvirt.VIR_DOMAIN_AFFECT_CONFIG | libvirt.VIR_DOMAIN_AFFECT_LIVE):
        return
    try:
        guest.domain.attachDeviceFlags(disk.to_xml(), flags)
    except libvirt.libvirtError as e:
        raise VolumeDriverError(volume_id=volume,
                                reason=f"libvirt could not attach it to {guest.name} as "
                                       f"{disk.target_dev}: {e.get_error_message()}") from e


def detach(guest: Guest, target: str, volume: str,
           timeout: float = DETACH_TIMEOUT) -> None:
    """Take the disk at ``target`` out of the persistent definition and, when
    the guest runs, out of the guest, waiting until the guest let it go
    (the request repeated meanwhile); an error naming the device after
    ``timeout``. Nothing when it is not there."""
    persistent = find_disk(guest.xml_desc(inactive=True), target=target)
    if persistent is not None:
        _detach(guest, persistent, libvirt.VIR_DOMAIN_AFFECT_CONFIG, volume, target)
    if not guest.is_active():
        return
    deadline = time.monotonic() + timeout
    next_request = 0.0
    while True:
        live = find_disk(guest.xml_desc(), target=target)
        if live is None:
            return
        now = time.monotonic()
        if now > deadline:
            raise VolumeDriverError(volume_id=volume,
                                    reason=f"the guest of {guest.name} did not release "
                                           f"{target} within {timeout:.0f}s of the detach "
                                           "request")
        if now >= next_request:
            _detach(guest, live, libvirt.VIR_DOMAIN_AFFECT_LIVE, volume, target)
            next_request = now + DETACH_RETRY_INTERVAL
        time.sleep(0.2)


def _detach(guest: Guest, disk: ET.Element, flags: int, volume: str, target: str) -> None:
    try:
        guest.domain.detachDeviceFlags(ET.tostring(disk, encoding="unicode"), flags)
    except libvirt.libvirtError as e:
        # NOTE: gone between our look and the request (a detach finished).
        if e.get_error_code() in (libvirt.VIR_ERR_DEVICE_MISSING,
                                  libvirt.VIR_ERR_OPERATION_FAILED) and "not found" in str(e):
            return
        raise VolumeDriverError(volume_id=volume,
                                reason=f"libvirt could not detach {target} from {guest.name}: "
                                       f"{e.get_error_message()}") from e


def extend(guest: Guest, target: str, size: int, volume: str,
           timeout: float = EXTEND_TIMEOUT) -> int:
    """Make the running guest's disk at ``target`` ``size`` bytes; returns
    the size QEMU then has.

    A local file grows here (QEMU's block_resize). An NBD disk cannot grow
    from the client ("Cannot grow NBD nodes"), and QEMU 7.2's NBD client
    learns an export's size only when it connects: the volume host's
    ``Exports.resize`` grew the image and re-added the export (dropping
    the connection); the client notices at its next request and
    reconnects, reading the new size, after which a block_resize to that
    size is accepted (it only refreshes QEMU's idea of the size and tells
    the guest). So: try, make the client send a request (one sector read
    through the monitor's qemu-io), try again until ``timeout``."""
    disk = find_disk(guest.xml_desc(), target=target)
    if disk is None:
        raise VolumeDriverError(volume_id=volume,
                                reason=f"{guest.name} has no disk {target}")
    nbd = disk.get("type") == "network"
    deadline = time.monotonic() + timeout
    while True:
        try:
            guest.domain.blockResize(target, size, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            break
        except libvirt.libvirtError as e:
            message = e.get_error_message() or str(e)
            if not nbd or "Cannot grow NBD nodes" not in message:
                raise VolumeDriverError(volume_id=volume,
                                        reason=f"libvirt could not resize {target} of "
                                               f"{guest.name} to {size} bytes: "
                                               f"{message}") from e
            if time.monotonic() > deadline:
                raise VolumeDriverError(
                    volume_id=volume,
                    reason=f"the NBD export behind {target} of {guest.name} did not show "
                           f"{size} bytes within {timeout:.0f}s (was it resized on the "
                           "volume host?)") from e
            _nudge_nbd_client(guest, disk)
            time.sleep(0.5)
    return guest.block_capacity(target)


def _nudge_nbd_client(guest: Guest, disk: ET.Element) -> None:
    """One sector read on the disk's NBD connection (the monitor's qemu-io
    on the device's block backend), so a connection the server dropped is
    noticed and made again."""
    alias = disk.find("alias")
    target = disk.find("target")
    if alias is None or not alias.get("name"):
        return
    # NOTE: a virtio-blk-pci device holds its drive in its virtio-backend child.
    device = f"/machine/peripheral/{alias.get('name')}"
    if target is not None and target.get("bus") == "virtio":
        device += "/virtio-backend"
    command = {"execute": "human-monitor-command",
               "arguments": {"command-line": f'qemu-io -d {device} "read 0 512"'}}
    try:
        out = libvirt_qemu.qemuMonitorCommand(guest.domain, json.dumps(command), 0)
    except libvirt.libvirtError as e:
        LOG.warning("Read on %s of %s to reconnect its NBD client failed: %s", device,
                    guest.name, e)
        return
    if "Error" in str(out):
        LOG.warning("Read on %s of %s to reconnect its NBD client: %s", device, guest.name,
                    out)


def retarget(xml: str, volumes: dict[str, Any] | None,
             cache: str = "none") -> tuple[str, set[str]]:
    """Domain ``xml`` with each volume disk (found by its serial, the volume
    id) at the connection ``volumes[id]["connection_info"]`` names (a live
    migration's destination has attachments of its own), its target,
    alias and PCI address kept; and the targets it changed (the volumes,
    which a migration must not copy)."""
    if not volumes:
        return xml, set()
    root = ET.fromstring(xml)
    devices = root.find("devices")
    changed: set[str] = set()
    if devices is None:
        return xml, changed
    for index, disk in enumerate(list(devices)):
        serial = disk.find("serial")
        target = disk.find("target")
        if (disk.tag != "disk" or serial is None or target is None
                or serial.text not in volumes):
            continue
        info = volumes[str(serial.text)].get("connection_info") or {}
        new = disk_config(info, str(target.get("dev")), disk_bus=target.get("bus"),
                          cache=cache).to_element()
        for tag in ("alias", "address", "boot"):
            kept = disk.find(tag)
            if kept is not None:
                new.append(kept)
        devices.remove(disk)
        devices.insert(index, new)
        changed.add(str(target.get("dev")))
    return ET.tostring(root, encoding="unicode"), changed
