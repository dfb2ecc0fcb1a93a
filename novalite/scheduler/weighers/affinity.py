"""ServerGroupSoftAffinityWeigher, ServerGroupSoftAntiAffinityWeigher: the
``soft-`` group policies prefer, but do not require, hosts with more
(affinity) or fewer (anti-affinity) of the group's servers, as Nova's.

Counts include this request's earlier instances (see
novalite.scheduler.filters.affinity_filter), so a multi-create spreads or
packs as a sequence of single creates would.
"""

from __future__ import annotations

from collections.abc import Sequence

from novalite.conf import CONF
from novalite.objects.instance_group import SOFT_AFFINITY, SOFT_ANTI_AFFINITY
from novalite.scheduler.filters.affinity_filter import group_policy, observe
from novalite.scheduler.host_state import HostState, RequestSpec
from novalite.scheduler.weighers import BaseHostWeigher


class _SoftGroupWeigher(BaseHostWeigher):
    policy: str
    sign: float

    def _weigh_object(self, host_state: HostState, spec: RequestSpec) -> float:
        return self.raw_values([host_state], spec)[0]

    def raw_values(self, hosts: Sequence[HostState], spec: RequestSpec) -> list[float]:
        if group_policy(spec) != self.policy:
            return [0.0] * len(hosts)
        view = observe(spec, hosts)
        return [self.sign * view.group_count(h.host) for h in hosts]


class ServerGroupSoftAffinityWeigher(_SoftGroupWeigher):
    policy = SOFT_AFFINITY
    sign = 1.0

    def weight_multiplier(self) -> float:
        return float(CONF.scheduler.soft_affinity_weight_multiplier)


class ServerGroupSoftAntiAffinityWeigher(_SoftGroupWeigher):
    policy = SOFT_ANTI_AFFINITY
    sign = -1.0

    def weight_multiplier(self) -> float:
        return float(CONF.scheduler.soft_anti_affinity_weight_multiplier)
