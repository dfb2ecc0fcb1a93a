"""Server actions (POST /servers/{id}/action): createImage, createBackup, shelve, shelveOffload, unshelve, rebuild.

actions(compute_api) gives ServerActionsController (server_actions.py)
each action's handler, body validator and policy rule, keyed by the
action's name in the body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Action = tuple[Callable[[Any, Any, Any], Any], Any, str]


def actions(compute_api: Any) -> dict[str, Action]:
    """Handlers take (request, instance, the action's body value)."""
    return {}
