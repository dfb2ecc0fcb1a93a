"""BaseRPCAPI: the endpoint every service has (namespace ``baseapi``)."""

from __future__ import annotations

from typing import Any

import oslo_messaging as messaging
from oslo_log import log as logging

from novalite import rpc

LOG = logging.getLogger(__name__)

_NAMESPACE = "baseapi"


class BaseAPI:
    """Client side of the base RPC API.

    API version history:

        * 1.0 - Initial version: ping, get_backdoor_port.
    """

    VERSION_ALIASES: dict[str, str] = {}

    def __init__(self, topic: str) -> None:
        target = messaging.Target(topic=topic, namespace=_NAMESPACE, version="1.0")
        self.client = rpc.get_client(target)

    def ping(self, context: Any, arg: Any, timeout: int | None = None,
             server: str | None = None) -> dict:
        cctxt = self.client.prepare(timeout=timeout, server=server)
        return cctxt.call(context, "ping", arg=arg)

    def get_backdoor_port(self, context: Any, host: str) -> Any:
        cctxt = self.client.prepare(server=host)
        return cctxt.call(context, "get_backdoor_port")


class BaseRPCAPI:
    """Server side of the base RPC API."""

    target = messaging.Target(namespace=_NAMESPACE, version="1.0")

    def __init__(self, service_name: str, backdoor_port: Any, host: str | None = None) -> None:
        self.service_name = service_name
        self.backdoor_port = backdoor_port
        self.host = host

    def ping(self, context: Any, arg: Any) -> dict:
        LOG.info("ping %r answered by %s on %s", arg, self.service_name, self.host)
        return {"service": self.service_name, "arg": arg}

    def get_backdoor_port(self, context: Any) -> Any:
        return self.backdoor_port
