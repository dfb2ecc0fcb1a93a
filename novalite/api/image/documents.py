"""The schema documents Glance serves under ``/v2/schemas`` besides the
image's: image members, and the metadata definitions catalog's (namespace,
object, property, tag, resource type association) with their lists.

Clients read these to learn the shape of each resource (python-glanceclient
builds its models from them), so each names its resource as Glance does and
lists the same attributes. novalite serves the documents; it keeps no
metadata definitions of its own.
"""

from __future__ import annotations

from typing import Any

from novalite.api.schemas.images import UUID_PATTERN

MEMBER_STATUSES = ("pending", "accepted", "rejected")

_TIMES = {
    "created_at": {"type": "string", "format": "date-time", "readOnly": True,
                   "description": "Date and time of creation"},
    "updated_at": {"type": "string", "format": "date-time", "readOnly": True,
                   "description": "Date and time of the last modification"},
}
_SCHEMA = {"type": "string", "readOnly": True}

MEMBER = {
    "name": "member",
    "properties": {
        "image_id": {"type": "string", "pattern": UUID_PATTERN,
                     "description": "An identifier for the image"},
        "member_id": {"type": "string",
                      "description": "An identifier for the image member (project id)"},
        "status": {"type": "string", "enum": list(MEMBER_STATUSES),
                   "description": "The status of this image member"},
        "schema": _SCHEMA,
        **_TIMES,
    },
}
MEMBERS = {
    "name": "members",
    "properties": {"members": {"type": "array", "items": MEMBER}, "schema": {"type": "string"}},
    "links": [{"rel": "describedby", "href": "{schema}"}],
}


def _listing(name: str, item: dict, paged: bool = False) -> dict:
    properties: dict[str, Any] = {name: {"type": "array", "items": item},
                                  "schema": {"type": "string"}}
    links = [{"rel": "describedby", "href": "{schema}"}]
    if paged:
        properties.update({"first": {"type": "string"}, "next": {"type": "string"}})
        links = [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                 *links]
    return {"name": name, "properties": properties, "links": links}


# NOTE: the JSON-schema vocabulary a metadata definition property may use.
_PROPERTY_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "maxLength": 255},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "operators": {"type": "array", "items": {"type": "string"}},
    "type": {"type": "string",
             "enum": ["array", "boolean", "integer", "number", "object", "string", None]},
    "readonly": {"type": "boolean"},
    "default": {},
    "enum": {"type": "array"},
    "minimum": {"type": "number"},
    "maximum": {"type": "number"},
    "pattern": {"type": "string", "format": "regex"},
    "minLength": {"type": "integer", "minimum": 0},
    "maxLength": {"type": "integer", "minimum": 0},
    "items": {"type": "object"},
    "uniqueItems": {"type": "boolean", "default": False},
    "minItems": {"type": "integer", "minimum": 0},
    "maxItems": {"type": "integer", "minimum": 0},
    "additionalItems": {"type": "boolean"},
}
PROPERTY = {"name": "property", "properties": _PROPERTY_FIELDS,
            "required": ["name", "title", "type"], "additionalProperties": False}
PROPERTIES = {
    "name": "properties",
    "properties": {"properties": {"type": "object", "additionalProperties": PROPERTY},
                   "schema": {"type": "string"}},
    "links": [{"rel": "describedby", "href": "{schema}"}],
}

OBJECT = {
    "name": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 255},
        "description": {"type": "string"},
        "required": {"type": "array", "items": {"type": "string"}},
        "properties": {"type": "object", "additionalProperties": PROPERTY},
        "schema": _SCHEMA,
        "self": {"type": "string", "readOnly": True},
        **_TIMES,
    },
    "required": ["name"],
    "additionalProperties": False,
}

TAG = {
    "name": "tag",
    "properties": {"name": {"type": "string", "maxLength": 255}, **_TIMES},
    "required": ["name"],
    "additionalProperties": False,
}

RESOURCE_TYPE = {
    "name": "resource_type_association",
    "properties": {
        "name": {"type": "string", "maxLength": 80,
                 "description": "Resource type names should be aligned with Heat resource "
                                "types whenever possible (e.g. OS::Glance::Image)"},
        "prefix": {"type": "string", "maxLength": 80,
                   "description": "Prefix of the namespace's property names for this "
                                  "resource type"},
        "properties_target": {"type": "string", "maxLength": 80,
                              "description": "Where the properties apply when a resource "
                                             "type has more than one place for them"},
        **_TIMES,
    },
    "required": ["name"],
    "additionalProperties": False,
}

NAMESPACE = {
    "name": "namespace",
    "properties": {
        "namespace": {"type": "string", "maxLength": 80,
                      "description": "The unique namespace text."},
        "display_name": {"type": "string", "maxLength": 80},
        "description": {"type": "string", "maxLength": 500},
        "visibility": {"type": "string", "enum": ["public", "private"]},
        "protected": {"type": "boolean"},
        "owner": {"type": "string", "maxLength": 255},
        "resource_type_associations": {"type": "array", "items": RESOURCE_TYPE},
        "properties": {"type": "object", "additionalProperties": PROPERTY},
        "objects": {"type": "array", "items": OBJECT},
        "tags": {"type": "array", "items": TAG},
        "schema": _SCHEMA,
        "self": {"type": "string", "readOnly": True},
        **_TIMES,
    },
    "required": ["namespace"],
    "additionalProperties": False,
}

DOCUMENTS: dict[str, dict] = {
    "member": MEMBER,
    "members": MEMBERS,
    "metadefs/namespace": NAMESPACE,
    "metadefs/namespaces": _listing("namespaces", NAMESPACE, paged=True),
    "metadefs/object": OBJECT,
    "metadefs/objects": _listing("objects", OBJECT),
    "metadefs/property": PROPERTY,
    "metadefs/properties": PROPERTIES,
    "metadefs/tag": TAG,
    "metadefs/tags": _listing("tags", TAG),
    "metadefs/resource_type": RESOURCE_TYPE,
    "metadefs/resource_types": _listing("resource_type_associations", RESOURCE_TYPE),
}
