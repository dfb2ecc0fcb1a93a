"""/os-aggregates, read only: novalite groups hosts by availability zone
only, so it has no host aggregates to list. Clients still ask (``openstack
hypervisor show`` lists the aggregates of the host)."""

from __future__ import annotations

from novalite import policy
from novalite.api import errors, validation
from novalite.api.schemas import services as schemas
from novalite.api.wsgi import Request
from novalite.policies.aggregates import AGGREGATES


class AggregatesController:
    @validation.response_schema(schemas.aggregates_response)
    def index(self, req: Request) -> dict:
        """List the host aggregates (none)."""
        policy.authorize(req.context, AGGREGATES % "index", {})
        return {"aggregates": []}

    def show(self, req: Request, id: str) -> dict:
        """Show a host aggregate (none exists)."""
        policy.authorize(req.context, AGGREGATES % "show", {})
        raise errors.not_found(f"Aggregate {id} could not be found.")
