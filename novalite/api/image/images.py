"""/image/v2/images: list, show, create, update (JSON patch), upload and
download (streamed), delete; and the image schemas the clients read."""

from __future__ import annotations

import csv
import urllib.parse
from collections.abc import Iterator
from typing import Any, BinaryIO

import jsonschema
import webob

from novalite import exception
from novalite.api import errors, validation, wsgi
from novalite.api.image import documents
from novalite.api.schemas import images as schemas
from novalite.api.views import glance as views
from novalite.api.wsgi import Request
from novalite.conf import CONF
from novalite.image.api import STATUSES, VISIBILITIES

# NOTE: the upload is read and hashed in pieces of this size, never whole.
CHUNK = 1024 * 1024

SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id",
             "created_at", "updated_at", "visibility", "owner", "min_disk", "min_ram")

_LIST_QUERY: dict[str, dict] = {
    "limit": {"type": "integer", "minimum": 0},
    "marker": {"type": "string"},
    "name": {"type": "string"},
    "id": {"type": "string"},
    "status": {"type": "string", "enum": list(STATUSES)},
    "visibility": {"type": "string", "enum": [*VISIBILITIES, "all"]},
    "owner": {"type": "string"},
    "os_hidden": {"type": "boolean"},
    "protected": {"type": "boolean"},
    "tag": {"type": "array", "items": {"type": "string"}},
    "sort_key": {"type": "string", "enum": list(SORT_KEYS)},
    "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
    "sort": {"type": "string",
             "pattern": f"^({'|'.join(SORT_KEYS)})(:(asc|desc))?"
                        f"(,({'|'.join(SORT_KEYS)})(:(asc|desc))?)*$"},
    "member_status": {"type": "string", "enum": ["accepted", "pending", "rejected", "all"]},
    "disk_format": {"type": "string"},
    "container_format": {"type": "string"},
    "checksum": {"type": "string"},
    "os_hash_value": {"type": "string"},
    "size": {"type": "integer", "minimum": 0},
    "size_min": {"type": "integer", "minimum": 0},
    "size_max": {"type": "integer", "minimum": 0},
}
# NOTE: as in Glance, a parameter that is none of the above filters on the
# custom property of that name.

_RAW_BODY = {"required": True, "content": {"application/octet-stream": {
    "schema": {"type": "string", "format": "binary"}}}}
_RAW_ANSWER = {"200": {"description": "The image data",
                       "content": {"application/octet-stream": {
                           "schema": {"type": "string", "format": "binary"}}}},
               "204": {"description": "The image has no data"}}


def _not_found(image_id: str) -> errors.HTTPError:
    return errors.not_found(f"No image found with ID {image_id}")


class ImagesController:
    def __init__(self, image_api: Any) -> None:
        self.image_api = image_api

    @validation.query_schema(_LIST_QUERY)
    @validation.response_schema(schemas.images_response)
    def index(self, req: Request) -> dict:
        """List images (Glance's filters, sorting and marker pages)."""
        query = req.query
        if "sort" in query and ("sort_key" in query or "sort_dir" in query):
            raise errors.bad_request("The 'sort' parameter cannot be combined with "
                                     "'sort_key' or 'sort_dir'.")
        filters = _filters(query)
        custom = {k: v for k, v in req.GET.items() if k not in _LIST_QUERY}
        if custom:
            filters["properties"] = custom
        images = self.image_api.get_all(req.context, filters)
        images = _sorted(images, _sort_order(query))
        limit = min(query.get("limit", CONF.image_api.limit_param_default),
                    CONF.image_api.api_limit_max)
        marker = query.get("marker")
        if marker is not None:
            ids = [i["id"] for i in images]
            if marker not in ids:
                raise errors.bad_request(f"Invalid marker. Image {marker} could not be found.")
            images = images[ids.index(marker) + 1:]
        page = images[:limit]
        next_query = None
        if len(images) > limit and page:
            params = [(k, v) for k, v in req.GET.items() if k != "marker"]
            next_query = urllib.parse.urlencode(params + [("marker", page[-1]["id"])])
        return views.collection(page, next_query)

    @validation.response_schema(schemas.image_response)
    def show(self, req: Request, id: str) -> dict:
        """Show an image."""
        return views.image(self._get(req, id))

    @validation.response_schema({"type": "object", "required": ["tasks"],
                                 "properties": {"tasks": {"type": "array", "maxItems": 0}},
                                 "additionalProperties": False})
    def tasks(self, req: Request, id: str) -> dict:
        """The image's import tasks (Glance 2.12): always none, as novalite
        takes image data by upload only (no import API)."""
        self._get(req, id)
        return {"tasks": []}

    @wsgi.response(201)
    @validation.schema(schemas.create)
    @validation.response_schema(schemas.image_response)
    def create(self, req: Request, body: dict) -> Any:
        """Create an image record (queued, no data yet)."""
        owner = _owner_asked(req, body)
        for key in body:
            if key == "owner":
                continue
            if key in schemas.READ_ONLY:
                raise errors.HTTPError(403, f"Attribute '{key}' is read-only.")
            if _reserved(key):
                raise errors.HTTPError(403, f"Attribute '{key}' is reserved.")
        visibility = body.get("visibility", "shared")
        _check_publicize(req, visibility)
        if body.get("id"):
            self._check_free(body["id"])
        known = set(schemas.create["properties"])
        properties = {k: v for k, v in body.items() if k not in known}
        kwargs = {k: body[k] for k in schemas.EDITABLE if k in body and k != "name"}
        kwargs["visibility"] = visibility
        if owner is not None:
            kwargs["owner"] = owner
        image = self.image_api.create(req.context, body.get("name"), image_id=body.get("id"),
                                      properties=properties, **kwargs)
        return wsgi.json_response(views.image(image), 201, headers={
            "Location": f"{req.links.image_root}/v2/images/{image['id']}"})

    def _check_free(self, image_id: str) -> None:
        # NOTE: an id taken by an image the caller cannot see is taken too,
        # and so is a deleted image's (Glance never reuses one).
        if self.image_api.id_taken(image_id):
            raise errors.HTTPError(409, f"Image with identifier {image_id} already exists!")

    @validation.media_types(*schemas.PATCH_MEDIA_TYPES)
    @validation.schema(schemas.patch)
    @validation.response_schema(schemas.image_response)
    def update(self, req: Request, id: str, body: list) -> dict:
        """Change an image with a JSON patch (Glance's media type)."""
        image = self._get(req, id)
        changes = _apply_patch(image, _patch_ops(req.content_type, body))
        if "owner" in changes and not req.context.is_admin:
            raise errors.HTTPError(403, "You are not permitted to modify 'owner' on this "
                                        "image.")
        if "visibility" in changes:
            _check_publicize(req, changes["visibility"])
        try:
            updated = self.image_api.update(req.context, id, changes)
        except exception.ImageNotFound:
            raise _not_found(id) from None
        return views.image(updated)

    @wsgi.response(204)
    def add_tag(self, req: Request, id: str, tag: str) -> None:
        """Add a tag (Glance's ``PUT /v2/images/{id}/tags/{tag}``)."""
        _check_value("tags", [tag])
        image = self._get(req, id)
        if tag not in image["tags"]:
            self.image_api.update(req.context, id, {"tags": [*image["tags"], tag]})

    @wsgi.response(204)
    def delete_tag(self, req: Request, id: str, tag: str) -> None:
        """Remove a tag (Glance's ``DELETE /v2/images/{id}/tags/{tag}``)."""
        image = self._get(req, id)
        if tag not in image["tags"]:
            raise errors.not_found(f"Tag {tag} not found")
        self.image_api.update(req.context, id, {"tags": [t for t in image["tags"] if t != tag]})

    @wsgi.response(204)
    @wsgi.large_body(lambda: CONF.image_api.image_size_cap)
    @validation.media_types("application/octet-stream")
    @validation.openapi(requestBody=_RAW_BODY)
    def upload(self, req: Request, id: str) -> None:
        """Upload the image's data (queued → saving → active)."""
        cap = CONF.image_api.image_size_cap
        if req.content_length is not None and req.content_length > cap:
            raise exception.ImageSizeLimitExceeded(cap=cap)
        try:
            self.image_api.upload(req.context, id, read_chunks(req.body_file),
                                  size_hint=req.content_length)
        except exception.ImageNotFound:
            raise _not_found(id) from None

    @validation.openapi(responses=_RAW_ANSWER)
    def download(self, req: Request, id: str) -> webob.Response:
        """The data, streamed, with Glance's headers: Content-Length, and
        Content-MD5 carrying the md5 ``checksum`` (hex, as Glance sends it).
        An image without data answers 204, as in Glance."""
        image = self._get(req, id)
        if image.get("status") not in ("active", "deactivated") or image.get("size") is None:
            return webob.Response(status=204)
        chunks = self.image_api.download(req.context, id)
        resp = webob.Response(status=200, content_type="application/octet-stream",
                              app_iter=chunks)
        resp.content_length = image["size"]
        if image.get("checksum"):
            resp.headers["Content-MD5"] = image["checksum"]
        return resp

    @wsgi.response(204)
    def deactivate(self, req: Request, id: str) -> None:
        """Forbid downloads of an active image (its owner or an admin)."""
        self._action(req, id, self.image_api.deactivate)

    @wsgi.response(204)
    def reactivate(self, req: Request, id: str) -> None:
        """Allow downloads of a deactivated image again (owner or admin)."""
        self._action(req, id, self.image_api.reactivate)

    @staticmethod
    def _action(req: Request, image_id: str, act: Any) -> None:
        try:
            act(req.context, image_id)
        except exception.ImageNotFound:
            raise _not_found(image_id) from None

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        """Delete an image and its data (not a protected one)."""
        try:
            self.image_api.delete(req.context, id)
        except exception.ImageNotFound:
            raise _not_found(id) from None

    def _get(self, req: Request, image_id: str) -> dict:
        try:
            return self.image_api.get(req.context, image_id)
        except exception.ImageNotFound:
            raise _not_found(image_id) from None


class SchemasController:
    """``/v2/schemas/image(s)``: the JSON schemas clients read to know the
    image's attributes (and which are read-only)."""

    @validation.response_schema({"type": "object", "required": ["name", "properties"]})
    def image(self, req: Request) -> dict:
        """Glance's image schema."""
        return schemas.IMAGE_SCHEMA_DOCUMENT

    @validation.response_schema({"type": "object", "required": ["name", "properties"]})
    def images(self, req: Request) -> dict:
        """Glance's image list schema."""
        return schemas.IMAGES_SCHEMA_DOCUMENT

    @validation.response_schema({"type": "object", "required": ["name", "properties"]})
    def member(self, req: Request) -> dict:
        """Glance's image member schema."""
        return documents.MEMBER

    @validation.response_schema({"type": "object", "required": ["name", "properties"]})
    def members(self, req: Request) -> dict:
        """Glance's image member list schema."""
        return documents.MEMBERS

    @validation.response_schema({"type": "object", "required": ["name", "properties"]})
    def metadefs(self, req: Request, name: str) -> dict:
        """Glance's metadata definition schemas (namespace(s), object(s),
        property/properties, tag(s), resource_type(s))."""
        document = documents.DOCUMENTS.get(f"metadefs/{name}")
        if document is None:
            known = sorted(k.split("/", 1)[1] for k in documents.DOCUMENTS
                           if k.startswith("metadefs/"))
            raise errors.not_found(f"No metadata definitions schema named '{name}'; there "
                                   f"are: {', '.join(known)}")
        return document


def _owner_asked(req: Request, body: dict) -> str | None:
    """The ``owner`` a create names: any project for an admin, only the
    caller's own otherwise (Glance's 403)."""
    if "owner" not in body:
        return None
    owner = body["owner"]
    _check_value("owner", owner)
    if not req.context.is_admin and owner != req.context.project_id:
        raise errors.HTTPError(403, f"You are not permitted to create images owned by "
                                    f"'{owner}'.")
    return owner


def _check_publicize(req: Request, visibility: str) -> None:
    if visibility == "public" and not req.context.is_admin:
        raise errors.HTTPError(403, "You are not authorized to complete publicize_image "
                                    "action.")


def _filters(query: dict) -> dict:
    """Glance's list filters: ``name``, ``status``, ``visibility``, ``owner``,
    ``id`` (one, or ``in:a,b``), ``os_hidden``, ``protected``, ``tag``,
    ``member_status``, the formats, hashes and ``size`` (exact, or
    ``size_min``/``size_max``)."""
    filters: dict[str, Any] = {}
    for key in ("name", "status", "visibility", "owner", "os_hidden", "protected",
                "member_status", "disk_format", "container_format", "checksum",
                "os_hash_value", "size", "size_min", "size_max"):
        if key in query:
            filters[key] = query[key]
    if "tag" in query:
        filters["tags"] = query["tag"]
    if "id" in query:
        value = query["id"]
        filters["ids"] = _in_list(value[3:]) if value.startswith("in:") else [value]
    if filters.get("name", "").startswith("in:"):
        filters["names"] = _in_list(filters.pop("name")[3:])
    return filters


def _in_list(value: str) -> list[str]:
    """Glance's ``in:`` list: comma separated, a value may be double quoted
    (and then hold commas)."""
    return [v.strip() for v in next(csv.reader([value], skipinitialspace=True), [])]


def _sort_order(query: dict) -> list[tuple[str, str]]:
    if "sort" in query:
        order = []
        for part in query["sort"].split(","):
            key, _, direction = part.partition(":")
            order.append((key, direction or "desc"))
        return order
    return [(query.get("sort_key", "created_at"), query.get("sort_dir", "desc"))]


def _sorted(images: list[dict], order: list[tuple[str, str]]) -> list[dict]:
    """Sorted by each key in turn; None sorts first ascending, as in SQL
    with NULLS FIRST; ``id`` breaks ties so pages are stable."""
    images = sorted(images, key=lambda i: str(i["id"]), reverse=order[0][1] == "desc")
    for key, direction in reversed(order):
        images.sort(key=_sort_key(key), reverse=direction == "desc")
    return images


def _sort_key(key: str) -> Any:
    def of(image: dict) -> tuple:
        return (image.get(key) is not None, _comparable(image.get(key)))
    return of


def _comparable(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | float):
        return (0, value, "")
    return (1, 0, str(value))


def _patch_ops(content_type: str, body: list[dict]) -> list[dict]:
    """The patch as RFC 6902 operations. The v2.1 media type takes only
    ``{"op", "path"}`` objects, v2.0 only the older ``{"replace": path}``
    ones (Glance's answers when the dialect does not fit)."""
    older = content_type == "application/openstack-images-v2.0-json-patch"
    ops = []
    for raw in body:
        if not older:
            if "op" not in raw:
                raise errors.bad_request("Unable to find 'op' in JSON Schema change")
            ops.append(raw)
            continue
        named = [op for op in schemas.PATCH_OPS if op in raw]
        if len(named) != 1:
            raise errors.bad_request('Operation objects must contain exactly one member '
                                     'named "add", "remove", or "replace".')
        op = {"op": named[0], "path": raw[named[0]]}
        if "value" in raw:
            op["value"] = raw["value"]
        ops.append(op)
    return ops


def _apply_patch(image: dict, ops: list[dict]) -> dict:
    """The changes a JSON patch makes, as ``image_api.update`` takes them,
    with Glance's answers to what may not be changed."""
    state = {k: image.get(k) for k in (*schemas.EDITABLE, "owner")}
    properties = dict(image.get("properties") or {})
    for op in ops:
        attr = _attribute(op["path"])
        if (attr in schemas.READ_ONLY and attr != "owner") or attr == "id":
            raise errors.HTTPError(403, f"Attribute '{attr}' is read-only.")
        if _reserved(attr):
            raise errors.HTTPError(403, f"Attribute '{attr}' is reserved.")
        if op["op"] != "remove":
            if "value" not in op:
                raise errors.bad_request(f"Operation '{op['op']}' on '{op['path']}' needs a "
                                         "'value'.")
            _check_value(attr, op["value"])
        if attr in state:
            if op["op"] == "remove":
                raise errors.HTTPError(403, f"Property {attr} may not be removed.")
            state[attr] = op["value"]
        elif op["op"] == "add":
            properties[attr] = op["value"]
        elif attr not in properties:
            raise errors.HTTPError(409, f"Property {attr} does not exist.")
        elif op["op"] == "replace":
            properties[attr] = op["value"]
        else:
            del properties[attr]
    changes = {k: v for k, v in state.items() if v != image.get(k)}
    if properties != (image.get("properties") or {}):
        changes["properties"] = properties
    return changes


def _reserved(key: str) -> bool:
    """Attributes Glance keeps to itself: its internal columns and the
    ``os_glance`` namespace (its import and store bookkeeping)."""
    return key in schemas.RESERVED or key.startswith(schemas.RESERVED_PREFIX)


def _attribute(path: str) -> str:
    """The attribute a JSON pointer names (RFC 6901 escapes undone)."""
    return path[1:].replace("~1", "/").replace("~0", "~")


def _check_value(attr: str, value: Any) -> None:
    validator = jsonschema.Draft202012Validator(schemas.value_schema(attr))
    error = next(iter(validator.iter_errors(value)), None)
    if error is not None:
        raise errors.bad_request(f"Invalid value for '{attr}': {error.message}")


def read_chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    """The request body piece by piece (waitress has already de-chunked a
    chunked upload and bounds the stream by its length)."""
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk
