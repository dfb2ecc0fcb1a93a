"""Images downloaded over HTTP from the Image API into a local cache.

Compute hosts have no database: they read an image's record from
``{[image] api_url}/v2/images/{id}`` and its data from ``.../file``. The
data is hashed while it streams to disk and only a file whose sha512
matches the record's ``os_hash_value`` enters the cache. One lock per image
makes concurrent builds of the same image download it once.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_utils import uuidutils

from novalite import exception, filemodes

if TYPE_CHECKING:
    from novalite.context import RequestContext

LOG = logging.getLogger(__name__)

CHUNK = 1024 * 1024
# NOTE: how often a waiter for another build's download checks whether its
# own build was cancelled.
LOCK_POLL = 0.2

Check = Callable[[], None]


class ImageFetchError(exception.NovaliteException):
    msg_fmt = "Could not fetch image %(image_id)s: %(reason)s"


class ImageCache:
    def __init__(self, base_dir: str, api_url: str, timeout: float) -> None:
        self.base_dir = base_dir
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def get_meta(self, context: RequestContext, image_id: str) -> dict[str, Any]:
        """The image's record, as the Image API shows it (properties flat)."""
        with self._open(context, image_id, "") as resp:
            meta = json.loads(resp.read(CHUNK))
        if meta.get("status") != "active":
            raise ImageFetchError(image_id=image_id,
                                  reason=f"it is {meta.get('status')}, not active")
        return cast("dict[str, Any]", meta)

    def path_of(self, image_id: str) -> str:
        return os.path.join(self.base_dir, image_id)

    def fetch(self, context: RequestContext, meta: dict[str, Any], check: Check) -> str:
        """The cached file of ``meta``'s image, downloaded if missing.

        ``check`` raises when the build was cancelled; it is called while
        waiting for another build's download and between chunks.
        """
        image_id = meta["id"]
        path = self.path_of(image_id)
        sem = lockutils.internal_lock(f"novalite-image-cache-{image_id}")
        while not sem.acquire(timeout=LOCK_POLL):
            check()
        try:
            if not os.path.exists(path):
                self._download(context, meta, path, check)
            else:
                # NOTE: a base file ages from its last use (image_ageing).
                os.utime(path)
        finally:
            sem.release()
        return path

    def _download(self, context: RequestContext, meta: dict[str, Any], path: str, check: Check) -> None:
        image_id, expected_size = meta["id"], meta.get("size")
        if expected_size is None:
            raise ImageFetchError(image_id=image_id, reason="it has no data")
        digest = _hasher(meta)
        filemodes.qemu_dir(self.base_dir)
        part = f"{path}.part-{uuid.uuid4().hex[:8]}"
        size = 0
        try:
            with self._open(context, image_id, "/file") as resp, filemodes.private_file(part) as f:
                # NOTE: read1 returns what has arrived, so a slow server
                # never delays the cancellation check by a whole chunk.
                while chunk := resp.read1(CHUNK):
                    check()
                    size += len(chunk)
                    if size > expected_size:
                        raise ImageFetchError(image_id=image_id, reason=(
                            f"the Image API sent more than its recorded {expected_size} bytes"))
                    digest.update(chunk)
                    f.write(chunk)
            _verify(meta, size, digest.hexdigest())
            # NOTE: 0600: libvirt chowns backing files to QEMU's user too.
            os.replace(part, path)
        finally:
            if os.path.exists(part):
                os.unlink(part)
        LOG.info("Image %s (%d bytes) downloaded into the cache", image_id, size)

    def _open(self, context: RequestContext, image_id: str, suffix: str) -> Any:
        if not uuidutils.is_uuid_like(image_id):
            # NOTE: ids also come from image properties (kernel_id), which
            # users set: never let one shape a URL or a path.
            raise ImageFetchError(image_id=image_id, reason="it is not a valid image id")
        url = f"{self.api_url}/v2/images/{urllib.parse.quote(image_id, safe='')}{suffix}"
        headers = {"Accept": "application/json" if not suffix else "application/octet-stream"}
        request_id = getattr(context, "global_id", None)
        if request_id:
            headers["X-OpenStack-Request-ID"] = request_id
        # NOTE: the requester's own token (it crossed RPC in the context), as
        # Nova calls Glance: the image is fetched with the user's rights.
        token = getattr(context, "auth_token", None)
        if token:
            headers["X-Auth-Token"] = token
        try:
            return urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                          timeout=self.timeout)
        except urllib.error.HTTPError as e:
            if e.code == 404:
                raise exception.ImageNotFound(image_id=image_id) from e
            raise ImageFetchError(image_id=image_id,
                                  reason=f"the Image API answered {e.code}") from e
        except (urllib.error.URLError, OSError) as e:
            raise ImageFetchError(image_id=image_id,
                                  reason=f"the Image API at {self.api_url} is unreachable "
                                         f"({getattr(e, 'reason', e)})") from e


def _hasher(meta: dict[str, Any]) -> Any:
    algo = meta.get("os_hash_algo")
    if not meta.get("os_hash_value") or algo not in ("sha256", "sha384", "sha512"):
        raise ImageFetchError(image_id=meta["id"],
                              reason=f"its record has no usable hash (os_hash_algo {algo!r})")
    return hashlib.new(algo)


def _verify(meta: dict[str, Any], size: int, hexdigest: str) -> None:
    if size != meta.get("size"):
        raise ImageFetchError(image_id=meta["id"], reason=(
            f"got {size} bytes, the record says {meta.get('size')}"))
    if hexdigest != meta["os_hash_value"]:
        raise ImageFetchError(image_id=meta["id"], reason=(
            f"the data's {meta['os_hash_algo']} does not match the record's os_hash_value"))
