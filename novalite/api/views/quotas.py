"""Quota set views as Nova shows them (every resource, in Nova's order):
from 2.36 without the network resources, from 2.57 without the injected
file ones."""

from __future__ import annotations

from typing import Any

from novalite import quota

NETWORK_RESOURCES = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules",
                     "networks")
INJECTED_FILE_RESOURCES = ("injected_files", "injected_file_content_bytes",
                           "injected_file_path_bytes")


def resources(version: Any = None) -> list[str]:
    """The quota resources a quota set shows at ``version`` (2.1 without one)."""
    hidden: set[str] = set()
    if version is not None and version.at_least("2.36"):
        hidden.update(NETWORK_RESOURCES)
    if version is not None and version.at_least("2.57"):
        hidden.update(INJECTED_FILE_RESOURCES)
    return [name for name in quota.RESOURCES if name not in hidden]


def quota_set(project_id: str | None, limits: dict[str, int], version: Any = None) -> dict:
    out: dict = {"id": project_id} if project_id is not None else {}
    out.update({name: limits[name] for name in resources(version)})
    return {"quota_set": out}


def detail(project_id: str, limits: dict[str, int], usages: dict[str, int],
           version: Any = None) -> dict:
    out: dict = {"id": project_id}
    out.update({name: {"in_use": usages.get(name, 0), "limit": limits[name], "reserved": 0}
                for name in resources(version)})
    return {"quota_set": out}
