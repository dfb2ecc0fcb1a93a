"""Volume backends: where a volume host keeps its volumes' data. ``load()``
gives the configured one ([volume] backend)."""

from __future__ import annotations

from novalite.conf import CONF
from novalite.volume.backends.base import VolumeBackend


def load() -> VolumeBackend:
    if CONF.volume.backend == "file":
        from novalite.volume.backends.file import FileBackend

        return FileBackend()
    raise ValueError(f"unknown [volume] backend {CONF.volume.backend!r}")
