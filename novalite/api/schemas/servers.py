"""Bodies of /servers requests, as Nova's v2.1 schemas (servers.py,
server actions), minus what novalite cannot do yet."""

from __future__ import annotations

import copy
from typing import Any

from novalite.api import validation
from novalite.api.schemas import types

_block_device_mapping_v2 = {
    "type": "object",
    "properties": {
        "uuid": {"type": "string"},
        "source_type": {"type": "string", "enum": ["volume", "image", "snapshot", "blank"]},
        "destination_type": {"type": "string", "enum": ["local", "volume"]},
        "boot_index": {"type": ["integer", "string", "null"]},
        "volume_size": {"type": ["integer", "string", "null"]},
        "delete_on_termination": types.boolean,
        "device_name": {"type": ["string", "null"]},
        "device_type": {"type": ["string", "null"]},
        "disk_bus": {"type": ["string", "null"]},
        "guest_format": {"type": ["string", "null"]},
        "no_device": {},
    },
    "additionalProperties": False,
}

_network: dict = {
    "type": "object",
    "properties": {
        "uuid": {"type": "string"},
        "fixed_ip": {"type": "string", "oneOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
        "port": {"type": ["string", "null"]},
    },
    "additionalProperties": False,
}

# NOTE: a list at 2.1; "auto"/"none" (2.37) are accepted too, as the
# openstack CLI sends them.
_networks = {
    "oneOf": [
        {"type": "array", "items": _network},
        {"type": "string", "enum": ["none", "auto"]},
    ],
}

_personality = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "path": {"type": "string", "minLength": 1},
            "contents": {"type": "string"},
        },
        "required": ["path"],
        "additionalProperties": False,
    },
}

create = {
    "type": "object",
    "properties": {
        "server": {
            "type": "object",
            "properties": {
                "name": types.server_name,
                "imageRef": {"type": "string", "maxLength": 255},
                "flavorRef": {"type": ["string", "integer"], "minLength": 1},
                "adminPass": {"type": "string"},
                "metadata": types.metadata,
                "networks": _networks,
                "block_device_mapping_v2": {"type": "array",
                                            "items": _block_device_mapping_v2},
                "availability_zone": {"type": "string", "minLength": 1, "maxLength": 255},
                "min_count": types.positive_integer,
                "max_count": types.positive_integer,
                "return_reservation_id": types.boolean,
                "accessIPv4": types.ipv4,
                "accessIPv6": types.ipv6,
                "key_name": {"type": "string", "minLength": 1, "maxLength": 255},
                "security_groups": {"type": "array", "items": {
                    "type": "object", "properties": {"name": {"type": "string"}},
                    "additionalProperties": False}},
                "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
                "config_drive": types.boolean,
                "user_data": {"type": "string"},
                "personality": _personality,
            },
            "required": ["name", "flavorRef"],
            "additionalProperties": False,
        },
        "os:scheduler_hints": {"type": "object"},
        "OS-SCH-HNT:scheduler_hints": {"type": "object"},
    },
    "required": ["server"],
    "additionalProperties": False,
}

update = {
    "type": "object",
    "properties": {
        "server": {
            "type": "object",
            "properties": {
                "name": types.server_name,
                "accessIPv4": types.ipv4,
                "accessIPv6": types.ipv6,
                "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
            },
            "additionalProperties": False,
        },
    },
    "required": ["server"],
    "additionalProperties": False,
}

# -- actions: one key per body; the key picks the schema below ---------------

action = {"type": "object", "minProperties": 1, "maxProperties": 1}

reboot = {
    "type": "object",
    "properties": {
        "reboot": {
            "type": "object",
            "properties": {"type": {"type": "string",
                                    "enum": ["HARD", "Hard", "hard", "SOFT", "Soft", "soft"]}},
            "required": ["type"],
            "additionalProperties": False,
        },
    },
    "required": ["reboot"],
    "additionalProperties": False,
}

# NOTE: as Nova's schemas, os-stop and os-start take any value: clients send
# null (the CLI) or {} (tempest, Nova's own functional tests).
stop = {"type": "object", "properties": {"os-stop": {}},
        "required": ["os-stop"], "additionalProperties": False}

start = {"type": "object", "properties": {"os-start": {}},
         "required": ["os-start"], "additionalProperties": False}

get_console_output = {
    "type": "object",
    "properties": {
        "os-getConsoleOutput": {
            "type": "object",
            "properties": {
                "length": {"type": ["integer", "string", "null"], "pattern": "^-?[0-9]+$",
                           "minimum": -1},
            },
            "additionalProperties": False,
        },
    },
    "required": ["os-getConsoleOutput"],
    "additionalProperties": False,
}

force_delete = {"type": "object", "properties": {"forceDelete": {"type": ["object", "null"], "maxProperties": 0}},
                "required": ["forceDelete"], "additionalProperties": False}

# -- server metadata ------------------------------------------------------------

metadata_create = {
    "type": "object",
    "properties": {"metadata": types.metadata},
    "required": ["metadata"],
    "additionalProperties": False,
}

metadata_update_all = metadata_create

metadata_update = {
    "type": "object",
    "properties": {"meta": {**types.metadata, "minProperties": 1}},
    "required": ["meta"],
    "additionalProperties": False,
}

# -- later microversions (Nova's create_v219 ... create_v294) -------------------


class InvalidDescription(validation.InvalidName):
    pass


@validation.FORMAT_CHECKER.checks("description", raises=InvalidDescription)
def _check_description(value: object) -> bool:
    # NOTE: Nova's valid_description_regex: any printable characters, or none.
    if isinstance(value, str) and not value.isprintable():
        raise InvalidDescription("Invalid input for field/attribute description. The "
                                 "description must be printable characters.")
    return True


description = {"type": ["string", "null"], "minLength": 0, "maxLength": 255,
               "format": "description"}
# NOTE: Nova's tag rules (2.26): 1-60 characters, no ',' or '/'; 50 per server.
MAX_TAG_LENGTH = 60
MAX_TAGS = 50
tag = {"type": "string", "pattern": "^[^,/]*$", "minLength": 1, "maxLength": MAX_TAG_LENGTH}
tags = {"type": "array", "items": tag, "maxItems": MAX_TAGS}
hostname = {"type": "string", "pattern": "^[a-zA-Z0-9]+[a-zA-Z0-9-]*[a-zA-Z0-9]+$",
            "minLength": 2, "maxLength": 63}
fqdn = {"type": "string", "pattern": "^[a-zA-Z0-9-._]*$", "minLength": 1, "maxLength": 255}
trusted_certs = {"type": ["array", "null"], "minItems": 1, "maxItems": 50,
                 "uniqueItems": True, "items": {"type": "string", "minLength": 1}}


def _server(schema: dict) -> dict:
    props: dict = schema["properties"]["server"]["properties"]
    return props


def _derive(base: dict, change: Any) -> dict:
    schema = copy.deepcopy(base)
    change(_server(schema), schema["properties"]["server"])
    return schema


def _networks_v237(with_tag: bool) -> dict:
    item: dict = {
        "type": "object",
        "properties": {
            "fixed_ip": _network["properties"]["fixed_ip"],
            "port": {"type": ["string", "null"], "format": "uuid"},
            "uuid": {"type": "string", "format": "uuid"},
        },
        "additionalProperties": False,
    }
    if with_tag:
        item["properties"]["tag"] = tag
    return {"oneOf": [{"type": "array", "items": item},
                      {"type": "string", "enum": ["none", "auto"]}]}


def _v219(p: dict, _s: dict) -> None:
    p["description"] = description


def _v232(p: dict, _s: dict) -> None:
    p["networks"]["oneOf"][0]["items"]["properties"]["tag"] = tag
    p["block_device_mapping_v2"]["items"]["properties"]["tag"] = tag


def _v233(p: dict, _s: dict) -> None:
    # NOTE: as Nova's bug: from 2.33 block devices take no tag, networks still do.
    p["networks"]["oneOf"][0]["items"]["properties"]["tag"] = tag


def _v237(p: dict, s: dict) -> None:
    s["required"] = [*s["required"], "networks"]
    p["networks"] = _networks_v237(with_tag=False)


def _v242(p: dict, _s: dict) -> None:
    p["networks"] = _networks_v237(with_tag=True)
    p["block_device_mapping_v2"]["items"]["properties"]["tag"] = tag


def _v252(p: dict, _s: dict) -> None:
    p["tags"] = tags


def _v257(p: dict, _s: dict) -> None:
    p.pop("personality")


def _v263(p: dict, _s: dict) -> None:
    p["trusted_image_certificates"] = trusted_certs


def _v267(p: dict, _s: dict) -> None:
    p["block_device_mapping_v2"]["items"]["properties"]["volume_type"] = {
        "type": ["string", "null"], "minLength": 0, "maxLength": 255}


def _v274(p: dict, _s: dict) -> None:
    p["host"] = fqdn
    p["hypervisor_hostname"] = fqdn


def _v290(p: dict, _s: dict) -> None:
    p["hostname"] = hostname


def _v294(p: dict, _s: dict) -> None:
    p["hostname"] = fqdn


create_v219 = _derive(create, _v219)
create_v232 = _derive(create_v219, _v232)
create_v233 = _derive(create_v219, _v233)
create_v237 = _derive(create_v233, _v237)
create_v242 = _derive(create_v237, _v242)
create_v252 = _derive(create_v242, _v252)
create_v257 = _derive(create_v252, _v257)
create_v263 = _derive(create_v257, _v263)
create_v267 = _derive(create_v263, _v267)
create_v274 = _derive(create_v267, _v274)
create_v290 = _derive(create_v274, _v290)
create_v294 = _derive(create_v290, _v294)

# NOTE: (min, max, schema), as the controller stacks them.
CREATE_VERSIONS: list[tuple[str, str | None, dict]] = [
    ("2.1", "2.18", create), ("2.19", "2.31", create_v219), ("2.32", "2.32", create_v232),
    ("2.33", "2.36", create_v233), ("2.37", "2.41", create_v237),
    ("2.42", "2.51", create_v242), ("2.52", "2.56", create_v252),
    ("2.57", "2.62", create_v257), ("2.63", "2.66", create_v263),
    ("2.67", "2.73", create_v267), ("2.74", "2.89", create_v274),
    ("2.90", "2.93", create_v290), ("2.94", None, create_v294),
]

update_v219 = _derive(update, _v219)
update_v290 = _derive(update_v219, _v290)
update_v294 = _derive(update_v290, _v294)


def _v2104(p: dict, _s: dict) -> None:
    p["pinned_availability_zone"] = {**types.name, "type": ["string", "null"]}


update_v2104 = _derive(update_v294, _v2104)
UPDATE_VERSIONS: list[tuple[str, str | None, dict]] = [
    ("2.1", "2.18", update), ("2.19", "2.89", update_v219), ("2.90", "2.93", update_v290),
    ("2.94", "2.103", update_v294), ("2.104", None, update_v2104),
]

# -- /servers/{id}/tags (2.26) ----------------------------------------------------

tags_update_all = {
    "type": "object",
    "properties": {"tags": tags},
    "required": ["tags"],
    "additionalProperties": False,
}
