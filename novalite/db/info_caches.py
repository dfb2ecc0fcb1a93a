"""Instance info cache queries: one row per instance, its network_info as
JSON (as Nova's ``instance_info_caches``)."""

from __future__ import annotations

import sqlalchemy as sa

from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error


@retry_on_db_error
def info_cache_get(instance_uuid: str) -> str | None:
    """The instance's network_info JSON; None when it never had one."""
    with _session() as s:
        row = s.scalar(sa.select(models.InstanceInfoCache)
                       .filter_by(instance_uuid=instance_uuid))
        return None if row is None else row.network_info


@retry_on_db_error
def info_cache_update(instance_uuid: str, network_info: str) -> None:
    """Record the instance's network_info (made on its first update).

    NOTE: idempotent (the same value written again), so retried whole."""
    with _session() as s:
        row = s.scalar(sa.select(models.InstanceInfoCache)
                       .filter_by(instance_uuid=instance_uuid).with_for_update())
        if row is None:
            s.add(models.InstanceInfoCache(instance_uuid=instance_uuid,
                                           network_info=network_info))
        else:
            row.network_info = network_info
