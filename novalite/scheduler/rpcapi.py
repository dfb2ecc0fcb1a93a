"""Client side of the scheduler RPC API.

API version history:

    * 1.0 - Initial version: select_destinations (call).
"""

from __future__ import annotations

from typing import Any

import oslo_messaging as messaging

from novalite import rpc
from novalite.conf import CONF


class SchedulerAPI:
    def __init__(self) -> None:
        target = messaging.Target(topic=CONF.scheduler_topic, version="1.0")
        self.client = rpc.get_client(target, version_cap=CONF.upgrade_levels.scheduler)

    def select_destinations(self, context: Any, request_spec: dict,
                            instance_uuids: list[str]) -> list[dict]:
        """One ``{"host", "nodename"}`` per instance, or NoValidHost whose
        message says which filter removed which hosts."""
        return self.client.call(context, "select_destinations", request_spec=request_spec,
                                instance_uuids=instance_uuids)
