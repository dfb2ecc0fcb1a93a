"""Where the other Network API resources (security groups, routers,
floating IPs) plug into networks and ports without this core importing
them: each registers its functions here when its module is imported.

- ``USAGE[resource]``: ``f(project_id) -> int``, what the project has
  (quota usage and enforcement of ``router``, ``floatingip``,
  ``security_group``, ``security_group_rule``).
- ``PORT_CREATED``: ``f(context, port, body)`` after a port is made (by the
  API with its request body, or by Nova with ``{}``): e.g. give it the
  project's default security group, or the ones ``body["security_groups"]``
  names.
- ``PORT_UPDATED``: ``f(context, port, body)`` after an API update.
- ``PORT_DELETING``: ``f(port)`` before a port is deleted.
- ``PORT_ATTRS``: extra attributes a port body may carry (e.g.
  ``security_groups``), name → ``novalite.api.network.common.Attr``.
- ``EXTENSIONS``: extra ``/v2.0/extensions`` entries.
- the port view's ``security_groups``: ``novalite.network.api.SECURITY_GROUPS_OF``.
- :func:`network_changed`: after anything the per-host data plane shows
  changed (a Network API write, a server's ports allocated or released):
  every network agent reconciles at once (``[network] dataplane = vxlan``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

USAGE: dict[str, Callable[[str], int]] = {}
PORT_CREATED: list[Callable[[Any, dict, dict], None]] = []
PORT_UPDATED: list[Callable[[Any, dict, dict], None]] = []
PORT_DELETING: list[Callable[[dict], None]] = []
PORT_ATTRS: dict[str, Any] = {}
EXTENSIONS: list[dict] = []


def port_created(context: Any, port: dict, body: dict) -> None:
    for hook in PORT_CREATED:
        hook(context, port, body)


def port_updated(context: Any, port: dict, body: dict) -> None:
    for hook in PORT_UPDATED:
        hook(context, port, body)


def port_deleting(port: dict) -> None:
    for hook in PORT_DELETING:
        hook(port)


def network_changed() -> None:
    from novalite.network import agent_service

    agent_service.notify_changed()
