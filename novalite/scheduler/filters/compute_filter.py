"""ComputeFilter: only hosts whose nova-compute-style service can take work."""

from __future__ import annotations

from novalite.scheduler.filters import BaseHostFilter
from novalite.scheduler.host_state import HostState, RequestSpec


class ComputeFilter(BaseHostFilter):
    """Passes hosts whose compute service is up (recent heartbeat) and enabled.

    A down service would never pick up the build; a disabled one was taken
    out of rotation by an operator on purpose.
    """

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        return host_state.service_up and not host_state.service_disabled

    def filter_hosts(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        return [h for h in hosts if h.service_up and not h.service_disabled]

    def reason(self, host_state: HostState, spec: RequestSpec) -> str:
        problems = []
        if not host_state.service_up:
            problems.append("down")
        if host_state.service_disabled:
            problems.append("disabled")
        text = "service is " + " and ".join(problems)
        if host_state.service_disabled and host_state.disabled_reason:
            text += f" ({host_state.disabled_reason})"
        return text

    def explain(self, host_state: HostState, spec: RequestSpec) -> str:
        text = super().explain(host_state, spec)
        if not host_state.service_up:
            seen = host_state.updated_at.isoformat() if host_state.updated_at else "never"
            text += f", last report {seen}"
        return text
