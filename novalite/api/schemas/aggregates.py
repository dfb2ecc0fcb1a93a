"""/os-aggregates request bodies, as Nova's 2.1 schemas."""

from __future__ import annotations

import jsonschema

from novalite.api import validation
from novalite.api.schemas import types

# NOTE: Nova's az_name: a name without ':' (the "zone:host" form of a
# server create's availability_zone uses it as the separator).
az_name = {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^:]*$",
           "format": "name"}
az_name_or_none = {"oneOf": [az_name, {"type": "null"}]}


def _body(key: str, props: dict, required: list[str], **extra: object) -> dict:
    return {
        "type": "object",
        "properties": {key: {"type": "object", "properties": props, "required": required,
                             "additionalProperties": False, **extra}},
        "required": [key],
        "additionalProperties": False,
    }


create = _body("aggregate", {"name": types.name, "availability_zone": az_name_or_none},
               ["name"])
update = _body("aggregate", {"name": types.name, "availability_zone": az_name_or_none},
               [], anyOf=[{"required": ["name"]}, {"required": ["availability_zone"]}])

_host = {"type": "string", "minLength": 1, "maxLength": 255,
         "pattern": "^[a-zA-Z0-9-._]*$"}
_metadata_with_null = {
    "type": "object",
    "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {
        "type": ["string", "null"], "maxLength": 255}},
    "additionalProperties": False,
}

ACTIONS = {
    "add_host": _body("add_host", {"host": _host}, ["host"]),
    "remove_host": _body("remove_host", {"host": _host}, ["host"]),
    "set_metadata": _body("set_metadata", {"metadata": _metadata_with_null}, ["metadata"]),
}

# NOTE: what the action route declares; the controller holds the body to
# the schema of the action it names.
action = {"type": "object", "minProperties": 1, "maxProperties": 1,
          "propertyNames": {"enum": sorted(ACTIONS)}}

ACTION_VALIDATORS = {name: jsonschema.Draft202012Validator(
    schema, format_checker=validation.FORMAT_CHECKER) for name, schema in ACTIONS.items()}
