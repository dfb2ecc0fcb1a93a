"""Shapes of the os-services, os-hypervisors, os-availability-zone and
os-aggregates answers at Nova 2.1 (exactly these keys)."""

from __future__ import annotations

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NSTR = {"type": ["string", "null"]}


def _obj(props: dict, optional: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "properties": props,
            "required": [k for k in props if k not in optional], "additionalProperties": False}


def _list_of(key: str, item: dict) -> dict:
    return _obj({key: {"type": "array", "items": item}})


service = _obj({"id": _INT, "binary": _STR, "host": _STR, "zone": _STR,
                "status": {"enum": ["enabled", "disabled"]}, "state": {"enum": ["up", "down"]},
                "updated_at": _NSTR, "disabled_reason": _NSTR})
services_response = _list_of("services", service)
service_update_response = _obj({"service": _obj(
    {"host": _STR, "binary": _STR, "status": {"enum": ["enabled", "disabled"]},
     "disabled_reason": _STR}, optional=("disabled_reason",))})

_HYPERVISOR = {"id": _INT, "hypervisor_hostname": _STR,
               "state": {"enum": ["up", "down"]}, "status": {"enum": ["enabled", "disabled"]}}
hypervisor = _obj(_HYPERVISOR)
hypervisor_detail = _obj({
    **_HYPERVISOR, "vcpus": _INT, "memory_mb": _INT, "local_gb": _INT, "vcpus_used": _INT,
    "memory_mb_used": _INT, "local_gb_used": _INT, "free_ram_mb": _INT, "free_disk_gb": _INT,
    "running_vms": _INT, "current_workload": _INT, "disk_available_least": _INT,
    "hypervisor_type": _STR, "hypervisor_version": _INT, "host_ip": _NSTR, "cpu_info": _STR,
    "service": _obj({"id": {"type": ["integer", "null"]}, "host": _STR,
                     "disabled_reason": _NSTR})})
hypervisors_response = _list_of("hypervisors", hypervisor)
hypervisors_detail_response = _list_of("hypervisors", hypervisor_detail)
hypervisor_response = _obj({"hypervisor": hypervisor_detail})
hypervisor_servers_response = _list_of("hypervisors", _obj(
    {**_HYPERVISOR, "servers": {"type": "array", "items": _obj({"name": _STR, "uuid": _STR})}},
    optional=("servers",)))
statistics_response = _obj({"hypervisor_statistics": _obj({k: _INT for k in (
    "count", "vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used",
    "local_gb_used", "free_ram_mb", "free_disk_gb", "current_workload", "running_vms",
    "disk_available_least")})})

_zone_service = _obj({"available": {"type": "boolean"}, "active": {"type": "boolean"},
                      "updated_at": _NSTR})
availability_zones_response = _list_of("availabilityZoneInfo", _obj({
    "zoneName": _STR, "zoneState": _obj({"available": {"type": "boolean"}}),
    "hosts": {"type": ["object", "null"], "additionalProperties": {
        "type": "object", "additionalProperties": _zone_service}}}))

aggregates_response = _list_of("aggregates", {"type": "object"})
