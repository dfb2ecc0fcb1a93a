"""Body schemas of resize, confirmResize, revertResize, migrate, evacuate and
os-migrateLive, per microversion as Nova's (migrate_server.py, evacuate.py,
servers.py resize); query parameters of GET /os-migrations."""

from __future__ import annotations

from typing import Any

from novalite.api.schemas import types
from novalite.api.schemas.power_actions import NULL_OR_EMPTY

hostname = {"type": "string", "minLength": 1, "maxLength": 255,
            "pattern": "^[a-zA-Z0-9-._]*$"}
_nullable_host = {"type": ["string", "null"], "minLength": 1, "maxLength": 255,
                  "pattern": "^[a-zA-Z0-9-._]*$"}
_admin_password = {"type": "string"}


def _action(name: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {name: value}, "required": [name],
            "additionalProperties": False}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    return out


resize = _action("resize", _obj({
    "flavorRef": {"type": ["string", "integer"], "minLength": 1},
    "OS-DCF:diskConfig": {"type": "string", "enum": ["AUTO", "MANUAL"]},
}, ["flavorRef"]))
# NOTE: null as Nova documents, or {} as some clients send (power_actions).
confirm_resize = _action("confirmResize", NULL_OR_EMPTY)
revert_resize = _action("revertResize", NULL_OR_EMPTY)

migrate_v21 = _action("migrate", NULL_OR_EMPTY)
migrate_v256 = _action("migrate", {"type": ["object", "null"],
                                   "properties": {"host": _nullable_host},
                                   "additionalProperties": False})

_evacuate_v21 = {"host": hostname, "onSharedStorage": types.boolean,
                 "adminPass": _admin_password}
evacuate_v21 = _action("evacuate", _obj(_evacuate_v21, ["onSharedStorage"]))
_evacuate_v214 = {"host": hostname, "adminPass": _admin_password}
evacuate_v214 = _action("evacuate", _obj(_evacuate_v214))
evacuate_v229 = _action("evacuate", _obj({**_evacuate_v214, "force": types.boolean}))
evacuate_v268 = evacuate_v214
evacuate_v295 = evacuate_v214

live_v21 = _action("os-migrateLive", _obj({
    "block_migration": types.boolean, "disk_over_commit": types.boolean,
    "host": _nullable_host}, ["block_migration", "disk_over_commit", "host"]))
_block_auto = {"anyOf": [types.boolean, {"type": "string", "enum": ["auto"]}]}
live_v225 = _action("os-migrateLive", _obj({"block_migration": _block_auto,
                                            "host": _nullable_host},
                                           ["block_migration", "host"]))
live_v230 = _action("os-migrateLive", _obj({"block_migration": _block_auto,
                                            "host": _nullable_host, "force": types.boolean},
                                           ["block_migration", "host"]))
live_v268 = live_v225

# NOTE: (min, max, schema) as validation.versioned_schemas takes them.
MIGRATE_VERSIONS = [("2.1", "2.55", migrate_v21), ("2.56", None, migrate_v256)]
EVACUATE_VERSIONS = [("2.1", "2.13", evacuate_v21), ("2.14", "2.28", evacuate_v214),
                     ("2.29", "2.67", evacuate_v229), ("2.68", None, evacuate_v268)]
LIVE_VERSIONS = [("2.1", "2.24", live_v21), ("2.25", "2.29", live_v225),
                 ("2.30", "2.67", live_v230), ("2.68", None, live_v268)]

_date = {"type": "string", "format": "date-time"}
migrations_query = {
    "hidden": {"type": "string"},
    "host": {"type": "string"},
    "instance_uuid": {"type": "string"},
    "source_compute": {"type": "string"},
    "status": {"type": "string"},
    "migration_type": {"type": "string", "enum": ["live-migration", "migration", "resize",
                                                  "evacuation"]},
}
migrations_query_v259 = {**migrations_query, "limit": {"type": "string"},
                         "marker": {"type": "string"}, "changes-since": {"type": "string"},
                         "changes-before": {"type": "string"}}
migrations_query_v280 = {**migrations_query_v259, "user_id": {"type": "string"},
                         "project_id": {"type": "string"}}
