"""/flavors: list, detail, show, and (admins) create and delete.

NOTE: flavors are read and written through the Flavor objects, which run
their queries in the API's own database (as Nova reads its API database).
"""

from __future__ import annotations

from typing import Any

from oslo_utils import strutils, uuidutils

from novalite import exception, policy
from novalite.api import common, errors, microversions, validation, wsgi
from novalite.api.schemas import flavors as schemas
from novalite.api.views import flavors as views
from novalite.api.wsgi import Request
from novalite.objects.flavor import Flavor, FlavorList
from novalite.policies.flavors import EXTRA_SPECS, MANAGE


def get_flavor(ctx: Any, flavorid: str) -> Flavor:
    """A flavor the caller may see: admins any, others the public ones and
    those on their project's access list; FlavorNotFound (404) otherwise."""
    flavor = Flavor.get_by_flavor_id(ctx, flavorid)
    if not (flavor.is_public or ctx.is_admin or flavor.has_access(ctx.project_id)):
        raise exception.FlavorNotFound(flavor_id=flavorid)
    return flavor


class FlavorsController:
    @validation.query_schema(schemas.list_query)
    @validation.strict_query("2.75")
    @validation.response_schema(schemas.index_response)
    def index(self, req: Request) -> dict:
        """List flavors (id, name, links)."""
        return self._list(req, views.basic, "flavors")

    @validation.query_schema(schemas.list_query)
    @validation.strict_query("2.75")
    @validation.response_schema(schemas.detail_response)
    def detail(self, req: Request) -> dict:
        """List flavors with their details."""
        return self._list(req, views.detail, "flavors/detail")

    @validation.response_schema(schemas.show_response)
    def show(self, req: Request, id: str) -> dict:
        """Show a flavor."""
        return {"flavor": views.detail(get_flavor(req.context, id), req.links,
                                       _options(req))}

    @validation.versioned_schemas(schemas.CREATE_VERSIONS)
    @validation.response_schema(schemas.show_response)
    def create(self, req: Request, body: dict) -> dict:
        """Create a flavor (Nova 2.1 answers 200)."""
        ctx = req.context
        policy.authorize(ctx, MANAGE % "create", {})
        flavor = Flavor(context=ctx, **_flavor_values(body["flavor"]))
        flavor.create()
        return {"flavor": views.detail(flavor, req.links, _options(req))}

    @microversions.versioned("2.55")
    @validation.schema(schemas.update)
    @validation.response_schema(schemas.show_response)
    def update(self, req: Request, id: str, body: dict) -> dict:
        """Change a flavor's description (2.55)."""
        ctx = req.context
        policy.authorize(ctx, MANAGE % "update", {})
        flavor = Flavor.get_by_flavor_id(ctx, id)
        flavor.save_description(body["flavor"]["description"])
        return {"flavor": views.detail(flavor, req.links, _options(req))}

    @wsgi.response(202)
    def delete(self, req: Request, id: str) -> None:
        """Delete a flavor (servers built with it keep their copy)."""
        policy.authorize(req.context, MANAGE % "delete", {})
        Flavor(context=req.context, flavorid=id).destroy()

    def _list(self, req: Request, view: Any, path: str) -> dict:
        ctx = req.context
        params = req.query
        limit, marker = common.limit_and_marker(req.GET)
        filters = _filters(req.GET, ctx.is_admin, ctx.project_id)
        _check_v2102(req, filters)
        try:
            flavors = list(FlavorList.get_all(
                ctx, filters, limit=limit,
                marker=marker, sort_key=params.get("sort_key", "flavorid"),
                sort_dir=params.get("sort_dir", "asc")))
        except exception.MarkerNotFound:
            raise common.marker_not_found(str(marker)) from None
        options = _options(req)
        body: dict = {"flavors": [view(f, req.links, options) for f in flavors]}
        if flavors and len(flavors) == limit:
            body["flavors_links"] = [req.links.next_link(path, req.GET.items(),
                                                         flavors[-1].flavorid)]
        return body


def _check_v2102(req: Request, filters: dict) -> None:
    """2.102: the ``name`` filter (a regular expression, as Nova's), and no
    rxtx_factor sort key. From 2.75 to 2.101 ``name`` is an unknown
    parameter (400); before it is ignored (Nova's schema strips it)."""
    version = req.api_version
    if version.at_least("2.102"):
        if req.GET.get("sort_key") == "rxtx_factor":
            raise validation.query_error(
                "sort_key", "rxtx_factor",
                f"'rxtx_factor' is not one of {list(schemas.SORT_KEYS_V2102)}")
        if "name" in req.GET:
            filters["name"] = _name_regex(req.GET.getall("name")[-1])
    elif version.at_least("2.75") and "name" in req.GET:
        raise validation.query_error("name", req.GET.get("name"),
                                     "Additional properties are not allowed ('name' was "
                                     "unexpected)")


def _name_regex(value: str) -> str:
    import re

    try:
        re.compile(value)
    except re.error as e:
        raise validation.query_error("name", value, f"'{value}' is not a 'regex' ({e})") \
            from None
    return value


def _options(req: Request) -> views.Options:
    version = req.api_version
    return views.Options(version, version.at_least("2.61") and policy.authorize(
        req.context, EXTRA_SPECS % "index", {"project_id": req.context.project_id},
        do_raise=False))


def _filters(params: Any, is_admin: bool, project_id: str | None) -> dict:
    """Nova's flavor list filters: admins choose public/private/all (and
    see disabled flavors); others see the enabled public ones. "Public"
    includes the private flavors the caller's project has access to."""
    filters: dict[str, Any] = {"project_id": project_id}
    if is_admin:
        filters["is_public"] = _is_public(params.get("is_public"))
    else:
        filters["is_public"] = True
        filters["disabled"] = False
    for param, key in (("minRam", "min_memory_mb"), ("minDisk", "min_root_gb")):
        if param in params:
            try:
                filters[key] = int(params[param])
            except ValueError:
                raise errors.bad_request(f"Invalid {param} filter [{params[param]}]") from None
    return filters


def _is_public(value: str | None) -> bool | None:
    """Nova's ``_parse_is_public``: absent → public only; ``none`` → all;
    otherwise a boolean."""
    if value is None:
        return True
    if value.lower() == "none":
        return None
    try:
        return strutils.bool_from_string(value, strict=True)
    except ValueError:
        raise errors.bad_request(f"Invalid is_public filter [{value}]") from None


def _bounded_int(name: str, value: Any, minimum: int) -> int:
    # NOTE: the schema takes digit strings too (even ""); they are checked here.
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise errors.bad_request(f"Invalid input for field/attribute {name}. Value: {value}. "
                                 f"{name} must be an integer") from None
    if number < minimum:
        raise errors.bad_request(f"Invalid input for field/attribute {name}. Value: {value}. "
                                 f"{value} is less than the minimum of {minimum}")
    if number > schemas.MAX_INT:
        raise errors.bad_request(f"Invalid input for field/attribute {name}. Value: {value}. "
                                 f"{value} is greater than the maximum of {schemas.MAX_INT}")
    return number


def _flavor_values(spec: dict) -> dict:
    flavorid = spec.get("id")
    try:
        rxtx = float(spec.get("rxtx_factor", 1.0))
    except ValueError:
        rxtx = 0.0
    if not 0 < rxtx <= schemas.SQL_SP_FLOAT_MAX:
        raise errors.bad_request(f"Invalid input for field/attribute rxtx_factor. Value: "
                                 f"{spec['rxtx_factor']}. rxtx_factor must be > 0")
    return {
        "flavorid": uuidutils.generate_uuid() if flavorid is None else str(flavorid),
        "name": spec["name"],
        "memory_mb": _bounded_int("ram", spec["ram"], 1),
        "vcpus": _bounded_int("vcpus", spec["vcpus"], 1),
        "root_gb": _bounded_int("disk", spec["disk"], 0),
        "ephemeral_gb": _bounded_int("OS-FLV-EXT-DATA:ephemeral",
                                     spec.get("OS-FLV-EXT-DATA:ephemeral", 0), 0),
        "swap": _bounded_int("swap", spec.get("swap", 0), 0),
        "rxtx_factor": rxtx,
        "is_public": strutils.bool_from_string(spec.get("os-flavor-access:is_public", True),
                                               strict=True),
        "extra_specs": {},
        "description": spec.get("description"),
    }
