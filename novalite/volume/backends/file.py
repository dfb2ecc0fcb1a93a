"""The file backend: each volume a sparse raw file ``volume-<id>`` in
[volume] storage_dir, each snapshot a full (sparse) copy ``snapshot-<id>``
beside it. Full copies rather than qcow2 overlays: a snapshot outlives
nothing it depends on, a volume made from it is independent, and a volume
stays raw, which the NBD export and a local attach read without a format
layer.

Data never crosses volumes: a new file reads zeros where nothing was written
(the filesystem's guarantee for holes and fresh extents); a deleted volume is
truncated to nothing before it is unlinked, so its extents go back to the
filesystem as freed space (discarded), never as a file another volume opens.

Modes: the directory is 0711 (QEMU, as libvirt-qemu, passes through it to a
locally attached volume, which libvirt's DAC driver hands to QEMU for the time
it is attached; see FACTS.md), nobody else can list it; every file is 0600.
qemu-img always runs with an explicit format and under resource limits.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from typing import Any

from oslo_concurrency import processutils
from oslo_log import log as logging

from novalite import filemodes
from novalite.conf import CONF
from novalite.volume import exceptions as v_exc
from novalite.volume.backends.base import VolumeBackend

LOG = logging.getLogger(__name__)

GiB = 1024 ** 3
INFO_LIMITS = processutils.ProcessLimits(address_space=1 * GiB, cpu_time=30)


def storage_dir() -> str:
    return str(CONF.volume.storage_dir or os.path.join(CONF.state_path, "volumes"))


def _copy_limits() -> processutils.ProcessLimits:
    return processutils.ProcessLimits(address_space=2 * GiB,
                                      cpu_time=int(CONF.volume.copy_timeout))


def qemu_img(*args: str, limits: processutils.ProcessLimits | None = None) -> str:
    try:
        out, _err = processutils.execute("qemu-img", *args, prlimit=limits or INFO_LIMITS,
                                         env_variables={"LC_ALL": "C", "LANG": "C"})
    except processutils.ProcessExecutionError as e:
        detail = (e.stderr or e.stdout or str(e)).strip().splitlines()
        raise v_exc.VolumeBackendError(
            reason=f"qemu-img {args[0]} failed: {detail[-1] if detail else e}") from e
    return str(out)


def image_info(path: str, fmt: str) -> dict[str, Any]:
    """``qemu-img info`` of a disk read as ``fmt`` (never probed)."""
    return dict(json.loads(qemu_img("info", "-f", fmt, "--output=json", path)))


class FileBackend(VolumeBackend):
    volume_format = "raw"

    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory or storage_dir()

    def setup(self) -> None:
        filemodes.qemu_dir(self.directory)

    # -- names ---------------------------------------------------------------------

    def _volume_file(self, volume_id: str) -> str:
        return os.path.join(self.directory, f"volume-{volume_id}")

    def _snapshot_file(self, snapshot_id: str) -> str:
        return os.path.join(self.directory, f"snapshot-{snapshot_id}")

    def local_path(self, volume: dict[str, Any]) -> str:
        return self._volume_file(volume["id"])

    # -- the contract ----------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        os.makedirs(self.directory, exist_ok=True)
        disk = shutil.disk_usage(self.directory)
        total = int(CONF.volume.capacity_gb)
        return {"total_capacity_gb": total,
                "free_capacity_gb": min(total, disk.free // GiB),
                "max_over_subscription_ratio": float(CONF.volume.max_over_subscription_ratio),
                "thin_provisioning_support": True, "storage_protocol": "nbd",
                "volume_backend_name": "file", "vendor_name": "novalite"}

    def create(self, volume: dict[str, Any]) -> str:
        path = self._volume_file(volume["id"])
        with self._cleanup_on_error(path):
            self._new_file(path)
            os.truncate(path, int(volume["size"]) * GiB)
        return path

    def create_from_image(self, volume: dict[str, Any], image_path: str,
                          image_format: str) -> str:
        if image_format not in ("raw", "qcow2"):
            raise v_exc.ImageUnacceptable(image_id=volume.get("image_id"),
                                          reason=f"disk format {image_format} is not raw or "
                                                 "qcow2")
        info = image_info(image_path, image_format)
        if info.get("backing-filename") or \
                (info.get("format-specific", {}).get("data", {}) or {}).get("data-file"):
            raise v_exc.ImageUnacceptable(image_id=volume.get("image_id"),
                                          reason="it has a backing or external data file")
        virtual = int(info.get("virtual-size") or 0)
        if virtual > int(volume["size"]) * GiB:
            raise v_exc.ImageUnacceptable(
                image_id=volume.get("image_id"),
                reason=f"Image virtual size is {-(-virtual // GiB)}GB and doesn't fit in a "
                       f"volume of size {volume['size']}GB.")
        return self._copy_into(volume, image_path, image_format)

    def create_from_snapshot(self, volume: dict[str, Any], snapshot: dict[str, Any]) -> str:
        return self._copy_into(volume, self._snapshot_file(snapshot["id"]), "raw")

    def clone(self, volume: dict[str, Any], source: dict[str, Any]) -> str:
        return self._copy_into(volume, self._volume_file(source["id"]), "raw",
                               shared=source.get("status") == "in-use")

    def create_snapshot(self, snapshot: dict[str, Any], volume: dict[str, Any]) -> str:
        path = self._snapshot_file(snapshot["id"])
        with self._cleanup_on_error(path):
            self._convert(self._volume_file(volume["id"]), "raw", path,
                          shared=volume.get("status") == "in-use")
        return path

    def delete_snapshot(self, snapshot: dict[str, Any]) -> None:
        self._discard(self._snapshot_file(snapshot["id"]))

    def revert_to_snapshot(self, volume: dict[str, Any], snapshot: dict[str, Any]) -> None:
        source = self._snapshot_file(snapshot["id"])
        if not os.path.exists(source):
            raise v_exc.VolumeBackendError(reason=f"the data of snapshot {snapshot['id']} is "
                                                  f"missing ({source})")
        # NOTE: -n into the existing file: every block is written (zeros
        # too), so nothing written after the snapshot survives.
        qemu_img("convert", "-f", "raw", "-O", "raw", "-n", source,
                 self._volume_file(volume["id"]), limits=_copy_limits())

    def extend(self, volume: dict[str, Any], new_size: int) -> None:
        path = self._volume_file(volume["id"])
        if not os.path.exists(path):
            raise v_exc.VolumeBackendError(reason=f"the data of volume {volume['id']} is "
                                                  f"missing ({path})")
        # NOTE: a raw file grows by truncate, which also works while QEMU
        # holds its lock on an attached volume (qemu-img resize would not);
        # the guest learns the size from its own QEMU (libvirt blockResize)
        # or the NBD export's daemon (Exports.resize).
        if os.path.getsize(path) < new_size * GiB:
            os.truncate(path, new_size * GiB)

    def delete(self, volume: dict[str, Any]) -> None:
        self._discard(self._volume_file(volume["id"]))

    # -- helpers -----------------------------------------------------------------

    def _copy_into(self, volume: dict[str, Any], source: str, fmt: str,
                   shared: bool = False) -> str:
        if not os.path.exists(source):
            raise v_exc.VolumeBackendError(reason=f"the source data {source} is missing")
        path = self._volume_file(volume["id"])
        with self._cleanup_on_error(path):
            self._convert(source, fmt, path, shared=shared)
            if os.path.getsize(path) < int(volume["size"]) * GiB:
                os.truncate(path, int(volume["size"]) * GiB)
        return path

    def _convert(self, source: str, fmt: str, dest: str, shared: bool = False) -> None:
        """A sparse raw copy of ``source`` (zero runs become holes)."""
        self._new_file(dest)
        args = ["convert", "-f", fmt, "-O", "raw", "-n"]
        if shared:
            # NOTE: the source is in use by a guest: read it without its lock
            # (a crash-consistent copy, as Cinder's in-use snapshots are).
            args.append("-U")
        # NOTE: -n writes into the 0600 file made above, so qemu-img never
        # makes it with the umask's mode; it must already have the size.
        size = int(image_info(source, fmt)["virtual-size"]) if not shared else \
            os.path.getsize(source)
        os.truncate(dest, size)
        qemu_img(*args, source, dest, limits=_copy_limits())

    @staticmethod
    def _new_file(path: str) -> None:
        if os.path.exists(path):
            raise v_exc.VolumeBackendError(reason=f"{path} already exists")
        filemodes.private_file(path, "wb").close()

    @staticmethod
    def _discard(path: str) -> None:
        try:
            os.truncate(path, 0)
            os.unlink(path)
        except FileNotFoundError:
            pass

    @contextlib.contextmanager
    def _cleanup_on_error(self, path: str) -> Iterator[None]:
        """Remove the file at ``path`` when the block fails (unless the
        failure is that it already existed: not ours to remove)."""
        existed = os.path.exists(path)
        try:
            yield
        except BaseException:
            if not existed:
                self._discard(path)
            raise
