"""Admin actions on a server: ``os-resetState`` as Nova has it.

An operator's way out when an instance is stuck (a task state nothing will
clear, an ERROR that no longer holds): the server takes the given vm_state
(``active`` or ``error``) and loses its task state. Nothing on the host
changes; a compute service later records what its hypervisor says (the
power-state sync).
"""

from __future__ import annotations

from typing import Any

import webob

from novalite.api.wsgi import Request

reset_state = {
    "type": "object",
    "properties": {
        "os-resetState": {
            "type": "object",
            "properties": {"state": {"type": "string", "enum": ["active", "error"]}},
            "required": ["state"],
            "additionalProperties": False,
        },
    },
    "required": ["os-resetState"],
    "additionalProperties": False,
}


def reset_state_action(compute_api: Any, req: Request, instance: Any,
                       args: dict) -> webob.Response:
    compute_api.reset_state(req.context, instance, args["state"])
    return webob.Response(status=202)
