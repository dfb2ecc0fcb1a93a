"""What the scheduler knows about a host, and what it is asked to place.

HostState is a snapshot built from the DB (service + compute node rows).
The scheduler updates it in memory with ``consume()`` after each choice,
because compute nodes only report usage periodically: without that, several
requests answered in a row would all see the same free capacity and pile
onto one host.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class RequestSpec:
    """One build request's needs; crosses RPC as a plain dict (to_dict/from_dict)."""

    instance_uuid: str | None
    flavor_memory_mb: int
    flavor_vcpus: int
    flavor_root_gb: int
    flavor_ephemeral_gb: int = 0
    flavor_swap_mb: int = 0
    flavor_name: str = ""
    availability_zone: str | None = None
    # NOTE: hosts a previous attempt of this build already failed on; the
    # reschedule path fills it so the retry goes somewhere else.
    ignore_hosts: list[str] = field(default_factory=list)
    num_instances: int = 1

    @property
    def disk_gb(self) -> int:
        """Local disk the instance takes: swap is on local disk too, rounded up to GiB."""
        return self.flavor_root_gb + self.flavor_ephemeral_gb + math.ceil(self.flavor_swap_mb / 1024)

    @property
    def flavor_label(self) -> str:
        """How messages name the flavor; the name may be empty in tests and internal calls."""
        return f"flavor '{self.flavor_name}'" if self.flavor_name else "the flavor"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict for RPC (oslo.messaging serialises primitives only)."""
        data = dataclasses.asdict(self)
        data["ignore_hosts"] = list(self.ignore_hosts)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestSpec:
        """Rebuild from ``to_dict()`` output.

        Unknown keys are ignored so that a newer sender does not break an older
        scheduler during a rolling upgrade; missing optional keys take defaults.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        if kwargs.get("ignore_hosts") is None:
            kwargs.pop("ignore_hosts", None)
        else:
            kwargs["ignore_hosts"] = list(kwargs["ignore_hosts"])
        return cls(**kwargs)


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
        self.memory_mb_used += spec.flavor_memory_mb
        self.vcpus_used += spec.flavor_vcpus
        self.local_gb_used += spec.disk_gb
        self.num_instances += 1
