"""A libvirt guest's diagnostics (the standard format of
``novalite.virt.diagnostics``) from the domain's info, vCPU, block and
interface statistics; a statistic libvirt refuses (a guest not running)
stays None."""

from __future__ import annotations

import contextlib
from typing import Any
from xml.etree import ElementTree

import libvirt

from novalite.virt import diagnostics as diag


def collect(domain: libvirt.virDomain, state: int, config_drive: bool) -> dict[str, Any]:
    """Diagnostics of ``domain``, whose power_state is ``state``."""
    root = ElementTree.fromstring(domain.XMLDesc(0))
    _state, max_kib, cur_kib, nr_vcpus, _cpu_time = domain.info()
    return diag.diagnostics(
        state=state, hypervisor=root.get("type"), uptime=None, config_drive=config_drive,
        memory_max_mb=int(max_kib) // 1024, memory_used_mb=int(cur_kib) // 1024,
        cpus=_cpus(domain, int(nr_vcpus)), nics=_nics(domain, root),
        disks=_disks(domain, root))


def _cpus(domain: libvirt.virDomain, count: int) -> list[dict[str, Any]]:
    times: dict[int, int] = {}
    with contextlib.suppress(libvirt.libvirtError):
        for number, _state, cpu_time, _host_cpu in domain.vcpus()[0]:
            times[int(number)] = int(cpu_time)
    return [diag.cpu(i, times.get(i)) for i in range(count)]


def _disks(domain: libvirt.virDomain, root: ElementTree.Element) -> list[dict[str, Any]]:
    out = []
    for disk in root.findall("./devices/disk[@device='disk']"):
        target = disk.find("target")
        dev = target.get("dev") if target is not None else None
        stats: Any = None
        if dev:
            with contextlib.suppress(libvirt.libvirtError):
                stats = domain.blockStats(dev)
        if stats is None:
            out.append(diag.disk())
            continue
        rd_req, rd_bytes, wr_req, wr_bytes, errs = (int(v) for v in stats)
        out.append(diag.disk(rd_bytes, rd_req, wr_bytes, wr_req, errs))
    return out


def _nics(domain: libvirt.virDomain, root: ElementTree.Element) -> list[dict[str, Any]]:
    out = []
    for iface in root.findall("./devices/interface"):
        mac = iface.find("mac")
        target = iface.find("target")
        dev = target.get("dev") if target is not None else None
        stats: Any = None
        if dev:
            with contextlib.suppress(libvirt.libvirtError):
                stats = domain.interfaceStats(dev)
        counters: dict[str, int | None] = {}
        if stats is not None:
            names = ("rx_octets", "rx_packets", "rx_errors", "rx_drop", "tx_octets",
                     "tx_packets", "tx_errors", "tx_drop")
            counters = {n: int(v) for n, v in zip(names, stats, strict=False)}
        out.append(diag.nic(mac.get("address") if mac is not None else None, counters))
    return out
