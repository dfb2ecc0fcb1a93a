"""AvailabilityZoneFilter: honour the zone the user asked for."""

from __future__ import annotations

from novalite.scheduler.filters import BaseHostFilter
from novalite.scheduler.host_state import HostState, RequestSpec


class AvailabilityZoneFilter(BaseHostFilter):
    """Passes every host when no zone was requested, else hosts in that zone."""

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        return (spec.availability_zone is None
                or host_state.availability_zone == spec.availability_zone)

    def filter_hosts(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        zone = spec.availability_zone
        if zone is None:
            return list(hosts)
        return [h for h in hosts if h.availability_zone == zone]

    def reason(self, host_state: HostState, spec: RequestSpec) -> str:
        return f"in availability zone '{host_state.availability_zone}'"

    def explain(self, host_state: HostState, spec: RequestSpec) -> str:
        return (f"{host_state.host} is in availability zone '{host_state.availability_zone}', "
                f"the request wants '{spec.availability_zone}'")
