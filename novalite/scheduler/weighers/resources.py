"""RAMWeigher, CPUWeigher, DiskWeigher: prefer hosts with more free capacity.

With the default positive multipliers this spreads instances; a negative
multiplier packs them onto the fullest hosts first (stacking).
"""

from __future__ import annotations

from collections.abc import Sequence

from novalite.conf import CONF
from novalite.scheduler.host_state import HostState, RequestSpec
from novalite.scheduler.weighers import BaseHostWeigher


class RAMWeigher(BaseHostWeigher):
    def weight_multiplier(self) -> float:
        return float(CONF.scheduler.ram_weight_multiplier)

    def _weigh_object(self, host_state: HostState, spec: RequestSpec) -> float:
        return host_state.free_ram_mb

    def raw_values(self, hosts: Sequence[HostState], spec: RequestSpec) -> list[float]:
        return [h.free_ram_mb for h in hosts]


class CPUWeigher(BaseHostWeigher):
    def weight_multiplier(self) -> float:
        return float(CONF.scheduler.cpu_weight_multiplier)

    def _weigh_object(self, host_state: HostState, spec: RequestSpec) -> float:
        return host_state.free_vcpus

    def raw_values(self, hosts: Sequence[HostState], spec: RequestSpec) -> list[float]:
        return [h.free_vcpus for h in hosts]


class DiskWeigher(BaseHostWeigher):
    def weight_multiplier(self) -> float:
        return float(CONF.scheduler.disk_weight_multiplier)

    def _weigh_object(self, host_state: HostState, spec: RequestSpec) -> float:
        return host_state.free_disk_gb

    def raw_values(self, hosts: Sequence[HostState], spec: RequestSpec) -> list[float]:
        return [h.free_disk_gb for h in hosts]
