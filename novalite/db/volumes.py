"""Database queries of the volume service and the Block Storage API:
volumes, snapshots, attachments, volume types and the quota usage they
make. Rows are Cinder's, keyed by their UUID. Status changes that race
(two deletes, an attach and a delete) are compare-and-swap updates
(``expected`` statuses): the loser gets the row's current state.

NOTE: the models live here, next to their queries, rather than in
``models.py``; they register on the same ``Base`` (the package imports
this module so the metadata always has them)."""

from __future__ import annotations

import datetime
from typing import Any

import sqlalchemy as sa
from oslo_utils import timeutils, uuidutils
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error
from novalite.volume import exceptions as v_exc

Base = models.Base

class VolumeType(Base):
    """A volume type (Cinder's ``volume_types``); novalite has the one
    default, ``__DEFAULT__``, as a fresh Cinder has."""

    __tablename__ = "volume_types"
    __table_args__ = (UniqueConstraint("name", name="uniq_volume_types0name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255))
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    extra_specs: Mapped[dict | None] = mapped_column(JSON)


class Volume(Base):
    """A volume (Cinder's ``volumes``): ``host`` is the volume service that
    holds its data, ``provider_location`` where on that host (the backend's
    name for it), ``fault`` why it went to an error state."""

    __tablename__ = "volumes"
    __table_args__ = (Index("volumes_project_id_idx", "project_id"),
                      Index("volumes_host_idx", "host"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    attach_status: Mapped[str] = mapped_column(String(32), default="detached")
    previous_status: Mapped[str | None] = mapped_column(String(32))
    host: Mapped[str | None] = mapped_column(String(255))
    availability_zone: Mapped[str | None] = mapped_column(String(255))
    bootable: Mapped[bool] = mapped_column(Boolean, default=False)
    multiattach: Mapped[bool] = mapped_column(Boolean, default=False)
    readonly: Mapped[bool] = mapped_column(Boolean, default=False)
    volume_type_id: Mapped[str | None] = mapped_column(String(36))
    snapshot_id: Mapped[str | None] = mapped_column(String(36))
    source_volid: Mapped[str | None] = mapped_column(String(36))
    image_id: Mapped[str | None] = mapped_column(String(36))
    provider_location: Mapped[str | None] = mapped_column(String(1024))
    migration_status: Mapped[str | None] = mapped_column(String(32))
    volume_metadata: Mapped[dict | None] = mapped_column(JSON)
    volume_image_metadata: Mapped[dict | None] = mapped_column(JSON)
    fault: Mapped[str | None] = mapped_column(Text)
    launched_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class VolumeSnapshot(Base):
    """A snapshot of a volume (Cinder's ``snapshots``), kept by the volume's host."""

    __tablename__ = "volume_snapshots"
    __table_args__ = (Index("volume_snapshots_volume_id_idx", "volume_id"),
                      Index("volume_snapshots_project_id_idx", "project_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("volumes.id", name="fk_volume_snapshots0volume_id"))
    project_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    progress: Mapped[str | None] = mapped_column(String(255))
    provider_location: Mapped[str | None] = mapped_column(String(1024))
    snapshot_metadata: Mapped[dict | None] = mapped_column(JSON)
    fault: Mapped[str | None] = mapped_column(Text)


class VolumeAttachment(Base):
    """One attachment of a volume to a server (Cinder's
    ``volume_attachment``, the 3.27+ attachment API's record): made
    ``reserved``, given ``connection_info`` once the compute host sent its
    ``connector``, ``attached`` when the compute completed it."""

    __tablename__ = "volume_attachments"
    __table_args__ = (Index("volume_attachments_volume_id_idx", "volume_id"),
                      Index("volume_attachments_instance_uuid_idx", "instance_uuid"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    volume_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("volumes.id", name="fk_volume_attachments0volume_id"))
    instance_uuid: Mapped[str | None] = mapped_column(String(36))
    attached_host: Mapped[str | None] = mapped_column(String(255))
    mountpoint: Mapped[str | None] = mapped_column(String(255))
    attach_mode: Mapped[str] = mapped_column(String(8), default="rw")
    attach_status: Mapped[str] = mapped_column(String(32))
    connector: Mapped[dict | None] = mapped_column(JSON)
    connection_info: Mapped[dict | None] = mapped_column(JSON)
    attach_time: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    detach_time: Mapped[datetime.datetime | None] = mapped_column(DateTime)


DEFAULT_TYPE_NAME = "__DEFAULT__"
# NOTE: migration 020 makes the default type with this id.
DEFAULT_TYPE_ID = "5b6e3d1c-2f0a-4c1e-9a57-4b0c1d6e7f80"


def _as_dict(row: Any) -> dict[str, Any]:
    return dict(row.as_dict())


def _attachment_dicts(s: Any, volume_ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {v: [] for v in volume_ids}
    if not volume_ids:
        return out
    rows = s.scalars(sa.select(VolumeAttachment).where(
        VolumeAttachment.volume_id.in_(volume_ids)).order_by(VolumeAttachment.created_at))
    for row in rows:
        out[row.volume_id].append(_as_dict(row))
    return out


def _volume_dicts(s: Any, rows: list[Volume]) -> list[dict]:
    attachments = _attachment_dicts(s, [r.id for r in rows])
    out = []
    for row in rows:
        d = _as_dict(row)
        d["attachments"] = attachments[row.id]
        out.append(d)
    return out


def _volume_row(s: Any, volume_id: str) -> Volume:
    row = s.get(Volume, volume_id) if isinstance(volume_id, str) else None
    if row is None:
        raise v_exc.VolumeNotFound(volume_id=volume_id)
    return row


# -- volumes -----------------------------------------------------------------------------

@retry_on_db_error(idempotent=False)
def volume_create(values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    values.setdefault("id", uuidutils.generate_uuid())
    values.setdefault("attach_status", "detached")
    values.setdefault("volume_type_id", DEFAULT_TYPE_ID)
    with _session() as s:
        row = Volume(**values)
        s.add(row)
        s.flush()
        return _volume_dicts(s, [row])[0]


@retry_on_db_error
def volume_get(volume_id: str) -> dict[str, Any]:
    with _session() as s:
        return _volume_dicts(s, [_volume_row(s, volume_id)])[0]


@retry_on_db_error
def volume_get_all(project_id: str | None = None, host: str | None = None,
                   statuses: list[str] | None = None) -> list[dict[str, Any]]:
    """Volumes, oldest first; ``project_id``/``host``/``statuses`` narrow them."""
    with _session() as s:
        q = sa.select(Volume).order_by(Volume.created_at, Volume.id)
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
        if host is not None:
            q = q.filter_by(host=host)
        if statuses is not None:
            q = q.where(Volume.status.in_(statuses))
        return _volume_dicts(s, list(s.scalars(q)))


@retry_on_db_error(idempotent=False)
def volume_update(volume_id: str, values: dict[str, Any],
                  expected: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """Set ``values``; with ``expected`` (column -> allowed values) only
    when the row still has them, else InvalidVolume naming what it has."""
    with _session() as s:
        q = sa.update(Volume).where(Volume.id == volume_id)
        for column, allowed in (expected or {}).items():
            q = q.where(getattr(Volume, column).in_(allowed))
        changed = s.execute(q.values(updated_at=timeutils.utcnow(), **values)).rowcount  # type: ignore[attr-defined]
        if not changed:
            row = _volume_row(s, volume_id)
            wanted = " or ".join(f"{c} {'/'.join(v)}" for c, v in (expected or {}).items())
            raise v_exc.InvalidVolume(
                reason=f"volume {volume_id} must be {wanted}, but its status is "
                       f"{row.status} (attach status {row.attach_status})")
        return _volume_dicts(s, [_volume_row(s, volume_id)])[0]


@retry_on_db_error(idempotent=False)
def volume_destroy(volume_id: str) -> None:
    """Remove the volume and whatever attachment rows are left."""
    with _session() as s:
        s.execute(sa.delete(VolumeAttachment).where(VolumeAttachment.volume_id == volume_id))
        s.execute(sa.delete(Volume).where(Volume.id == volume_id))


@retry_on_db_error
def allocated_gb(host: str) -> int:
    """Gibibytes of the volumes and snapshots this host holds."""
    with _session() as s:
        vols = s.scalar(sa.select(sa.func.coalesce(sa.func.sum(Volume.size), 0)).filter_by(
            host=host)) or 0
        snaps = s.scalar(sa.select(sa.func.coalesce(sa.func.sum(VolumeSnapshot.size), 0))
                         .join(Volume, Volume.id == VolumeSnapshot.volume_id)
                         .where(Volume.host == host)) or 0
        return int(vols) + int(snaps)


# -- snapshots -------------------------------------------------------------------------

def _snapshot_row(s: Any, snapshot_id: str) -> VolumeSnapshot:
    row = s.get(VolumeSnapshot, snapshot_id) if isinstance(snapshot_id, str) else None
    if row is None:
        raise v_exc.SnapshotNotFound(snapshot_id=snapshot_id)
    return row


@retry_on_db_error(idempotent=False)
def snapshot_create(values: dict[str, Any]) -> dict[str, Any]:
    values = dict(values)
    values.setdefault("id", uuidutils.generate_uuid())
    with _session() as s:
        row = VolumeSnapshot(**values)
        s.add(row)
        s.flush()
        return _as_dict(row)


@retry_on_db_error
def snapshot_get(snapshot_id: str) -> dict[str, Any]:
    with _session() as s:
        return _as_dict(_snapshot_row(s, snapshot_id))


@retry_on_db_error
def snapshot_get_all(project_id: str | None = None, volume_id: str | None = None,
                     host: str | None = None) -> list[dict[str, Any]]:
    with _session() as s:
        q = sa.select(VolumeSnapshot).order_by(VolumeSnapshot.created_at, VolumeSnapshot.id)
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
        if volume_id is not None:
            q = q.filter_by(volume_id=volume_id)
        if host is not None:
            q = q.join(Volume, Volume.id == VolumeSnapshot.volume_id).where(Volume.host == host)
        return [_as_dict(r) for r in s.scalars(q)]


@retry_on_db_error(idempotent=False)
def snapshot_update(snapshot_id: str, values: dict[str, Any],
                    expected: list[str] | None = None) -> dict[str, Any]:
    with _session() as s:
        q = sa.update(VolumeSnapshot).where(VolumeSnapshot.id == snapshot_id)
        if expected is not None:
            q = q.where(VolumeSnapshot.status.in_(expected))
        if not s.execute(q.values(updated_at=timeutils.utcnow(), **values)).rowcount:  # type: ignore[attr-defined]
            row = _snapshot_row(s, snapshot_id)
            raise v_exc.InvalidSnapshot(
                reason=f"snapshot {snapshot_id} must be {'/'.join(expected or [])}, but its "
                       f"status is {row.status}")
        return _as_dict(_snapshot_row(s, snapshot_id))


@retry_on_db_error(idempotent=False)
def snapshot_destroy(snapshot_id: str) -> None:
    with _session() as s:
        s.execute(sa.delete(VolumeSnapshot).where(VolumeSnapshot.id == snapshot_id))


# -- attachments ---------------------------------------------------------------------------

def _attachment_row(s: Any, attachment_id: str) -> VolumeAttachment:
    row = s.get(VolumeAttachment, attachment_id) if isinstance(attachment_id, str) else None
    if row is None:
        raise v_exc.VolumeAttachmentNotFound(attachment_id=attachment_id)
    return row


@retry_on_db_error(idempotent=False)
def attachment_reserve(volume_id: str, instance_uuid: str, project_id: str | None,
                       attach_mode: str = "rw") -> tuple[dict, dict]:
    """Reserve the volume for the server in one transaction (Cinder's
    attachment_create): an ``available`` volume becomes ``reserved``; one
    attached to another server is refused unless multiattach; one attached
    to this same server takes a second attachment (Nova moving the server:
    the destination's attachment before the source's goes). (volume,
    attachment)."""
    with _session() as s:
        vol = _volume_row(s, volume_id)
        if project_id is not None and vol.project_id != project_id:
            raise v_exc.VolumeNotFound(volume_id=volume_id)
        servers = set(s.scalars(sa.select(VolumeAttachment.instance_uuid).filter_by(
            volume_id=volume_id)))
        again = bool(servers) and servers == {instance_uuid}
        allowed = ["available"] + (["in-use", "reserved", "attaching"]
                                   if vol.multiattach or again else [])
        changed = s.execute(
            sa.update(Volume).where(Volume.id == volume_id, Volume.status.in_(allowed))
            .values(status="reserved" if vol.status == "available" else vol.status,
                    updated_at=timeutils.utcnow())).rowcount  # type: ignore[attr-defined]
        if not changed:
            raise v_exc.InvalidVolume(
                reason=f"volume {volume_id} status must be {' or '.join(allowed)} to "
                       f"reserve, but the current status is {vol.status}")
        row = VolumeAttachment(id=uuidutils.generate_uuid(), volume_id=volume_id,
                               instance_uuid=instance_uuid, attach_mode=attach_mode,
                               attach_status="reserved")
        s.add(row)
        s.flush()
        attachment = _as_dict(row)
        return _volume_dicts(s, [_volume_row(s, volume_id)])[0], attachment


@retry_on_db_error
def attachment_get(attachment_id: str) -> dict[str, Any]:
    with _session() as s:
        return _as_dict(_attachment_row(s, attachment_id))


@retry_on_db_error
def attachment_get_all(volume_id: str | None = None, instance_uuid: str | None = None,
                       project_id: str | None = None, host: str | None = None
                       ) -> list[dict[str, Any]]:
    """Attachments, oldest first; ``project_id`` and ``host`` are the volume's."""
    with _session() as s:
        q = sa.select(VolumeAttachment).order_by(VolumeAttachment.created_at,
                                                 VolumeAttachment.id)
        if volume_id is not None:
            q = q.filter_by(volume_id=volume_id)
        if instance_uuid is not None:
            q = q.filter_by(instance_uuid=instance_uuid)
        if project_id is not None or host is not None:
            q = q.join(Volume, Volume.id == VolumeAttachment.volume_id)
            if project_id is not None:
                q = q.where(Volume.project_id == project_id)
            if host is not None:
                q = q.where(Volume.host == host)
        return [_as_dict(r) for r in s.scalars(q)]


@retry_on_db_error(idempotent=False)
def attachment_update(attachment_id: str, values: dict[str, Any],
                      volume_values: dict[str, Any] | None = None,
                      expected: list[str] | None = None,
                      volume_expected: list[str] | None = None) -> dict[str, Any]:
    """Update the attachment (and its volume) in one transaction; with
    ``expected``/``volume_expected`` statuses only when they still hold."""
    with _session() as s:
        row = _attachment_row(s, attachment_id)
        if expected is not None and row.attach_status not in expected:
            raise v_exc.InvalidVolume(
                reason=f"attachment {attachment_id} must be {'/'.join(expected)}, but it is "
                       f"{row.attach_status}")
        if volume_values:
            q = sa.update(Volume).where(Volume.id == row.volume_id)
            if volume_expected is not None:
                q = q.where(Volume.status.in_(volume_expected))
            if not s.execute(q.values(updated_at=timeutils.utcnow(),
                                      **volume_values)).rowcount:  # type: ignore[attr-defined]
                vol = _volume_row(s, row.volume_id)
                raise v_exc.InvalidVolume(
                    reason=f"volume {row.volume_id} must be {'/'.join(volume_expected or [])}"
                           f", but its status is {vol.status}")
        for key, value in values.items():
            setattr(row, key, value)
        s.flush()
        return _as_dict(row)


@retry_on_db_error(idempotent=False)
def attachment_destroy(attachment_id: str) -> dict[str, Any]:
    """Remove the attachment; the volume goes back to ``available`` (and
    ``detached``) when it was its last one. The volume after."""
    with _session() as s:
        row = _attachment_row(s, attachment_id)
        volume_id = row.volume_id
        s.delete(row)
        s.flush()
        left = {a.attach_status for a in s.scalars(
            sa.select(VolumeAttachment).filter_by(volume_id=volume_id))}
        vol = _volume_row(s, volume_id)
        if vol.status in ("reserved", "attaching", "in-use", "detaching", "error_attaching",
                          "error_detaching"):
            if "attached" in left:
                vol.status, vol.attach_status = "in-use", "attached"
            elif "attaching" in left:
                vol.status, vol.attach_status = "attaching", "attaching"
            elif left:
                vol.status, vol.attach_status = "reserved", "detached"
            else:
                vol.status, vol.attach_status = "available", "detached"
        elif not left:
            vol.attach_status = "detached"
        s.flush()
        return _volume_dicts(s, [vol])[0]


@retry_on_db_error(idempotent=False)
def volume_settle(volume_id: str) -> dict[str, Any]:
    """Set a volume that is being attached or detached to the status its
    attachments say (after a failed connect or a restart): in-use while one
    is attached, attaching while one is being connected, reserved while
    only reserved (or failed) ones are left, available when none is."""
    with _session() as s:
        vol = _volume_row(s, volume_id)
        states = {a.attach_status for a in s.scalars(
            sa.select(VolumeAttachment).filter_by(volume_id=volume_id))}
        if vol.status in ("reserved", "attaching", "in-use", "detaching", "available",
                          "error_attaching"):
            if "attached" in states:
                vol.status, vol.attach_status = "in-use", "attached"
            elif "attaching" in states:
                vol.status, vol.attach_status = "attaching", "attaching"
            elif states:
                vol.status, vol.attach_status = "reserved", "detached"
            else:
                vol.status, vol.attach_status = "available", "detached"
        s.flush()
        return _volume_dicts(s, [vol])[0]


# -- volume types -----------------------------------------------------------------------

@retry_on_db_error
def volume_type_get_all() -> list[dict[str, Any]]:
    with _session() as s:
        return [_as_dict(r) for r in s.scalars(sa.select(VolumeType).order_by(VolumeType.name))]


@retry_on_db_error
def volume_type_get(type_id_or_name: str) -> dict[str, Any]:
    with _session() as s:
        row = s.get(VolumeType, type_id_or_name) or s.scalar(
            sa.select(VolumeType).filter_by(name=type_id_or_name))
        if row is None:
            raise v_exc.VolumeTypeNotFound(volume_type_id=type_id_or_name)
        return _as_dict(row)


# -- quota usage -------------------------------------------------------------------------

@retry_on_db_error
def usage(project_id: str) -> dict[str, int]:
    """What the project has: volumes, snapshots and their gibibytes
    (Cinder counts both in ``gigabytes``), by volume type too."""
    with _session() as s:
        vols, vol_gb = s.execute(sa.select(sa.func.count(Volume.id),
                                           sa.func.coalesce(sa.func.sum(Volume.size), 0))
                                 .filter_by(project_id=project_id)).one()
        snaps, snap_gb = s.execute(sa.select(sa.func.count(VolumeSnapshot.id),
                                             sa.func.coalesce(sa.func.sum(VolumeSnapshot.size),
                                                              0))
                                   .filter_by(project_id=project_id)).one()
    return {"volumes": int(vols), "snapshots": int(snaps),
            "gigabytes": int(vol_gb) + int(snap_gb)}
