"""What Nova's v2.1 server answers contain, as JSON schemas: exactly the
fields of the api-ref at microversion 2.1 (``additionalProperties`` false,
so an extra key is an error), for the OpenAPI document and the tests that
check answers against it (schemathesis' response_schema_conformance)."""

from __future__ import annotations

import copy

_nullable_string = {"type": ["string", "null"]}

_links = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"rel": {"type": "string"}, "href": {"type": "string"},
                       "type": {"type": "string"}},
        "required": ["rel", "href"],
        "additionalProperties": False,
    },
}

_ref = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "links": _links},
    "required": ["id", "links"],
    "additionalProperties": False,
}

_address = {
    "type": "object",
    "properties": {
        "addr": {"type": "string"},
        "version": {"type": "integer", "enum": [4, 6]},
        "OS-EXT-IPS:type": {"type": "string", "enum": ["fixed", "floating"]},
        "OS-EXT-IPS-MAC:mac_addr": {"type": "string"},
    },
    "required": ["addr", "version"],
    "additionalProperties": False,
}

_fault = {
    "type": "object",
    "properties": {"code": {"type": "integer"}, "created": {"type": "string"},
                   "message": {"type": "string"}, "details": {"type": "string"}},
    "required": ["code", "created", "message"],
    "additionalProperties": False,
}

_SERVER_FIELDS: dict[str, dict] = {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "status": {"type": "string"},
    "tenant_id": {"type": "string"},
    "user_id": {"type": "string"},
    "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    "hostId": {"type": "string"},
    # NOTE: "" for a server booted from a volume.
    "image": {"oneOf": [{"type": "string", "enum": [""]}, _ref]},
    "flavor": _ref,
    "created": {"type": "string"},
    "updated": {"type": "string"},
    "addresses": {"type": "object", "additionalProperties": {"type": "array",
                                                            "items": _address}},
    "accessIPv4": {"type": "string"},
    "accessIPv6": {"type": "string"},
    "links": _links,
    "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
    "progress": {"type": "integer"},
    "fault": _fault,
}
_EXTENDED_FIELDS: dict[str, dict] = {
    "OS-EXT-AZ:availability_zone": {"type": "string"},
    "config_drive": {"type": "string"},
    "key_name": _nullable_string,
    "OS-SRV-USG:launched_at": _nullable_string,
    "OS-SRV-USG:terminated_at": _nullable_string,
    "OS-EXT-STS:task_state": _nullable_string,
    "OS-EXT-STS:vm_state": {"type": "string"},
    "OS-EXT-STS:power_state": {"type": "integer"},
    "os-extended-volumes:volumes_attached": {
        "type": "array",
        "items": {"type": "object", "properties": {"id": {"type": "string"},
                                                   "delete_on_termination": {"type": "boolean"}},
                  "required": ["id"], "additionalProperties": False}},
    "security_groups": {
        "type": "array",
        "items": {"type": "object", "properties": {"name": {"type": "string"}},
                  "required": ["name"], "additionalProperties": False}},
    # NOTE: admins only.
    "OS-EXT-SRV-ATTR:host": _nullable_string,
    "OS-EXT-SRV-ATTR:hypervisor_hostname": _nullable_string,
    "OS-EXT-SRV-ATTR:instance_name": {"type": "string"},
}
_OPTIONAL = ("progress", "fault", "security_groups", "OS-EXT-SRV-ATTR:host",
             "OS-EXT-SRV-ATTR:hypervisor_hostname", "OS-EXT-SRV-ATTR:instance_name")


def _object(fields: dict[str, dict]) -> dict:
    return {
        "type": "object",
        "properties": copy.deepcopy(fields),
        "required": sorted(k for k in fields if k not in _OPTIONAL),
        "additionalProperties": False,
    }


server = _object({**_SERVER_FIELDS, **_EXTENDED_FIELDS})
# NOTE: PUT /servers/{id} answers without the extensions' fields.
updated_server = _object(_SERVER_FIELDS)
server_ref = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "links": _links},
    "required": ["id", "name", "links"],
    "additionalProperties": False,
}

index_response = {
    "type": "object",
    "properties": {"servers": {"type": "array", "items": server_ref},
                   "servers_links": _links},
    "required": ["servers"],
    "additionalProperties": False,
}
detail_response = {
    "type": "object",
    "properties": {"servers": {"type": "array", "items": server},
                   "servers_links": _links},
    "required": ["servers"],
    "additionalProperties": False,
}
show_response = {
    "type": "object",
    "properties": {"server": server},
    "required": ["server"],
    "additionalProperties": False,
}
update_response = {
    "type": "object",
    "properties": {"server": updated_server},
    "required": ["server"],
    "additionalProperties": False,
}
create_response = {
    "oneOf": [
        {
            "type": "object",
            "properties": {"server": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "links": _links,
                    "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
                    "security_groups": _EXTENDED_FIELDS["security_groups"],
                    "adminPass": {"type": "string"},
                },
                "required": ["id", "links", "OS-DCF:diskConfig"],
                "additionalProperties": False,
            }},
            "required": ["server"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"reservation_id": {"type": "string"}},
            "required": ["reservation_id"],
            "additionalProperties": False,
        },
    ],
}

# -- /servers/{id}/metadata ----------------------------------------------------

_metadata = {"type": "object", "additionalProperties": {"type": "string"}}
metadata_response = {
    "type": "object",
    "properties": {"metadata": _metadata},
    "required": ["metadata"],
    "additionalProperties": False,
}
meta_response = {
    "type": "object",
    "properties": {"meta": {**_metadata, "minProperties": 1, "maxProperties": 1}},
    "required": ["meta"],
    "additionalProperties": False,
}

# -- /servers/{id}/os-instance-actions -----------------------------------------

_ACTION_FIELDS: dict[str, dict] = {
    "action": {"type": "string"},
    "instance_uuid": {"type": "string"},
    "message": _nullable_string,
    "project_id": _nullable_string,
    "request_id": {"type": "string"},
    "start_time": {"type": "string"},
    "user_id": _nullable_string,
}
_action = {
    "type": "object",
    "properties": _ACTION_FIELDS,
    "required": sorted(_ACTION_FIELDS),
    "additionalProperties": False,
}
_event = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "start_time": _nullable_string,
                   "finish_time": _nullable_string, "result": _nullable_string,
                   "traceback": _nullable_string},
    "required": ["event", "start_time", "finish_time", "result", "traceback"],
    "additionalProperties": False,
}
instance_actions_response = {
    "type": "object",
    "properties": {"instanceActions": {"type": "array", "items": _action}},
    "required": ["instanceActions"],
    "additionalProperties": False,
}
instance_action_response = {
    "type": "object",
    "properties": {"instanceAction": {
        **_action,
        # NOTE: events are shown to admins only at 2.1.
        "properties": {**_ACTION_FIELDS, "events": {"type": "array", "items": _event}},
    }},
    "required": ["instanceAction"],
    "additionalProperties": False,
}
