"""Client side of the scheduler RPC API.

API version history:

    * 1.0 - Initial version: select_destinations (call), request_spec a dict.
    * 1.1 - select_destinations takes a RequestSpec object (a 1.0 scheduler
            gets the dict it knows, RequestSpec.to_legacy_dict()).
"""

from __future__ import annotations

import oslo_messaging as messaging

from novalite import rpc
from novalite.conf import CONF
from novalite.context import RequestContext
from novalite.objects.request_spec import RequestSpec

Destination = dict[str, str]


class SchedulerAPI:
    def __init__(self) -> None:
        target = messaging.Target(topic=CONF.scheduler_topic, version="1.0")
        self.client = rpc.get_client(target, version_cap=CONF.upgrade_levels.scheduler)

    def select_destinations(self, context: RequestContext, spec: RequestSpec,
                            instance_uuids: list[str]) -> list[Destination]:
        """One ``{"host", "nodename"}`` per instance, or NoValidHost whose
        message says which filter removed which hosts."""
        if self.client.can_send_version("1.1"):
            cctxt = self.client.prepare(version="1.1")
            result: list[Destination] = cctxt.call(context, "select_destinations",
                                                   request_spec=spec,
                                                   instance_uuids=instance_uuids)
            return result
        legacy: list[Destination] = self.client.call(
            context, "select_destinations", request_spec=spec.to_legacy_dict(),
            instance_uuids=instance_uuids)
        return legacy
