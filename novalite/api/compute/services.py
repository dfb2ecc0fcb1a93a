"""/os-services and /os-hypervisors: what runs where (admins only)."""

from __future__ import annotations

from typing import Any

from novalite import exception
from novalite.api import errors
from novalite.api.views import services as views
from novalite.api.wsgi import Request
from novalite.objects.compute_node import ComputeNodeList
from novalite.objects.service import ServiceList


def _require_admin(ctx: Any, action: str) -> None:
    if not ctx.is_admin:
        raise exception.Forbidden(action=action)


class ServicesController:
    def index(self, req: Request) -> dict:
        ctx = req.context
        _require_admin(ctx, "os_compute_api:os-services:list")
        services = ServiceList.get_all(ctx, binary=req.GET.get("binary") or None,
                                       host=req.GET.get("host") or None)
        return {"services": [views.service(s, s.is_up()) for s in services]}


class HypervisorsController:
    def index(self, req: Request) -> dict:
        return {"hypervisors": [views.hypervisor(n, s, up) for n, s, up in self._nodes(req)]}

    def detail(self, req: Request) -> dict:
        return {"hypervisors": [views.hypervisor_detail(n, s, up)
                                for n, s, up in self._nodes(req)]}

    def show(self, req: Request, id: str) -> dict:
        for node, svc, up in self._nodes(req):
            if str(node.id) == id:
                return {"hypervisor": views.hypervisor_detail(node, svc, up)}
        raise errors.not_found(f"Hypervisor with ID {id} could not be found.")

    @staticmethod
    def _nodes(req: Request) -> list[tuple[Any, Any, bool]]:
        """Each compute node with its host's compute service and liveness."""
        ctx = req.context
        _require_admin(ctx, "os_compute_api:os-hypervisors:list")
        services = {s.host: s for s in ServiceList.get_all(ctx, binary=views.COMPUTE_BINARY)}
        out = []
        for node in ComputeNodeList.get_all(ctx):
            svc = services.get(node.host)
            out.append((node, svc, svc.is_up() if svc is not None else False))
        return out
