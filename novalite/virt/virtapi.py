"""VirtAPI: how a driver reaches back into the compute service."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from novalite.context import RequestContext


class VirtAPI(abc.ABC):
    @abc.abstractmethod
    def power_state_changed(self, context: RequestContext, instance_uuid: str, power_state: int) -> None:
        """The hypervisor says a guest's power state changed (e.g. it shut
        itself down); the service records it."""

    @abc.abstractmethod
    def instance_event(self, context: RequestContext, instance_uuid: str, event: str,
                       message: str) -> None:
        """Record a notable event for an instance (log and, later, its action
        events), e.g. a failed file injection."""
