"""One libvirt domain seen as a guest: its power state and power actions."""

from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable

import libvirt

from novalite.virt import power_state
from novalite.virt.libvirt import config

LIBVIRT_POWER_STATE = {
    libvirt.VIR_DOMAIN_NOSTATE: power_state.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: power_state.RUNNING,
    # NOTE: "blocked" is a running guest waiting on I/O; "shutdown" is one
    # on its way down (Nova maps it the same way).
    libvirt.VIR_DOMAIN_BLOCKED: power_state.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: power_state.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: power_state.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: power_state.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: power_state.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: power_state.SUSPENDED,
}

_UNDEFINE_FLAGS = (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
                   | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                   | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)
POLL = 0.2


def _code(e: libvirt.libvirtError) -> int:
    return int(e.get_error_code() or 0)


def power_state_of(state: int, reason: int, managed_save: bool) -> int:
    """Nova's power state of a domain in libvirt ``state`` for ``reason``.

    NOTE: two cases libvirt reports as shut off are more: a domain with a
    managed-save image is a suspended guest (resume restores it), and one
    that libvirt destroyed because it crashed (``on_crash`` destroy) is a
    crashed guest, as Nova's ``power_state.CRASHED`` means.
    """
    if state == libvirt.VIR_DOMAIN_SHUTOFF:
        if managed_save:
            return power_state.SUSPENDED
        if reason == libvirt.VIR_DOMAIN_SHUTOFF_CRASHED:
            return power_state.CRASHED
    return LIBVIRT_POWER_STATE.get(state, power_state.NOSTATE)


class Guest:
    def __init__(self, domain: libvirt.virDomain) -> None:
        self._domain = domain

    @property
    def uuid(self) -> str:
        return str(self._domain.UUIDString())

    @property
    def name(self) -> str:
        return str(self._domain.name())

    @property
    def domain(self) -> libvirt.virDomain:
        return self._domain

    def get_power_state(self) -> int:
        state, reason = self._domain.state()
        managed = (state == libvirt.VIR_DOMAIN_SHUTOFF
                   and bool(self._domain.hasManagedSaveImage(0)))
        return power_state_of(int(state), int(reason), managed)

    def has_managed_save(self) -> bool:
        return bool(self._domain.hasManagedSaveImage(0))

    def pause(self) -> None:
        self._domain.suspend()

    def resume(self) -> None:
        self._domain.resume()

    def save_memory_state(self) -> None:
        """Managed save: memory to libvirt's save file, QEMU stops; the next
        start restores it, running even if it was paused."""
        self._domain.managedSave(libvirt.VIR_DOMAIN_SAVE_RUNNING)

    def inject_nmi(self) -> None:
        self._domain.injectNMI(0)

    def xml_desc(self, inactive: bool = False) -> str:
        """The domain XML (the persistent definition with ``inactive``),
        secure parts included so it can be defined again as it was."""
        flags = libvirt.VIR_DOMAIN_XML_SECURE
        if inactive:
            flags |= libvirt.VIR_DOMAIN_XML_INACTIVE
        return str(self._domain.XMLDesc(flags))

    def block_capacity(self, target: str) -> int:
        """Virtual size in bytes of the disk at ``target`` (e.g. vda)."""
        return int(self._domain.blockInfo(target, 0)[0])

    def is_active(self) -> bool:
        return bool(self._domain.isActive())

    def is_novalite(self) -> bool:
        """Whether the domain carries novalite's metadata element."""
        try:
            self._domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, config.NOVALITE_NS)
        except libvirt.libvirtError:
            return False
        return True

    def deployment(self) -> str | None:
        """The instances path of the deployment this guest belongs to, from
        its novalite metadata; for a guest made before that was recorded,
        from where its first disk lives (``<instances_path>/<uuid>/disk``)."""
        try:
            meta = ET.fromstring(self._domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                                                       config.NOVALITE_NS))
            found = meta.find(f"{{{config.NOVALITE_NS}}}deployment")
            if found is not None and found.get("instancesPath"):
                return found.get("instancesPath")
            source = ET.fromstring(self._domain.XMLDesc(0)).find("./devices/disk/source")
        except (libvirt.libvirtError, ET.ParseError):
            return None
        path = source.get("file") if source is not None else None
        return os.path.dirname(os.path.dirname(path)) if path else None

    def usage(self) -> tuple[int, int, bool] | None:
        """(vCPUs, memory MiB, running), or None when the domain vanished
        since it was listed (a destroy in another thread)."""
        try:
            state, max_mem_kib, _mem, vcpus, _cpu_time = self._domain.info()
        except libvirt.libvirtError as e:
            if _code(e) == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise
        return int(vcpus), int(max_mem_kib) // 1024, state not in (
            libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_CRASHED)

    def launch(self) -> None:
        self._domain.createWithFlags(0)

    def shutdown(self) -> None:
        """Ask the guest to shut down (ACPI, or the guest agent when one
        is connected); it may ignore the request."""
        try:
            self._domain.shutdown()
        except libvirt.libvirtError as e:
            if _code(e) != libvirt.VIR_ERR_OPERATION_INVALID:  # not running
                raise

    def poweroff(self) -> None:
        """Pull the plug. Not running, or gone, is fine."""
        for attempt in range(3):
            try:
                self._domain.destroy()
                return
            except libvirt.libvirtError as e:
                if _code(e) in (libvirt.VIR_ERR_OPERATION_INVALID, libvirt.VIR_ERR_NO_DOMAIN):
                    return
                # NOTE: QEMU can take a moment to die after SIGKILL (EBUSY).
                if _code(e) != libvirt.VIR_ERR_SYSTEM_ERROR or attempt == 2:
                    raise
                time.sleep(1)

    def delete_configuration(self) -> None:
        try:
            self._domain.undefineFlags(_UNDEFINE_FLAGS)
        except libvirt.libvirtError as e:
            if _code(e) == libvirt.VIR_ERR_NO_DOMAIN:
                return
            if _code(e) not in (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG):
                raise
            self._domain.undefine()

    def wait_for_shutoff(self, timeout: float, retry: Callable[[], None] | None = None,
                         retry_interval: float = 10.0) -> bool:
        """True when the guest is off within ``timeout`` seconds; ``retry``
        is called every ``retry_interval`` (a guest still booting may miss
        the first ACPI event)."""
        deadline = time.monotonic() + timeout
        next_retry = time.monotonic() + retry_interval
        while True:
            if not self.is_active():
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            if retry is not None and now >= next_retry:
                retry()
                next_retry = now + retry_interval
            time.sleep(min(POLL, deadline - now))
