"""Manager: the base of every service's business logic (compute, conductor,
scheduler). It owns periodic tasks and builds its RPC dispatcher."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import oslo_messaging as messaging
from oslo_log import log as logging

from novalite import baserpc, rpc
from novalite.conf import CONF

LOG = logging.getLogger(__name__)


@dataclass
class PeriodicTask:
    name: str
    interval: float
    fn: Callable[[], Any]
    initial_delay: float | None = None


class Manager:
    target = messaging.Target(version="1.0")

    def __init__(self, host: str | None = None, service_name: str = "undefined") -> None:
        self.host = host or CONF.host
        self.service_name = service_name
        self.service: Any = None

    def init_host(self) -> None:
        """Hook run before the service starts consuming RPC."""

    def pre_start_hook(self, service: Any) -> None:
        """Hook run after the service record exists, before consuming RPC."""
        self.service = service

    def post_start_hook(self) -> None:
        """Hook run once the RPC server consumes."""

    def cleanup_host(self) -> None:
        """Hook run when the service stops, after RPC stopped consuming."""

    def periodic_tasks(self) -> list[PeriodicTask]:
        """Tasks the service runs on timers; intervals come from config."""
        return []

    def create_rpc_dispatcher(self, backdoor_port: Any = None,
                              additional_apis: list | None = None) -> messaging.RPCDispatcher:
        """The dispatcher for this manager: extra APIs first, then the manager,
        then BaseRPCAPI. The first endpoint whose namespace and version fit
        the request and that has the method serves it."""
        apis = list(additional_apis or [])
        apis.extend([self, baserpc.BaseRPCAPI(self.service_name, backdoor_port, self.host)])
        return rpc.get_dispatcher(apis)
