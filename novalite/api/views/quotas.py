"""Quota set views as Nova's v2.1 shows them (every resource, in Nova's order)."""

from __future__ import annotations

from novalite import quota


def quota_set(project_id: str | None, limits: dict[str, int]) -> dict:
    out: dict = {"id": project_id} if project_id is not None else {}
    out.update({name: limits[name] for name in quota.RESOURCES})
    return {"quota_set": out}


def detail(project_id: str, limits: dict[str, int], usages: dict[str, int]) -> dict:
    out: dict = {"id": project_id}
    out.update({name: {"in_use": usages.get(name, 0), "limit": limits[name], "reserved": 0}
                for name in quota.RESOURCES})
    return {"quota_set": out}
