"""Image store: records in the database, files under ``state_path/images``.

Uploads are streamed in chunks and hashed on the way (md5 checksum and
sha512 ``os_hash_value``), never held whole in memory; downloads are
streamed the same way (compute hosts fetch images over HTTP, verifying the
hash as they go).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from oslo_log import log as logging

from novalite import exception
from novalite.conf import CONF
from novalite.db import api as db

LOG = logging.getLogger(__name__)

DISK_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "iso", "vhd", "vhdx", "ami", "ari", "aki",
                "ploop")
CONTAINER_FORMATS = ("bare", "ovf", "ova", "aki", "ari", "ami", "docker", "compressed")
CHUNK = 1024 * 1024

_PUBLIC = ("id", "name", "status", "disk_format", "container_format", "size", "checksum",
           "os_hash_algo", "os_hash_value", "min_ram", "min_disk", "visibility", "owner",
           "protected", "created_at", "updated_at")


def _view(row: dict) -> dict:
    out = {k: row.get(k) for k in _PUBLIC if k != "id"}
    out["id"] = row["uuid"]
    out["properties"] = row.get("properties") or {}
    return out


def images_dir() -> str:
    return os.path.join(CONF.state_path, "images")


class API:
    def get(self, context: Any, image_id: str) -> dict:
        return _view(db.image_get(image_id))

    def get_all(self, context: Any, filters: dict | None = None) -> list[dict]:
        return [_view(r) for r in db.image_get_all(filters)]

    def create(self, context: Any, name: str | None, disk_format: str | None = None,
               container_format: str | None = None, min_ram: int = 0, min_disk: int = 0,
               visibility: str = "public", properties: dict | None = None,
               image_id: str | None = None) -> dict:
        if disk_format is not None and disk_format not in DISK_FORMATS:
            raise exception.Invalid(reason=f"disk_format {disk_format!r} is not one of "
                                           f"{', '.join(DISK_FORMATS)}")
        if container_format is not None and container_format not in CONTAINER_FORMATS:
            raise exception.Invalid(reason=f"container_format {container_format!r} is not one "
                                           f"of {', '.join(CONTAINER_FORMATS)}")
        values = {"name": name, "disk_format": disk_format,
                  "container_format": container_format, "min_ram": min_ram,
                  "min_disk": min_disk, "visibility": visibility, "status": "queued",
                  "owner": getattr(context, "project_id", None), "properties": properties or {}}
        if image_id:
            values["uuid"] = image_id
        return _view(db.image_create(values))

    def upload(self, context: Any, image_id: str, chunks: Iterable[bytes]) -> dict:
        row = db.image_get(image_id)
        if row["status"] not in ("queued",):
            raise exception.Conflict(reason=f"image {image_id} is {row['status']}; data can "
                                            "only be uploaded to a queued image")
        db.image_update(image_id, {"status": "saving"})
        os.makedirs(images_dir(), exist_ok=True)
        path = os.path.join(images_dir(), row["uuid"])
        md5, sha512, size = hashlib.md5(usedforsecurity=False), hashlib.sha512(), 0
        try:
            with open(path + ".part", "wb") as f:
                for chunk in chunks:
                    if not chunk:
                        continue
                    f.write(chunk)
                    md5.update(chunk)
                    sha512.update(chunk)
                    size += len(chunk)
            os.replace(path + ".part", path)
        except BaseException:
            if os.path.exists(path + ".part"):
                os.unlink(path + ".part")
            db.image_update(image_id, {"status": "queued"})
            raise
        return _view(db.image_update(image_id, {
            "status": "active", "size": size, "checksum": md5.hexdigest(),
            "os_hash_algo": "sha512", "os_hash_value": sha512.hexdigest(), "location": path}))

    def register(self, context: Any, name: str, path: str, disk_format: str = "raw",
                 container_format: str = "bare", **kwargs: Any) -> dict:
        """Create an image from a local file (``novalite-manage image register``)."""
        with open(path, "rb") as f:
            image = self.create(context, name, disk_format, container_format, **kwargs)
            return self.upload(context, image["id"], _read_chunks(f))

    def download(self, context: Any, image_id: str) -> Iterator[bytes]:
        """The image's data in chunks. The file is opened before this
        returns, so a missing one fails here rather than mid-response."""
        row = db.image_get(image_id)
        if row["status"] != "active" or not row.get("location"):
            raise exception.Conflict(reason=f"image {image_id} is {row['status']} and has no "
                                            "data to download")
        try:
            f = open(row["location"], "rb")
        except FileNotFoundError as e:
            LOG.error("Data of image %s is missing from %s", image_id, row["location"])
            raise exception.ImageNotFound(image_id=image_id) from e
        return _closing_chunks(f)

    def delete(self, context: Any, image_id: str) -> None:
        row = db.image_destroy(image_id)
        if row.get("location") and os.path.exists(row["location"]):
            os.unlink(row["location"])


def _closing_chunks(f: BinaryIO) -> Iterator[bytes]:
    with f:
        yield from _read_chunks(f)


def _read_chunks(f: BinaryIO) -> Iterator[bytes]:
    while True:
        chunk = f.read(CHUNK)
        if not chunk:
            return
        yield chunk
