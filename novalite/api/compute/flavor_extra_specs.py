"""/flavors/{flavor_id}/os-extra_specs: a flavor's extra specs (admins write)."""

from __future__ import annotations

from novalite import exception, policy
from novalite.api import errors, extra_specs, validation, wsgi
from novalite.api.compute.flavors import get_flavor
from novalite.api.schemas import flavors as schemas
from novalite.api.wsgi import Request
from novalite.policies.flavors import EXTRA_SPECS


def _as_strings(req: Request, specs: dict) -> dict[str, str]:
    """Numbers and booleans are stored as strings, as Nova's DictOfStrings;
    from 2.86 each key Nova knows must have a valid value (``extra_specs``)."""
    out = {}
    validated = req.api_version.at_least("2.86")
    for key, value in specs.items():
        text = value if isinstance(value, str) else str(value)
        if len(text) > 255:
            raise errors.bad_request(f"Invalid input for field/attribute {key}. Value: "
                                     f"{value}. extra_specs value must be at most 255 "
                                     "characters long")
        if validated:
            extra_specs.validate(key, text)
        out[key] = text
    return out


class FlavorExtraSpecsController:
    @validation.response_schema(schemas.extra_specs_response)
    def index(self, req: Request, flavor_id: str) -> dict:
        """List a flavor's extra specs."""
        ctx = req.context
        policy.authorize(ctx, EXTRA_SPECS % "index")
        return {"extra_specs": dict(get_flavor(ctx, flavor_id).extra_specs)}

    @validation.schema(schemas.extra_specs_create)
    def create(self, req: Request, flavor_id: str, body: dict) -> dict:
        """Add or change extra specs of a flavor (Nova 2.1 answers with the request's)."""
        ctx = req.context
        policy.authorize(ctx, EXTRA_SPECS % "create", {})
        specs = _as_strings(req, body["extra_specs"])
        get_flavor(ctx, flavor_id).save_extra_specs(to_add=specs)
        return body

    @validation.response_schema(schemas.extra_spec_response)
    def show(self, req: Request, flavor_id: str, id: str) -> dict:
        """Show one extra spec of a flavor."""
        ctx = req.context
        policy.authorize(ctx, EXTRA_SPECS % "show")
        specs = get_flavor(ctx, flavor_id).extra_specs
        if id not in specs:
            raise exception.FlavorExtraSpecsNotFound(flavor_id=flavor_id, extra_specs_key=id)
        return {id: specs[id]}

    @validation.schema(schemas.extra_spec_update)
    @validation.response_schema(schemas.extra_spec_response)
    def update(self, req: Request, flavor_id: str, id: str, body: dict) -> dict:
        """Set one extra spec of a flavor (the body names the key of the URL)."""
        ctx = req.context
        policy.authorize(ctx, EXTRA_SPECS % "update", {})
        # NOTE: the values first, as Nova's.
        specs = _as_strings(req, body)
        if id not in body:
            raise errors.bad_request("Request body and URI mismatch")
        get_flavor(ctx, flavor_id).save_extra_specs(to_add=specs)
        return body

    # NOTE: 200 with no body, as Nova answers (not 202: nothing is pending).
    @wsgi.response(200)
    def delete(self, req: Request, flavor_id: str, id: str) -> None:
        """Delete one extra spec of a flavor."""
        ctx = req.context
        policy.authorize(ctx, EXTRA_SPECS % "delete", {})
        get_flavor(ctx, flavor_id).save_extra_specs(to_delete=[id])
