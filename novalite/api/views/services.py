"""os-services and os-hypervisors views as Nova's v2.1 shows them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from novalite.api.views.common import naive_isotime
from novalite.conf import CONF

COMPUTE_BINARY = "novalite-compute"

# NOTE: the API shows Nova's binary names, as every Nova client and script
# expects (tempest looks the compute up with binary=nova-compute); inside,
# the services keep their own names (processes, service records, RPC).
_API_BINARY = {"novalite-compute": "nova-compute", "novalite-conductor": "nova-conductor",
               "novalite-scheduler": "nova-scheduler"}
_INTERNAL_BINARY = {v: k for k, v in _API_BINARY.items()}
API_COMPUTE_BINARY = _API_BINARY[COMPUTE_BINARY]


def compute_services(services: Any) -> list[Any]:
    """The services the Compute API shows: Nova's own. Others that keep a
    service record (novalite-volume, as Cinder's services are Cinder's)
    are not Compute services."""
    return [s for s in services if s.binary in _API_BINARY]


def api_binary(binary: str) -> str:
    """The name the API shows for a service's binary (Nova's)."""
    return _API_BINARY.get(binary, binary)


def internal_binary(binary: str) -> str:
    """The service record's binary for a name a request gave: Nova's name
    or the internal one."""
    return _INTERNAL_BINARY.get(binary, binary)

# NOTE: from 2.53 services and hypervisors are known by uuid, never by
# database id. novalite derives each uuid from what identifies the row
# (a name-based uuid: stable, and it says nothing usable about the id).
_NAMESPACE = uuid.UUID("0d0b8a4e-5f44-4f0e-9a52-6e6f76616c69")


def service_uuid(svc: Any) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"service:{svc.binary}:{svc.host}:{svc.id}"))


def node_uuid(node: Any) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"node:{node.host}:{node.hypervisor_hostname}:"
                                      f"{node.id}"))


def zone(svc: Any) -> str:
    # NOTE: as in Nova, only compute services belong to an availability zone.
    if svc.binary != COMPUTE_BINARY:
        return "internal"
    return svc.availability_zone or CONF.default_availability_zone


def service(svc: Any, is_up: bool, version: Any = None) -> dict:
    """Nova's service: ``forced_down`` from 2.11, a uuid ``id`` from 2.53."""
    at = version.at_least if version is not None else (lambda _v: False)
    out = {
        "id": service_uuid(svc) if at("2.53") else svc.id,
        "binary": api_binary(svc.binary),
        "host": svc.host,
        "zone": zone(svc),
        "status": "disabled" if svc.disabled else "enabled",
        "state": "up" if is_up else "down",
        "updated_at": naive_isotime(svc.last_seen_up or svc.updated_at or svc.created_at),
        "disabled_reason": svc.disabled_reason,
    }
    if at("2.11"):
        out["forced_down"] = bool(svc.forced_down)
    return out


def _state(svc: Any | None, is_up: bool) -> dict:
    return {"state": "up" if svc is not None and is_up else "down",
            "status": "disabled" if svc is None or svc.disabled else "enabled"}


def hypervisor(node: Any, svc: Any | None, is_up: bool, version: Any = None) -> dict:
    uuids = version is not None and version.at_least("2.53")
    return {"id": node_uuid(node) if uuids else node.id,
            "hypervisor_hostname": node.hypervisor_hostname, **_state(svc, is_up)}


# NOTE: what 2.88 took out of a hypervisor's detail.
_STATS_288 = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used",
              "local_gb_used", "free_ram_mb", "free_disk_gb", "running_vms",
              "current_workload", "disk_available_least", "cpu_info")


def hypervisor_detail(node: Any, svc: Any | None, is_up: bool, version: Any = None) -> dict:
    """Nova's hypervisor detail: ``cpu_info`` an object from 2.28, uuids
    from 2.53, no statistics but ``uptime`` from 2.88."""
    at = version.at_least if version is not None else (lambda _v: False)
    out = hypervisor(node, svc, is_up, version)
    cpu_info = {"hypervisor": node.hypervisor_description} \
        if node.hypervisor_description else {}
    out.update({
        "vcpus": node.vcpus,
        "memory_mb": node.memory_mb,
        "local_gb": node.local_gb,
        "vcpus_used": node.vcpus_used,
        "memory_mb_used": node.memory_mb_used,
        "local_gb_used": node.local_gb_used,
        "free_ram_mb": node.memory_mb - node.memory_mb_used,
        "free_disk_gb": node.local_gb - node.local_gb_used,
        "running_vms": node.running_vms,
        "current_workload": 0,
        "disk_available_least": node.local_gb - node.local_gb_used,
        "hypervisor_type": node.hypervisor_type,
        "hypervisor_version": node.hypervisor_version,
        "host_ip": node.host_ip,
        # NOTE: Nova's free-form cpu_info carries which accelerator runs the
        # guests (KVM or TCG), so the hypervisor detail says it.
        "cpu_info": cpu_info if at("2.28") else json.dumps(cpu_info),
        "service": {"id": _service_id(svc, at("2.53")), "host": node.host,
                    "disabled_reason": svc.disabled_reason if svc is not None else None},
    })
    if at("2.88"):
        for key in _STATS_288:
            out.pop(key)
        # NOTE: null in lists, as Nova; show asks the host (HypervisorsController).
        out["uptime"] = None
    return out


def _service_id(svc: Any | None, uuids: bool) -> Any:
    if svc is None:
        return None
    return service_uuid(svc) if uuids else svc.id
