"""POST /servers/{id}/action: the body's one key names the action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import webob

from novalite import policy
from novalite.api import errors, validation
from novalite.api.compute import (
    actions_images,
    actions_moves,
    actions_power,
    admin_actions,
    server_security_groups,
)
from novalite.api.compute.servers import target_of
from novalite.api.schemas import servers as schemas
from novalite.api.wsgi import Request
from novalite.policies import admin_actions as admin_policies
from novalite.policies import servers as sp
from novalite.policies.deferred_delete import RESTORE

# NOTE: as Nova's schema, any value (tempest sends {}).
_RESTORE = {"type": "object", "properties": {"restore": {}}, "required": ["restore"],
            "additionalProperties": False}


def _validator(schema: dict) -> Any:
    return jsonschema.Draft202012Validator(schema, format_checker=validation.FORMAT_CHECKER)


class ServerActionsController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api
        # NOTE: each action: its handler, body schema and policy rule.
        self._actions: dict[str, tuple[Callable[[Request, Any, Any], Any], Any, str]] = {
            "os-stop": (self._stop, _validator(schemas.stop), sp.SERVERS % "stop"),
            "os-start": (self._start, _validator(schemas.start), sp.SERVERS % "start"),
            "reboot": (self._reboot, _validator(schemas.reboot), sp.SERVERS % "reboot"),
            "os-getConsoleOutput": (self._console_output,
                                    _validator(schemas.get_console_output),
                                    sp.CONSOLE_OUTPUT),
            "forceDelete": (self._force_delete, _validator(schemas.force_delete),
                            sp.FORCE_DELETE),
            "os-resetState": (self._reset_state, _validator(admin_actions.reset_state),
                              admin_policies.RESET_STATE),
            "restore": (self._restore, _validator(_RESTORE), RESTORE),
        }
        for family in (actions_power, actions_images, actions_moves, server_security_groups):
            self._actions.update(family.actions(compute_api))

    @validation.schema(schemas.action)
    @validation.openapi(responses={
        "200": {"description": "os-getConsoleOutput: the console log.",
                "content": {"application/json": {"schema": {
                    "type": "object", "required": ["output"],
                    "properties": {"output": {"type": "string"}},
                    "additionalProperties": False}}}},
        "202": {"description": "os-stop, os-start, reboot, forceDelete, "
                               "os-resetState: accepted, no body."}})
    def action(self, req: Request, id: str, body: dict) -> Any:
        name = next(iter(body))
        if name not in self._actions:
            raise errors.bad_request(f"There is no such action: {name}")
        handler, validator, rule = self._actions[name]
        validation.validate(validator, body)
        # NOTE: the lookup first: another project's server is 404 whatever
        # the caller's roles, only then may the policy say 403.
        instance = self.compute_api.get(req.context, id)
        policy.authorize(req.context, rule, target_of(instance))
        return handler(req, instance, body[name])

    def _stop(self, req: Request, instance: Any, _args: Any) -> webob.Response:
        self.compute_api.stop(req.context, instance)
        return webob.Response(status=202)

    def _start(self, req: Request, instance: Any, _args: Any) -> webob.Response:
        self.compute_api.start(req.context, instance)
        return webob.Response(status=202)

    def _reboot(self, req: Request, instance: Any, args: dict) -> webob.Response:
        self.compute_api.reboot(req.context, instance, args["type"].upper())
        return webob.Response(status=202)

    def _reset_state(self, req: Request, instance: Any, args: dict) -> webob.Response:
        return admin_actions.reset_state_action(self.compute_api, req, instance, args)

    def _restore(self, req: Request, instance: Any, _args: Any) -> webob.Response:
        self.compute_api.restore(req.context, instance)
        return webob.Response(status=202)

    def _force_delete(self, req: Request, instance: Any, _args: Any) -> webob.Response:
        self.compute_api.force_delete(req.context, instance)
        return webob.Response(status=202)

    def _console_output(self, req: Request, instance: Any, args: dict) -> dict:
        length = args.get("length")
        if length is not None:
            length = int(length)
            if length < -1:
                raise errors.bad_request(f"Invalid input for field/attribute length. "
                                         f"Value: {length}. {length} is less than the "
                                         "minimum of -1")
            # NOTE: Nova's -1 means the whole log.
            if length == -1:
                length = None
        try:
            output = self.compute_api.get_console_output(req.context, instance, length)
        except NotImplementedError:
            raise errors.HTTPError(501, "Unable to get console: the compute driver of "
                                        f"host {instance.host} has no console log.") from None
        return {"output": output}
