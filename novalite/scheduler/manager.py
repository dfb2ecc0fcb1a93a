"""SchedulerManager: picks hosts with filters, then weighers."""

from __future__ import annotations

import random
import threading
from typing import Any

import oslo_messaging as messaging
from oslo_log import log as logging

from novalite import exception, manager, typed_rpc
from novalite.conf import CONF
from novalite.context import RequestContext
from novalite.objects.compute_node import ComputeNodeList
from novalite.objects.service import ServiceList
from novalite.scheduler.filters import FilterHandler
from novalite.scheduler.host_state import HostState, RequestSpec
from novalite.scheduler.weighers import WeightHandler

LOG = logging.getLogger(__name__)


class HostManager:
    """Host states from the compute nodes' reports, plus what this scheduler
    handed out since (so concurrent requests don't all pick the same host)."""

    def __init__(self) -> None:
        self._states: dict[str, HostState] = {}
        self._seen: dict[str, Any] = {}

    def get_all_host_states(self, context: RequestContext) -> list[HostState]:
        services = {s.host: s for s in ServiceList.get_all(context, binary="novalite-compute")}
        states: dict[str, HostState] = {}
        for node in ComputeNodeList.get_all(context):
            svc = services.get(node.host)
            if svc is None:
                continue
            stamp = node.updated_at or node.created_at
            cached = self._states.get(node.host)
            if cached is not None and self._seen.get(node.host) == stamp:
                state = cached
            else:
                state = HostState(
                    host=node.host, nodename=node.hypervisor_hostname,
                    service_up=False, service_disabled=False, disabled_reason=None,
                    availability_zone=svc.availability_zone or CONF.default_availability_zone,
                    vcpus=node.vcpus, vcpus_used=node.vcpus_used, memory_mb=node.memory_mb,
                    memory_mb_used=node.memory_mb_used, local_gb=node.local_gb,
                    local_gb_used=node.local_gb_used,
                    cpu_allocation_ratio=node.cpu_allocation_ratio,
                    ram_allocation_ratio=node.ram_allocation_ratio,
                    disk_allocation_ratio=node.disk_allocation_ratio,
                    num_instances=node.running_vms, updated_at=stamp)
                self._seen[node.host] = stamp
            state.service_up = svc.is_up()
            state.service_disabled = svc.disabled
            state.disabled_reason = svc.disabled_reason
            state.availability_zone = svc.availability_zone or CONF.default_availability_zone
            states[node.host] = state
        self._states = states
        return list(states.values())


class SchedulerManager(manager.Manager):
    target = messaging.Target(version="1.1")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.host_manager = HostManager()
        self.filter_handler = FilterHandler(CONF.scheduler.enabled_filters)
        self.weight_handler = WeightHandler(CONF.scheduler.weighers)
        # NOTE: selections are serialised so two requests never consume the
        # same free capacity twice.
        self._lock = threading.Lock()

    @typed_rpc.expected_exceptions(exception.NoValidHost)
    def select_destinations(self, context: RequestContext,
                            request_spec: RequestSpec | dict[str, Any],
                            instance_uuids: list[str]) -> list[dict[str, str]]:
        """``request_spec``: a RequestSpec (1.1) or an older sender's dict (1.0)."""
        spec = RequestSpec.coerce(context, request_spec)
        assert spec is not None
        spec = spec.obj_clone()
        with self._lock:
            hosts = self.host_manager.get_all_host_states(context)
            chosen: list[dict[str, str]] = []
            for uuid in instance_uuids:
                spec.instance_uuid = uuid
                result = self.filter_handler.filter_all(hosts, spec)
                if not result.hosts:
                    raise exception.NoValidHost(reason=result.explain(spec))
                weighed = self.weight_handler.get_weighed_hosts(result.hosts, spec)
                subset = weighed[:CONF.scheduler.host_subset_size]
                _weight, best = random.choice(subset)
                best.consume(spec)
                chosen.append({"host": best.host, "nodename": best.nodename})
        LOG.debug("Scheduled %s on %s", instance_uuids, [c["host"] for c in chosen])
        return chosen
