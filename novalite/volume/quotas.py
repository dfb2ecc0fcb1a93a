"""Cinder's quotas: per-project limits of volumes, snapshots and gigabytes
(volumes' and snapshots' sizes together), and the largest single volume.
Defaults are the [volume] quota_* options; a project's own limits are kept
in the quotas table as ``cinder.<resource>``. Usage is counted from what the
project has (no usage table to drift), under the project's quota lock so two
creates cannot both take the last room."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from novalite.conf import CONF
from novalite.db import quotas as quota_db
from novalite.db import volumes as db
from novalite.volume import exceptions as v_exc

RESOURCES = ("volumes", "snapshots", "gigabytes", "per_volume_gigabytes")
PREFIX = "cinder."
UNLIMITED = -1


def defaults() -> dict[str, int]:
    return {r: int(getattr(CONF.volume, f"quota_{r}")) for r in RESOURCES}


def limits(project_id: str) -> dict[str, int]:
    own = quota_db.quota_get_all_by_project(project_id)
    out = defaults()
    for resource in RESOURCES:
        if PREFIX + resource in own:
            out[resource] = own[PREFIX + resource]
    return out


def set_limits(project_id: str, values: dict[str, int]) -> None:
    quota_db.quota_set(project_id, {PREFIX + k: int(v) for k, v in values.items()})


def reset(project_id: str) -> None:
    """Back to the defaults (the project's own cinder.* limits removed)."""
    own = quota_db.quota_get_all_by_project(project_id)
    keep = {k: v for k, v in own.items() if not k.startswith(PREFIX)}
    quota_db.quota_destroy_all_by_project(project_id)
    if keep:
        quota_db.quota_set(project_id, keep)


def usage(project_id: str) -> dict[str, int]:
    return db.usage(project_id)


@contextlib.contextmanager
def reserve(project_id: str, volumes: int = 0, snapshots: int = 0,
            gigabytes: int = 0) -> Iterator[None]:
    """Check that the project has room for these and hold its quota lock
    while the block records them (Cinder's messages when it has not)."""
    with quota_db.project_lock(project_id):
        check(project_id, volumes=volumes, snapshots=snapshots, gigabytes=gigabytes)
        yield


def check(project_id: str, volumes: int = 0, snapshots: int = 0, gigabytes: int = 0,
          volume_size: int | None = None) -> None:
    limit = limits(project_id)
    size = volume_size if volume_size is not None else (gigabytes if volumes else None)
    per_volume = limit["per_volume_gigabytes"]
    if size is not None and per_volume != UNLIMITED and size > per_volume:
        raise v_exc.VolumeSizeExceedsLimit(size=size, limit=per_volume)
    used = usage(project_id)
    if volumes and limit["volumes"] != UNLIMITED and used["volumes"] + volumes > limit["volumes"]:
        raise v_exc.VolumeLimitExceeded(allowed=limit["volumes"], name="volumes")
    if snapshots and limit["snapshots"] != UNLIMITED and \
            used["snapshots"] + snapshots > limit["snapshots"]:
        raise v_exc.SnapshotLimitExceeded(allowed=limit["snapshots"], name="snapshots")
    if gigabytes and limit["gigabytes"] != UNLIMITED and \
            used["gigabytes"] + gigabytes > limit["gigabytes"]:
        raise v_exc.VolumeSizeExceedsAvailableQuota(name="gigabytes", requested=gigabytes,
                                                    quota=limit["gigabytes"],
                                                    consumed=used["gigabytes"])
