"""/images/{image_id}/metadata: an image's custom properties through the
Compute API (Nova 2.1's image metadata proxy); the image store decides who
may change them (the owner or an admin)."""

from __future__ import annotations

from typing import Any

from novalite import exception, policy, quota
from novalite.api import errors, microversions, validation, wsgi
from novalite.api.wsgi import Request
from novalite.policies.images import IMAGES

_metadata = {
    "type": "object",
    "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False,
}
_create = {"type": "object", "properties": {"metadata": _metadata}, "required": ["metadata"],
           "additionalProperties": False}
_update = {"type": "object",
           "properties": {"meta": {**_metadata, "minProperties": 1, "maxProperties": 1}},
           "required": ["meta"], "additionalProperties": False}
_metadata_response = {"type": "object", "properties": {"metadata": {"type": "object"}},
                      "required": ["metadata"], "additionalProperties": False}
_meta_response = {"type": "object", "properties": {"meta": {"type": "object"}},
                  "required": ["meta"], "additionalProperties": False}


class ImageMetadataController:
    def __init__(self, image_api: Any) -> None:
        self.image_api = image_api

    @microversions.versioned(max_version=microversions.PROXY_MAX)
    @validation.response_schema(_metadata_response)
    def index(self, req: Request, image_id: str) -> dict:
        """List an image's metadata."""
        policy.authorize(req.context, IMAGES % "show", {})
        return {"metadata": self._properties(req, image_id)}

    @microversions.versioned(max_version=microversions.PROXY_MAX)
    @validation.response_schema(_meta_response)
    def show(self, req: Request, image_id: str, id: str) -> dict:
        """Show one metadata item of an image."""
        policy.authorize(req.context, IMAGES % "show", {})
        properties = self._properties(req, image_id)
        if id not in properties:
            raise errors.not_found("The resource could not be found.")
        return {"meta": {id: properties[id]}}

    @microversions.versioned(max_version=microversions.PROXY_MAX)
    @validation.schema(_create)
    @validation.response_schema(_metadata_response)
    def create(self, req: Request, image_id: str, body: dict) -> dict:
        """Add or change metadata items of an image."""
        properties = {**self._properties(req, image_id), **body["metadata"]}
        return {"metadata": self._save(req, image_id, properties)}

    @microversions.versioned(max_version=microversions.PROXY_MAX)
    @validation.schema(_create)
    @validation.response_schema(_metadata_response)
    def update_all(self, req: Request, image_id: str, body: dict) -> dict:
        """Replace all metadata of an image."""
        self._properties(req, image_id)
        self._save(req, image_id, dict(body["metadata"]))
        return {"metadata": body["metadata"]}

    @microversions.versioned(max_version=microversions.PROXY_MAX)
    @validation.schema(_update)
    @validation.response_schema(_meta_response)
    def update(self, req: Request, image_id: str, id: str, body: dict) -> dict:
        """Set one metadata item of an image (the body names the key of the URL)."""
        if id not in body["meta"]:
            raise errors.bad_request("Request body and URI mismatch")
        properties = {**self._properties(req, image_id), id: body["meta"][id]}
        self._save(req, image_id, properties)
        return {"meta": body["meta"]}

    @microversions.versioned(max_version=microversions.PROXY_MAX)
    @wsgi.response(204)
    def delete(self, req: Request, image_id: str, id: str) -> None:
        """Delete one metadata item of an image."""
        properties = self._properties(req, image_id)
        if id not in properties:
            raise errors.not_found("Invalid metadata key")
        del properties[id]
        self._save(req, image_id, properties)

    def _properties(self, req: Request, image_id: str) -> dict:
        try:
            image = self.image_api.get(req.context, image_id)
        except exception.ImageNotFound:
            raise errors.not_found("Image not found.") from None
        return dict(image.get("properties") or {})

    def _save(self, req: Request, image_id: str, properties: dict) -> dict:
        ctx = req.context
        policy.authorize(ctx, IMAGES % "update", {})
        limit = quota.get_project_quotas(ctx.project_id)["metadata_items"] \
            if ctx.project_id else quota.get_defaults()["metadata_items"]
        if limit != quota.UNLIMITED and len(properties) > limit:
            raise errors.HTTPError(403, "Image metadata limit exceeded")
        image = self.image_api.update(ctx, image_id, {"properties": properties})
        return dict(image.get("properties") or {})
