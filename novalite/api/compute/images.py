"""/images: the Compute API's read-only proxy to the image store."""

from __future__ import annotations

from typing import Any

from novalite.api import common
from novalite.api.views import images as views
from novalite.api.wsgi import Request


class ImagesController:
    def __init__(self, image_api: Any) -> None:
        self.image_api = image_api

    def index(self, req: Request) -> dict:
        return {"images": [views.basic(i, req.links) for i in self._list(req)]}

    def detail(self, req: Request) -> dict:
        return {"images": [views.detail(i, req.links) for i in self._list(req)]}

    def show(self, req: Request, id: str) -> dict:
        return {"image": views.detail(self.image_api.get(req.context, id), req.links)}

    def _list(self, req: Request) -> list[dict]:
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
        return paginate(images, params)


def paginate(items: list[dict], params: Any) -> list[dict]:
    """A page of an in-memory list (image lists are short) by id marker."""
    limit, marker = common.limit_and_marker(params)
    if marker is not None:
        ids = [i["id"] for i in items]
        if marker not in ids:
            raise common.marker_not_found(marker)
        items = items[ids.index(marker) + 1:]
    return items[:limit]
