"""/servers/{id}/tags: a server's tags (microversion 2.26), as Nova's
server tags API: list, replace all, add one, check one, remove one, remove
all. Changing tags needs the server ACTIVE, PAUSED, SUSPENDED or STOPPED
(409 otherwise); another project's server is 404."""

from __future__ import annotations

from typing import Any

import jsonschema
import webob

from novalite import exception, policy
from novalite.api import errors, microversions, validation, wsgi
from novalite.api.compute.servers import target_of
from novalite.api.schemas import servers as schemas
from novalite.api.wsgi import Request
from novalite.compute import vm_states
from novalite.objects.tag import Tag, TagList
from novalite.policies.server_microversions import TAGS

_CHANGEABLE = (vm_states.ACTIVE, vm_states.STOPPED, "paused", "suspended")
_TAG = jsonschema.Draft202012Validator(schemas.tag)
_TAGS_RESPONSE = {"type": "object",
                  "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
                  "required": ["tags"], "additionalProperties": False}


class ServerTagsController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    def _instance(self, req: Request, server_id: str, rule: str,
                  action: str | None = None) -> Any:
        instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, TAGS % rule, target_of(instance))
        if action is not None and instance.vm_state not in _CHANGEABLE:
            raise errors.HTTPError(409, f"Cannot '{action}' instance {instance.uuid} while "
                                        f"it is in vm_state {instance.vm_state}")
        return instance

    @microversions.versioned("2.26")
    @validation.response_schema(_TAGS_RESPONSE)
    def index(self, req: Request, server_id: str) -> dict:
        """List the server's tags."""
        instance = self._instance(req, server_id, "index")
        return {"tags": TagList.get_by_resource_ids(req.context, [instance.uuid]).get(
            instance.uuid, [])}

    @microversions.versioned("2.26")
    @wsgi.response(204)
    def show(self, req: Request, server_id: str, tag: str) -> None:
        """204 when the server has ``tag``, 404 when not."""
        instance = self._instance(req, server_id, "show")
        if not Tag.exists(req.context, instance.uuid, tag):
            raise errors.not_found(f"Server {instance.uuid} has no tag '{tag}'")

    @microversions.versioned("2.26")
    @validation.schema(schemas.tags_update_all)
    @validation.response_schema(_TAGS_RESPONSE)
    def update_all(self, req: Request, server_id: str, body: dict) -> dict:
        """Replace the server's tags."""
        instance = self._instance(req, server_id, "update_all", "update tags")
        return {"tags": TagList.create(req.context, instance.uuid, body["tags"])}

    @microversions.versioned("2.26")
    def update(self, req: Request, server_id: str, tag: str) -> webob.Response:
        """Add ``tag``: 201 with its Location, 204 when the server had it."""
        instance = self._instance(req, server_id, "update", "update tag")
        error = next(iter(_TAG.iter_errors(tag)), None)
        if error is not None:
            raise errors.bad_request(f"Tag '{tag}' is invalid. It must be a non empty string "
                                     f"without characters '/' and ','. Validation error "
                                     f"message: {error.message}")
        try:
            added = Tag(context=req.context, resource_id=instance.uuid,
                        tag=tag).create(schemas.MAX_TAGS)
        except exception.Invalid:
            raise errors.bad_request(f"The number of tags exceeded the per-server limit "
                                     f"{schemas.MAX_TAGS}") from None
        if not added:
            return webob.Response(status=204)
        resp = webob.Response(status=201)
        resp.headers["Location"] = req.links.resource("servers", instance.uuid)[0]["href"] \
            + f"/tags/{tag}"
        return resp

    @microversions.versioned("2.26")
    @wsgi.response(204)
    def delete(self, req: Request, server_id: str, tag: str) -> None:
        """Remove ``tag`` (404 when the server does not have it)."""
        instance = self._instance(req, server_id, "delete", "delete tag")
        if not Tag.destroy(req.context, instance.uuid, tag):
            raise errors.not_found(f"Tag {tag} could not be found for instance "
                                   f"{instance.uuid}.")

    @microversions.versioned("2.26")
    @wsgi.response(204)
    def delete_all(self, req: Request, server_id: str) -> None:
        """Remove every tag of the server."""
        instance = self._instance(req, server_id, "delete_all", "delete tags")
        TagList.destroy(req.context, instance.uuid)
