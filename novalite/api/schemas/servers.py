"""Bodies of /servers requests, as Nova's v2.1 schemas (servers.py,
server actions), minus what novalite cannot do yet."""

from __future__ import annotations

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

_network = {
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

stop = {"type": "object", "properties": {"os-stop": {"type": "null"}},
        "required": ["os-stop"], "additionalProperties": False}

start = {"type": "object", "properties": {"os-start": {"type": "null"}},
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

force_delete = {"type": "object", "properties": {"forceDelete": {"type": "null"}},
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
