"""/os-hosts: Nova's deprecated host API, served until 2.42 (404 from 2.43,
where os-services and os-hypervisors replace it).

A "host" here is a service record: the list shows every service with its
RPC topic as ``service`` and its zone ("internal" for all but computes);
show gives a compute host's totals, what its node reports in use, and the
sum of its servers' flavors overall and per project. Enabling or disabling
a host toggles its compute service, as os-services does. Power actions and
maintenance mode are hypervisor operations no novalite driver offers: 501,
as Nova answers for the libvirt driver.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from novalite import exception, policy
from novalite.api import errors, microversions, validation
from novalite.api.views import services as service_views
from novalite.api.wsgi import Request
from novalite.objects.compute_node import ComputeNodeList
from novalite.objects.instance import InstanceList
from novalite.objects.service import Service, ServiceList
from novalite.policies.hosts import HOSTS

_MAX = "2.42"


def _switch() -> dict:
    return {"type": "string", "enum": ["enable", "disable", "Enable", "Disable",
                                       "ENABLE", "DISABLE"]}


_update = {
    "type": "object",
    "properties": {"status": _switch(), "maintenance_mode": _switch()},
    "anyOf": [{"required": ["status"]}, {"required": ["maintenance_mode"]}],
    "additionalProperties": False,
}


def _compute_service(ctx: Any, host: str) -> Any:
    try:
        return Service.get_by_host_and_binary(ctx, host, service_views.COMPUTE_BINARY)
    except exception.ServiceNotFound:
        raise errors.not_found(f"Compute host {host} could not be found.") from None


def _resource(host: str, project: str, cpu: int, memory_mb: int, disk_gb: int) -> dict:
    return {"resource": {"host": host, "project": project, "cpu": cpu,
                         "memory_mb": memory_mb, "disk_gb": disk_gb}}


class HostsController:
    @microversions.versioned(max_version=_MAX)
    @validation.query_schema({"zone": {"type": "string"}})
    def index(self, req: Request) -> dict:
        """List the hosts' services (``zone``: only those in that zone)."""
        ctx = req.context
        policy.authorize(ctx, HOSTS % "list", {})
        zone = req.GET.get("zone") or None
        hosts = []
        for svc in service_views.compute_services(ServiceList.get_all(ctx)):
            svc_zone = service_views.zone(svc)
            if zone is not None and svc_zone != zone:
                continue
            hosts.append({"host_name": svc.host, "service": svc.topic, "zone": svc_zone})
        return {"hosts": hosts}

    @microversions.versioned(max_version=_MAX)
    def show(self, req: Request, id: str) -> dict:
        """A compute host's resources: total, used now, used by its servers
        (all and per project)."""
        ctx = req.context
        policy.authorize(ctx, HOSTS % "show", {})
        _compute_service(ctx, id)
        nodes = list(ComputeNodeList.get_all(ctx, host=id))
        if not nodes:
            raise errors.not_found(f"Compute host {id} could not be found.")
        node = nodes[0]
        resources = [
            _resource(id, "(total)", node.vcpus, node.memory_mb, node.local_gb),
            _resource(id, "(used_now)", node.vcpus_used, node.memory_mb_used,
                      node.local_gb_used),
        ]
        per_project: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for inst in InstanceList.get_by_host(ctx, id):
            flavor = inst.flavor
            if flavor is None:
                continue
            used = per_project[inst.project_id or ""]
            used[0] += flavor.vcpus
            used[1] += flavor.memory_mb
            used[2] += flavor.root_gb + flavor.ephemeral_gb
        total = [sum(v[i] for v in per_project.values()) for i in range(3)]
        resources.append(_resource(id, "(used_max)", *total))
        resources += [_resource(id, project, *used)
                      for project, used in sorted(per_project.items())]
        return {"host": resources}

    @microversions.versioned(max_version=_MAX)
    @validation.schema(_update)
    def update(self, req: Request, id: str, body: dict) -> dict:
        """Enable or disable a host's compute service; maintenance mode is 501."""
        ctx = req.context
        policy.authorize(ctx, HOSTS % "update", {})
        svc = _compute_service(ctx, id)
        if "maintenance_mode" in body:
            raise errors.HTTPError(501, "Virt driver does not implement host maintenance "
                                        "mode.")
        svc.disabled = body["status"].lower() == "disable"
        svc.disabled_reason = None
        svc.save()
        return {"host": id, "status": "disabled" if svc.disabled else "enabled"}

    def _power(self, req: Request, id: str, rule: str) -> dict:
        policy.authorize(req.context, HOSTS % rule, {})
        _compute_service(req.context, id)
        raise errors.HTTPError(501, "Virt driver does not implement host power management.")

    @microversions.versioned(max_version=_MAX)
    def startup(self, req: Request, id: str) -> dict:
        """Power a host on: no novalite driver can (501)."""
        return self._power(req, id, "start")

    @microversions.versioned(max_version=_MAX)
    def shutdown(self, req: Request, id: str) -> dict:
        """Power a host off: no novalite driver can (501)."""
        return self._power(req, id, "shutdown")

    @microversions.versioned(max_version=_MAX)
    def reboot(self, req: Request, id: str) -> dict:
        """Reboot a host: no novalite driver can (501)."""
        return self._power(req, id, "reboot")
