"""/flavors: list, detail, show."""

from __future__ import annotations

from typing import Any

from oslo_utils import strutils

from novalite import exception
from novalite.api import common, errors
from novalite.api.views import flavors as views
from novalite.api.wsgi import Request
from novalite.objects.flavor import Flavor, FlavorList


class FlavorsController:
    def index(self, req: Request) -> dict:
        return self._list(req, views.basic)

    def detail(self, req: Request) -> dict:
        return self._list(req, views.detail)

    def show(self, req: Request, id: str) -> dict:
        return {"flavor": views.detail(Flavor.get_by_flavor_id(req.context, id), req.links)}

    def _list(self, req: Request, view: Any) -> dict:
        ctx = req.context
        limit, marker = common.limit_and_marker(req.GET)
        if marker is not None:
            try:
                Flavor.get_by_flavor_id(ctx, marker)
            except exception.FlavorNotFound:
                raise common.marker_not_found(marker) from None
        flavors = list(FlavorList.get_all(ctx, filters=_filters(req.GET, ctx.is_admin),
                                          limit=limit, marker=marker))
        body: dict = {"flavors": [view(f, req.links) for f in flavors]}
        if flavors and len(flavors) == limit:
            path = "flavors/detail" if view is views.detail else "flavors"
            body["flavors_links"] = [req.links.next_link(path, req.GET.items(),
                                                         flavors[-1].flavorid)]
        return body


def _filters(params: Any, is_admin: bool) -> dict:
    filters: dict[str, Any] = {"is_public": _is_public(params.get("is_public"), is_admin)}
    for param, key in (("minRam", "min_memory_mb"), ("minDisk", "min_root_gb")):
        if param in params:
            try:
                filters[key] = int(params[param])
            except ValueError:
                raise errors.bad_request(f"Invalid {param} filter [{params[param]}]") from None
    return filters


def _is_public(value: str | None, is_admin: bool) -> bool | None:
    """Nova's ``_parse_is_public``: absent → public only; ``None`` → all
    (admins); otherwise a boolean."""
    if value is None:
        return True
    if not is_admin:
        # NOTE: others only see public flavors (novalite has no flavor access lists).
        return True
    if value.lower() == "none":
        return None
    try:
        return strutils.bool_from_string(value, strict=True)
    except ValueError:
        raise errors.bad_request(f"Invalid is_public filter [{value}]") from None
