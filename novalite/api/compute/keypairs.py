"""/os-keypairs: each user's key pairs, as Nova's at each microversion:
2.1 (200 on create, 202 on delete), 2.2 ``type`` (ssh or x509; 201 and
204), 2.10 admins act for another ``user_id``, 2.35 ``limit``/``marker``,
2.92 import only, names may hold '@' and '.'."""

from __future__ import annotations

from typing import Any

import webob

from novalite import keypairs, policy
from novalite.api import errors, validation, wsgi
from novalite.api.schemas import keypairs as schemas
from novalite.api.views import keypairs as views
from novalite.api.wsgi import Request
from novalite.policies.keypairs import KEYPAIRS


def _user_id(req: Request, given: str | None = None) -> str:
    """The key pairs' owner: the caller, or from 2.10 the ``user_id`` an
    admin names (in the query, or the body on create)."""
    if req.api_version.at_least("2.10"):
        user_id = given if given is not None else req.GET.get("user_id")
        if user_id:
            return str(user_id)
    return str(req.context.user_id)


class KeypairsController:
    @validation.strict_query("2.75", ("user_id", "limit", "marker"))
    @validation.response_schema(schemas.index_response)
    def index(self, req: Request) -> dict:
        """List the caller's key pairs."""
        ctx = req.context
        user_id = _user_id(req)
        policy.authorize(ctx, KEYPAIRS % "index", {"user_id": user_id})
        typed = req.api_version.at_least("2.2")
        found = keypairs.get_key_pairs(ctx, user_id)
        body: dict[str, Any] = {}
        if req.api_version.at_least("2.35"):
            found, body = _page(req, found)
        return {"keypairs": [{"keypair": views.basic(kp, typed)} for kp in found], **body}

    @validation.versioned_schemas(schemas.CREATE_VERSIONS)
    @validation.response_schema(schemas.create_response)
    def create(self, req: Request, body: dict) -> Any:
        """Import a public key, or generate a key pair (the private key is shown once)."""
        ctx = req.context
        params = body["keypair"]
        user_id = _user_id(req, params.get("user_id"))
        policy.authorize(ctx, KEYPAIRS % "create", {"user_id": user_id})
        version = req.api_version
        key_type = params.get("type", keypairs.KEYPAIR_TYPE_SSH)
        safe = keypairs.SAFE_CHARS_292 if version.at_least("2.92") else None
        if "public_key" in params:
            kp = keypairs.import_key_pair(ctx, user_id, params["name"], params["public_key"],
                                          key_type, *([safe] if safe else []))
            private_key = None
        else:
            kp, private_key = keypairs.create_key_pair(ctx, user_id, params["name"], key_type)
        view = {"keypair": views.create(kp, private_key, typed=version.at_least("2.2"))}
        if version.at_least("2.2"):
            return wsgi.json_response(view, 201)
        return view

    @validation.strict_query("2.75", ("user_id",))
    @validation.response_schema(schemas.show_response)
    def show(self, req: Request, id: str) -> dict:
        """Show one of the caller's key pairs."""
        ctx = req.context
        user_id = _user_id(req)
        policy.authorize(ctx, KEYPAIRS % "show", {"user_id": user_id})
        return {"keypair": views.show(keypairs.get_key_pair(ctx, user_id, id),
                                      typed=req.api_version.at_least("2.2"))}

    @validation.strict_query("2.75", ("user_id",))
    @wsgi.response(202)
    def delete(self, req: Request, id: str) -> Any:
        """Delete one of the caller's key pairs (202; 204 from 2.2)."""
        ctx = req.context
        user_id = _user_id(req)
        policy.authorize(ctx, KEYPAIRS % "delete", {"user_id": user_id})
        keypairs.delete_key_pair(ctx, user_id, id)
        if req.api_version.at_least("2.2"):
            return webob.Response(status=204)
        return None


def _page(req: Request, found: list[Any]) -> tuple[list[Any], dict]:
    """2.35's paging by name: after ``marker``, at most ``limit``."""
    marker = req.GET.get("marker")
    if marker is not None:
        names = [kp.name for kp in found]
        if marker not in names:
            raise errors.bad_request(f"Marker {marker} could not be found.")
        found = found[names.index(marker) + 1:]
    limit_text = req.GET.get("limit")
    if limit_text is None:
        return found, {}
    try:
        limit = int(limit_text)
    except ValueError:
        limit = -1
    if limit < 0:
        raise validation.query_error("limit", limit_text,
                                     f"'{limit_text}' is not a non-negative integer")
    page = found[:limit]
    body: dict = {}
    if page and len(page) == limit:
        body["keypairs_links"] = [req.links.next_link("os-keypairs", req.GET.items(),
                                                      page[-1].name)]
    return page, body
