"""Aggregate reads for the cloud-wide gauges of ``/metrics``: a few queries
per scrape, whatever the number of servers (no per-server round trip)."""

from __future__ import annotations

import sqlalchemy as sa

from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error
from novalite.db.volumes import Volume

# NOTE: the compute resources a quota limits that the gauges show.
QUOTA_RESOURCES = ("instances", "cores", "ram")


@retry_on_db_error
def project_usage(project_id: str | None = None) -> dict[str, dict[str, int]]:
    """Per project: servers (not deleted), their vCPUs and RAM (MiB, from the
    flavor each was built with), volumes and their gibibytes. ``project_id``:
    that project only."""
    usage: dict[str, dict[str, int]] = {}

    def of(project: str | None) -> dict[str, int]:
        return usage.setdefault(project or "", dict.fromkeys(
            ("instances", "cores", "ram", "volumes", "gigabytes"), 0))

    with _session() as s:
        q = sa.select(models.Instance.project_id, models.Instance.flavor).filter_by(deleted=0)
        vq = sa.select(Volume.project_id, sa.func.count(), sa.func.sum(Volume.size)).group_by(
            Volume.project_id)
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
            vq = vq.where(Volume.project_id == project_id)
        for project, flavor in s.execute(q):
            row, flavor = of(project), flavor or {}
            row["instances"] += 1
            row["cores"] += int(flavor.get("vcpus") or 0)
            row["ram"] += int(flavor.get("memory_mb") or 0)
        for project, count, size in s.execute(vq):
            row = of(project)
            row["volumes"], row["gigabytes"] = int(count), int(size or 0)
    return usage


@retry_on_db_error
def quota_limits(project_id: str | None = None) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """The ``default`` quota class's limits, and each project's own limits
    (``project_id``: that project's only), for QUOTA_RESOURCES."""
    with _session() as s:
        defaults = {r: limit for r, limit in s.execute(
            sa.select(models.QuotaClass.resource, models.QuotaClass.hard_limit).filter_by(
                class_name="default").where(models.QuotaClass.resource.in_(QUOTA_RESOURCES)))}
        q = sa.select(models.Quota.project_id, models.Quota.resource,
                      models.Quota.hard_limit).where(models.Quota.resource.in_(QUOTA_RESOURCES))
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
        own: dict[str, dict[str, int]] = {}
        for project, resource, limit in s.execute(q):
            own.setdefault(project, {})[resource] = limit
    return defaults, own
