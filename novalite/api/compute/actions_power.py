"""Server actions (POST /servers/{id}/action): pause, unpause, suspend, resume, rescue, unrescue, lock, unlock, changePassword, trigger_crash_dump.

actions(compute_api) gives ServerActionsController (server_actions.py)
each action's handler, body validator and policy rule, keyed by the
action's name in the body.

Also the legacy ``os-getSerialConsole`` (2.1-2.5; from 2.6 POST
/servers/{id}/remote-consoles, remote_consoles.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import jsonschema
import webob

from novalite import policy
from novalite.api import errors, microversions, validation
from novalite.api.compute.servers import target_of
from novalite.api.schemas import power_actions as schemas
from novalite.conf import CONF
from novalite.policies import power_actions as pp

Action = tuple[Callable[[Any, Any, Any], Any], Any, str]


def _validator(schema: dict) -> Any:
    return jsonschema.Draft202012Validator(schema, format_checker=validation.FORMAT_CHECKER)


def _accepted() -> webob.Response:
    return webob.Response(status=202)


def serial_console_url(compute_api: Any, context: Any, instance: Any) -> str:
    """The one-time URL of the instance's serial console (400 when serial
    consoles are off, as Nova's ConsoleTypeUnavailable; 409 when the guest
    is not running; 501 when its driver has none)."""
    if not CONF.serial_console.enabled:
        raise errors.bad_request("Unavailable console type serial.")
    try:
        return str(compute_api.get_serial_console(context, instance))
    except NotImplementedError:
        raise errors.HTTPError(501, "Unable to get serial console, functionality not "
                                    "implemented") from None


def actions(compute_api: Any) -> dict[str, Action]:
    """Handlers take (request, instance, the action's body value)."""

    def simple(method: str) -> Callable[[Any, Any, Any], webob.Response]:
        def handler(req: Any, instance: Any, _args: Any) -> webob.Response:
            getattr(compute_api, method)(req.context, instance)
            return _accepted()
        return handler

    def lock(req: Any, instance: Any, args: Any) -> webob.Response:
        reason = None
        if req.api_version.at_least("2.73"):
            validation.validate(_LOCK_2_73, {"lock": args})
            if args is not None:
                reason = args.get("locked_reason")
        else:
            validation.validate(_LOCK, {"lock": args})
        compute_api.lock(req.context, instance, reason=reason)
        return _accepted()

    def unlock(req: Any, instance: Any, _args: Any) -> webob.Response:
        # NOTE: as Nova's: unlocking a lock the other side took (an admin's,
        # for the owner) needs unlock_override (admins by default).
        if not compute_api.is_expected_locked_by(req.context, instance):
            policy.authorize(req.context, pp.UNLOCK_OVERRIDE, target_of(instance))
        compute_api.unlock(req.context, instance)
        return _accepted()

    def rescue(req: Any, instance: Any, args: Any) -> dict:
        args = args or {}
        password = args.get("adminPass") or secrets.token_urlsafe(9)
        compute_api.rescue(req.context, instance, password, args.get("rescue_image_ref"))
        return {"adminPass": password} if CONF.api.enable_instance_password else {}

    def change_password(req: Any, instance: Any, args: dict) -> webob.Response:
        try:
            compute_api.set_admin_password(req.context, instance, args["adminPass"])
        except NotImplementedError:
            raise errors.HTTPError(501, "Unable to set password on instance") from None
        return _accepted()

    def crash_dump(req: Any, instance: Any, _args: Any) -> webob.Response:
        if not req.api_version.at_least("2.17"):
            raise microversions.method_not_supported(req.api_version)
        compute_api.trigger_crash_dump(req.context, instance)
        return _accepted()

    def get_serial_console(req: Any, instance: Any, args: dict) -> dict:
        if req.api_version.at_least("2.6"):
            raise microversions.method_not_supported(req.api_version)
        return {"console": {"type": args["type"],
                            "url": serial_console_url(compute_api, req.context, instance)}}

    return {
        "pause": (simple("pause"), _validator(schemas.pause), pp.PAUSE),
        "unpause": (simple("unpause"), _validator(schemas.unpause), pp.UNPAUSE),
        "suspend": (simple("suspend"), _validator(schemas.suspend), pp.SUSPEND),
        "resume": (simple("resume"), _validator(schemas.resume), pp.RESUME),
        "unrescue": (simple("unrescue"), _validator(schemas.unrescue), pp.UNRESCUE),
        "rescue": (rescue, _validator(schemas.rescue), pp.RESCUE),
        "lock": (lock, _validator(schemas.lock_any), pp.LOCK),
        "unlock": (unlock, _validator(schemas.unlock), pp.UNLOCK),
        "changePassword": (change_password, _validator(schemas.change_password),
                           pp.ADMIN_PASSWORD),
        "trigger_crash_dump": (crash_dump, _validator(schemas.trigger_crash_dump),
                               pp.TRIGGER_CRASH_DUMP),
        "os-getSerialConsole": (get_serial_console, _validator(schemas.get_serial_console),
                                pp.REMOTE_CONSOLES),
    }


_LOCK = _validator(schemas.lock)
_LOCK_2_73 = _validator(schemas.lock_v2_73)
