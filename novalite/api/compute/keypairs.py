"""/os-keypairs: each user's SSH key pairs (Nova 2.1: 200 on create, 202 on delete)."""

from __future__ import annotations

from novalite import keypairs, policy
from novalite.api import validation, wsgi
from novalite.api.schemas import keypairs as schemas
from novalite.api.views import keypairs as views
from novalite.api.wsgi import Request
from novalite.policies.keypairs import KEYPAIRS


class KeypairsController:
    @validation.response_schema(schemas.index_response)
    def index(self, req: Request) -> dict:
        """List the caller's key pairs."""
        ctx = req.context
        policy.authorize(ctx, KEYPAIRS % "index", {"user_id": ctx.user_id})
        return {"keypairs": [{"keypair": views.basic(kp)}
                             for kp in keypairs.get_key_pairs(ctx, ctx.user_id)]}

    @validation.schema(schemas.create)
    @validation.response_schema(schemas.create_response)
    def create(self, req: Request, body: dict) -> dict:
        """Import a public key, or generate a key pair (the private key is shown once)."""
        ctx = req.context
        policy.authorize(ctx, KEYPAIRS % "create", {"user_id": ctx.user_id})
        params = body["keypair"]
        if "public_key" in params:
            kp = keypairs.import_key_pair(ctx, ctx.user_id, params["name"], params["public_key"])
            return {"keypair": views.create(kp)}
        kp, private_key = keypairs.create_key_pair(ctx, ctx.user_id, params["name"])
        return {"keypair": views.create(kp, private_key)}

    @validation.response_schema(schemas.show_response)
    def show(self, req: Request, id: str) -> dict:
        """Show one of the caller's key pairs."""
        ctx = req.context
        policy.authorize(ctx, KEYPAIRS % "show", {"user_id": ctx.user_id})
        return {"keypair": views.show(keypairs.get_key_pair(ctx, ctx.user_id, id))}

    @wsgi.response(202)
    def delete(self, req: Request, id: str) -> None:
        """Delete one of the caller's key pairs."""
        ctx = req.context
        policy.authorize(ctx, KEYPAIRS % "delete", {"user_id": ctx.user_id})
        keypairs.delete_key_pair(ctx, ctx.user_id, id)
