"""What the scheduler knows about a host (what it is asked to place is a
``RequestSpec`` object, novalite.objects.request_spec).

HostState is a snapshot built from the DB (service + compute node rows).
The scheduler updates it in memory with ``consume()`` after each choice,
because compute nodes only report usage periodically: without that, several
requests answered in a row would all see the same free capacity and pile
onto one host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from novalite.objects.request_spec import RequestSpec


@dataclass(frozen=True)
class Usage:
    """What one instance of a request takes from a host (read from the spec
    once per request, not once per host)."""

    memory_mb: int
    vcpus: int
    disk_gb: int

    @classmethod
    def of(cls, spec: RequestSpec) -> Usage:
        return cls(spec.memory_mb, spec.vcpus, spec.disk_gb)


@dataclass
class HostState:
    """One compute host (service + node) as the scheduler sees it."""

    host: str
    nodename: str
    service_up: bool
    service_disabled: bool
    disabled_reason: str | None
    availability_zone: str
    vcpus: int
    vcpus_used: int
    memory_mb: int
    memory_mb_used: int
    local_gb: int
    local_gb_used: int
    cpu_allocation_ratio: float
    ram_allocation_ratio: float
    disk_allocation_ratio: float
    num_instances: int
    updated_at: datetime | None = None

    # NOTE: the free_* values are floored. Requests are whole numbers, so
    # floor(limit - used) >= need exactly when limit - used >= need, and
    # messages stay free of fractions like "1536.0 MiB".
    @property
    def free_ram_mb(self) -> int:
        """RAM still placeable: total x ram_allocation_ratio - used (negative if overcommitted)."""
        return math.floor(self.memory_mb * self.ram_allocation_ratio - self.memory_mb_used)

    @property
    def free_vcpus(self) -> int:
        """vCPUs still placeable: total x cpu_allocation_ratio - used."""
        return math.floor(self.vcpus * self.cpu_allocation_ratio - self.vcpus_used)

    @property
    def free_disk_gb(self) -> int:
        """Local disk still placeable: total x disk_allocation_ratio - used."""
        return math.floor(self.local_gb * self.disk_allocation_ratio - self.local_gb_used)

    def consume(self, spec: RequestSpec) -> None:
        """Account for ONE instance of ``spec`` placed here (call once per instance).

        The next request then sees the reduced capacity before the compute
        host's next resource report overwrites these numbers from the DB.
        """
        self.add_usage(spec.memory_mb, spec.vcpus, spec.disk_gb)

    def add_usage(self, memory_mb: int, vcpus: int, disk_gb: int, instances: int = 1) -> None:
        """Account for ``instances`` instances taking these amounts (negative
        amounts hand them back: a request that could not place all its
        instances releases what it took)."""
        self.memory_mb_used += memory_mb
        self.vcpus_used += vcpus
        self.local_gb_used += disk_gb
        self.num_instances += instances


__all__ = ["HostState", "RequestSpec", "Usage"]
