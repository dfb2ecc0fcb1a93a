"""/os-services and /os-hypervisors: what runs where (admins only), as
Nova's v2.1 shows them (integer ids)."""

from __future__ import annotations

from typing import Any

from novalite import exception, policy
from novalite.api import errors, validation, wsgi
from novalite.api.schemas import services as schemas
from novalite.api.views import services as views
from novalite.api.wsgi import Request
from novalite.objects.compute_node import ComputeNodeList
from novalite.objects.instance import InstanceList
from novalite.objects.service import Service, ServiceList
from novalite.policies.hypervisors import HYPERVISORS
from novalite.policies.services import SERVICES

MAX_INT = 0x7FFFFFFF

_service_update = {
    "type": "object",
    "properties": {
        "host": {"type": "string", "minLength": 1, "maxLength": 255},
        "binary": {"type": "string", "minLength": 1, "maxLength": 255},
        "disabled_reason": {"type": "string", "minLength": 1, "maxLength": 255},
    },
    "required": ["host", "binary"],
    "additionalProperties": False,
}
_disable_log_reason = {**_service_update, "required": ["host", "binary", "disabled_reason"]}


class ServicesController:
    @validation.response_schema(schemas.services_response)
    @validation.query_schema({"host": {"type": "string"}, "binary": {"type": "string"}})
    def index(self, req: Request) -> dict:
        """List the services (filters: host, binary)."""
        ctx = req.context
        policy.authorize(ctx, SERVICES % "list", {})
        services = ServiceList.get_all(ctx, binary=req.GET.get("binary") or None,
                                       host=req.GET.get("host") or None)
        return {"services": [views.service(s, s.is_up()) for s in services]}

    @validation.response_schema(schemas.service_update_response)
    @validation.schema(_service_update)
    def enable(self, req: Request, body: dict) -> dict:
        """Enable a compute service (the scheduler places servers on it again)."""
        return self._update(req, body, disabled=False)

    @validation.response_schema(schemas.service_update_response)
    @validation.schema(_service_update)
    def disable(self, req: Request, body: dict) -> dict:
        """Disable a compute service (the scheduler stops placing servers on it)."""
        return self._update(req, body, disabled=True)

    @validation.response_schema(schemas.service_update_response)
    @validation.schema(_disable_log_reason)
    def disable_log_reason(self, req: Request, body: dict) -> dict:
        """Disable a compute service and record why."""
        return self._update(req, body, disabled=True, reason=body["disabled_reason"])

    @staticmethod
    def _update(req: Request, body: dict, disabled: bool, reason: str | None = None) -> dict:
        ctx = req.context
        policy.authorize(ctx, SERVICES % "update", {})
        host, binary = body["host"], body["binary"]
        if binary != views.COMPUTE_BINARY:
            raise errors.bad_request(f"Updating a {binary} service is not supported. Only "
                                     f"{views.COMPUTE_BINARY} services can be updated.")
        try:
            svc = Service.get_by_host_and_binary(ctx, host, binary)
        except exception.ServiceNotFound:
            raise errors.not_found(f"Could not find binary {binary} on host {host}.") from None
        svc.disabled = disabled
        svc.disabled_reason = reason
        svc.save()
        out = {"host": host, "binary": binary, "status": "disabled" if disabled else "enabled"}
        if reason is not None:
            out["disabled_reason"] = reason
        return {"service": out}

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        """Delete a service record (a compute service only with no servers on its host)."""
        ctx = req.context
        policy.authorize(ctx, SERVICES % "delete", {})
        try:
            service_id = int(id)
            if not 0 < service_id <= MAX_INT:
                raise ValueError(id)
            svc = Service.get_by_id(ctx, service_id)
        except (ValueError, exception.ServiceNotFound):
            raise errors.not_found(f"Service {id} not found.") from None
        if svc.binary == views.COMPUTE_BINARY and InstanceList.get_by_filters(
                ctx, {"host": svc.host}, limit=1):
            raise errors.HTTPError(409, f"Unable to delete compute service that is hosting "
                                        f"instances. Migrate or delete the instances first "
                                        f"(host {svc.host}).")
        svc.destroy()


_STATS = ("count", "vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used",
          "local_gb_used", "free_ram_mb", "free_disk_gb", "current_workload", "running_vms",
          "disk_available_least")


class HypervisorsController:
    @validation.response_schema(schemas.hypervisors_response)
    def index(self, req: Request) -> dict:
        """List the hypervisors."""
        nodes = self._nodes(req, "list")
        return {"hypervisors": [views.hypervisor(n, s, up) for n, s, up in nodes]}

    @validation.response_schema(schemas.hypervisors_detail_response)
    def detail(self, req: Request) -> dict:
        """List the hypervisors with their details."""
        nodes = self._nodes(req, "list-detail")
        return {"hypervisors": [views.hypervisor_detail(n, s, up) for n, s, up in nodes]}

    @validation.response_schema(schemas.hypervisor_response)
    def show(self, req: Request, id: str) -> dict:
        """Show a hypervisor (ids are integers at 2.1)."""
        for node, svc, up in self._nodes(req, "show"):
            if str(node.id) == id:
                return {"hypervisor": views.hypervisor_detail(node, svc, up)}
        raise errors.not_found(f"Hypervisor with ID '{id}' could not be found.")

    @validation.openapi(responses={"501": {
        "description": "The hypervisor's driver does not report an uptime",
        "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/NovaError"}}}}})
    def uptime(self, req: Request, id: str) -> dict:
        """A hypervisor's uptime: novalite's drivers do not report one (501, as Nova
        answers for such drivers)."""
        if not any(str(n.id) == id for n, _, _ in self._nodes(req, "uptime")):
            raise errors.not_found(f"Hypervisor with ID '{id}' could not be found.")
        raise errors.HTTPError(501, "Virt driver does not implement uptime function.")

    @validation.response_schema(schemas.statistics_response)
    def statistics(self, req: Request) -> dict:
        """Totals over every hypervisor."""
        totals = dict.fromkeys(_STATS, 0)
        for node, svc, up in self._nodes(req, "statistics"):
            detail = views.hypervisor_detail(node, svc, up)
            totals["count"] += 1
            for key in _STATS[1:]:
                totals[key] += int(detail[key] or 0)
        return {"hypervisor_statistics": totals}

    @validation.response_schema(schemas.hypervisors_response)
    def search(self, req: Request, id: str) -> dict:
        """Hypervisors whose host name contains ``id``."""
        found = self._matching(req, id, "search")
        return {"hypervisors": [views.hypervisor(n, s, up) for n, s, up in found]}

    @validation.response_schema(schemas.hypervisor_servers_response)
    def servers(self, req: Request, id: str) -> dict:
        """Hypervisors whose host name contains ``id``, with their servers."""
        out = []
        for node, svc, up in self._matching(req, id, "servers"):
            entry = views.hypervisor(node, svc, up)
            instances = InstanceList.get_by_filters(
                req.context, {"host": node.host, "node": node.hypervisor_hostname},
                sort_key="id", sort_dir="asc")
            if instances:
                entry["servers"] = [{"name": i.display_name or "", "uuid": i.uuid}
                                    for i in instances]
            out.append(entry)
        return {"hypervisors": out}

    def _matching(self, req: Request, pattern: str, rule: str) -> list[tuple[Any, Any, bool]]:
        # NOTE: Nova matches a SQL LIKE %pattern%; a plain substring here.
        found = [(n, s, up) for n, s, up in self._nodes(req, rule)
                 if pattern.lower() in n.hypervisor_hostname.lower()]
        if not found:
            raise errors.not_found(f"No hypervisor matching '{pattern}' could be found.")
        return found

    @staticmethod
    def _nodes(req: Request, rule: str) -> list[tuple[Any, Any, bool]]:
        """Each compute node with its host's compute service and liveness."""
        ctx = req.context
        policy.authorize(ctx, HYPERVISORS % rule, {})
        services = {s.host: s for s in ServiceList.get_all(ctx, binary=views.COMPUTE_BINARY)}
        out = []
        for node in ComputeNodeList.get_all(ctx):
            svc = services.get(node.host)
            out.append((node, svc, svc.is_up() if svc is not None else False))
        return out

