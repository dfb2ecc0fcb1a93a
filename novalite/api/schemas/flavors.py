"""Flavor and flavor extra spec request bodies (Nova 2.1), query
parameters, and the answers' shapes."""

from __future__ import annotations

import copy

from novalite.api.schemas import servers as _servers  # noqa: F401 - registers "description"
from novalite.api.schemas import types
from novalite.objects.flavor import SORT_KEYS as FLAVOR_SORT_KEYS

MAX_INT = 0x7FFFFFFF
SQL_SP_FLOAT_MAX = 3.40282e38

_positive = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1,
             "maximum": MAX_INT}
_non_negative = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0,
                 "maximum": MAX_INT}

create: dict = {
    "type": "object",
    "properties": {
        "flavor": {
            "type": "object",
            "properties": {
                "name": types.name,
                # NOTE: no leading or trailing blanks, as Nova's flavor ids.
                "id": {"type": ["string", "number", "null"], "minLength": 1, "maxLength": 255,
                       "pattern": "^(?! )[a-zA-Z0-9. _-]+(?<! )$"},
                "ram": _positive,
                "vcpus": _positive,
                "disk": _non_negative,
                "OS-FLV-EXT-DATA:ephemeral": _non_negative,
                "swap": _non_negative,
                "rxtx_factor": {"type": ["number", "string"], "pattern": r"^[0-9]+(\.[0-9]+)?$",
                                "exclusiveMinimum": 0, "maximum": SQL_SP_FLOAT_MAX},
                "os-flavor-access:is_public": types.boolean,
            },
            "required": ["name", "ram", "vcpus", "disk"],
            "additionalProperties": False,
        },
    },
    "required": ["flavor"],
    "additionalProperties": False,
}

EXTRA_SPEC_KEY = "^[a-zA-Z0-9-_:. ]{1,255}$"
_extra_spec_value = {"type": ["string", "number", "boolean"], "maxLength": 255}
_extra_specs = {"type": "object", "patternProperties": {EXTRA_SPEC_KEY: _extra_spec_value},
                "additionalProperties": False}

extra_specs_create = {
    "type": "object",
    "properties": {"extra_specs": _extra_specs},
    "required": ["extra_specs"],
    "additionalProperties": False,
}
extra_spec_update = {**_extra_specs, "minProperties": 1, "maxProperties": 1}

list_query: dict[str, dict] = {
    "is_public": {"type": "string"},
    "minRam": {"type": "string"},
    "minDisk": {"type": "string"},
    "sort_key": {"type": "string", "enum": list(FLAVOR_SORT_KEYS)},
    "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
    "limit": {"type": "integer", "minimum": 0},
    "marker": {"type": "string"},
    # NOTE: 2.102 (a regular expression searched in the name); refused as
    # unknown from 2.75 to 2.101 and ignored before, as Nova strips it.
    "name": {"type": "string"},
}
# NOTE: 2.102 drops rxtx_factor from the sort keys.
SORT_KEYS_V2102 = tuple(k for k in FLAVOR_SORT_KEYS if k != "rxtx_factor")

_LINK = {"type": "object", "properties": {"rel": {"type": "string"}, "href": {"type": "string"}},
         "required": ["rel", "href"], "additionalProperties": False}
_LINKS = {"type": "array", "items": _LINK}


def _obj(props: dict) -> dict:
    return {"type": "object", "properties": props, "required": list(props),
            "additionalProperties": False}


_basic = _obj({"id": {"type": "string"}, "name": {"type": "string"}, "links": _LINKS})
_detail = _obj({
    "id": {"type": "string"}, "name": {"type": "string"}, "ram": {"type": "integer"},
    "disk": {"type": "integer"}, "vcpus": {"type": "integer"},
    "swap": {"oneOf": [{"type": "integer", "minimum": 1}, {"const": ""}]},
    "OS-FLV-EXT-DATA:ephemeral": {"type": "integer"},
    "OS-FLV-DISABLED:disabled": {"type": "boolean"},
    "os-flavor-access:is_public": {"type": "boolean"},
    "rxtx_factor": {"type": "number"}, "links": _LINKS})
# NOTE: neither is in the answers from 2.102.
_detail["required"] = [k for k in _detail["required"]
                       if k not in ("rxtx_factor", "OS-FLV-DISABLED:disabled")]


def _list(item: dict) -> dict:
    return {"type": "object",
            "properties": {"flavors": {"type": "array", "items": item}, "flavors_links": _LINKS},
            "required": ["flavors"], "additionalProperties": False}


index_response = _list(_basic)
detail_response = _list(_detail)
show_response = _obj({"flavor": _detail})
extra_specs_response = _obj({"extra_specs": {
    "type": "object", "additionalProperties": {"type": "string"}}})
extra_spec_response = {"type": "object", "minProperties": 1, "maxProperties": 1,
                       "additionalProperties": {"type": ["string", "number", "boolean"]}}

# -- 2.55: descriptions ----------------------------------------------------------

_description = {"type": ["string", "null"], "minLength": 0, "maxLength": 65535,
                "format": "description"}
create_v255 = copy.deepcopy(create)
create_v255["properties"]["flavor"]["properties"]["description"] = _description
# NOTE: 2.102: no rxtx_factor on create.
create_v2102 = copy.deepcopy(create_v255)
del create_v2102["properties"]["flavor"]["properties"]["rxtx_factor"]
CREATE_VERSIONS: list[tuple[str, str | None, dict]] = [
    ("2.1", "2.54", create), ("2.55", "2.101", create_v255), ("2.102", None, create_v2102)]
update = {
    "type": "object",
    "properties": {"flavor": {"type": "object",
                              "properties": {"description": _description},
                              "required": ["description"],
                              "additionalProperties": False}},
    "required": ["flavor"],
    "additionalProperties": False,
}
