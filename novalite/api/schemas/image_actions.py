"""Body schemas of createImage, createBackup, shelve, shelveOffload, unshelve and rebuild, per microversion as Nova's."""

from __future__ import annotations

import copy

from novalite.api.schemas import servers, types
from novalite.api.schemas.power_actions import NULL_OR_EMPTY


def _action(name: str, value: dict) -> dict:
    return {"type": "object", "properties": {name: value}, "required": [name],
            "additionalProperties": False}


create_image = _action("createImage", {
    "type": "object",
    "properties": {"name": types.name, "metadata": types.metadata},
    "required": ["name"],
    "additionalProperties": False,
})

create_backup = _action("createBackup", {
    "type": "object",
    "properties": {
        "name": types.name,
        "backup_type": {"type": "string"},
        "rotation": types.non_negative_integer,
        "metadata": types.metadata,
    },
    "required": ["name", "backup_type", "rotation"],
    "additionalProperties": False,
})

# NOTE: null as Nova documents, or {} as some clients send (power_actions).
shelve = _action("shelve", NULL_OR_EMPTY)
shelve_offload = _action("shelveOffload", NULL_OR_EMPTY)
unshelve = _action("unshelve", NULL_OR_EMPTY)
# NOTE: Nova's 2.77: null, or an object naming the availability zone.
unshelve_v277 = _action("unshelve", {"oneOf": [
    {"type": "null"},
    {"type": "object",
     "properties": {"availability_zone": {"type": "string"}},
     "required": ["availability_zone"], "additionalProperties": False}]})
# NOTE: Nova's 2.91: the zone may be null (unpin), a host may be named.
unshelve_v291 = _action("unshelve", {"oneOf": [
    {"type": "null"},
    {"type": "object",
     "properties": {"availability_zone": {"type": ["string", "null"]},
                    "host": {"type": "string", "minLength": 1, "maxLength": 255}},
     "minProperties": 1, "additionalProperties": False}]})

rebuild = _action("rebuild", {
    "type": "object",
    "properties": {
        "name": types.server_name,
        "imageRef": {"type": "string", "format": "uuid"},
        "adminPass": {"type": "string"},
        "metadata": types.metadata,
        "preserve_ephemeral": types.boolean,
        "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
        "accessIPv4": types.ipv4,
        "accessIPv6": types.ipv6,
        "personality": servers._personality,
    },
    "required": ["imageRef"],
    "additionalProperties": False,
})


def _derive(base: dict, **changes: dict | None) -> dict:
    schema = copy.deepcopy(base)
    props = schema["properties"]["rebuild"]["properties"]
    for key, value in changes.items():
        if value is None:
            props.pop(key, None)
        else:
            props[key] = value
    return schema


rebuild_v219 = _derive(rebuild, description=servers.description)
rebuild_v254 = _derive(rebuild_v219, key_name={"type": ["string", "null"], "minLength": 1,
                                               "maxLength": 255})
rebuild_v257 = _derive(rebuild_v254, personality=None,
                       user_data={"type": ["string", "null"],
                                  "maxLength": 65535})
rebuild_v263 = _derive(rebuild_v257, trusted_image_certificates=servers.trusted_certs)
rebuild_v290 = _derive(rebuild_v263, hostname=servers.hostname)
rebuild_v294 = _derive(rebuild_v263, hostname=servers.fqdn)

# (first version, schema), newest last
REBUILD_VERSIONS = (("2.1", rebuild), ("2.19", rebuild_v219), ("2.54", rebuild_v254),
                    ("2.57", rebuild_v257), ("2.63", rebuild_v263), ("2.90", rebuild_v290),
                    ("2.94", rebuild_v294))
UNSHELVE_VERSIONS = (("2.1", unshelve), ("2.77", unshelve_v277), ("2.91", unshelve_v291))
