"""os-services and os-hypervisors views as Nova's v2.1 shows them."""

from __future__ import annotations

import json
from typing import Any

from novalite.api.views.common import naive_isotime
from novalite.conf import CONF

COMPUTE_BINARY = "novalite-compute"


def zone(svc: Any) -> str:
    # NOTE: as in Nova, only compute services belong to an availability zone.
    if svc.binary != COMPUTE_BINARY:
        return "internal"
    return svc.availability_zone or CONF.default_availability_zone


def service(svc: Any, is_up: bool) -> dict:
    # NOTE: forced_down appears at 2.11; 2.1 has these fields only.
    return {
        "id": svc.id,
        "binary": svc.binary,
        "host": svc.host,
        "zone": zone(svc),
        "status": "disabled" if svc.disabled else "enabled",
        "state": "up" if is_up else "down",
        "updated_at": naive_isotime(svc.last_seen_up or svc.updated_at or svc.created_at),
        "disabled_reason": svc.disabled_reason,
    }


def _state(svc: Any | None, is_up: bool) -> dict:
    return {"state": "up" if svc is not None and is_up else "down",
            "status": "disabled" if svc is None or svc.disabled else "enabled"}


def hypervisor(node: Any, svc: Any | None, is_up: bool) -> dict:
    return {"id": node.id, "hypervisor_hostname": node.hypervisor_hostname,
            **_state(svc, is_up)}


def hypervisor_detail(node: Any, svc: Any | None, is_up: bool) -> dict:
    out = hypervisor(node, svc, is_up)
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
        "cpu_info": json.dumps({"hypervisor": node.hypervisor_description}
                               if node.hypervisor_description else {}),
        "service": {"id": svc.id if svc is not None else None, "host": node.host,
                    "disabled_reason": svc.disabled_reason if svc is not None else None},
    })
    return out
