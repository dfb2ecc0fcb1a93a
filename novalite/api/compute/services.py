"""/os-services and /os-hypervisors: what runs where (admins only), as
Nova shows them at each microversion: integer ids until 2.52, uuids from
2.53 (PUT /os-services/{uuid} replacing enable/disable/force-down,
hostname patterns and with_servers replacing /search and /servers), 2.11
forced_down, 2.28 cpu_info as an object, 2.33 paging, 2.88 no
statistics."""

from __future__ import annotations

import contextlib
from typing import Any

from oslo_utils import strutils, uuidutils

from novalite import exception, policy
from novalite.api import common, errors, microversions, validation, wsgi
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
_force_down = {
    "type": "object",
    "properties": {
        "host": {"type": "string", "minLength": 1, "maxLength": 255},
        "binary": {"type": "string", "minLength": 1, "maxLength": 255},
        "forced_down": {"type": ["boolean", "string"]},
    },
    "required": ["host", "binary", "forced_down"],
    "additionalProperties": False,
}
_update_v253 = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["enabled", "disabled"]},
        "disabled_reason": {"type": "string", "minLength": 1, "maxLength": 255},
        "forced_down": {"type": ["boolean", "string"]},
    },
    "additionalProperties": False,
}
_OLD_UPDATE = [("2.1", "2.52", _service_update), ("2.53", None, _update_v253)]
_OLD_DISABLE_LOG = [("2.1", "2.52", _disable_log_reason), ("2.53", None, _update_v253)]
_OLD_FORCE_DOWN = [("2.11", "2.52", _force_down), ("2.53", None, _update_v253)]


def _bool(name: str, value: Any) -> bool:
    try:
        return strutils.bool_from_string(value, strict=True)
    except ValueError:
        raise errors.bad_request(f"Invalid input for field/attribute {name}. Value: {value}. "
                                 f"{value!r} is not a boolean") from None


def _service_by_uuid(ctx: Any, service_id: str) -> Any:
    if not uuidutils.is_uuid_like(service_id):
        raise errors.bad_request(f"Invalid uuid {service_id}")
    for svc in views.compute_services(ServiceList.get_all(ctx)):
        if views.service_uuid(svc) == service_id:
            return svc
    raise errors.not_found(f"Service {service_id} could not be found.")


class ServicesController:
    @validation.response_schema(schemas.services_response)
    @validation.query_schema({"host": {"type": "string"}, "binary": {"type": "string"}})
    def index(self, req: Request) -> dict:
        """List the services (filters: host, binary)."""
        ctx = req.context
        policy.authorize(ctx, SERVICES % "list", {})
        binary = req.GET.get("binary") or None
        services = views.compute_services(ServiceList.get_all(
            ctx, binary=views.internal_binary(binary) if binary else None,
            host=req.GET.get("host") or None))
        return {"services": [views.service(s, s.is_up(), req.api_version) for s in services]}

    @validation.response_schema(schemas.service_update_response)
    @validation.versioned_schemas(_OLD_UPDATE)
    def enable(self, req: Request, body: dict) -> Any:
        """Enable a compute service (the scheduler places servers on it again)."""
        if req.api_version.at_least("2.53"):
            return self.update(req, "enable", body)
        return self._update(req, body, disabled=False)

    @validation.response_schema(schemas.service_update_response)
    @validation.versioned_schemas(_OLD_UPDATE)
    def disable(self, req: Request, body: dict) -> Any:
        """Disable a compute service (the scheduler stops placing servers on it)."""
        if req.api_version.at_least("2.53"):
            return self.update(req, "disable", body)
        return self._update(req, body, disabled=True)

    @validation.response_schema(schemas.service_update_response)
    @validation.versioned_schemas(_OLD_DISABLE_LOG)
    def disable_log_reason(self, req: Request, body: dict) -> Any:
        """Disable a compute service and record why."""
        if req.api_version.at_least("2.53"):
            return self.update(req, "disable-log-reason", body)
        return self._update(req, body, disabled=True, reason=body["disabled_reason"])

    @validation.versioned_schemas(_OLD_FORCE_DOWN)
    def force_down(self, req: Request, body: dict) -> Any:
        """Mark a compute service down (2.11) or up again, whatever its heartbeat."""
        if req.api_version.at_least("2.53"):
            return self.update(req, "force-down", body)
        ctx = req.context
        policy.authorize(ctx, SERVICES % "update", {})
        svc = self._compute_service(ctx, body["host"], body["binary"])
        svc.forced_down = _bool("forced_down", body["forced_down"])
        svc.save()
        return {"service": {"host": svc.host, "binary": views.api_binary(svc.binary),
                            "forced_down": svc.forced_down}}

    @microversions.versioned("2.53")
    @validation.schema(_update_v253)
    def update(self, req: Request, id: str, body: dict) -> dict:
        """Enable, disable (with a reason) or force down a compute service by uuid (2.53)."""
        ctx = req.context
        policy.authorize(ctx, SERVICES % "update", {})
        svc = _service_by_uuid(ctx, id)
        status = body.get("status")
        if "disabled_reason" in body and status != "disabled":
            raise errors.bad_request("Specifying 'disabled_reason' with status 'enabled' "
                                     "or without a status is invalid.")
        if status is None and "forced_down" not in body:
            raise errors.bad_request("At least one of 'status' or 'forced_down' must be "
                                     "specified in the request body.")
        if svc.binary != views.COMPUTE_BINARY:
            raise errors.bad_request(f"Updating a {views.api_binary(svc.binary)} service is "
                                     f"not supported. Only {views.API_COMPUTE_BINARY} "
                                     f"services can be updated.")
        if status is not None:
            svc.disabled = status == "disabled"
            svc.disabled_reason = body.get("disabled_reason") if svc.disabled else None
        if "forced_down" in body:
            svc.forced_down = _bool("forced_down", body["forced_down"])
        svc.save()
        return {"service": views.service(svc, svc.is_up(), req.api_version)}

    @staticmethod
    def _compute_service(ctx: Any, host: str, binary: str) -> Any:
        if views.internal_binary(binary) != views.COMPUTE_BINARY:
            raise errors.bad_request(f"Updating a {binary} service is not supported. Only "
                                     f"{views.API_COMPUTE_BINARY} services can be updated.")
        try:
            return Service.get_by_host_and_binary(ctx, host, views.COMPUTE_BINARY)
        except exception.ServiceNotFound:
            raise errors.not_found(f"Could not find binary {binary} on host {host}.") from None

    def _update(self, req: Request, body: dict, disabled: bool,
                reason: str | None = None) -> dict:
        ctx = req.context
        policy.authorize(ctx, SERVICES % "update", {})
        host, binary = body["host"], body["binary"]
        svc = self._compute_service(ctx, host, binary)
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
        if req.api_version.at_least("2.53"):
            svc = _service_by_uuid(ctx, id)
        else:
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


# NOTE: what GET /os-hypervisors(/detail) knows from 2.53 (400 for anything else).
_HYPERVISOR_LIST_QUERY = ("limit", "marker", "hypervisor_hostname_pattern", "with_servers")


def _compute_api() -> Any:
    from novalite.compute import api

    return api.API()


_uptime_response = {"type": "object", "required": ["hypervisor"], "properties": {
    "hypervisor": {**schemas.hypervisor, "required": [*schemas.hypervisor["required"], "uptime"],
                   "properties": {**schemas.hypervisor["properties"],
                                  "uptime": {"type": "string"}}}}}


class HypervisorsController:
    def __init__(self, compute_api: Any = None) -> None:
        self.compute_api = compute_api if compute_api is not None else common.Lazy(
            _compute_api)

    @validation.strict_query("2.53", _HYPERVISOR_LIST_QUERY)
    @validation.response_schema(schemas.hypervisors_response)
    def index(self, req: Request) -> dict:
        """List the hypervisors."""
        return self._list(req, "list", detailed=False)

    @validation.strict_query("2.53", _HYPERVISOR_LIST_QUERY)
    @validation.response_schema(schemas.hypervisors_detail_response)
    def detail(self, req: Request) -> dict:
        """List the hypervisors with their details."""
        return self._list(req, "list-detail", detailed=True)

    def _list(self, req: Request, rule: str, detailed: bool) -> dict:
        version = req.api_version
        nodes = self._nodes(req, rule)
        view = views.hypervisor_detail if detailed else views.hypervisor
        pattern = req.GET.get("hypervisor_hostname_pattern") \
            if version.at_least("2.53") else None
        body: dict = {}
        if pattern is not None:
            if "limit" in req.GET or "marker" in req.GET:
                raise errors.bad_request("Paging over hypervisors with the "
                                         "hypervisor_hostname_pattern query parameter is "
                                         "not supported.")
            nodes = self._matching(nodes, pattern)
        elif version.at_least("2.33"):
            nodes, body = self._page(req, nodes, "os-hypervisors/detail" if detailed
                                     else "os-hypervisors")
        out = []
        for node, svc, up in nodes:
            entry = view(node, svc, up, version)
            self._add_servers(req, entry, node)
            out.append(entry)
        return {"hypervisors": out, **body}

    def _page(self, req: Request, nodes: list[tuple[Any, Any, bool]],
              path: str) -> tuple[list[tuple[Any, Any, bool]], dict]:
        limit, marker = common.limit_and_marker(req.GET)
        ids = [self._id(req, n) for n, _, _ in nodes]
        if marker is not None:
            if marker not in ids:
                raise errors.bad_request(f"marker [{marker}] not found")
            nodes = nodes[ids.index(marker) + 1:]
        page = nodes[:limit]
        body: dict = {}
        if page and len(page) == limit and "limit" in req.GET:
            body["hypervisors_links"] = [req.links.next_link(
                path, req.GET.items(), self._id(req, page[-1][0]))]
        return page, body

    @staticmethod
    def _id(req: Request, node: Any) -> str:
        return views.node_uuid(node) if req.api_version.at_least("2.53") else str(node.id)

    def _add_servers(self, req: Request, entry: dict, node: Any) -> None:
        """2.53's ``with_servers``: the servers on each hypervisor (from
        2.75 an empty list too)."""
        if not req.api_version.at_least("2.53") or not _bool(
                "with_servers", req.GET.get("with_servers", "false")):
            return
        instances = InstanceList.get_by_filters(
            req.context, {"host": node.host, "node": node.hypervisor_hostname},
            sort_key="id", sort_dir="asc")
        if instances or req.api_version.at_least("2.75"):
            entry["servers"] = [{"name": i.display_name or "", "uuid": i.uuid}
                                for i in instances]

    @validation.strict_query("2.53", ("with_servers",))
    @validation.response_schema(schemas.hypervisor_response)
    def show(self, req: Request, id: str) -> dict:
        """Show a hypervisor (integer ids until 2.52, uuids from 2.53)."""
        node, svc, up = self._find(req, id, "show")
        entry = views.hypervisor_detail(node, svc, up, req.api_version)
        self._add_servers(req, entry, node)
        if req.api_version.at_least("2.88"):
            # NOTE: as Nova from 2.88: the uptime when the host can tell, else null
            with contextlib.suppress(NotImplementedError, errors.HTTPError,
                                     exception.NovaliteException):
                entry["uptime"] = self._uptime(req, node, svc, up)
        return {"hypervisor": entry}

    def _uptime(self, req: Request, node: Any, svc: Any, up: bool) -> str:
        if svc is None or not up:
            raise errors.bad_request(f"Compute service of {node.host} is unavailable at this "
                                     "time.")
        return str(self.compute_api.get_host_uptime(req.context, node.host))

    def _find(self, req: Request, id: str, rule: str) -> tuple[Any, Any, bool]:
        if req.api_version.at_least("2.53") and not uuidutils.is_uuid_like(id):
            raise errors.bad_request(f"Invalid uuid {id}")
        for node, svc, up in self._nodes(req, rule):
            if self._id(req, node) == id:
                return node, svc, up
        raise errors.not_found(f"Hypervisor with ID '{id}' could not be found.")

    @microversions.versioned(max_version="2.87")
    @validation.openapi(responses={"501": {
        "description": "The hypervisor's driver does not report an uptime",
        "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/NovaError"}}}}})
    @validation.response_schema(_uptime_response)
    def uptime(self, req: Request, id: str) -> dict:
        """A hypervisor's uptime line, from its host (400 when its compute
        service is down, 501 when the driver cannot tell); 404 from 2.88,
        where show has it."""
        node, svc, up = self._find(req, id, "uptime")
        try:
            uptime = self._uptime(req, node, svc, up)
        except NotImplementedError:
            raise errors.HTTPError(501, "Virt driver does not implement uptime "
                                        "function.") from None
        return {"hypervisor": {**views.hypervisor(node, svc, up, req.api_version),
                               "uptime": uptime}}

    @microversions.versioned(max_version="2.87")
    @validation.response_schema(schemas.statistics_response)
    def statistics(self, req: Request) -> dict:
        """Totals over every hypervisor (404 from 2.88)."""
        totals = dict.fromkeys(_STATS, 0)
        for node, svc, up in self._nodes(req, "statistics"):
            detail = views.hypervisor_detail(node, svc, up)
            totals["count"] += 1
            for key in _STATS[1:]:
                totals[key] += int(detail[key] or 0)
        return {"hypervisor_statistics": totals}

    @microversions.versioned(max_version="2.52")
    @validation.response_schema(schemas.hypervisors_response)
    def search(self, req: Request, id: str) -> dict:
        """Hypervisors whose host name contains ``id`` (404 from 2.53)."""
        found = self._matching(self._nodes(req, "search"), id)
        return {"hypervisors": [views.hypervisor(n, s, up, req.api_version)
                                for n, s, up in found]}

    @microversions.versioned(max_version="2.52")
    @validation.response_schema(schemas.hypervisor_servers_response)
    def servers(self, req: Request, id: str) -> dict:
        """Hypervisors whose host name contains ``id``, with their servers (404 from 2.53)."""
        out = []
        for node, svc, up in self._matching(self._nodes(req, "servers"), id):
            entry = views.hypervisor(node, svc, up, req.api_version)
            instances = InstanceList.get_by_filters(
                req.context, {"host": node.host, "node": node.hypervisor_hostname},
                sort_key="id", sort_dir="asc")
            if instances:
                entry["servers"] = [{"name": i.display_name or "", "uuid": i.uuid}
                                    for i in instances]
            out.append(entry)
        return {"hypervisors": out}

    @staticmethod
    def _matching(nodes: list[tuple[Any, Any, bool]],
                  pattern: str) -> list[tuple[Any, Any, bool]]:
        # NOTE: Nova matches a SQL LIKE %pattern%; a plain substring here.
        found = [(n, s, up) for n, s, up in nodes
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
