"""The /limits view as Nova's v2.1 shows it: absolute limits and usage, no rate limits."""

from __future__ import annotations

from typing import Any

# NOTE: Nova's names for each quota resource; metadata_items limits both
# server and image metadata.
_LIMIT_NAMES = {
    "ram": ("maxTotalRAMSize",),
    "instances": ("maxTotalInstances",),
    "cores": ("maxTotalCores",),
    "key_pairs": ("maxTotalKeypairs",),
    "floating_ips": ("maxTotalFloatingIps",),
    "metadata_items": ("maxServerMeta", "maxImageMeta"),
    "injected_files": ("maxPersonality",),
    "injected_file_content_bytes": ("maxPersonalitySize",),
    "security_groups": ("maxSecurityGroups",),
    "security_group_rules": ("maxSecurityGroupRules",),
    "server_groups": ("maxServerGroups",),
    "server_group_members": ("maxServerGroupMembers",),
}
_USED_NAMES = {
    "totalRAMUsed": "ram",
    "totalCoresUsed": "cores",
    "totalInstancesUsed": "instances",
    "totalFloatingIpsUsed": "floating_ips",
    "totalSecurityGroupsUsed": "security_groups",
    "totalServerGroupsUsed": "server_groups",
}


# NOTE: what 2.36 (network), 2.39 (image metadata) and 2.57 (personality)
# took out of the absolute limits.
_GONE = (("2.36", ("maxSecurityGroups", "maxSecurityGroupRules", "maxTotalFloatingIps",
                   "totalFloatingIpsUsed", "totalSecurityGroupsUsed")),
         ("2.39", ("maxImageMeta",)),
         ("2.57", ("maxPersonality", "maxPersonalitySize")))


def limits(quotas: dict[str, int], usages: dict[str, int], version: Any = None) -> dict:
    absolute: dict[str, int] = {}
    for resource, names in _LIMIT_NAMES.items():
        for name in names:
            absolute[name] = quotas[resource]
    for name, resource in _USED_NAMES.items():
        absolute[name] = usages.get(resource, 0)
    for since, names in _GONE:
        if version is not None and version.at_least(since):
            for name in names:
                absolute.pop(name, None)
    return {"limits": {"absolute": dict(sorted(absolute.items())), "rate": []}}
