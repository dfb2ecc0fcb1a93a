"""Server actions (POST /servers/{id}/action): resize, confirmResize, revertResize, migrate, evacuate, os-migrateLive.

actions(compute_api) gives ServerActionsController (server_actions.py)
each action's handler, body validator and policy rule, keyed by the
action's name in the body.

Per microversion as Nova's: migrate takes ``host`` from 2.56; evacuate
drops ``onSharedStorage`` and answers no ``adminPass`` from 2.14, takes
``force`` from 2.29 to 2.67, and from 2.95 leaves the server STOPPED on its
new host; os-migrateLive takes ``block_migration: "auto"`` and no
``disk_over_commit`` from 2.25, ``force`` from 2.30 to 2.67.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import webob

from novalite import policy
from novalite.api import errors, validation
from novalite.api.compute.servers import target_of
from novalite.api.schemas import moves as schemas
from novalite.api.wsgi import Request
from novalite.compute import api_moves, vm_states
from novalite.policies import migrations as mp

Action = tuple[Callable[[Any, Any, Any], Any], Any, str]

_TRUE = {"true", "1", "on", "yes", "y", "t"}


def _validator(schema: dict) -> Any:
    return jsonschema.Draft202012Validator(schema, format_checker=validation.FORMAT_CHECKER)


# NOTE: the action's own schema is picked by version in the handler; the
# controller's validator only checks the body is one object.
_ANY = _validator({"type": "object"})


def _versioned(versions: list[tuple[str, str | None, dict]]) -> list[tuple[str, str | None, Any]]:
    return [(lo, hi, _validator(schema)) for lo, hi, schema in versions]


_MIGRATE = _versioned(schemas.MIGRATE_VERSIONS)
_EVACUATE = _versioned(schemas.EVACUATE_VERSIONS)
_LIVE = _versioned(schemas.LIVE_VERSIONS)


def _check(req: Request, versions: list[tuple[str, str | None, Any]], name: str,
           value: Any) -> None:
    for lo, hi, validator in versions:
        if req.api_version.matches(lo, hi):
            validation.validate(validator, {name: value})
            return


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE


def _accepted() -> webob.Response:
    return webob.Response(status=202)


def _host_bad_request(fn: Callable[[], Any]) -> Any:
    """migrate and os-migrateLive: an unknown host is 400, as Nova's."""
    try:
        return fn()
    except api_moves.ComputeHostNotFound as e:
        raise errors.bad_request(e.format_message()) from None


def actions(compute_api: Any) -> dict[str, Action]:
    """Handlers take (request, instance, the action's body value)."""

    def resize(req: Request, instance: Any, args: dict) -> webob.Response:
        compute_api.resize(req.context, instance, str(args["flavorRef"]))
        return _accepted()

    def confirm(req: Request, instance: Any, _args: Any) -> webob.Response:
        compute_api.confirm_resize(req.context, instance)
        return webob.Response(status=204)

    def revert(req: Request, instance: Any, _args: Any) -> webob.Response:
        compute_api.revert_resize(req.context, instance)
        return _accepted()

    def migrate(req: Request, instance: Any, args: Any) -> webob.Response:
        _check(req, _MIGRATE, "migrate", args)
        host = (args or {}).get("host") if req.api_version.at_least("2.56") else None
        if host is not None:
            policy.authorize(req.context, mp.MIGRATE_HOST, target_of(instance))
        _host_bad_request(lambda: compute_api.migrate(req.context, instance, host))
        return _accepted()

    def evacuate(req: Request, instance: Any, args: dict) -> Any:
        _check(req, _EVACUATE, "evacuate", args)
        version = req.api_version
        force = (_bool(args.get("force", False))
                 if version.matches("2.29", "2.67") else False)
        host = args.get("host")
        if force and host is None:
            raise errors.bad_request("Forced evacuation needs a target host.")
        target_state = vm_states.STOPPED if version.at_least("2.95") else None
        password = compute_api.evacuate(req.context, instance, host, force=force,
                                        target_state=target_state,
                                        admin_password=args.get("adminPass"))
        if not version.at_least("2.14"):
            return {"adminPass": password}
        return webob.Response(status=200)

    def migrate_live(req: Request, instance: Any, args: dict) -> webob.Response:
        _check(req, _LIVE, "os-migrateLive", args)
        version = req.api_version
        force = (_bool(args.get("force", False))
                 if version.matches("2.30", "2.67") else False)
        host = args.get("host")
        if force and host is None:
            raise errors.bad_request("Forced live migration needs a target host.")
        if host is not None:
            policy.authorize(req.context, mp.MIGRATE_LIVE_HOST, target_of(instance))
        block = args.get("block_migration")
        block_migration: Any = "auto" if block == "auto" else _bool(block)
        _host_bad_request(lambda: compute_api.live_migrate(
            req.context, instance, host, block_migration=block_migration, force=force))
        return _accepted()

    return {
        "resize": (resize, _validator(schemas.resize), mp.RESIZE),
        "confirmResize": (confirm, _validator(schemas.confirm_resize), mp.CONFIRM_RESIZE),
        "revertResize": (revert, _validator(schemas.revert_resize), mp.REVERT_RESIZE),
        "migrate": (migrate, _ANY, mp.MIGRATE),
        "evacuate": (evacuate, _ANY, mp.EVACUATE),
        "os-migrateLive": (migrate_live, _ANY, mp.MIGRATE_LIVE),
    }
