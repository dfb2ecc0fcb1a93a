"""Ageing of the compute host's image cache (Nova's ImageCacheManager).

Every image an instance was built from stays in ``[libvirt]
image_cache_path`` as the backing file of instance disks. A pass (the
compute manager's ``image_cache_manager_pass``, every ``[image_cache]
manager_interval`` seconds) finds the base images in use on this host,
marks them used now, and removes those no instance uses once they are
older than ``remove_unused_original_minimum_age_seconds`` (their age counts
from their last use). An image deleted from the Image API is unused like
any other and goes the same way.

In use means either: an instance on this host was built from it (its
``image_ref``, also while it is still building), or an instance disk under
``[libvirt] instances_path`` has it as its backing file (read with
``qemu-img info``, so a disk whose record is gone keeps its base). When a
disk cannot be read the pass removes nothing: losing a backing file would
lose the guest's disk.

A base file is removed under the same per-image lock that a download takes,
and only if it is still old then: a build that fetched it meanwhile has
made it new.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable
from typing import Any

from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_utils import uuidutils

from novalite import filemodes
from novalite.virt.libvirt import imagebackend

LOG = logging.getLogger(__name__)

DISK_NAME = "disk"
RESCUE_DISK_NAME = "disk.rescue"
PART_MARK = ".part-"


@dataclasses.dataclass
class PassResult:
    """What one pass saw and did, by image id (partial files by name)."""

    in_use: list[str] = dataclasses.field(default_factory=list)
    removed: list[str] = dataclasses.field(default_factory=list)
    kept: list[str] = dataclasses.field(default_factory=list)


class ImageCacheManager:
    def __init__(self, base_dir: str, instances_path: str, remove_unused: bool,
                 minimum_age: float) -> None:
        self.base_dir = base_dir
        self.instances_path = instances_path
        self.remove_unused = remove_unused
        self.minimum_age = minimum_age

    def update(self, instances: Iterable[Any]) -> PassResult:
        """One pass over the cache; ``instances`` are those on this host."""
        result = PassResult()
        if not os.path.isdir(self.base_dir):
            return result
        backing = self._backing_files()
        in_use = {i.image_ref for i in instances if getattr(i, "image_ref", None)}
        removable = self.remove_unused and backing is not None
        if self.remove_unused and backing is None:
            LOG.warning("Image cache pass removes nothing: an instance disk under %s could "
                        "not be read", self.instances_path)
        in_use |= backing or set()
        now = time.time()
        for name in sorted(os.listdir(self.base_dir)):
            path = os.path.join(self.base_dir, name)
            if PART_MARK in name:
                if removable and self._old(path, now):
                    _unlink(path)
                    result.removed.append(name)
                continue
            if not uuidutils.is_uuid_like(name) or not os.path.isfile(path):
                continue
            # NOTE: a base file of an older release may be world-readable.
            filemodes.make_private(path)
            if name in in_use:
                # NOTE: its age counts from this pass once no one uses it.
                os.utime(path)
                result.in_use.append(name)
            elif removable and self._old(path, now) and self._remove(name, path):
                result.removed.append(name)
            else:
                result.kept.append(name)
        if result.removed:
            LOG.info("Image cache: removed unused base images %s; in use: %s",
                     ", ".join(result.removed), ", ".join(result.in_use) or "none")
        return result

    def _old(self, path: str, now: float) -> bool:
        try:
            return now - os.stat(path).st_mtime >= self.minimum_age
        except FileNotFoundError:
            return False

    def _remove(self, image_id: str, path: str) -> bool:
        """Remove ``path`` unless a download or build of it holds (or just
        held) the image's cache lock."""
        sem = lockutils.internal_lock(f"novalite-image-cache-{image_id}")
        if not sem.acquire(blocking=False):
            return False
        try:
            if not self._old(path, time.time()):
                return False
            _unlink(path)
            return True
        finally:
            sem.release()

    def _backing_files(self) -> set[str] | None:
        """Names of the cached images instance disks are backed by; None
        when a disk could not be read."""
        names: set[str] = set()
        if not os.path.isdir(self.instances_path):
            return names
        base = os.path.realpath(self.base_dir)
        # NOTE: every instance directory, also a resize's kept copy
        # (<uuid>_resize), and a rescue disk (its rescue image) beside the disk.
        disks = [(entry, os.path.join(self.instances_path, entry, name))
                 for entry in os.listdir(self.instances_path)
                 for name in (DISK_NAME, RESCUE_DISK_NAME)]
        for entry, disk in disks:
            if not os.path.isfile(disk):
                continue
            try:
                info = imagebackend.qemu_img_info(entry, disk, "qcow2")
            except imagebackend.ImageUnacceptable as e:
                if not os.path.exists(disk):
                    continue  # NOTE: its instance was deleted meanwhile.
                LOG.warning("Image cache pass: cannot read the disk of %s: %s", entry, e)
                return None
            backing = info.get("full-backing-filename") or info.get("backing-filename")
            if backing and os.path.dirname(os.path.realpath(backing)) == base:
                names.add(os.path.basename(backing))
        return names


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
