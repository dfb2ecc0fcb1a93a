"""/image/v2/images: list, show, create, upload and download (streamed), delete."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any, BinaryIO

import webob

from novalite import exception
from novalite.api import common, errors, validation, wsgi
from novalite.api.schemas import images as schemas
from novalite.api.views import glance as views
from novalite.api.wsgi import Request

# NOTE: the upload is read and hashed in pieces of this size, never whole.
CHUNK = 1024 * 1024

_CORE_ARGS = ("disk_format", "container_format", "min_ram", "min_disk", "visibility")


class ImagesController:
    def __init__(self, image_api: Any) -> None:
        self.image_api = image_api

    def index(self, req: Request) -> dict:
        params = req.GET
        images = self.image_api.get_all(req.context, _filters(params))
        limit, marker = common.limit_and_marker(params)
        if marker is not None:
            ids = [i["id"] for i in images]
            if marker not in ids:
                raise errors.bad_request(f"Invalid marker. Image {marker} could not be found.")
            images = images[ids.index(marker) + 1:]
        page = images[:limit]
        next_query = None
        if len(images) > limit and page:
            query = [(k, v) for k, v in params.items() if k != "marker"]
            next_query = urllib.parse.urlencode(query + [("marker", page[-1]["id"])])
        return views.collection(page, next_query)

    def show(self, req: Request, id: str) -> dict:
        return views.image(self.image_api.get(req.context, id))

    @validation.schema(schemas.create)
    def create(self, req: Request, body: dict) -> Any:
        for key in body:
            if key in schemas.READ_ONLY:
                raise errors.HTTPError(403, f"Attribute '{key}' is read-only.")
        if body.get("tags"):
            raise errors.bad_request("Image tags are not supported by novalite's Image API.")
        if body.get("protected"):
            raise errors.bad_request("Protected images are not supported by novalite's "
                                     "Image API.")
        if body.get("id"):
            self._check_free(req, body["id"])
        known = set(schemas.create["properties"])
        properties = {k: v for k, v in body.items() if k not in known}
        kwargs = {k: body[k] for k in _CORE_ARGS if k in body}
        image = self.image_api.create(req.context, body.get("name"), image_id=body.get("id"),
                                      properties=properties, **kwargs)
        return wsgi.json_response(views.image(image), 201, headers={
            "Location": f"{req.links.image_root}/v2/images/{image['id']}"})

    def _check_free(self, req: Request, image_id: str) -> None:
        try:
            self.image_api.get(req.context, image_id)
        except exception.ImageNotFound:
            return
        raise errors.HTTPError(409, f"Image with identifier {image_id} already exists!")

    @wsgi.response(204)
    def upload(self, req: Request, id: str) -> None:
        self.image_api.upload(req.context, id, read_chunks(req.body_file))

    def download(self, req: Request, id: str) -> webob.Response:
        """The data, streamed, with Glance's headers: Content-Length, and
        Content-MD5 carrying the md5 ``checksum`` (hex, as Glance sends it).
        An image without data answers 204, as in Glance."""
        image = self.image_api.get(req.context, id)
        if image.get("status") != "active" or image.get("size") is None:
            return webob.Response(status=204)
        chunks = self.image_api.download(req.context, id)
        resp = webob.Response(status=200, content_type="application/octet-stream",
                              app_iter=chunks)
        resp.content_length = image["size"]
        if image.get("checksum"):
            resp.headers["Content-MD5"] = image["checksum"]
        return resp

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        self.image_api.delete(req.context, id)


def _filters(params: Any) -> dict:
    """Glance's ``name``, ``status`` and ``id=in:a,b`` filters."""
    filters: dict[str, Any] = {}
    if params.get("name"):
        filters["name"] = params["name"]
    if params.get("status"):
        filters["status"] = params["status"]
    if params.get("id"):
        value = params["id"]
        filters["ids"] = value[3:].split(",") if value.startswith("in:") else [value]
    return filters


def read_chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    """The request body piece by piece (waitress has already de-chunked a
    chunked upload and bounds the stream by its length)."""
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk
