"""Flavor access lists: which projects may use a private flavor
(``/flavors/{id}/os-flavor-access``, ``addTenantAccess``/``removeTenantAccess``)."""

from __future__ import annotations

from typing import Any

from novalite import policy
from novalite.api import errors, validation
from novalite.api.wsgi import Request
from novalite.objects.flavor import Flavor
from novalite.policies.flavors import ACCESS

_tenant = {"type": "object",
           "properties": {"tenant": {"type": "string", "minLength": 1, "maxLength": 255}},
           "required": ["tenant"], "additionalProperties": False}
action = {
    "oneOf": [
        {"type": "object", "properties": {"addTenantAccess": _tenant},
         "required": ["addTenantAccess"], "additionalProperties": False},
        {"type": "object", "properties": {"removeTenantAccess": _tenant},
         "required": ["removeTenantAccess"], "additionalProperties": False},
    ],
}
_access_list = {"type": "object", "properties": {"flavor_access": {"type": "array", "items": {
    "type": "object", "properties": {"flavor_id": {"type": "string"},
                                     "tenant_id": {"type": "string"}},
    "required": ["flavor_id", "tenant_id"], "additionalProperties": False}}},
    "required": ["flavor_access"], "additionalProperties": False}


def _view(flavor: Flavor) -> dict:
    return {"flavor_access": [{"flavor_id": flavor.flavorid, "tenant_id": p}
                              for p in flavor.get_access_list()]}


class FlavorAccessController:
    @validation.response_schema(_access_list)
    def index(self, req: Request, flavor_id: str) -> dict:
        """List the projects that may use a private flavor."""
        policy.authorize(req.context, ACCESS, {})
        flavor = Flavor.get_by_flavor_id(req.context, flavor_id)
        if flavor.is_public:
            raise errors.not_found("Access list not available for public flavors.")
        return _view(flavor)

    @validation.schema(action)
    @validation.response_schema(_access_list)
    def action(self, req: Request, flavor_id: str, body: dict) -> dict:
        """``addTenantAccess`` or ``removeTenantAccess`` of a private flavor."""
        ctx: Any = req.context
        if "addTenantAccess" in body:
            policy.authorize(ctx, ACCESS + ":add_tenant_access", {})
            project = body["addTenantAccess"]["tenant"]
            flavor = Flavor.get_by_flavor_id(ctx, flavor_id)
            if flavor.is_public:
                raise errors.HTTPError(409, "Can not add access to a public flavor.")
            flavor.add_access(project)
        else:
            policy.authorize(ctx, ACCESS + ":remove_tenant_access", {})
            flavor = Flavor.get_by_flavor_id(ctx, flavor_id)
            flavor.remove_access(body["removeTenantAccess"]["tenant"])
        return _view(flavor)
