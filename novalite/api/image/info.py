"""``GET /image/v2/info/usage``: the caller's project's image quotas, their
limits and what it uses (Glance's answer, from novalite.image.quota); and
``GET /image/v2/info/import``: the interoperable import methods offered."""

from __future__ import annotations

from typing import Any

from novalite.api import validation
from novalite.api.wsgi import Request

_QUOTA = {"type": "object", "required": ["limit", "usage"], "additionalProperties": False,
          "properties": {"limit": {"type": "integer"}, "usage": {"type": "integer"}}}
USAGE_RESPONSE = {
    "type": "object", "required": ["usage"], "additionalProperties": False,
    "properties": {"usage": {
        "type": "object", "additionalProperties": False,
        "required": ["image_size_total", "image_count_total", "image_count_uploading"],
        "properties": {name: _QUOTA for name in ("image_size_total", "image_count_total",
                                                 "image_count_uploading")}}},
}


class InfoController:
    @validation.response_schema(USAGE_RESPONSE)
    def usage(self, req: Request) -> dict[str, Any]:
        """The project's image quotas: limit (-1: none) and usage of each."""
        from novalite.image import quota

        return {"usage": quota.usage(getattr(req.context, "project_id", None))}


IMPORT_RESPONSE = {
    "type": "object", "required": ["import-methods"], "additionalProperties": False,
    "properties": {"import-methods": {
        "type": "object", "required": ["description", "type", "value"],
        "properties": {"description": {"type": "string"}, "type": {"const": "array"},
                       "value": {"type": "array", "items": {"type": "string"}}}}},
}


class ImportInfoController:
    @validation.response_schema(IMPORT_RESPONSE)
    def methods(self, req: Request) -> dict[str, Any]:
        """Glance's import discovery. NOTE: novalite takes image data by
        upload only (``PUT /v2/images/{id}/file``); it offers no import
        method, so clients fall back to the upload."""
        return {"import-methods": {"description": "Import methods available.",
                                   "type": "array", "value": []}}
