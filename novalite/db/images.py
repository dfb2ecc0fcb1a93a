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
