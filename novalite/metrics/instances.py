"""Per-instance usage counters (CPU time, memory, disk and network I/O),
labelled with the instance's uuid and project_id.

The compute manager reads them from its driver in one bulk query per pass
(``[metrics] instance_stats_interval``) and hands them over with
``record()``; a scrape serves the last pass of every host in this process
and costs no hypervisor call. A host's pass replaces its previous one, so
a deleted guest's series disappear with the next pass.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from novalite.metrics import REGISTRY
from novalite.virt.stats import InstanceStats

_LABELS = ["instance", "project_id"]

# (field of InstanceStats, metric name, help, counter?)
_SERIES = (
    ("cpu_seconds", "novalite_instance_cpu_seconds", "CPU time the guest used", True),
    ("memory_bytes", "novalite_instance_memory_bytes",
     "Host memory the guest uses (resident set of its process)", False),
    ("disk_read_bytes", "novalite_instance_disk_read_bytes", "Bytes the guest read from its disks",
     True),
    ("disk_write_bytes", "novalite_instance_disk_write_bytes",
     "Bytes the guest wrote to its disks", True),
    ("disk_read_requests", "novalite_instance_disk_read_requests",
     "Read requests of the guest's disks", True),
    ("disk_write_requests", "novalite_instance_disk_write_requests",
     "Write requests of the guest's disks", True),
    ("net_rx_bytes", "novalite_instance_network_receive_bytes",
     "Bytes the guest's interfaces received", True),
    ("net_tx_bytes", "novalite_instance_network_transmit_bytes",
     "Bytes the guest's interfaces sent", True),
    ("net_rx_packets", "novalite_instance_network_receive_packets",
     "Packets the guest's interfaces received", True),
    ("net_tx_packets", "novalite_instance_network_transmit_packets",
     "Packets the guest's interfaces sent", True),
)

_lock = threading.Lock()
# host -> {instance uuid: (project_id, stats)}
_by_host: dict[str, dict[str, tuple[str, InstanceStats]]] = {}


def record(host: str, stats: Mapping[str, tuple[str, InstanceStats]]) -> None:
    """This pass's counters of every guest of ``host`` (replaces the last pass)."""
    with _lock:
        _by_host[host] = dict(stats)


def forget(host: str) -> None:
    """The host's service stopped: its guests' series go."""
    with _lock:
        _by_host.pop(host, None)


class InstanceCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        with _lock:
            rows = [(uuid, project, stats) for per_host in _by_host.values()
                    for uuid, (project, stats) in per_host.items()]
        for field, name, doc, counter in _SERIES:
            family: CounterMetricFamily | GaugeMetricFamily = (
                CounterMetricFamily(name, doc, labels=_LABELS) if counter
                else GaugeMetricFamily(name, doc, labels=_LABELS))
            for uuid, project, stats in rows:
                value = getattr(stats, field)
                if value is not None:
                    family.add_metric([uuid, project], value)
            yield family


REGISTRY.register(InstanceCollector())
