"""/os-aggregates: host aggregates, admins only, as Nova's.

``availability_zone`` (on create and update, or as metadata) makes the
aggregate's hosts a zone: the zone list, server create's zone check and the
scheduler's AvailabilityZoneFilter all see it (novalite.db.aggregates).
Other metadata is matched by AggregateInstanceExtraSpecsFilter. As Nova
answers: 200 on create (without hosts and metadata) and on delete (no
body); ``uuid`` in the view from 2.41.
"""

from __future__ import annotations

from typing import Any

from novalite import policy
from novalite.api import errors, microversions, validation
from novalite.api.schemas import aggregates as schemas
from novalite.api.views.common import naive_isotime
from novalite.api.wsgi import Request
from novalite.objects.aggregate import (
    AZ_KEY,
    Aggregate,
    AggregateHostNotFound,
    AggregateList,
    AggregateNotFound,
    ComputeHostNotFound,
    InvalidAggregateAction,
)
from novalite.policies.aggregates import AGGREGATES

V241 = microversions.APIVersion(2, 41)


def view(agg: Aggregate, version: microversions.APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "availability_zone": agg.availability_zone,
        "created_at": naive_isotime(agg.created_at),
        "deleted": False,
        "deleted_at": None,
        "hosts": list(agg.hosts),
        "id": agg.id,
        "metadata": dict(agg.metadata),
        "name": agg.name,
        "updated_at": naive_isotime(agg.updated_at),
    }
    if version >= V241:
        body["uuid"] = agg.uuid
    return body


class AggregatesController:
    @staticmethod
    def _get(req: Request, id: str) -> Aggregate:
        try:
            return Aggregate.get_by_id(req.context, id)
        except AggregateNotFound as e:
            raise errors.not_found(e.format_message()) from None

    def index(self, req: Request) -> dict:
        """List the host aggregates."""
        policy.authorize(req.context, AGGREGATES % "index", {})
        return {"aggregates": [view(a, req.api_version)
                               for a in AggregateList.get_all(req.context)]}

    def show(self, req: Request, id: str) -> dict:
        """Show an aggregate with its hosts and metadata."""
        policy.authorize(req.context, AGGREGATES % "show", {})
        return {"aggregate": view(self._get(req, id), req.api_version)}

    @validation.schema(schemas.create)
    def create(self, req: Request, body: dict) -> dict:
        """Create an aggregate, a zone when ``availability_zone`` is given."""
        policy.authorize(req.context, AGGREGATES % "create", {})
        params = body["aggregate"]
        agg = Aggregate(context=req.context, name=params["name"].strip())
        zone = params.get("availability_zone")
        agg.metadata = {AZ_KEY: zone.strip()} if zone else {}
        agg.create()
        out = view(agg, req.api_version)
        del out["hosts"], out["metadata"]
        return {"aggregate": out}

    @validation.schema(schemas.update)
    def update(self, req: Request, id: str, body: dict) -> dict:
        """Rename and/or set the zone (null removes it)."""
        policy.authorize(req.context, AGGREGATES % "update", {})
        params = body["aggregate"]
        agg = self._get(req, id)
        zone = params.get("availability_zone")
        agg.update(name=params["name"].strip() if "name" in params else None,
                   availability_zone=zone.strip() if zone else None,
                   set_zone="availability_zone" in params)
        return {"aggregate": view(agg, req.api_version)}

    def delete(self, req: Request, id: str) -> None:
        """Delete an empty aggregate (400 while it has hosts)."""
        policy.authorize(req.context, AGGREGATES % "delete", {})
        self._get(req, id).destroy()

    @validation.schema(schemas.action)
    def action(self, req: Request, id: str, body: dict) -> dict:
        """``add_host``, ``remove_host`` or ``set_metadata``."""
        name = next(iter(body))
        policy.authorize(req.context, AGGREGATES % name, {})
        validation.validate(schemas.ACTION_VALIDATORS[name], body)
        agg = self._get(req, id)
        params = body[name]
        if name == "add_host":
            try:
                agg.add_host(params["host"])
            except InvalidAggregateAction as e:
                raise errors.HTTPError(409, e.format_message()) from None
        elif name == "remove_host":
            try:
                agg.delete_host(params["host"])
            except (AggregateHostNotFound, ComputeHostNotFound):
                raise errors.not_found(f"Cannot remove host {params['host']} in aggregate "
                                       f"{id}") from None
        else:
            agg.update_metadata(params["metadata"])
        return {"aggregate": view(agg, req.api_version)}
