"""Block device mapping queries (an instance's block devices, Nova's table)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error


@retry_on_db_error(idempotent=False)
def block_device_mapping_create(values: dict[str, Any]) -> dict[str, Any]:
    with _session() as s:
        row = models.BlockDeviceMapping(**values)
        s.add(row)
        s.flush()
        return row.as_dict()


@retry_on_db_error
def block_device_mapping_get_all_by_instance(instance_uuid: str) -> list[dict[str, Any]]:
    """The instance's mappings, the boot device first."""
    with _session() as s:
        M = models.BlockDeviceMapping
        q = (sa.select(M).filter_by(instance_uuid=instance_uuid)
             .order_by(M.boot_index.is_(None), M.boot_index, M.id))
        return [r.as_dict() for r in s.scalars(q)]
