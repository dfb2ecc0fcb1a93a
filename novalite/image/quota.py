"""Image quotas per project, as Glance's unified limits: ``image_count_total``
(images), ``image_size_total`` (MiB of image data) and
``image_count_uploading`` (uploads in progress).

Glance answers every one of them with 413 and oslo.limit's message ("Project
P is over a limit for [Resource R is over limit of L due to current usage U
and delta D]"). The limits are the ``[image_api]`` options; usage is counted
from the images a project owns, as Glance counts it (no usage table to drift).

Checks and the records they guard are made under the project's quota lock
(``novalite.db.quotas.project_lock``), so racing requests are served in turn
and exactly as many as fit get through. Glance checks ``image_size_total``
only before an upload (a chunked upload may pass it once); here the stream
itself is held to what is left, and the total is checked again, under the
lock, before the image becomes active.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from novalite import exception
from novalite.conf import CONF
from novalite.db import images as db_images
from novalite.db import quotas as db_quotas

MiB = 1024 * 1024
UNLIMITED = -1


class ImageQuotaExceeded(exception.NovaliteException):
    msg_fmt = ("Project %(project_id)s is over a limit for [Resource %(resource)s is over "
               "limit of %(limit)s due to current usage %(usage)s and delta %(delta)s]")
    code = 413


@contextlib.contextmanager
def lock(owner: str | None) -> Iterator[None]:
    """Hold the owner project's quota lock while checking and recording."""
    with db_quotas.project_lock(owner or ""):
        yield


def enforce_create(owner: str | None) -> None:
    """One more image for ``owner`` (``image_count_total``)."""
    limit = CONF.image_api.image_count_total
    if limit == UNLIMITED:
        return
    used = db_images.count_by_owner(owner)
    if used + 1 > limit:
        raise _exceeded(owner, "image_count_total", limit, used, 1)


def enforce_upload_start(owner: str | None, size: int | None) -> int | None:
    """One more upload of ``size`` bytes (None: not known yet) for ``owner``.

    Refuses when the project already has ``image_count_uploading`` uploads in
    progress or the size would take it over ``image_size_total``. Returns
    how many bytes the stream may bring before it passes the limit (None:
    no limit).
    """
    usage = db_images.usage_by_owner(owner)
    limit = CONF.image_api.image_count_uploading
    if limit != UNLIMITED and usage["image_count_uploading"] + 1 > limit:
        raise _exceeded(owner, "image_count_uploading", limit,
                        usage["image_count_uploading"], 1)
    return _size_headroom(owner, usage["image_size_bytes"], size or 0)


def enforce_upload_end(owner: str | None, size: int) -> None:
    """Again, once the data is in: the image's ``size`` bytes still fit
    beside what the project's other images hold (racing uploads)."""
    _size_headroom(owner, db_images.usage_by_owner(owner)["image_size_bytes"], size)


def stream_exceeded(owner: str | None, headroom: int, size: int) -> ImageQuotaExceeded:
    """The error for a stream that brought ``size`` bytes with only
    ``headroom`` left."""
    limit = CONF.image_api.image_size_total
    return _exceeded(owner, "image_size_total", limit, _mib(limit * MiB - headroom),
                     _mib(size))


def _size_headroom(owner: str | None, used: int, size: int) -> int | None:
    limit = CONF.image_api.image_size_total
    if limit == UNLIMITED:
        return None
    if used + size > limit * MiB:
        raise _exceeded(owner, "image_size_total", limit, _mib(used), _mib(size))
    return limit * MiB - used


def _mib(size: int) -> int:
    """Bytes in MiB, rounded up (a byte over the limit shows as one MiB)."""
    return -(-size // MiB)


def _exceeded(owner: str | None, resource: str, limit: int, usage: int,
              delta: int) -> ImageQuotaExceeded:
    return ImageQuotaExceeded(project_id=owner or "(none)", resource=resource, limit=limit,
                              usage=usage, delta=delta)


def usage(owner: str | None) -> dict[str, dict[str, int]]:
    """The owner's limit and usage of each quota, as Glance's
    ``GET /v2/info/usage`` shows them (image data in MiB, rounded down as
    Glance does)."""
    used = db_images.usage_by_owner(owner)
    return {
        "image_size_total": {"limit": CONF.image_api.image_size_total,
                             "usage": used["image_size_bytes"] // MiB},
        "image_count_total": {"limit": CONF.image_api.image_count_total,
                              "usage": used["image_count_total"]},
        "image_count_uploading": {"limit": CONF.image_api.image_count_uploading,
                                  "usage": used["image_count_uploading"]},
    }
