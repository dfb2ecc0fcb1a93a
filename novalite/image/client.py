"""The Image API as a compute host reaches it: over HTTP, with the requester's token.

Compute hosts have no database (FACTS.md), so a snapshot's data goes where
a user's upload goes: ``PUT {[image] api_url}/v2/images/{id}/file``, the
image recorded ``queued`` by the compute API beforehand (Nova uploads to
Glance the same way, with the user's token that crossed RPC in the
context). Backup rotation lists and deletes the same way.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from oslo_utils import uuidutils

from novalite import exception
from novalite.conf import CONF

if TYPE_CHECKING:
    from novalite.context import RequestContext

CHUNK = 1024 * 1024


class ImageServiceError(exception.NovaliteException):
    msg_fmt = "Image API request %(method)s %(path)s failed: %(reason)s"


class ImageClient:
    def __init__(self, api_url: str | None = None, timeout: float | None = None) -> None:
        self.api_url = (api_url or str(CONF.image.api_url)).rstrip("/")
        self.timeout = timeout or float(CONF.image.download_timeout)

    def upload(self, context: RequestContext, image_id: str, path: str) -> dict[str, Any]:
        """Stream the file at ``path`` into the queued image; its record after."""
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            self._request(context, "PUT", f"/v2/images/{_checked(image_id)}/file",
                          data=_chunks(f), length=size,
                          content_type="application/octet-stream").close()
        return self.get(context, image_id)

    def get(self, context: RequestContext, image_id: str) -> dict[str, Any]:
        with self._request(context, "GET", f"/v2/images/{_checked(image_id)}") as resp:
            return cast("dict[str, Any]", json.loads(resp.read()))

    def delete(self, context: RequestContext, image_id: str) -> None:
        """Delete; an image already gone is not an error."""
        try:
            self._request(context, "DELETE", f"/v2/images/{_checked(image_id)}").close()
        except exception.ImageNotFound:
            pass

    def list_owned(self, context: RequestContext, owner: str) -> list[dict[str, Any]]:
        """Every image ``owner`` has (all pages), as the API shows them."""
        images: list[dict[str, Any]] = []
        query = urllib.parse.urlencode({"owner": owner, "limit": 1000})
        path: str | None = f"/v2/images?{query}"
        while path:
            with self._request(context, "GET", path) as resp:
                page = json.loads(resp.read())
            images.extend(page.get("images") or [])
            following = page.get("next")
            path = following[len("/image"):] if following and following.startswith(
                "/image/") else following
        return images

    def _request(self, context: RequestContext, method: str, path: str, data: Any = None,
                 length: int | None = None, content_type: str | None = None) -> Any:
        headers = {"Accept": "application/json"}
        token = getattr(context, "auth_token", None)
        if token:
            headers["X-Auth-Token"] = token
        request_id = getattr(context, "global_id", None)
        if request_id:
            headers["X-OpenStack-Request-ID"] = request_id
        if content_type:
            headers["Content-Type"] = content_type
        if length is not None:
            headers["Content-Length"] = str(length)
        req = urllib.request.Request(self.api_url + path, data=data, headers=headers,
                                     method=method)
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            reason = _message(e)
            if e.code == 404:
                raise exception.ImageNotFound(image_id=path.split("/")[3].split("?")[0]) from e
            raise ImageServiceError(method=method, path=path,
                                    reason=f"{e.code}: {reason}") from e
        except (urllib.error.URLError, OSError) as e:
            raise ImageServiceError(method=method, path=path,
                                    reason=f"the Image API at {self.api_url} is unreachable "
                                           f"({getattr(e, 'reason', e)})") from e


def _checked(image_id: str) -> str:
    if not uuidutils.is_uuid_like(image_id):
        raise exception.Invalid(reason=f"{image_id!r} is not an image id")
    return urllib.parse.quote(image_id, safe="")


def _message(e: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(e.read() or b"{}")
    except ValueError:
        return str(e.reason)
    return str(body.get("message") or body.get("title") or e.reason)


def _chunks(f: Any) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk
