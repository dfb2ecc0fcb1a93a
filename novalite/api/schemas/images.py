"""Body of ``POST /image/v2/images``, as Glance's image schema (the part
novalite stores). Other string keys become properties, as in Glance."""

from __future__ import annotations

from novalite.image.api import CONTAINER_FORMATS, DISK_FORMATS

_uuid = {"type": "string",
         "pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
                    "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"}

# NOTE: fields Glance refuses in a create body (403 "Attribute ... is read-only").
READ_ONLY = ("status", "size", "checksum", "os_hash_algo", "os_hash_value", "owner",
             "created_at", "updated_at", "file", "self", "schema", "virtual_size",
             "direct_url", "locations")

create = {
    "type": "object",
    "properties": {
        "id": _uuid,
        "name": {"type": ["string", "null"], "maxLength": 255},
        "disk_format": {"type": ["string", "null"], "enum": [None, *DISK_FORMATS]},
        "container_format": {"type": ["string", "null"], "enum": [None, *CONTAINER_FORMATS]},
        "min_ram": {"type": "integer", "minimum": 0},
        "min_disk": {"type": "integer", "minimum": 0},
        "visibility": {"type": "string", "enum": ["public", "private", "shared", "community"]},
        "protected": {"type": "boolean"},
        "os_hidden": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 255}},
    },
    "additionalProperties": {"type": "string", "maxLength": 255},
}
