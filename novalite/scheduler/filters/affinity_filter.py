"""Server group and instance affinity filters: ServerGroupAffinityFilter,
ServerGroupAntiAffinityFilter (policies ``affinity`` / ``anti-affinity``
of the group named by the ``group`` hint), SameHostFilter and
DifferentHostFilter (the ``same_host`` / ``different_host`` hints), as
Nova's of those names.

Where a group's members run is read once per request from the database
(the members' instance rows), plus where this scheduler placed members
whose rows do not name their host yet (``selected``: concurrent creates
into one group), plus where this request's own earlier instances went: a multi-create into an anti-affinity group must spread
although none of its instances has a host yet. The scheduler's loop places
one instance at a time and consumes the chosen host, so when the request
moves on to its next instance the host whose instance count grew is the
one the previous instance took (``observe``, ``RequestView.placed``).
NOTE: that holds while the scheduler places one request's instances one
after another with nothing else consumed in between, as its selection
loop does; a hook from the scheduler naming the chosen host (Nova appends
it to the spec's group) would not need the inference.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from novalite import context as nl_context
from novalite.objects.instance import InstanceList
from novalite.objects.instance_group import (
    AFFINITY,
    ANTI_AFFINITY,
    InstanceGroup,
    InstanceGroupNotFound,
)
from novalite.scheduler.filters import BaseHostFilter, plural
from novalite.scheduler.host_state import HostState, RequestSpec

_VIEW_ATTR = "_novalite_request_view"

# NOTE: how long this scheduler counts a group member on the host it chose
# for it before the member's instance row names that host (the conductor
# writes it right after the answer; a build that never gets there must not
# hold the host forever).
PENDING_SECONDS = 300.0
_pending: dict[str, dict[str, tuple[str, float]]] = {}
_pending_lock = threading.Lock()


def selected(spec: RequestSpec, instance_uuids: Sequence[str], hosts: Sequence[str]) -> None:
    """The scheduler's answer to a request: its instances of a server group
    count on their hosts for the next requests at once, before any instance
    row names its host (concurrent creates into one anti-affinity group must
    not land together)."""
    group_uuid = spec.instance_group if spec.obj_attr_is_set("instance_group") else None
    if not group_uuid:
        return
    now = time.monotonic()
    with _pending_lock:
        placed = _pending.setdefault(str(group_uuid), {})
        placed.update((uuid, (host, now)) for uuid, host in zip(instance_uuids, hosts,
                                                                 strict=True))


def _pending_hosts(group_uuid: str, members: Sequence[str], recorded: dict[str, str],
                   exclude: str | None) -> Counter[str]:
    """Hosts of members this scheduler placed that no instance row shows yet."""
    now = time.monotonic()
    live = set(members)
    out: Counter[str] = Counter()
    with _pending_lock:
        placed = _pending.get(group_uuid, {})
        for uuid, (host, when) in list(placed.items()):
            if uuid in recorded or uuid not in live or now - when > PENDING_SECONDS:
                del placed[uuid]
            elif uuid != exclude:
                out[host] += 1
        if not placed:
            _pending.pop(group_uuid, None)
    return out


@dataclass
class RequestView:
    """What the affinity filters and weighers know about one request."""

    group: InstanceGroup | None
    # Hosts of the group's members recorded before this request: {host: count}.
    member_hosts: Counter[str]
    # Hosts this request's earlier instances took: {host: count}.
    placed: Counter[str] = field(default_factory=Counter)
    instance_uuid: str | None = None
    seen: dict[str, tuple[HostState, int]] = field(default_factory=dict)
    hint_hosts: dict[str, set[str]] = field(default_factory=dict)

    def group_count(self, host: str) -> int:
        """Members of the group on ``host``, this request's ones included."""
        return self.member_hosts[host] + self.placed[host]

    def group_hosts(self) -> set[str]:
        return {h for h, n in (self.member_hosts + self.placed).items() if n > 0}


def _load(spec: RequestSpec) -> RequestView:
    ctxt = nl_context.get_admin_context()
    group: InstanceGroup | None = None
    hosts: Counter[str] = Counter()
    group_uuid = spec.instance_group if spec.obj_attr_is_set("instance_group") else None
    if group_uuid:
        try:
            group = InstanceGroup.get_by_uuid(ctxt, group_uuid)
        except InstanceGroupNotFound:
            group = None
        else:
            recorded = InstanceGroup.get_member_hosts(ctxt, group_uuid)
            hosts = Counter(host for uuid, host in recorded.items()
                            if uuid != spec.instance_uuid)
            hosts += _pending_hosts(group_uuid, group.members, recorded, spec.instance_uuid)
    view = RequestView(group=group, member_hosts=hosts)
    hints = spec.scheduler_hints if spec.obj_attr_is_set("scheduler_hints") else {}
    for hint in ("same_host", "different_host"):
        uuids = [u for u in hints.get(hint) or [] if u]
        if uuids:
            found = InstanceList.get_by_filters(ctxt, {"uuids": uuids}, sort_key="id")
            view.hint_hosts[hint] = {i.host for i in found if i.host}
    return view


def request_view(spec: RequestSpec) -> RequestView:
    """The request's view, loaded on first use and kept on the spec object
    (one per select_destinations call)."""
    view: RequestView | None = getattr(spec, _VIEW_ATTR, None)
    if view is None:
        view = _load(spec)
        object.__setattr__(spec, _VIEW_ATTR, view)
    return view


def observe(spec: RequestSpec, hosts: Sequence[HostState]) -> RequestView:
    """The request's view, brought up to the spec's current instance: when
    the scheduler moved on from the previous one, the host whose instance
    count grew since it was seen took it. Notes ``hosts`` as seen."""
    view = request_view(spec)
    current = spec.instance_uuid if spec.obj_attr_is_set("instance_uuid") else None
    if current != view.instance_uuid:
        for host, (state, count) in view.seen.items():
            if state.num_instances > count:
                view.placed[host] += 1
        view.seen = {}
        view.instance_uuid = current
    for h in hosts:
        view.seen.setdefault(h.host, (h, h.num_instances))
    return view


def group_policy(spec: RequestSpec) -> str | None:
    """The policy of the request's group; None without one (no database
    read then: most requests have no group and cost nothing per host)."""
    if not (spec.obj_attr_is_set("instance_group") and spec.instance_group):
        return None
    group = request_view(spec).group
    return group.policy if group is not None else None


class ServerGroupAntiAffinityFilter(BaseHostFilter):
    """An ``anti-affinity`` group: no host gets more than
    ``max_server_per_host`` (default 1) of the group's servers."""

    @staticmethod
    def _fits(view: RequestView, host_state: HostState) -> bool:
        assert view.group is not None
        return view.group_count(host_state.host) < view.group.max_server_per_host

    def filter_hosts(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        if group_policy(spec) != ANTI_AFFINITY:
            return hosts
        view = observe(spec, hosts)
        return [h for h in hosts if self._fits(view, h)]

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        return group_policy(spec) != ANTI_AFFINITY or self._fits(request_view(spec), host_state)

    def reason(self, host_state: HostState, spec: RequestSpec) -> str:
        view = request_view(spec)
        assert view.group is not None
        return (f"has {plural(view.group_count(host_state.host), 'server')} of server group "
                f"{view.group.uuid}, whose policy anti-affinity allows "
                f"{view.group.max_server_per_host} per host")


class ServerGroupAffinityFilter(BaseHostFilter):
    """An ``affinity`` group: once a member runs somewhere, every other goes there."""

    @staticmethod
    def _fits(view: RequestView, host_state: HostState) -> bool:
        hosts = view.group_hosts()
        return not hosts or host_state.host in hosts

    def filter_hosts(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        if group_policy(spec) != AFFINITY:
            return hosts
        view = observe(spec, hosts)
        return [h for h in hosts if self._fits(view, h)]

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        return group_policy(spec) != AFFINITY or self._fits(request_view(spec), host_state)

    def reason(self, host_state: HostState, spec: RequestSpec) -> str:
        view = request_view(spec)
        assert view.group is not None
        return (f"not where server group {view.group.uuid}'s servers run (policy affinity: "
                f"{', '.join(sorted(view.group_hosts()))})")


def _hint(spec: RequestSpec, name: str) -> bool:
    hints = spec.scheduler_hints if spec.obj_attr_is_set("scheduler_hints") else {}
    return bool(hints.get(name))


class SameHostFilter(BaseHostFilter):
    """``same_host``: a host running one of the given servers."""

    def filter_hosts(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        if not _hint(spec, "same_host"):
            return hosts
        wanted = request_view(spec).hint_hosts.get("same_host", set())
        return [h for h in hosts if h.host in wanted]

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        return self.filter_hosts([host_state], spec) == [host_state]

    def reason(self, host_state: HostState, spec: RequestSpec) -> str:
        return "runs none of the servers of the same_host hint"


class DifferentHostFilter(BaseHostFilter):
    """``different_host``: a host running none of the given servers."""

    def filter_hosts(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        if not _hint(spec, "different_host"):
            return hosts
        unwanted = request_view(spec).hint_hosts.get("different_host", set())
        return [h for h in hosts if h.host not in unwanted]

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        return self.filter_hosts([host_state], spec) == [host_state]

    def reason(self, host_state: HostState, spec: RequestSpec) -> str:
        return "runs a server of the different_host hint"
