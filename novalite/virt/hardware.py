"""Small value types shared by drivers and the compute manager."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class InstanceInfo:
    """What a driver knows of one guest."""

    state: int
    internal_id: str | None = None


@dataclass
class HostResources:
    """A node's capacity and usage, as the driver measures them."""

    hypervisor_hostname: str
    hypervisor_type: str
    hypervisor_version: int
    vcpus: int
    memory_mb: int
    local_gb: int
    vcpus_used: int
    memory_mb_used: int
    local_gb_used: int
    running_vms: int
    # NOTE: what runs the guests, for operators (e.g. 'QEMU 7.2.22, qemu (TCG)').
    hypervisor_description: str = ""


@dataclass
class ConsoleSerial:
    """Where a serial console proxy connects to reach a guest's serial port:
    a raw TCP stream, one client at a time."""

    host: str
    port: int
