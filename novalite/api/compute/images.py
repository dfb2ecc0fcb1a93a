"""/images: the Compute API's proxy to the image store (Nova 2.1: list,
detail, show, delete)."""

from __future__ import annotations

from typing import Any

from oslo_utils import timeutils

from novalite import exception, policy
from novalite.api import common, errors, microversions, validation, wsgi
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
    "server": {"type": "string"},
    "type": {"type": "string"},
    "changes-since": {"type": "string"},
}

_LINK = {"type": "object", "properties": {"rel": {"type": "string"}, "href": {"type": "string"},
                                          "type": {"type": "string"}},
         "required": ["rel", "href"], "additionalProperties": False}
_LINKS = {"type": "array", "items": _LINK}
_BASIC: dict[str, Any] = {"type": "object", "properties": {"id": {"type": "string"},
                                           "name": {"type": ["string", "null"]},
                                           "links": _LINKS},
          "required": ["id", "name", "links"], "additionalProperties": False}
_DETAIL_PROPS = {
    **_BASIC["properties"], "status": {"type": "string"}, "progress": {"type": "integer"},
    "minRam": {"type": "integer"}, "minDisk": {"type": "integer"},
    "metadata": {"type": "object"}, "created": {"type": ["string", "null"]},
    "updated": {"type": ["string", "null"]},
    "OS-EXT-IMG-SIZE:size": {"type": ["integer", "null"]},
    "server": {"type": "object", "properties": {"id": {"type": "string"}, "links": _LINKS},
               "required": ["id", "links"], "additionalProperties": False},
}
_DETAIL = {"type": "object", "properties": _DETAIL_PROPS,
           "required": [k for k in _DETAIL_PROPS if k != "server"],
           "additionalProperties": False}


def _list_of(item: dict) -> dict:
    return {"type": "object",
            "properties": {"images": {"type": "array", "items": item}, "images_links": _LINKS},
            "required": ["images"], "additionalProperties": False}


class ImagesController:
    def __init__(self, image_api: Any) -> None:
        self.image_api = image_api

    @microversions.versioned(max_version=microversions.PROXY_MAX)
    @validation.response_schema(_list_of(_BASIC))
    @validation.query_schema(_LIST_QUERY)
    def index(self, req: Request) -> dict:
        """List images (id, name, links)."""
        return self._list(req, views.basic, "images")

    @microversions.versioned(max_version=microversions.PROXY_MAX)
    @validation.response_schema(_list_of(_DETAIL))
    @validation.query_schema(_LIST_QUERY)
    def detail(self, req: Request) -> dict:
        """List images with their details."""
        return self._list(req, views.detail, "images/detail")

    @validation.response_schema({"type": "object", "properties": {"image": _DETAIL},
                                 "required": ["image"], "additionalProperties": False})
    @microversions.versioned(max_version=microversions.PROXY_MAX)
    def show(self, req: Request, id: str) -> dict:
        """Show an image."""
        policy.authorize(req.context, IMAGES % "show", {})
        return {"image": views.detail(self._get(req, id), req.links)}

    @microversions.versioned(max_version=microversions.PROXY_MAX)
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
        images = _by_properties(images, params)
        since = params.get("changes-since")
        if since:
            try:
                moment = timeutils.normalize_time(timeutils.parse_isotime(since))
            except ValueError:
                raise errors.bad_request(f"Invalid changes-since value {since!r}: not an "
                                         "ISO 8601 time.") from None
            images = [i for i in images if (i.get("updated_at") or i["created_at"]) >= moment]
        limit, _ = common.limit_and_marker(params)
        page = paginate(images, params)
        body: dict = {"images": [view(i, req.links) for i in page]}
        if page and len(page) == limit:
            body["images_links"] = [req.links.next_link(path, params.items(), page[-1]["id"])]
        return body


def _by_properties(images: list[dict], params: Any) -> list[dict]:
    """Nova's property filters: ``server`` (a server's uuid or URL: the
    snapshots of that server), ``type`` (``snapshot``, ``backup``) and
    ``property-<name>``, each an exact match on the image's property."""
    wanted: dict[str, str] = {}
    if params.get("server"):
        wanted["instance_uuid"] = params["server"].rstrip("/").rsplit("/", 1)[-1]
    if params.get("type"):
        wanted["image_type"] = params["type"]
    for key, value in params.items():
        if key.startswith("property-") and len(key) > len("property-"):
            wanted[key[len("property-"):]] = value
    return [i for i in images
            if all(str((i.get("properties") or {}).get(k)) == v for k, v in wanted.items())]


def paginate(items: list[dict], params: Any) -> list[dict]:
    """A page of an in-memory list (image lists are short) by id marker."""
    limit, marker = common.limit_and_marker(params)
    if marker is not None:
        ids = [i["id"] for i in items]
        if marker not in ids:
            raise common.marker_not_found(marker)
        items = items[ids.index(marker) + 1:]
    return items[:limit]
