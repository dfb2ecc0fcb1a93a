"""A guest's cumulative usage counters, as the hypervisor reports them
(read in bulk by ``ComputeDriver.get_instance_stats`` for the metrics).

A value the driver cannot measure is None; counters only grow while the
guest runs (they restart from zero when its process restarts).
"""

from __future__ import annotations

import dataclasses
from typing import Any

_KIB = 1024


@dataclasses.dataclass(frozen=True)
class InstanceStats:
    cpu_seconds: float | None = None
    memory_bytes: int | None = None
    disk_read_bytes: int | None = None
    disk_write_bytes: int | None = None
    disk_read_requests: int | None = None
    disk_write_requests: int | None = None
    net_rx_bytes: int | None = None
    net_tx_bytes: int | None = None
    net_rx_packets: int | None = None
    net_tx_packets: int | None = None


def _summed(record: dict[str, Any], kind: str, field: str) -> int | None:
    """Sum of ``<kind>.<i>.<field>`` over the ``<kind>.count`` devices;
    None when the record has no such device list."""
    count = record.get(f"{kind}.count")
    if count is None:
        return None
    values = [record.get(f"{kind}.{i}.{field}") for i in range(int(count))]
    return sum(int(v) for v in values if v is not None)


def from_libvirt(record: dict[str, Any]) -> InstanceStats:
    """One domain's record of libvirt's ``getAllDomainStats`` (groups cpu-total,
    balloon, block, interface) as counters.

    NOTE: memory is the QEMU process's resident set (``balloon.rss``, what
    the guest costs the host), else the balloon's current size.
    """
    cpu_ns = record.get("cpu.time")
    memory_kib = record.get("balloon.rss", record.get("balloon.current"))
    return InstanceStats(
        cpu_seconds=int(cpu_ns) / 1e9 if cpu_ns is not None else None,
        memory_bytes=int(memory_kib) * _KIB if memory_kib is not None else None,
        disk_read_bytes=_summed(record, "block", "rd.bytes"),
        disk_write_bytes=_summed(record, "block", "wr.bytes"),
        disk_read_requests=_summed(record, "block", "rd.reqs"),
        disk_write_requests=_summed(record, "block", "wr.reqs"),
        net_rx_bytes=_summed(record, "net", "rx.bytes"),
        net_tx_bytes=_summed(record, "net", "tx.bytes"),
        net_rx_packets=_summed(record, "net", "rx.pkts"),
        net_tx_packets=_summed(record, "net", "tx.pkts"),
    )
