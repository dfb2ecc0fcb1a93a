"""Quota set request bodies (Nova 2.1) and the answers' shapes."""

from __future__ import annotations

from novalite import quota
from novalite.api.schemas import types

MAX_INT = 0x7FFFFFFF

common_quota = {"type": ["integer", "string"], "pattern": "^-?[0-9]+$",
                "minimum": -1, "maximum": MAX_INT}

# NOTE: Nova 2.1 takes nova-network's "networks" too (and refuses it later).
update = {
    "type": "object",
    "properties": {
        "quota_set": {
            "type": "object",
            "properties": {**{name: common_quota for name in quota.RESOURCES},
                           "networks": common_quota, "force": types.boolean},
            "additionalProperties": False,
        },
    },
    "required": ["quota_set"],
    "additionalProperties": False,
}



def _without(base: dict, names: tuple[str, ...]) -> dict:
    import copy

    schema = copy.deepcopy(base)
    for name in names:
        schema["properties"]["quota_set"]["properties"].pop(name, None)
    return schema


_NETWORK = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules", "networks")
_INJECTED = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")
update_v236 = _without(update, _NETWORK)
update_v257 = _without(update_v236, _INJECTED)
UPDATE_VERSIONS: list[tuple[str, str | None, dict]] = [
    ("2.1", "2.35", update), ("2.36", "2.56", update_v236), ("2.57", None, update_v257)]

_INT = {"type": "integer"}
_DETAIL = {"type": "object", "properties": {"in_use": _INT, "limit": _INT, "reserved": _INT},
           "required": ["in_use", "limit", "reserved"], "additionalProperties": False}


def _quota_set(value: dict, with_id: bool) -> dict:
    props = {name: value for name in quota.RESOURCES}
    if with_id:
        props["id"] = {"type": "string"}
    return {"type": "object", "properties": {"quota_set": {
        "type": "object", "properties": props, "required": list(props),
        "additionalProperties": False}}, "required": ["quota_set"], "additionalProperties": False}


show_response = _quota_set(_INT, with_id=True)
update_response = _quota_set(_INT, with_id=False)
detail_response = _quota_set(_DETAIL, with_id=True)

_ABSOLUTE = ("maxImageMeta", "maxPersonality", "maxPersonalitySize", "maxSecurityGroupRules",
             "maxSecurityGroups", "maxServerGroupMembers", "maxServerGroups", "maxServerMeta",
             "maxTotalCores", "maxTotalFloatingIps", "maxTotalInstances", "maxTotalKeypairs",
             "maxTotalRAMSize", "totalCoresUsed", "totalFloatingIpsUsed",
             "totalInstancesUsed", "totalRAMUsed", "totalSecurityGroupsUsed",
             "totalServerGroupsUsed")
limits_response = {
    "type": "object",
    "properties": {"limits": {
        "type": "object",
        "properties": {
            "absolute": {"type": "object", "properties": {k: _INT for k in _ABSOLUTE},
                         "required": list(_ABSOLUTE), "additionalProperties": False},
            "rate": {"type": "array", "maxItems": 0},
        },
        "required": ["absolute", "rate"],
        "additionalProperties": False,
    }},
    "required": ["limits"],
    "additionalProperties": False,
}
