"""/os-simple-tenant-usage: what each project's servers used over a period,
as Nova computes it.

A server counts for the hours it was up within [start, end): from the later
of its launch and ``start`` to the earlier of its termination and ``end``
(``end`` is never later than now); a server never launched counts nothing.
Totals multiply those hours by the flavor's vCPUs, RAM (MiB) and local
disk (root + ephemeral GiB). Deleted servers count for the time they lived.
From 2.40 the servers are paged (``limit``, ``marker``: a server's uuid)
and a full page links to the next.
"""

from __future__ import annotations

import datetime
from typing import Any

from oslo_utils import timeutils

from novalite import policy
from novalite.api import common, errors, microversions, validation
from novalite.api.wsgi import Request
from novalite.objects.instance import Instance, InstanceList
from novalite.policies.simple_tenant_usage import USAGE

V240 = microversions.APIVersion(2, 40)
V275 = microversions.APIVersion(2, 75)
_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")
PATH = "os-simple-tenant-usage"


def _naive(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def _text(value: datetime.datetime | None) -> str | None:
    return _naive(value).isoformat() if value is not None else None


def parse_time(name: str, text: str | None) -> datetime.datetime:
    """A period bound: now when absent, else one of Nova's three formats."""
    if not text:
        return _naive(timeutils.utcnow())
    for fmt in _FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise errors.bad_request(f"Invalid {name} time {text!r}: datetime is in invalid format "
                             "(expected e.g. 2026-12-01T00:00:00 or 2026-12-01T00:00:00.000000)")


def period(req: Request) -> tuple[datetime.datetime, datetime.datetime]:
    start = parse_time("start", req.GET.get("start"))
    end = parse_time("end", req.GET.get("end"))
    if not start < end:
        raise errors.bad_request("Invalid start time. The start time cannot occur after "
                                 "the end time.")
    return start, min(end, _naive(timeutils.utcnow()))


def hours(instance: Instance, start: datetime.datetime, end: datetime.datetime) -> float:
    launched = _naive(instance.launched_at) if instance.launched_at else None
    terminated = _naive(instance.terminated_at) if instance.terminated_at else None
    if launched is None or launched > end or (terminated and terminated < start):
        return 0.0
    stop = min(end, terminated) if terminated else end
    return max((stop - max(launched, start)).total_seconds(), 0.0) / 3600.0


def server_usage(instance: Instance, start: datetime.datetime,
                 end: datetime.datetime) -> dict[str, Any]:
    flavor = instance.flavor
    used = hours(instance, start, end)
    launched = _naive(instance.launched_at)
    ended = _naive(instance.terminated_at) if instance.terminated_at else None
    uptime = (ended or _naive(timeutils.utcnow())) - launched
    return {
        "instance_id": instance.uuid, "name": instance.display_name, "hours": used,
        "flavor": flavor.name or "", "memory_mb": int(flavor.memory_mb),
        "local_gb": int(flavor.root_gb) + int(flavor.ephemeral_gb or 0),
        "vcpus": int(flavor.vcpus), "tenant_id": instance.project_id,
        "started_at": _text(launched), "ended_at": _text(ended),
        "state": "terminated" if ended else instance.vm_state,
        "uptime": int(uptime.total_seconds()),
    }


def active(ctx: Any, start: datetime.datetime, end: datetime.datetime,
           project_id: str | None, limit: int | None, marker: str | None) -> list[Instance]:
    """Servers up at some time in [start, end), deleted ones too, oldest first."""
    filters: dict[str, Any] = {"deleted": True}
    if project_id is not None:
        filters["project_id"] = project_id
    found = [i for i in InstanceList.get_by_filters(ctx, filters, sort_key="id", sort_dir="asc")
             if i.launched_at is not None and _naive(i.launched_at) < end
             and (i.terminated_at is None or _naive(i.terminated_at) > start)]
    if marker is not None:
        index = next((n for n, i in enumerate(found) if i.uuid == marker), None)
        if index is None:
            raise errors.bad_request(f"marker [{marker}] not found")
        found = found[index + 1:]
    return found[:limit] if limit is not None else found


def summaries(instances: list[Instance], start: datetime.datetime, end: datetime.datetime,
              detailed: bool) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for inst in instances:
        info = server_usage(inst, start, end)
        summary = out.setdefault(inst.project_id, {
            "tenant_id": inst.project_id, "total_local_gb_usage": 0.0,
            "total_vcpus_usage": 0.0, "total_memory_mb_usage": 0.0, "total_hours": 0.0,
            "start": _text(start), "stop": _text(end),
            **({"server_usages": []} if detailed else {})})
        summary["total_local_gb_usage"] += info["local_gb"] * info["hours"]
        summary["total_vcpus_usage"] += info["vcpus"] * info["hours"]
        summary["total_memory_mb_usage"] += info["memory_mb"] * info["hours"]
        summary["total_hours"] += info["hours"]
        if detailed:
            summary["server_usages"].append(info)
    return list(out.values())


class SimpleTenantUsageController:
    @staticmethod
    def _page(req: Request) -> tuple[int | None, str | None]:
        if req.api_version < V240:
            return None, None
        limit, marker = common.limit_and_marker(req.GET)
        return limit, marker

    @staticmethod
    def _check_params(req: Request, known: tuple[str, ...]) -> None:
        """From 2.75 an unknown query parameter is a 400, as Nova's."""
        if req.api_version < V275:
            return
        for name in req.GET:
            if name not in known and name not in ("limit", "marker"):
                raise errors.bad_request(
                    f"Invalid input for query parameters {name}. Value: "
                    f"{req.GET.get(name)}. Additional properties are not allowed "
                    f"('{name}' was unexpected)")

    def _usages(self, req: Request, project_id: str | None, detailed: bool,
                link_key: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        self._check_params(req, ("start", "end") if project_id is not None
                           else ("start", "end", "detailed"))
        start, end = period(req)
        limit, marker = self._page(req)
        instances = active(req.context, start, end, project_id, limit, marker)
        links: dict[str, Any] = {}
        if limit is not None and instances and len(instances) == limit:
            path = PATH if project_id is None else f"{PATH}/{project_id}"
            links[link_key] = [req.links.next_link(path, req.GET.items(), instances[-1].uuid)]
        return summaries(instances, start, end, detailed), links

    @validation.own_query_check
    def index(self, req: Request) -> dict:
        """Every project's usage (admins); per server with ``detailed=1``."""
        policy.authorize(req.context, USAGE % "list", {})
        detailed = req.GET.get("detailed", "0") == "1"
        usages, links = self._usages(req, None, detailed, "tenant_usages_links")
        return {"tenant_usages": usages, **links}

    @validation.own_query_check
    def show(self, req: Request, id: str) -> dict:
        """One project's usage, per server (``{}`` when it used nothing)."""
        policy.authorize(req.context, USAGE % "show", {"project_id": id})
        usages, links = self._usages(req, id, True, "tenant_usage_links")
        return {"tenant_usage": usages[0] if usages else {}, **links}
