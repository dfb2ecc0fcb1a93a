"""The hypervisor host: one libvirt connection, the virt type, host facts."""

from __future__ import annotations

import os
import threading
from typing import cast

import libvirt
from oslo_log import log as logging

from novalite import exception

LOG = logging.getLogger(__name__)


def _ignore_libvirt_errors(ctx: object, err: object) -> None:
    """libvirt prints every error to stderr by default; ours are raised."""


libvirt.registerErrorHandler(_ignore_libvirt_errors, None)


def probe_virt_type(dev_kvm: str = "/dev/kvm", kvm_pvm: str = "/sys/module/kvm_pvm",
                    cpuinfo: str = "/proc/cpuinfo") -> str:
    """'kvm' only where hardware virtualization really works.

    NOTE: a PVM host has /dev/kvm but runs only specially built guest
    kernels (FACTS.md); without vmx/svm there is no usable KVM either.
    """
    if not os.path.exists(dev_kvm) or os.path.exists(kvm_pvm):
        return "qemu"
    try:
        with open(cpuinfo) as f:
            flags = {word for line in f if line.startswith("flags") for word in line.split()}
    except OSError:
        return "qemu"
    return "kvm" if flags & {"vmx", "svm"} else "qemu"


def describe_virt_type(virt_type: str) -> str:
    return "kvm" if virt_type == "kvm" else "qemu (TCG)"


class Host:
    def __init__(self, uri: str, hostname: str) -> None:
        self.uri = uri
        self.hostname = hostname
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.Lock()

    def get_connection(self) -> libvirt.virConnect:
        """The open connection, reopened when libvirtd restarted."""
        with self._lock:
            conn = self._conn
            if conn is not None:
                try:
                    if conn.isAlive():
                        return conn
                except libvirt.libvirtError:
                    pass
                LOG.warning("Connection to libvirt at %s was lost; reconnecting", self.uri)
            try:
                self._conn = libvirt.open(self.uri)
            except libvirt.libvirtError as e:
                self._conn = None
                raise exception.HypervisorUnavailable(
                    f"cannot connect to libvirt at {self.uri} on host {self.hostname}: "
                    f"{e.get_error_message()}") from e
            return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except libvirt.libvirtError:
                    pass
                self._conn = None

    def lookup(self, uuid: str) -> libvirt.virDomain | None:
        """The domain of instance ``uuid`` (the domain UUID is the
        instance's), or None."""
        try:
            return self.get_connection().lookupByUUIDString(uuid)
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    def list_domains(self) -> list[libvirt.virDomain]:
        return cast("list[libvirt.virDomain]", self.get_connection().listAllDomains(0))

    def version(self) -> int:
        """QEMU's version as major*1,000,000 + minor*1,000 + release."""
        return int(self.get_connection().getVersion())

    def cpu_count(self) -> int:
        return int(self.get_connection().getInfo()[2])

    def memory_mb(self) -> int:
        # NOTE: getInfo()'s memory is NUMA node 0's on some hosts; the
        # all-cells stats are /proc/meminfo's total.
        stats = self.get_connection().getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
        return int(stats["total"]) // 1024
