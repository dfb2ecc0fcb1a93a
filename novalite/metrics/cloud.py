"""Cloud-wide gauges read from the database at scrape time (on the API):
each project's usage against its quota, each compute node's capacity and
allocation, and whether each service is up.

A handful of aggregate queries per scrape, however many servers there are.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from novalite import context as nl_context
from novalite.conf import CONF
from novalite.db import api as db
from novalite.db import metrics as db_metrics
from novalite.objects.service import ServiceList

_UNLIMITED = -1

# compute node column of the capacity, of its use, and the resource's name
_NODE_RESOURCES = (("vcpus", "vcpus_used", "vcpus"), ("memory_mb", "memory_mb_used", "memory_mb"),
                   ("local_gb", "local_gb_used", "disk_gb"))


class CloudCollector(Collector):
    """``project_id`` None: every project, host and service; else only that
    project's usage and quota (no host or service series)."""

    def __init__(self, project_id: str | None = None) -> None:
        self.project_id = project_id

    def collect(self) -> Iterator[Metric]:
        yield from self._projects()
        if self.project_id is None:
            yield from self._hosts()
            yield self._services()

    def _projects(self) -> Iterator[Metric]:
        usage = db_metrics.project_usage(self.project_id)
        defaults, own = db_metrics.quota_limits(self.project_id)
        if self.project_id is not None:
            usage.setdefault(self.project_id, dict.fromkeys(
                ("instances", "cores", "ram", "volumes", "gigabytes"), 0))
        used = GaugeMetricFamily("novalite_project_usage",
                                 "What a project uses: servers (instances), their vCPUs "
                                 "(cores) and RAM in MiB (ram), volumes and their GiB",
                                 labels=["project_id", "resource"])
        limit = GaugeMetricFamily("novalite_project_quota_limit",
                                  "A project's quota limit of a resource (-1: unlimited)",
                                  labels=["project_id", "resource"])
        configured = {r: int(CONF.quota[r]) for r in db_metrics.QUOTA_RESOURCES}
        for project in sorted(set(usage) | set(own)):
            if self.project_id is not None and project != self.project_id:
                continue
            for resource, value in sorted(usage.get(project, {}).items()):
                used.add_metric([project, resource], value)
            limits = {**configured, **defaults, **own.get(project, {})}
            for resource in db_metrics.QUOTA_RESOURCES:
                limit.add_metric([project, resource], limits.get(resource, _UNLIMITED))
        yield used
        yield limit

    @staticmethod
    def _hosts() -> Iterator[Metric]:
        labels = ["host", "node", "resource"]
        capacity = GaugeMetricFamily("novalite_host_capacity",
                                     "A compute node's resources (vcpus, memory_mb, disk_gb), "
                                     "before allocation ratios", labels=labels)
        allocated = GaugeMetricFamily("novalite_host_allocated",
                                      "What the servers on a compute node were given of its "
                                      "resources", labels=labels)
        ratio = GaugeMetricFamily("novalite_host_allocation_ratio",
                                  "A compute node's overcommit ratio per resource", labels=labels)
        running = GaugeMetricFamily("novalite_host_running_instances",
                                    "Servers on a compute node", labels=["host", "node"])
        for node in db.compute_node_get_all():
            host, name = node["host"], node["hypervisor_hostname"]
            for column, used_column, resource in _NODE_RESOURCES:
                capacity.add_metric([host, name, resource], node[column] or 0)
                allocated.add_metric([host, name, resource], node[used_column] or 0)
            for resource, column in (("vcpus", "cpu_allocation_ratio"),
                                     ("memory_mb", "ram_allocation_ratio"),
                                     ("disk_gb", "disk_allocation_ratio")):
                ratio.add_metric([host, name, resource], node[column] or 0)
            running.add_metric([host, name], node["running_vms"] or 0)
        yield from (capacity, allocated, ratio, running)

    @staticmethod
    def _services() -> Metric:
        up = GaugeMetricFamily("novalite_service_up",
                               "1 when the service's last heartbeat is recent (service_down_time) "
                               "and it is not forced down",
                               labels=["host", "binary", "disabled"])
        for service in ServiceList.get_all(nl_context.get_admin_context()):
            up.add_metric([service.host, service.binary, str(bool(service.disabled)).lower()],
                          1 if service.is_up() else 0)
        return up
