"""What every Network API resource shares, as Neutron's API layer does:
request bodies checked attribute by attribute (unknown ones 400, read-only
ones 400 on update, admin-only ones 403), list filters, ``fields=``,
sorting and pagination, and the owner/admin/shared policy."""

from __future__ import annotations

import datetime
import ipaddress
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from novalite import policy
from novalite.api import errors
from novalite.api.wsgi import Request
from novalite.network import exceptions as n_exc

PAGINATION_KEYS = ("fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse")


def is_admin(req: Request) -> bool:
    return policy.check_is_admin(req.context)


def project_of(req: Request) -> str:
    return str(req.context.project_id or "")


def timestamp(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def bad_request(message: str) -> errors.HTTPError:
    return errors.HTTPError(400, message)


def forbidden(action: str) -> n_exc.PolicyNotAuthorized:
    return n_exc.PolicyNotAuthorized(action=action)


def body_of(req: Request, resource: str) -> dict:
    """The ``{resource: {...}}`` body's inner dict."""
    try:
        data = json.loads(req.body or b"null")
    except ValueError:
        raise bad_request("Malformed request body") from None
    if not isinstance(data, dict) or not isinstance(data.get(resource), dict):
        raise bad_request("Resource body required" if not isinstance(data, dict) or
                          resource not in data else
                          f"Invalid input for {resource}. Reason: it is not a dictionary.")
    return dict(data[resource])


# -- attribute checks ------------------------------------------------------------------

Validator = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Attr:
    validate: Validator
    post: bool = True
    put: bool = True
    admin: bool = False          # setting it needs an admin (403 otherwise)
    default: Any = None          # on create, giving the default needs no admin


def invalid(name: str, value: Any, reason: str) -> n_exc.InvalidInput:
    return n_exc.InvalidInput(error_message=f"Invalid input for {name}. Reason: {reason}")


def v_string(limit: int = 255) -> Validator:
    def check(name: str, value: Any) -> Any:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise invalid(name, value, f"'{value}' is not a valid string.")
        if len(value) > limit:
            raise invalid(name, value, f"'{value}' exceeds maximum length of {limit}.")
        return value
    return check


def v_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "1", "yes", "on", "t", "y"):
        return True
    if text in ("false", "0", "no", "off", "f", "n"):
        return False
    raise invalid(name, value, f"'{value}' cannot be converted to boolean.")


def v_int(lo: int, hi: int) -> Validator:
    def check(name: str, value: Any) -> Any:
        try:
            n = int(value)
        except (TypeError, ValueError):
            raise invalid(name, value, f"'{value}' is not an integer.") from None
        if isinstance(value, bool) or not lo <= n <= hi:
            raise invalid(name, value, f"'{value}' is not in range {lo} through {hi}.")
        return n
    return check


def v_uuid(name: str, value: Any) -> str:
    from oslo_utils import uuidutils

    if not isinstance(value, str) or not uuidutils.is_uuid_like(value):
        raise invalid(name, value, f"'{value}' is not a valid UUID.")
    return value


def v_ip(name: str, value: Any) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except (TypeError, ValueError):
        raise invalid(name, value, f"'{value}' is not a valid IP address.") from None


def v_any(name: str, value: Any) -> Any:
    return value


def v_list_of(item: Validator) -> Validator:
    def check(name: str, value: Any) -> Any:
        if value is None:
            return []
        if not isinstance(value, list):
            raise invalid(name, value, f"'{value}' is not a list.")
        return [item(name, v) for v in value]
    return check


def check_attrs(req: Request, resource: str, body: dict, attrs: dict[str, Attr],
                updating: bool = False) -> dict:
    """The body's attributes, validated: unknown ones 400 (Neutron's
    "Unrecognized attribute(s)"), read-only ones on update 400, admin-only
    ones 403."""
    unknown = [k for k in body if k not in attrs]
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
    out = {}
    for key, value in body.items():
        attr = attrs[key]
        if updating and not attr.put:
            raise bad_request(f"Cannot update read-only attribute {key}")
        if not updating and not attr.post:
            raise bad_request(f"Attribute '{key}' not allowed in POST")
        out[key] = attr.validate(key, value)
        if attr.admin and not is_admin(req) and \
                (updating or attr.default is None or out[key] != attr.default):
            verb = "update" if updating else "create"
            raise forbidden(f"{verb}_{resource}:{key}")
    return out


def owner_of_request(req: Request, values: dict, resource: str) -> str:
    """The project a new resource is for: the caller's, or (an admin only)
    the ``project_id``/``tenant_id`` given."""
    given = values.pop("project_id", None) or values.pop("tenant_id", None)
    values.pop("tenant_id", None)
    own = project_of(req)
    if given and given != own:
        if not is_admin(req):
            raise bad_request("Specifying 'project_id' or 'tenant_id' other than the "
                              "authenticated project in request requires admin privileges")
        return str(given)
    return own


# -- listing ---------------------------------------------------------------------------

def _matches(value: Any, wanted: list[str]) -> bool:
    if isinstance(value, bool):
        return str(value).lower() in [w.lower() for w in wanted]
    if isinstance(value, list):
        return any(str(v) in wanted for v in value)
    if value is None:
        return any(w in ("", "None", "null") for w in wanted)
    return str(value) in wanted


def listing(req: Request, collection: str, items: list[dict],
            special: dict[str, Callable[[dict, list[str]], bool]] | None = None) -> dict:
    """Neutron's list answer: filters (any attribute given in the query,
    repeatable), sort_key/sort_dir, limit/marker with a next link, fields."""
    special = special or {}
    for key in set(req.GET.keys()):
        if key in PAGINATION_KEYS:
            continue
        wanted = req.GET.getall(key)
        if key in special:
            items = [i for i in items if special[key](i, wanted)]
        elif any(key in i for i in items):
            items = [i for i in items if key in i and _matches(i[key], wanted)]
        # NOTE: a filter on no attribute of the resource is ignored, as
        # Neutron does without the filter-validation extension (which
        # novalite does not list; tempest relies on it either way).
    sort_keys = req.GET.getall("sort_key")
    sort_dirs = req.GET.getall("sort_dir")
    if len(sort_dirs) > len(sort_keys):
        raise bad_request("The number of sort_keys and sort_dirs must be same")
    for i, key in reversed(list(enumerate(sort_keys))):
        direction = sort_dirs[i] if i < len(sort_dirs) else "asc"
        if direction not in ("asc", "desc"):
            raise bad_request(f"{direction} is invalid attribute for sort_dir")
        if items and key not in items[0]:
            raise bad_request(f"{key} is invalid attribute for sort_key")
        items = sorted(items, key=lambda x, k=key: (x.get(k) is not None, x.get(k)),
                       reverse=direction == "desc")
    out: dict[str, Any] = {}
    limit_text = req.GET.get("limit")
    if limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError:
            raise bad_request(f"Invalid input for limit. Reason: '{limit_text}' is not an "
                              "integer.") from None
        marker = req.GET.get("marker")
        if marker:
            ids = [i["id"] for i in items]
            if marker in ids:
                items = items[ids.index(marker) + 1:]
        if 0 < limit < len(items):
            items = items[:limit]
            query = [(k, v) for k, v in req.GET.items() if k != "marker"]
            query.append(("marker", items[-1]["id"]))
            href = f"{req.links.root}{req.path_info}?{urllib.parse.urlencode(query)}"
            out[f"{collection}_links"] = [{"rel": "next", "href": href}]
    fields = [f for f in req.GET.getall("fields") if f]
    if fields:
        items = [{k: v for k, v in i.items() if k in fields} for i in items]
    out[collection] = items
    return out


def shown(req: Request, item: dict) -> dict:
    fields = [f for f in req.GET.getall("fields") if f]
    if fields:
        return {k: v for k, v in item.items() if k in fields}
    return item
