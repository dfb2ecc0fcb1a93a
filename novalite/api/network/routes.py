"""The Network API's route table (``/network``, Neutron v2.0 paths).

Other resources (security groups, routers, floating IPs) connect their own
routes with ``ROUTE_HOOKS`` (``f(router, v2_prefix)``)."""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from typing import Any

from novalite.api import wsgi
from novalite.api.links import NETWORK_PREFIX
from novalite.api.network import common
from novalite.api.network.floatingips import FloatingIPsController
from novalite.api.network.networks import (
    ExtensionsController,
    IpAvailabilitiesController,
    NetworksController,
    VersionsController,
)
from novalite.api.network.ports import PortsController
from novalite.api.network.quotas import QuotasController
from novalite.api.network.routers import RoutersController
from novalite.api.network.security_groups import (
    SecurityGroupRulesController,
    SecurityGroupsController,
)
from novalite.api.network.subnets import SubnetsController
from novalite.api.router import Router
from novalite.network import hooks

ROUTE_HOOKS: list[Callable[[Router, str], None]] = []


class _BulkCreate:
    """Neutron's bulk create: ``POST /networks`` with ``{"networks": [...]}``
    makes each (the single create's checks, one by one) and answers them
    all, or, when one fails, deletes those made before and answers its
    error (Neutron's emulated bulk, all or nothing)."""

    def __init__(self, controller: Any, singular: str, collection: str) -> None:
        self.controller, self.singular, self.collection = controller, singular, collection

    @wsgi.response(201)
    def create(self, req: Any) -> dict:
        try:
            data = json.loads(req.body or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict) or self.collection not in data:
            return dict(self.controller.create(req))
        items = data[self.collection]
        if not isinstance(items, list) or not items or \
                not all(isinstance(i, dict) for i in items):
            raise common.bad_request(f"Invalid input for {self.collection}. Reason: it is "
                                     "not a non-empty list of dictionaries.")
        made: list[dict] = []
        try:
            for item in items:
                req.body = json.dumps({self.singular: item}).encode()
                made.append(self.controller.create(req)[self.singular])
        except Exception:
            for done in reversed(made):
                with contextlib.suppress(Exception):
                    self.controller.delete(req, done["id"])
            raise
        return {self.collection: made}


def _crud(router: Router, v2: str, collection: str, controller: Any,
          singular: str | None = None) -> None:
    router.connect(f"{v2}/{collection}", "GET", controller, "index")
    creator = _BulkCreate(controller, singular, collection) if singular else controller
    router.connect(f"{v2}/{collection}", "POST", creator, "create")
    router.connect(f"{v2}/{collection}/{{id}}", "GET", controller, "show")
    router.connect(f"{v2}/{collection}/{{id}}", "PUT", controller, "update")
    router.connect(f"{v2}/{collection}/{{id}}", "DELETE", controller, "delete")


def connect(router: Router) -> None:
    versions = VersionsController()
    router.connect(NETWORK_PREFIX, "GET", versions, "index", public=True)
    router.connect(f"{NETWORK_PREFIX}/", "GET", versions, "index", public=True)
    v2 = f"{NETWORK_PREFIX}/v2.0"
    # NOTE: clients ask for /v2.0/ (the version document's link); the
    # router keeps a trailing slash for public documents only, and this
    # list of collections is one (it says nothing about any project).
    router.connect(v2, "GET", versions, "resources", public=True)
    _crud(router, v2, "networks", NetworksController(), "network")
    _crud(router, v2, "subnets", SubnetsController(), "subnet")
    _crud(router, v2, "ports", PortsController(), "port")
    _crud(router, v2, "security-groups", SecurityGroupsController())
    rules = SecurityGroupRulesController()
    router.connect(f"{v2}/security-group-rules", "GET", rules, "index")
    router.connect(f"{v2}/security-group-rules", "POST", rules, "create")
    router.connect(f"{v2}/security-group-rules/{{id}}", "GET", rules, "show")
    router.connect(f"{v2}/security-group-rules/{{id}}", "DELETE", rules, "delete")
    routers = RoutersController()
    _crud(router, v2, "routers", routers)
    router.connect(f"{v2}/routers/{{id}}/add_router_interface", "PUT", routers,
                   "add_interface")
    router.connect(f"{v2}/routers/{{id}}/remove_router_interface", "PUT", routers,
                   "remove_interface")
    _crud(router, v2, "floatingips", FloatingIPsController())
    extensions = ExtensionsController()
    router.connect(f"{v2}/extensions", "GET", extensions, "index")
    router.connect(f"{v2}/extensions/{{alias}}", "GET", extensions, "show")
    availability = IpAvailabilitiesController()
    router.connect(f"{v2}/network-ip-availabilities", "GET", availability, "index")
    router.connect(f"{v2}/network-ip-availabilities/{{id}}", "GET", availability, "show")
    quotas = QuotasController()
    router.connect(f"{v2}/quotas", "GET", quotas, "index")
    # NOTE: the ".json" forms first: "{project_id}" would take "x.json" whole.
    for suffix in (".json", ""):
        router.connect(f"{v2}/quotas/{{project_id}}{suffix}", "GET", quotas, "show")
        router.connect(f"{v2}/quotas/{{project_id}}{suffix}", "PUT", quotas, "update")
        router.connect(f"{v2}/quotas/{{project_id}}{suffix}", "DELETE", quotas, "delete")
        router.connect(f"{v2}/quotas/{{project_id}}/default{suffix}", "GET", quotas,
                       "default")
        router.connect(f"{v2}/quotas/{{project_id}}/details{suffix}", "GET", quotas,
                       "details")
    for hook in ROUTE_HOOKS:
        hook(router, v2)
    _notify_on_writes(router, v2)
    if not any(r.path == f"{v2}/security-groups" for r in router.routes):
        # NOTE: until security groups exist, the list clients read is empty.
        router.connect(f"{v2}/security-groups", "GET", _NoSecurityGroups(), "index")


class _NoSecurityGroups:
    def index(self, req: Any) -> dict:
        return {"security_groups": []}


class _Notifying:
    """A write route's controller that, once the write succeeded, tells the
    per-host network agents to reconcile (``hooks.network_changed``)."""

    def __init__(self, controller: Any, action: str) -> None:
        inner = getattr(controller, action)

        @functools.wraps(inner)
        def call(*args: Any, **kwargs: Any) -> Any:
            result = inner(*args, **kwargs)
            hooks.network_changed()
            return result

        setattr(self, action, call)


def _notify_on_writes(router: Router, v2: str) -> None:
    """Every POST, PUT and DELETE of the v2.0 resources (quotas aside), also
    those other modules connected through ROUTE_HOOKS, notifies on success."""
    for name, (controller, action, public) in list(router._targets.items()):
        method, path = name.split(" ", 1)
        if method in ("POST", "PUT", "DELETE") and path.startswith(f"{v2}/") \
                and not path.startswith(f"{v2}/quotas"):
            router._targets[name] = (_Notifying(controller, action), action, public)
