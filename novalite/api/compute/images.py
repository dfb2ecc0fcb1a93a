"""/images: the Compute API's proxy to the image store (Nova 2.1: list,
detail, show, delete)."""

from __future__ import annotations

from typing import Any

from novalite import exception, policy
from novalite.api import common, errors, validation, wsgi
from novalite.api.views import images as views
from novalite.api.wsgi import Request
from novalite.policies.images import IMAGES

_LIST_QUERY: dict[str, dict] = {
    "name": {"type": "string"},
    "status": {"type": "string"},
    "minRam": {"type": "integer", "minimum": 0},
    "minDisk": {"type": "integer", "minimum": 0},
    "limit": {"type": "integer", "minimum": 0},
    "marker": {"type": "string"},
}


class ImagesController:
    def __init__(self, image_api: Any) -> None:
        self.image_api = image_api

    @validation.query_schema(_LIST_QUERY)
    def index(self, req: Request) -> dict:
        """List images (id, name, links)."""
        return self._list(req, views.basic, "images")

    @validation.query_schema(_LIST_QUERY)
    def detail(self, req: Request) -> dict:
        """List images with their details."""
        return self._list(req, views.detail, "images/detail")

    def show(self, req: Request, id: str) -> dict:
        """Show an image."""
        policy.authorize(req.context, IMAGES % "show", {})
        return {"image": views.detail(self._get(req, id), req.links)}

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        """Delete an image (its owner or an admin)."""
        policy.authorize(req.context, IMAGES % "delete", {})
        self._get(req, id)
        self.image_api.delete(req.context, id)

    def _get(self, req: Request, image_id: str) -> dict:
        try:
            image: dict = self.image_api.get(req.context, image_id)
        except exception.ImageNotFound:
            raise errors.not_found("Image not found.") from None
        return image

    def _list(self, req: Request, view: Any, path: str) -> dict:
        policy.authorize(req.context, IMAGES % "index", {})
        params = req.GET
        filters: dict[str, Any] = {}
        if params.get("name"):
            filters["name"] = params["name"]
        if params.get("status"):
            filters["status"] = params["status"].lower()
        images = self.image_api.get_all(req.context, filters)
        min_ram = common.int_param(params, "minRam")
        min_disk = common.int_param(params, "minDisk")
        if min_ram is not None:
            images = [i for i in images if (i.get("min_ram") or 0) >= min_ram]
        if min_disk is not None:
            images = [i for i in images if (i.get("min_disk") or 0) >= min_disk]
        limit, _ = common.limit_and_marker(params)
        page = paginate(images, params)
        body: dict = {"images": [view(i, req.links) for i in page]}
        if page and len(page) == limit:
            body["images_links"] = [req.links.next_link(path, params.items(), page[-1]["id"])]
        return body


def paginate(items: list[dict], params: Any) -> list[dict]:
    """A page of an in-memory list (image lists are short) by id marker."""
    limit, marker = common.limit_and_marker(params)
    if marker is not None:
        ids = [i["id"] for i in items]
        if marker not in ids:
            raise common.marker_not_found(marker)
        items = items[ids.index(marker) + 1:]
    return items[:limit]
