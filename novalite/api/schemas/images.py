"""Schemas of the Image API v2, as Glance's: the image schema Glance serves
at ``/v2/schemas/image`` (also what responses are checked against), the
create body, and the JSON-patch body of ``PATCH /v2/images/{id}``."""

from __future__ import annotations

import copy

from novalite.image.api import CONTAINER_FORMATS, DISK_FORMATS, STATUSES, VISIBILITIES

UUID_PATTERN = ("^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
                "-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$")
_uuid = {"type": "string", "pattern": UUID_PATTERN}
# NOTE: the database column's range (a 32-bit signed integer).
MAX_INT = 2 ** 31 - 1

# NOTE: attributes a client may not set (Glance answers 403 "Attribute ...
# is read-only"), and ones Glance reserves (403 "... is reserved").
READ_ONLY = ("status", "size", "checksum", "os_hash_algo", "os_hash_value", "owner",
             "created_at", "updated_at", "file", "self", "schema", "virtual_size",
             "direct_url", "locations", "stores")
RESERVED = ("deleted", "deleted_at", "location")
RESERVED_PREFIX = "os_glance"
# NOTE: what PATCH can change and create can set besides custom properties.
EDITABLE = ("name", "disk_format", "container_format", "min_ram", "min_disk", "visibility",
            "protected", "os_hidden", "tags")

_PROPERTIES: dict[str, dict] = {
    "id": {**_uuid, "description": "An identifier for the image", "readOnly": True},
    "name": {"type": ["null", "string"], "maxLength": 255,
             "description": "Descriptive name for the image"},
    "status": {"type": "string", "enum": list(STATUSES), "readOnly": True,
               "description": "Status of the image"},
    "visibility": {"type": "string", "enum": list(VISIBILITIES),
                   "description": "Scope of image accessibility"},
    "protected": {"type": "boolean",
                  "description": "If true, image will not be deletable."},
    "os_hidden": {"type": "boolean",
                  "description": "If true, image will not appear in default image list "
                                 "response."},
    "checksum": {"type": ["null", "string"], "maxLength": 32, "readOnly": True,
                 "description": "md5 hash of image contents."},
    "os_hash_algo": {"type": ["null", "string"], "maxLength": 64, "readOnly": True,
                     "description": "Algorithm to calculate the os_hash_value"},
    "os_hash_value": {"type": ["null", "string"], "maxLength": 128, "readOnly": True,
                      "description": "Hexdigest of the image contents using the algorithm "
                                     "specified by the os_hash_algo"},
    "owner": {"type": ["null", "string"], "maxLength": 255, "readOnly": True,
              "description": "Owner of the image"},
    "size": {"type": ["null", "integer"], "readOnly": True,
             "description": "Size of image file in bytes"},
    "virtual_size": {"type": ["null", "integer"], "readOnly": True,
                     "description": "Virtual size of image in bytes"},
    "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS],
                         "description": "Format of the container"},
    "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS],
                    "description": "Format of the disk"},
    "created_at": {"type": "string", "readOnly": True,
                   "description": "Date and time of image registration"},
    "updated_at": {"type": "string", "readOnly": True,
                   "description": "Date and time of the last image modification"},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 255},
             "description": "List of strings related to the image"},
    "min_ram": {"type": "integer", "minimum": 0, "maximum": MAX_INT,
                "description": "Amount of ram (in MB) required to boot image."},
    "min_disk": {"type": "integer", "minimum": 0, "maximum": MAX_INT,
                 "description": "Amount of disk space (in GB) required to boot image."},
    "self": {"type": "string", "readOnly": True,
             "description": "An image self url"},
    "file": {"type": "string", "readOnly": True,
             "description": "An image file url"},
    "schema": {"type": "string", "readOnly": True,
               "description": "An image schema url"},
}
_CUSTOM = {"type": "string", "maxLength": 255}

# NOTE: Glance's schema document (``GET /v2/schemas/image``).
IMAGE_SCHEMA_DOCUMENT = {
    "name": "image",
    "properties": _PROPERTIES,
    "additionalProperties": _CUSTOM,
    "links": [{"rel": "self", "href": "{self}"},
              {"rel": "enclosure", "href": "{file}"},
              {"rel": "describedby", "href": "{schema}"}],
}
IMAGES_SCHEMA_DOCUMENT = {
    "name": "images",
    "properties": {
        "images": {"type": "array", "items": IMAGE_SCHEMA_DOCUMENT},
        "schema": {"type": "string"},
        "first": {"type": "string"},
        "next": {"type": "string"},
    },
    "links": [{"rel": "first", "href": "{first}"},
              {"rel": "next", "href": "{next}"},
              {"rel": "describedby", "href": "{schema}"}],
}

# NOTE: what every image answer has, checked by tests (response schema).
image_response = {
    "type": "object",
    "properties": copy.deepcopy(_PROPERTIES),
    "required": sorted(_PROPERTIES),
    "additionalProperties": _CUSTOM,
}
images_response = {
    "type": "object",
    "properties": {
        "images": {"type": "array", "items": image_response},
        "first": {"type": "string"},
        "schema": {"type": "string"},
        "next": {"type": "string"},
    },
    "required": ["images", "first", "schema"],
    "additionalProperties": False,
}

# NOTE: read-only and reserved attributes are let through the schema so the
# controller can answer 403 naming them, as Glance does.
create = {
    "type": "object",
    "properties": {
        "id": _uuid,
        **{k: copy.deepcopy(_PROPERTIES[k]) for k in EDITABLE},
        **{k: {} for k in READ_ONLY + RESERVED},
    },
    "additionalProperties": _CUSTOM,
    "propertyNames": {"maxLength": 255},
}

PATCH_MEDIA_TYPES = ("application/openstack-images-v2.1-json-patch",
                     "application/openstack-images-v2.0-json-patch")

PATCH_OPS = ("add", "replace", "remove")
_pointer = {"type": "string", "pattern": "^/[^/]+$"}

# NOTE: Glance's two patch dialects: v2.1 (``{"op": "replace", "path":
# "/name"}``, as RFC 6902) and v2.0 (``{"replace": "/name"}``, the older
# draft). The controller takes each with its own media type only.
patch = {
    "type": "array",
    "items": {"oneOf": [
        {"type": "object",
         "properties": {"op": {"type": "string", "enum": list(PATCH_OPS)},
                        "path": _pointer, "value": {}},
         "required": ["op", "path"], "additionalProperties": False},
        {"type": "object",
         "properties": {**{op: _pointer for op in PATCH_OPS}, "value": {}},
         "minProperties": 1, "maxProperties": 2,
         "oneOf": [{"required": [op]} for op in PATCH_OPS],
         "additionalProperties": False},
    ]},
}


def value_schema(attribute: str) -> dict:
    """The schema a PATCH value of ``attribute`` must fit."""
    return _PROPERTIES.get(attribute, _CUSTOM)
