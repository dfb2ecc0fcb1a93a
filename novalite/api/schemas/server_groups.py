"""/os-server-groups request bodies, per microversion as Nova's: ``policies``
(a one-item list) up to 2.63, with the soft policies from 2.15; ``policy``
and ``rules`` from 2.64."""

from __future__ import annotations

import jsonschema

from novalite.api import validation
from novalite.api.schemas import types

_POLICIES_21 = ["anti-affinity", "affinity"]
_POLICIES_215 = [*_POLICIES_21, "soft-anti-affinity", "soft-affinity"]


def _policies(allowed: list[str]) -> dict:
    return {"type": "array", "prefixItems": [{"type": "string", "enum": allowed}],
            "uniqueItems": True, "minItems": 1, "maxItems": 1, "items": False}


def _create(props: dict, required: list[str]) -> dict:
    return {
        "type": "object",
        "properties": {"server_group": {
            "type": "object",
            "properties": {"name": types.name, **props},
            "required": ["name", *required],
            "additionalProperties": False,
        }},
        "required": ["server_group"],
        "additionalProperties": False,
    }


# NOTE: what the route declares (the OpenAPI document shows it); the
# controller then holds the body to its version's schema below.
create = {
    "type": "object",
    "properties": {"server_group": {"type": "object"}},
    "required": ["server_group"],
    "additionalProperties": False,
}

create_v21 = _create({"policies": _policies(_POLICIES_21)}, ["policies"])
create_v215 = _create({"policies": _policies(_POLICIES_215)}, ["policies"])
create_v264 = _create({
    "policy": {"type": "string", "enum": _POLICIES_215},
    "rules": {"type": "object", "properties": {
        "max_server_per_host": {"type": ["integer", "string"], "pattern": "^[0-9]*$",
                                "minimum": 1, "minLength": 1}},
        "additionalProperties": False},
}, ["policy"])


def _validator(schema: dict) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(schema, format_checker=validation.FORMAT_CHECKER)


VALIDATORS = {"2.1": _validator(create_v21), "2.15": _validator(create_v215),
              "2.64": _validator(create_v264)}
