"""The query parameters of ``GET /servers`` and ``/servers/detail`` at 2.1
(the ones novalite acts on), for the OpenAPI document. The servers
controller parses and checks them itself, with Nova's messages."""

from __future__ import annotations

_string = {"type": "string"}

list_query: dict[str, dict] = {
    "name": _string,
    "status": _string,
    "image": _string,
    "flavor": _string,
    "ip": _string,
    "reservation_id": _string,
    "changes-since": {"type": "string", "format": "date-time"},
    "all_tenants": _string,
    "tenant_id": _string,
    "project_id": _string,
    "host": _string,
    "node": _string,
    "user_id": _string,
    "uuid": _string,
    "limit": {"type": "integer", "minimum": 0},
    "marker": _string,
    "sort_key": _string,
    "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
}
