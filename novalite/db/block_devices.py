"""Block device mapping queries (an instance's block devices, Nova's table)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from novalite import exception
from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error


class BlockDeviceMappingNotFound(exception.NotFound):
    msg_fmt = "Block device mapping %(id)s could not be found."


class DeviceNameTaken(exception.Conflict):
    """Another mapping of the instance has this device name (a racing attach)."""

    msg_fmt = "Instance %(instance_uuid)s already has a device %(device_name)s"


@retry_on_db_error(idempotent=False)
def block_device_mapping_create(values: dict[str, Any]) -> dict[str, Any]:
    """DeviceNameTaken when the instance has a mapping at that device name."""
    try:
        with _session() as s:
            row = models.BlockDeviceMapping(**values)
            s.add(row)
            s.flush()
            return row.as_dict()
    except sa.exc.IntegrityError:
        raise DeviceNameTaken(instance_uuid=values.get("instance_uuid"),
                              device_name=values.get("device_name")) from None


@retry_on_db_error
def block_device_mapping_get_all_by_instance(instance_uuid: str) -> list[dict[str, Any]]:
    """The instance's mappings, the boot device first."""
    with _session() as s:
        M = models.BlockDeviceMapping
        q = (sa.select(M).filter_by(instance_uuid=instance_uuid)
             .order_by(M.boot_index.is_(None), M.boot_index, M.id))
        return [r.as_dict() for r in s.scalars(q)]


@retry_on_db_error
def block_device_mapping_get_by_volume(volume_id: str,
                                       instance_uuid: str | None = None
                                       ) -> list[dict[str, Any]]:
    """The mappings of ``volume_id`` (of one instance when given)."""
    with _session() as s:
        M = models.BlockDeviceMapping
        q = sa.select(M).filter_by(volume_id=volume_id)
        if instance_uuid is not None:
            q = q.filter_by(instance_uuid=instance_uuid)
        return [r.as_dict() for r in s.scalars(q.order_by(M.id))]


@retry_on_db_error
def block_device_mapping_get_volumes(instance_uuids: list[str]) -> list[dict[str, Any]]:
    """The volume mappings of these instances (for the server views), in
    one query, each instance's root first."""
    if not instance_uuids:
        return []
    with _session() as s:
        M = models.BlockDeviceMapping
        q = (sa.select(M).where(M.instance_uuid.in_(instance_uuids),
                                M.destination_type == "volume")
             .order_by(M.instance_uuid, M.boot_index.is_(None), M.boot_index, M.id))
        return [r.as_dict() for r in s.scalars(q)]


@retry_on_db_error
def block_device_mapping_update(bdm_id: int, values: dict[str, Any]) -> dict[str, Any]:
    with _session() as s:
        row = s.get(models.BlockDeviceMapping, bdm_id)
        if row is None:
            raise BlockDeviceMappingNotFound(id=bdm_id)
        for name, value in values.items():
            setattr(row, name, value)
        s.flush()
        return row.as_dict()


@retry_on_db_error
def block_device_mapping_destroy(bdm_id: int) -> None:
    """Idempotent: a mapping already gone is fine."""
    with _session() as s:
        s.execute(sa.delete(models.BlockDeviceMapping)
                  .where(models.BlockDeviceMapping.id == bdm_id))
