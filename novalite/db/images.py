"""Image queries that look past one image: what a project's images use
(Glance's per-owner counts, for image quotas) and whether an id was ever
taken, deleted images included (Glance never reuses a deleted image's id)."""

from __future__ import annotations

import sqlalchemy as sa

from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error

# NOTE: Glance's statuses for each usage (glance/db/sqlalchemy/api.py):
# images that no longer hold data count for nothing, uploads in progress
# count as uploading.
_GONE = ("killed", "deleted", "pending_delete")
UPLOADING = ("saving", "uploading", "importing")


@retry_on_db_error
def id_taken(image_id: str) -> bool:
    """Whether an image, deleted or not, ever had this id."""
    with _session() as s:
        return s.scalar(sa.select(models.Image.id).filter_by(uuid=image_id).limit(1)) \
            is not None


@retry_on_db_error
def count_by_owner(owner: str | None) -> int:
    """The owner's images, as ``image_count_total`` counts them."""
    M = models.Image
    with _session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(M).where(
            M.owner == owner, M.deleted == 0, M.status.not_in(_GONE))) or 0)


@retry_on_db_error
def usage_by_owner(owner: str | None) -> dict[str, int]:
    """The owner's images (``image_count_total``), the bytes its images
    with data hold (``image_size_bytes``) and its uploads in progress
    (``image_count_uploading``), counted as Glance counts them."""
    M = models.Image
    alive = sa.and_(M.owner == owner, M.deleted == 0, M.status.not_in(_GONE))
    with _session() as s:
        count = s.scalar(sa.select(sa.func.count()).select_from(M).where(alive)) or 0
        size = s.scalar(sa.select(sa.func.coalesce(sa.func.sum(M.size), 0))
                        .where(alive, M.size > 0)) or 0
        uploading = s.scalar(sa.select(sa.func.count()).select_from(M).where(
            M.owner == owner, M.deleted == 0, M.status.in_(UPLOADING))) or 0
    return {"image_count_total": int(count), "image_size_bytes": int(size),
            "image_count_uploading": int(uploading)}


# --- image members (Glance's sharing; migration 015) -------------------------

def _member_dict(row: models.ImageMember) -> dict:
    return {"image_id": row.image_id, "member": row.member, "status": row.status,
            "created_at": row.created_at, "updated_at": row.updated_at}


@retry_on_db_error(idempotent=False)
def member_create(image_id: str, member: str) -> dict | None:
    """Offer the image to ``member`` (pending); None when it already is."""
    try:
        with _session() as s:
            row = models.ImageMember(image_id=image_id, member=member, status="pending")
            s.add(row)
            s.flush()
            return _member_dict(row)
    except sa.exc.IntegrityError:
        return None


@retry_on_db_error
def member_get(image_id: str, member: str) -> dict | None:
    with _session() as s:
        row = s.scalar(sa.select(models.ImageMember).filter_by(image_id=image_id,
                                                              member=member))
        return None if row is None else _member_dict(row)


@retry_on_db_error
def members_of(image_id: str) -> list[dict]:
    """The image's members, oldest first."""
    M = models.ImageMember
    with _session() as s:
        rows = s.scalars(sa.select(M).filter_by(image_id=image_id).order_by(M.id))
        return [_member_dict(r) for r in rows]


@retry_on_db_error
def count_members(image_id: str) -> int:
    M = models.ImageMember
    with _session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(M)
                            .where(M.image_id == image_id)) or 0)


@retry_on_db_error
def memberships(member: str) -> dict[str, str]:
    """The images offered to ``member``: image id → its answer."""
    M = models.ImageMember
    with _session() as s:
        return {image_id: status for image_id, status in
                s.execute(sa.select(M.image_id, M.status).where(M.member == member))}


@retry_on_db_error(idempotent=False)
def member_update(image_id: str, member: str, status: str) -> dict | None:
    """Record the member's answer; None when it is not a member."""
    with _session() as s:
        row = s.scalar(sa.select(models.ImageMember).filter_by(image_id=image_id,
                                                              member=member))
        if row is None:
            return None
        row.status = status
        s.flush()
        return _member_dict(row)


@retry_on_db_error
def member_delete(image_id: str, member: str | None = None) -> int:
    """Remove one member, or every member of the image (``member`` None);
    how many rows went."""
    M = models.ImageMember
    with _session() as s:
        q = sa.delete(M).where(M.image_id == image_id)
        if member is not None:
            q = q.where(M.member == member)
        return int(s.execute(q).rowcount)  # type: ignore[attr-defined]
