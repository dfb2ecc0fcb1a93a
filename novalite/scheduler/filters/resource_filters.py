"""RamFilter, DiskFilter, CoreFilter: enough free capacity, allocation ratios applied.

The allocation ratios (per compute node) allow overcommit: a host with 8
vCPUs and cpu_allocation_ratio 4.0 can place 32 vCPUs of instances.
"""

from __future__ import annotations

import abc
from typing import ClassVar

from novalite.scheduler.filters import BaseHostFilter, plural
from novalite.scheduler.host_state import HostState, RequestSpec


class _ResourceFilter(BaseHostFilter):
    """Passes when free (limit - used) covers what one instance needs."""

    unit: ClassVar[str]  # how reasons read: "MiB free RAM"

    @abc.abstractmethod
    def free(self, host_state: HostState) -> int: ...

    @abc.abstractmethod
    def need(self, spec: RequestSpec) -> int: ...

    @abc.abstractmethod
    def capacity(self, host_state: HostState) -> str:
        """Where ``free`` comes from, for logs: total, ratio, used."""

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        # NOTE: an instance needing none of the resource fits even on an
        # overcommitted host: it takes nothing from it.
        need = self.need(spec)
        return need <= 0 or self.free(host_state) >= need

    def filter_hosts(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        # NOTE: the need is read once per request, not once per host (it
        # goes through the spec's flavor object).
        need = self.need(spec)
        if need <= 0:
            return list(hosts)
        free = self.free
        return [h for h in hosts if free(h) >= need]

    def reason(self, host_state: HostState, spec: RequestSpec) -> str:
        return f"{self.free(host_state)} {self.unit}"

    def explain(self, host_state: HostState, spec: RequestSpec) -> str:
        return (f"{host_state.host} has {self.reason(host_state, spec)} "
                f"({self.capacity(host_state)}), {spec.flavor_name or 'the flavor'} needs {self.need(spec)}")


class RamFilter(_ResourceFilter):
    unit = "MiB free RAM"

    def free(self, host_state: HostState) -> int:
        return host_state.free_ram_mb

    def need(self, spec: RequestSpec) -> int:
        return spec.memory_mb

    def capacity(self, host_state: HostState) -> str:
        return (f"{host_state.memory_mb} MiB x {host_state.ram_allocation_ratio:g} "
                f"- {host_state.memory_mb_used} used")


class DiskFilter(_ResourceFilter):
    """Root + ephemeral + swap, all on the host's local disk."""

    unit = "GiB free disk"

    def free(self, host_state: HostState) -> int:
        return host_state.free_disk_gb

    def need(self, spec: RequestSpec) -> int:
        return spec.disk_gb

    def capacity(self, host_state: HostState) -> str:
        return (f"{host_state.local_gb} GiB x {host_state.disk_allocation_ratio:g} "
                f"- {host_state.local_gb_used} used")


class CoreFilter(_ResourceFilter):
    unit = "free vCPUs"

    def free(self, host_state: HostState) -> int:
        return host_state.free_vcpus

    def need(self, spec: RequestSpec) -> int:
        return spec.vcpus

    def reason(self, host_state: HostState, spec: RequestSpec) -> str:
        return plural(self.free(host_state), "free vCPU")

    def capacity(self, host_state: HostState) -> str:
        return (f"{host_state.vcpus} x {host_state.cpu_allocation_ratio:g} "
                f"- {host_state.vcpus_used} used")
