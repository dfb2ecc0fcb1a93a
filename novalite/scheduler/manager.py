"""SchedulerManager: picks hosts with filters, then weighers.

Concurrent ``select_destinations`` calls queue and are answered in batches
(``batch.SelectionQueue``) against a snapshot of the hosts that the
HostManager refreshes from the database in its own thread, outside the
selection lock (``host_manager``).
"""

from __future__ import annotations

import random
from typing import Any

import oslo_messaging as messaging
from oslo_log import log as logging

from novalite import exception, manager, typed_rpc
from novalite.conf import CONF
from novalite.context import RequestContext
from novalite.scheduler.batch import Destination, SelectionQueue
from novalite.scheduler.filters import FilterHandler, affinity_filter
from novalite.scheduler.host_manager import Consumption, HostManager, Snapshot
from novalite.scheduler.host_state import HostState, RequestSpec, Usage
from novalite.scheduler.weighers import WeightHandler

LOG = logging.getLogger(__name__)

__all__ = ["HostManager", "SchedulerManager"]


class SchedulerManager(manager.Manager):
    target = messaging.Target(version="1.1")

    def __init__(self, *args: Any, host_manager: HostManager | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.host_manager = host_manager or HostManager()
        self.filter_handler = FilterHandler(CONF.scheduler.enabled_filters)
        self.weight_handler = WeightHandler(CONF.scheduler.weighers)
        self.selection_queue = SelectionQueue(self.host_manager, self._select)

    def cleanup_host(self) -> None:
        self.host_manager.stop()

    @typed_rpc.expected_exceptions(exception.NoValidHost)
    def select_destinations(self, context: RequestContext,
                            request_spec: RequestSpec | dict[str, Any],
                            instance_uuids: list[str]) -> list[dict[str, str]]:
        """``request_spec``: a RequestSpec (1.1) or an older sender's dict (1.0)."""
        spec = RequestSpec.coerce(context, request_spec)
        assert spec is not None
        chosen = self.selection_queue.submit(spec.obj_clone(), instance_uuids)
        LOG.debug("Scheduled %s on %s", instance_uuids, [c["host"] for c in chosen])
        return chosen

    def _select(self, snapshot: Snapshot | None, spec: RequestSpec,
                instance_uuids: list[str]) -> list[Destination]:
        """One host per instance (under the selection lock); all or nothing:
        a request that cannot place every instance hands back what it took."""
        hosts = snapshot.hosts if snapshot is not None else []
        usage = Usage.of(spec)
        subset = CONF.scheduler.host_subset_size
        taken: list[tuple[HostState, Consumption]] = []
        refusals: list[str] = []
        try:
            for uuid in instance_uuids:
                spec.instance_uuid = uuid
                result = self.filter_handler.filter_all(hosts, spec)
                if not result.hosts:
                    # NOTE: ``refusals``: the same without host names, for
                    # the user's timeline (the reason names hosts: admins
                    # read it in the fault's details and the logs).
                    raise exception.NoValidHost(reason=result.explain(spec),
                                                refusals=result.refusals())
                refusals.append(result.refusals())
                best = self.weight_handler.get_best_hosts(result.hosts, spec, subset)
                _weight, host = random.choice(best)
                taken.append((host, self.host_manager.consume(host, usage)))
        except BaseException:
            for host, consumption in reversed(taken):
                self.host_manager.release(host, consumption)
            raise
        affinity_filter.selected(spec, instance_uuids, [h.host for h, _c in taken])
        return [{"host": h.host, "nodename": h.nodename, "refusals": why}
                for (h, _c), why in zip(taken, refusals, strict=True)]
