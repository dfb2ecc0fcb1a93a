"""What every Block Storage API resource shares: the microversion of a
request (``OpenStack-API-Version: volume 3.x``, Cinder's negotiation and
answer headers), JSON bodies, the project in the URL, policy, and Cinder's
list parameters (filters, ``sort``/``sort_key``/``sort_dir``, ``limit`` and
``marker`` with a next link, ``with_count``)."""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import webob

from novalite import policy
from novalite.api import errors, wsgi
from novalite.api.wsgi import Request
from novalite.volume import api as volume_api

PREFIX = "/volume"
MIN_VERSION = (3, 0)
# NOTE: 3.67 is the last microversion whose change novalite has (project-less
# URLs); 3.68 (re-image) is not here. Resources Cinder runs as separate
# services (backups, groups, messages, clusters, transfers) are not here at
# any version.
MAX_VERSION = (3, 67)
VERSION_HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Volume-API-Version"
ENVIRON_KEY = "novalite.volume_version"
MAX_PAGE = 1000
_VERSION = re.compile(r"^([1-9]\d*)\.(0|[1-9]\d*)$")


def text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def negotiate(req: Request) -> tuple[int, int]:
    """The request's microversion: 3.0 without a header, the maximum for
    ``latest``; 406 outside MIN..MAX (Cinder's InvalidGlobalAPIVersion)."""
    wanted = None
    header = req.headers.get(VERSION_HEADER)
    if header:
        for part in header.split(","):
            service, _, value = part.strip().partition(" ")
            if service.lower() in ("volume", "block-storage"):
                wanted = value.strip()
    if wanted is None:
        wanted = req.headers.get(LEGACY_HEADER)
    if not wanted:
        return MIN_VERSION
    if wanted.lower() == "latest":
        return MAX_VERSION
    match = _VERSION.match(wanted)
    if match is None:
        raise errors.bad_request(f"API Version String {wanted} is of invalid format. Must be "
                                 "of format MajorNum.MinorNum.")
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise errors.HTTPError(406, f"Version {wanted} is not supported by the API. Minimum "
                                    f"is {text(MIN_VERSION)} and maximum is "
                                    f"{text(MAX_VERSION)}.")
    return version


def version(req: Request) -> tuple[int, int]:
    return tuple(req.environ.get(ENVIRON_KEY, MIN_VERSION))  # type: ignore[return-value]


def _answer_headers(resp: webob.Response, ver: tuple[int, int]) -> webob.Response:
    resp.headers[VERSION_HEADER] = f"volume {text(ver)}"
    resp.headers["Vary"] = VERSION_HEADER
    return resp


class Versioned:
    """A controller whose every action runs at the request's microversion
    and answers with Cinder's version headers (the routes wrap each)."""

    def __init__(self, controller: Any, action: str) -> None:
        inner = getattr(controller, action)

        @functools.wraps(inner)
        def call(req: Request, **kwargs: Any) -> Any:
            ver = negotiate(req)
            req.environ[ENVIRON_KEY] = ver
            _check_project(req, kwargs)
            kwargs.pop("project_id", None)
            result = inner(req, **kwargs)
            if isinstance(result, webob.Response):
                return _answer_headers(result, ver)
            code = getattr(inner, "wsgi_code", 200)
            resp = webob.Response(status=code) if result is None else \
                wsgi.json_response(result, code)
            return _answer_headers(resp, ver)

        setattr(self, action, call)


def _check_project(req: Request, kwargs: dict[str, Any]) -> None:
    """A project in the URL must be the caller's (Cinder: 400 "Malformed
    request url"), an admin's any."""
    project = kwargs.get("project_id")
    if project is not None and project != req.context.project_id and \
            not volume_api.is_admin(req.context):
        raise errors.bad_request("Malformed request url")


# -- bodies, policy --------------------------------------------------------------------

def body_of(req: Request, key: str | None = None) -> Any:
    try:
        data = json.loads(req.body or b"null")
    except ValueError:
        raise errors.bad_request("Malformed request body") from None
    if key is None:
        return data
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise errors.bad_request(f"Missing required element '{key}' in request body.")
    return dict(data[key])


def authorize(req: Request, rule: str, project_id: str | None = None) -> None:
    policy.authorize(req.context, rule,
                     {"project_id": project_id or req.context.project_id,
                      "user_id": req.context.user_id})


def is_admin(req: Request) -> bool:
    return volume_api.is_admin(req.context)


def all_projects(req: Request) -> bool:
    value = req.GET.get("all_tenants") or req.GET.get("all_projects")
    return bool(value) and value.lower() in ("1", "true", "yes", "t", "on") and is_admin(req)


def as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text_value = str(value).strip().lower()
    if text_value in ("1", "true", "yes", "t", "y", "on"):
        return True
    if text_value in ("0", "false", "no", "f", "n", "off"):
        return False
    raise errors.bad_request(f"Invalid input received: {name} must be a boolean, not "
                             f"{value!r}")


def as_int(name: str, value: Any, low: int = 0, high: int = 2 ** 31 - 1) -> int:
    try:
        number = int(value)
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
    except (TypeError, ValueError):
        raise errors.bad_request(f"Invalid input received: {name} must be an integer, not "
                                 f"{value!r}.") from None
    if not low <= number <= high:
        raise errors.bad_request(f"Invalid input received: {name} must be >= {low} and "
                                 f"<= {high}, not {number}.")
    return number


def as_text(name: str, value: Any, limit: int = 255) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.bad_request(f"Invalid input received: {name} must be a string.")
    if len(value) > limit:
        raise errors.bad_request(f"Invalid input received: {name} has more than {limit} "
                                 "characters.")
    return value


def as_metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and 0 < len(k) <= 255 and isinstance(v, str) and len(v) <= 255
            for k, v in value.items()):
        raise errors.bad_request("Invalid input received: metadata must be an object of "
                                 "strings (keys 1-255 characters, values up to 255).")
    return dict(value)


# -- lists -------------------------------------------------------------------------------

def _sort_spec(req: Request, default: str = "created_at") -> list[tuple[str, str]]:
    spec: list[tuple[str, str]] = []
    sort = req.GET.get("sort")
    if sort:
        for part in sort.split(","):
            key, _, direction = part.strip().partition(":")
            spec.append((key.strip(), (direction or "desc").strip().lower()))
    else:
        keys = [k for k in (req.GET.get("sort_key") or "").split(",") if k]
        dirs = [d for d in (req.GET.get("sort_dir") or "").split(",") if d]
        for i, key in enumerate(keys or [default]):
            spec.append((key, (dirs[i] if i < len(dirs) else dirs[-1] if dirs
                               else "desc").lower()))
    for _key, direction in spec:
        if direction not in ("asc", "desc"):
            raise errors.bad_request(f"Invalid input received: Invalid sort direction "
                                     f"'{direction}'")
    return spec


def paginate(req: Request, items: list[dict], collection: str, path: str,
             sort_keys: tuple[str, ...], key_of: Callable[[dict, str], Any]) -> dict[str, Any]:
    """Cinder's list answer: sorted (default created_at desc, then id),
    ``marker``/``limit`` with a ``<collection>_links`` next link, ``count``
    (3.45 ``with_count``) of everything the filters matched."""
    spec = _sort_spec(req)
    for key, _direction in spec:
        if key not in sort_keys:
            raise errors.bad_request(f"Invalid input received: Invalid sort key {key}")
    if not any(k == "id" for k, _ in spec):
        spec.append(("id", spec[-1][1] if spec else "desc"))
    def order(key: str) -> Callable[[dict], tuple[bool, str]]:
        return lambda item: (key_of(item, key) is not None, str(key_of(item, key) or ""))

    for key, direction in reversed(spec):
        items = sorted(items, key=order(key), reverse=direction == "desc")
    total = len(items)
    marker = req.GET.get("marker")
    if marker:
        ids = [i["id"] for i in items]
        if marker not in ids:
            raise errors.HTTPError(404, f"Marker {marker} could not be found.")
        items = items[ids.index(marker) + 1:]
    out: dict[str, Any] = {}
    limit_text = req.GET.get("limit")
    # NOTE: Cinder's osapi_max_limit: a page has at most MAX_PAGE items,
    # whatever limit asked for, and a next link when more match.
    limit = MAX_PAGE if limit_text is None else min(as_int("limit", limit_text), MAX_PAGE)
    if limit < len(items):
        items = items[:limit]
        if items:
            query = [(k, v) for k, v in req.GET.items() if k != "marker"]
            query.append(("marker", items[-1]["id"]))
            href = f"{req.links.root}{path}?{urllib.parse.urlencode(query)}"
            out[f"{collection}_links"] = [{"rel": "next", "href": href}]
    out[collection] = items
    if version(req) >= (3, 45) and req.GET.get("with_count") and \
            as_bool("with_count", req.GET["with_count"]):
        out["count"] = total
    return out


def resource_links(req: Request, collection: str, item_id: str) -> list[dict[str, str]]:
    root = f"{req.links.root}{PREFIX}"
    project = req.context.project_id
    return [{"rel": "self", "href": f"{root}/v3/{project}/{collection}/{item_id}"},
            {"rel": "bookmark", "href": f"{root}/{project}/{collection}/{item_id}"}]
