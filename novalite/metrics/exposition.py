"""What one scrape shows, in Prometheus's text format.

Everything for a caller the ``novalite:metrics:all`` rule allows (admins);
for anyone else only the series labelled with their own ``project_id``
(their servers' counters, their project's usage and quota): never another
project's, and no host, service or process series (those describe the
cloud, not the project).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from novalite.metrics import REGISTRY
from novalite.metrics import bus as _bus  # noqa: F401 - registers the queue depth gauge
from novalite.metrics import instances as _instances  # noqa: F401 - registers its collector
from novalite.metrics.cloud import CloudCollector


class _View(Collector):
    def __init__(self, project_id: str | None, cloud: bool) -> None:
        self.project_id = project_id
        self.cloud = cloud

    def collect(self) -> Iterator[Metric]:
        families = list(REGISTRY.collect())
        if self.cloud:
            families.extend(CloudCollector(self.project_id).collect())
        if self.project_id is None:
            yield from families
            return
        for family in families:
            samples = [s for s in family.samples if s.labels.get("project_id") == self.project_id]
            if samples:
                mine = Metric(family.name, family.documentation, family.type, family.unit)
                mine.samples = samples
                yield mine


def render(project_id: str | None = None, everything: bool = True, cloud: bool = True) -> bytes:
    """The scrape: everything, or else ``project_id``'s series only (none
    without a project); ``cloud``: with the gauges read from the database
    (the API's; a compute's own listener has no database)."""
    if everything:
        return generate_latest(_View(None, cloud))
    if not project_id:
        return b""
    return generate_latest(_View(project_id, cloud))
