"""The guest config object tree and its libvirt domain XML.

``LibvirtDriver.get_guest_config()`` fills a ``LibvirtConfigGuest``;
``to_xml()`` renders it with ElementTree, so every value (display names,
paths) is escaped by the serializer and never pasted into markup by hand.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

NOVALITE_NS = "http://openstack.org/xmlns/libvirt/novalite/1.0"
NS_PREFIX = "novalite"
GUEST_AGENT_CHANNEL = "org.qemu.guest_agent.0"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


@dataclasses.dataclass
class LibvirtConfigGuestDisk:
    """A file disk, or (``source_type`` network) a disk QEMU reaches over
    ``source_protocol`` (nbd) at ``source_hosts`` by ``source_name``.
    ``serial`` is what the guest reads as the disk's serial (a volume's id)."""

    source_path: str
    driver_format: str = "qcow2"
    target_dev: str = "vda"
    target_bus: str = "virtio"
    device: str = "disk"
    cache: str = "none"
    readonly: bool = False
    serial: str | None = None
    source_type: str = "file"
    source_protocol: str | None = None
    source_name: str | None = None
    source_hosts: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def format_dom(self, devices: ET.Element) -> None:
        devices.append(self.to_element())

    def to_element(self) -> ET.Element:
        disk = ET.Element("disk", type=self.source_type, device=self.device)
        _sub(disk, "driver", name="qemu", type=self.driver_format, cache=self.cache)
        if self.source_type == "network":
            source = _sub(disk, "source", protocol=self.source_protocol or "",
                          name=self.source_name or "")
            for host, port in self.source_hosts:
                _sub(source, "host", name=host, port=port)
        else:
            _sub(disk, "source", file=self.source_path)
        _sub(disk, "target", dev=self.target_dev, bus=self.target_bus)
        if self.readonly:
            _sub(disk, "readonly")
        if self.serial:
            _sub(disk, "serial", self.serial)
        return disk

    def to_xml(self) -> str:
        return ET.tostring(self.to_element(), encoding="unicode")


def config_drive_disk(path: str) -> LibvirtConfigGuestDisk:
    """The config drive (an ISO9660 image): a read-only virtio disk. Guests
    find it by its label (config-2), whatever the device.

    NOTE: not an IDE CD-ROM: under TCG, SeaBIOS and the guest probing the
    ATAPI drive cost ~2 s of every boot (measured: POST → HTTP answer
    ~6.3 s with an IDE CD-ROM, ~4.2 s with virtio-blk)."""
    return LibvirtConfigGuestDisk(path, driver_format="raw", target_dev="vdz",
                                  target_bus="virtio", device="disk", readonly=True)


@dataclasses.dataclass
class LibvirtConfigGuestInterface:
    """A virtio NIC on an existing Linux bridge (the network layer plugs it),
    optionally behind a libvirt network filter (``filter_name``, e.g.
    clean-traffic) with its parameters (``filter_params``: name, value pairs;
    a name given more than once is a list, as libvirt's IP)."""

    mac_address: str
    bridge: str
    target_dev: str | None = None
    filter_name: str | None = None
    filter_params: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def format_dom(self, devices: ET.Element) -> None:
        iface = _sub(devices, "interface", type="bridge")
        _sub(iface, "mac", address=self.mac_address)
        _sub(iface, "source", bridge=self.bridge)
        if self.target_dev:
            _sub(iface, "target", dev=self.target_dev)
        _sub(iface, "model", type="virtio")
        if self.filter_name:
            ref = _sub(iface, "filterref", filter=self.filter_name)
            for name, value in self.filter_params:
                _sub(ref, "parameter", name=name, value=value)


@dataclasses.dataclass
class LibvirtConfigGuestSerial:
    """Serial console whose output virtlogd copies to ``log_path``
    (root-only; history kept across power cycles, rotated by virtlogd): on a
    pty, or with ``tcp_port`` on a raw TCP socket bound to ``tcp_host`` that
    a serial console proxy connects to (libvirt adds the console alias)."""

    log_path: str
    tcp_host: str | None = None
    tcp_port: int | None = None

    def format_dom(self, devices: ET.Element) -> None:
        if self.tcp_port is not None:
            serial = _sub(devices, "serial", type="tcp")
            _sub(serial, "source", mode="bind", host=self.tcp_host or "127.0.0.1",
                 service=str(self.tcp_port), tls="no")
            _sub(serial, "protocol", type="raw")
            _sub(serial, "log", file=self.log_path, append="on")
            _sub(serial, "target", port="0")
            return
        serial = _sub(devices, "serial", type="pty")
        _sub(serial, "log", file=self.log_path, append="on")
        _sub(serial, "target", port="0")
        console = _sub(devices, "console", type="pty")
        _sub(console, "target", type="serial", port="0")


@dataclasses.dataclass
class LibvirtConfigGuestChannel:
    """virtio-serial channel; libvirt picks the host socket path."""

    name: str = GUEST_AGENT_CHANNEL

    def format_dom(self, devices: ET.Element) -> None:
        channel = _sub(devices, "channel", type="unix")
        _sub(channel, "target", type="virtio", name=self.name)


@dataclasses.dataclass
class LibvirtConfigGuestMetadata:
    """What an operator reading ``virsh dumpxml`` wants to know; also how
    the driver recognises its own domains."""

    display_name: str
    hostname: str
    flavor_name: str
    project_id: str
    user_id: str
    image_id: str
    created: str
    # NOTE: the deployment the guest belongs to (see driver.deployment_path).
    instances_path: str = ""

    def format_dom(self, metadata: ET.Element) -> None:
        # NOTE: the namespace is declared on this element itself (libvirt
        # keeps each metadata child with its own namespace), hence the
        # literal prefix rather than ElementTree's root-level declarations.
        root = _sub(metadata, f"{NS_PREFIX}:instance", **{f"xmlns:{NS_PREFIX}": NOVALITE_NS})
        for tag, value in (("name", self.display_name), ("hostname", self.hostname),
                           ("creationTime", self.created)):
            _sub(root, f"{NS_PREFIX}:{tag}", value)
        _sub(root, f"{NS_PREFIX}:flavor", name=self.flavor_name)
        owner = _sub(root, f"{NS_PREFIX}:owner")
        _sub(owner, f"{NS_PREFIX}:user", uuid=self.user_id)
        _sub(owner, f"{NS_PREFIX}:project", uuid=self.project_id)
        _sub(root, f"{NS_PREFIX}:root", type="image", uuid=self.image_id)
        if self.instances_path:
            _sub(root, f"{NS_PREFIX}:deployment", instancesPath=self.instances_path)


# Nova's version.vendor_string() and product_string(), and its system family.
SMBIOS_MANUFACTURER = "OpenStack Foundation"
SMBIOS_PRODUCT = "OpenStack Nova"
SMBIOS_FAMILY = "Virtual Machine"

Device = (LibvirtConfigGuestDisk | LibvirtConfigGuestInterface | LibvirtConfigGuestSerial
          | LibvirtConfigGuestChannel)


@dataclasses.dataclass
class LibvirtConfigGuest:
    virt_type: str
    name: str
    uuid: str
    memory_mib: int
    vcpus: int
    metadata: LibvirtConfigGuestMetadata
    machine: str = "pc"
    arch: str = "x86_64"
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    tb_cache_mib: int = 0
    devices: list[Device] = dataclasses.field(default_factory=list)

    def format_dom(self) -> ET.Element:
        domain = ET.Element("domain", type=self.virt_type)
        _sub(domain, "name", self.name)
        _sub(domain, "uuid", self.uuid)
        self.metadata.format_dom(_sub(domain, "metadata"))
        _sub(domain, "memory", str(self.memory_mib), unit="MiB")
        _sub(domain, "vcpu", str(self.vcpus))
        self._format_os(_sub(domain, "os"))
        self._format_sysinfo(_sub(domain, "sysinfo", type="smbios"))
        self._format_features(_sub(domain, "features"))
        self._format_cpu(_sub(domain, "cpu"))
        _sub(domain, "clock", offset="utc")
        for event, action in (("on_poweroff", "destroy"), ("on_reboot", "restart"),
                              ("on_crash", "destroy")):
            _sub(domain, event, action)
        devices = _sub(domain, "devices")
        for dev in self.devices:
            dev.format_dom(devices)
        rng = _sub(devices, "rng", model="virtio")
        _sub(rng, "backend", "/dev/urandom", model="random")
        # NOTE: no USB controller and no balloon: nothing uses them, and
        # under TCG each costs boot time (measured: boot ratio 1.39x → 1.29x).
        _sub(devices, "controller", type="usb", model="none")
        _sub(devices, "memballoon", model="none")
        return domain

    def _format_os(self, os_el: ET.Element) -> None:
        _sub(os_el, "type", "hvm", arch=self.arch, machine=self.machine)
        if self.kernel:
            _sub(os_el, "kernel", self.kernel)
            if self.initrd:
                _sub(os_el, "initrd", self.initrd)
            if self.cmdline:
                _sub(os_el, "cmdline", self.cmdline)
        else:
            _sub(os_el, "boot", dev="hd")
        # NOTE: SeaBIOS prints to the serial console too, so even a guest
        # that never boots leaves a trace in console.log.
        _sub(os_el, "bios", useserial="yes")
        _sub(os_el, "smbios", mode="sysinfo")

    def _format_sysinfo(self, sysinfo: ET.Element) -> None:
        """The guest's SMBIOS system table as Nova's libvirt driver writes it
        (serial = the instance uuid, its default [libvirt] sysinfo_serial
        'unique'): cloud-init's ds-identify reads product_name 'OpenStack Nova'
        to look for the OpenStack metadata service when there is no config drive."""
        from novalite import __version__

        system = _sub(sysinfo, "system")
        for name, value in (("manufacturer", SMBIOS_MANUFACTURER),
                            ("product", SMBIOS_PRODUCT), ("version", __version__),
                            ("serial", self.uuid), ("uuid", self.uuid),
                            ("family", SMBIOS_FAMILY)):
            _sub(system, "entry", value, name=name)

    def _format_features(self, features: ET.Element) -> None:
        _sub(features, "acpi")
        _sub(features, "apic")
        if self.virt_type == "qemu" and self.tb_cache_mib:
            tcg = _sub(features, "tcg")
            _sub(tcg, "tb-cache", str(self.tb_cache_mib), unit="MiB")

    def _format_cpu(self, cpu: ET.Element) -> None:
        if self.virt_type == "kvm":
            cpu.set("mode", "host-passthrough")
        _sub(cpu, "topology", sockets=str(self.vcpus), cores="1", threads="1")

    def to_xml(self) -> str:
        dom = self.format_dom()
        ET.indent(dom)
        return ET.tostring(dom, encoding="unicode")
