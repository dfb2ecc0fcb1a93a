"""Host filters, and the handler that runs them and explains NoValidHost.

A filter drops hosts that cannot take the instance. Each one also says, in a
few words, why a host failed, so when nothing is left the user gets e.g.
"RamFilter removed 2 of 3 hosts (host-a: 2048 MiB free RAM, ...)" instead of
a bare "No valid host was found".
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, NamedTuple

from stevedore import named

from novalite.conf import CONF
from novalite.exception import NovaliteException
from novalite.scheduler.host_state import HostState, RequestSpec

NAMESPACE = "novalite.scheduler.filters"
IGNORE_HOSTS_STEP = "ignore_hosts"
# NOTE: a NoValidHost names at most this many hosts per filter: in a cloud
# of a thousand hosts the message (a user's fault text) stays readable.
EXPLAIN_HOSTS = 10


class SchedulerPluginNotFound(NovaliteException):
    msg_fmt = "Scheduler %(kind)s %(name)s is not available (namespace %(namespace)s): %(reason)s"


class FilterNotFound(SchedulerPluginNotFound):
    """An ``[scheduler] enabled_filters`` name has no usable entry point."""


def plural(count: int, word: str) -> str:
    """``1 host`` / ``3 hosts``: messages are read by users."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def load_named(namespace: str, names: Iterable[str], base: type, kind: str,
               error: type[SchedulerPluginNotFound]) -> list[Any]:
    """Instantiate the named entry points of ``namespace``, in the given order.

    Fails at service start, naming the culprit and the names that do exist,
    rather than silently scheduling with fewer filters or weighers than
    configured (stevedore's default is to only log missing names).
    """
    wanted = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))

    def _on_load_failure(_mgr: Any, ep: Any, exc: BaseException) -> None:
        raise error(kind=kind, name=ep.name, namespace=namespace,
                    reason=f"importing {ep.value} failed: {exc!r}") from exc

    missing: set[str] = set()
    mgr = named.NamedExtensionManager(
        namespace, names=wanted, invoke_on_load=True, name_order=True,
        on_load_failure_callback=_on_load_failure,
        on_missing_entrypoints_callback=missing.update)
    if missing:
        known = sorted(ep.name for ep in entry_points(group=namespace))
        reason = (f"known names: {', '.join(known)}" if known else
                  "nothing is registered there; is the novalite package installed?")
        raise error(kind=kind, name=", ".join(sorted(missing)), namespace=namespace,
                    reason=reason)
    for ext in mgr.extensions:
        if not isinstance(ext.obj, base):
            raise error(kind=kind, name=ext.name, namespace=namespace,
                        reason=f"{type(ext.obj).__name__} is not a {base.__name__}")
    return [ext.obj for ext in mgr.extensions]


class BaseHostFilter(abc.ABC):
    """A yes/no test on one host for one request, able to say why not."""

    @property
    def name(self) -> str:
        """Name used in explanations; equals the entry-point name."""
        return type(self).__name__

    @abc.abstractmethod
    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        """True if the host can take one instance of ``spec``."""

    @abc.abstractmethod
    def reason(self, host_state: HostState, spec: RequestSpec) -> str:
        """Few words on why the host failed, without the host name: "256 MiB free RAM".

        Used in the NoValidHost summary, which states the request's needs once.
        """

    def explain(self, host_state: HostState, spec: RequestSpec) -> str:
        """A standalone sentence on why the host failed, for logs."""
        return f"{host_state.host}: {self.reason(host_state, spec)}"

    def filter_hosts(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        """The hosts that pass, in their order.

        The handler calls this once per request with every candidate host;
        a filter whose test has a part that is the same for every host (what
        the request needs) overrides it to work that part out once, which
        matters with a thousand hosts. It must agree with ``host_passes``.
        """
        return [h for h in hosts if self.host_passes(h, spec)]


class RemovedHost(NamedTuple):
    host: str
    reason: str


@dataclass
class FilterStep:
    """What one filter (or the ignore_hosts pass) did: hosts in, hosts removed.

    The reasons are worded only when read (``removed``): a request that
    finds a host needs none, and wording one per removed host, of a
    thousand, for every request was most of the filtering time. They are
    read from the host states as they are then, so read them before anything
    is consumed (the scheduler explains a NoValidHost right away).
    """

    name: str
    start: int
    removed_states: list[HostState] = field(default_factory=list)
    reason: Callable[[HostState], str] = field(default=lambda _h: "")

    @property
    def removed(self) -> list[RemovedHost]:
        return [RemovedHost(h.host, self.reason(h)) for h in self.removed_states]

    @property
    def end(self) -> int:
        return self.start - len(self.removed_states)


@dataclass
class FilterResult:
    """The hosts that passed, and per step in order which hosts it removed and why."""

    hosts: list[HostState]
    total: int
    steps: list[FilterStep]

    def explain(self, spec: RequestSpec) -> str:
        """The NoValidHost reason.

        "N of M hosts": M is every host considered, so the counts of all
        steps add up to M and a host is blamed on the first step that
        removed it only.
        """
        if self.total == 0:
            return "there are no compute hosts"
        needs = (f"{spec.flavor_label} needs {spec.memory_mb} MiB RAM, "
                 f"{plural(spec.vcpus, 'vCPU')}, {spec.disk_gb} GiB disk")
        if spec.availability_zone is not None:
            needs += f" in availability zone '{spec.availability_zone}'"
        parts = [needs]
        for step in self.steps:
            if not step.removed:
                continue
            shown = step.removed_states[:EXPLAIN_HOSTS]
            hosts = ", ".join(f"{h.host}: {step.reason(h)}" for h in shown)
            if len(step.removed_states) > len(shown):
                hosts += f" and {len(step.removed_states) - len(shown)} more"
            parts.append(f"{step.name} removed {len(step.removed)} of "
                         f"{plural(self.total, 'host')} ({hosts})")
        return "; ".join(parts)

    def refusals(self, reasons: int = 3) -> str:
        """Which filters refused how many hosts, without host names (what a
        user may read in the timeline): "3 hosts considered; 2 refused:
        RamFilter 1 (256 MiB free RAM), ComputeFilter 1 (down)". At most
        ``reasons`` distinct reasons per filter are worded."""
        considered = f"{plural(self.total, 'host')} considered"
        refused = [s for s in self.steps if s.removed_states]
        if not refused:
            return f"{considered}; none refused"
        parts = []
        for step in refused:
            words = list(dict.fromkeys(step.reason(h) for h in step.removed_states[:reasons]))
            parts.append(f"{step.name} {len(step.removed_states)} ({', '.join(words)})")
        count = sum(len(s.removed_states) for s in refused)
        return f"{considered}; {count} refused: {', '.join(parts)}"

    def summary(self) -> str:
        """Nova-style one-line trace for logs: "ComputeFilter: (start: 3, end: 2), ..."."""
        return ", ".join(f"{s.name}: (start: {s.start}, end: {s.end})" for s in self.steps)


class FilterHandler:
    """Runs the enabled filters in order over the candidate hosts."""

    def __init__(self, names: Sequence[str] | None = None, *,
                 filters: Sequence[BaseHostFilter] | None = None) -> None:
        """Load ``names`` (default ``[scheduler] enabled_filters``) via stevedore,
        or use ready ``filters`` (tests, or a caller with its own set)."""
        if filters is None:
            if names is None:
                names = CONF.scheduler.enabled_filters
            filters = load_named(NAMESPACE, names, BaseHostFilter, "filter", FilterNotFound)
        self.filters: list[BaseHostFilter] = list(filters)

    @classmethod
    def from_classes(cls, classes: Iterable[type[BaseHostFilter]]) -> FilterHandler:
        """Build without entry points, e.g. in tests before the package is installed."""
        return cls(filters=[c() for c in classes])

    def filter_all(self, hosts: Iterable[HostState], spec: RequestSpec) -> FilterResult:
        """Apply ignore_hosts, then each filter in order; stop once nothing is left."""
        remaining = list(hosts)
        total = len(remaining)
        steps: list[FilterStep] = []
        avoid = spec.hosts_to_avoid()
        if avoid:
            ignore = set(avoid)
            step = FilterStep(IGNORE_HOSTS_STEP, len(remaining),
                              [h for h in remaining if h.host in ignore],
                              lambda _h: "already tried")
            remaining = [h for h in remaining if h.host not in ignore]
            steps.append(step)
        for flt in self.filters:
            if not remaining:
                break
            passed = flt.filter_hosts(remaining, spec)
            step = FilterStep(flt.name, len(remaining), _removed(remaining, passed),
                              functools.partial(flt.reason, spec=spec))
            remaining = passed
            steps.append(step)
        return FilterResult(hosts=remaining, total=total, steps=steps)


def _removed(before: list[HostState], passed: list[HostState]) -> list[HostState]:
    """``before`` minus ``passed``, in order (by identity: a host's state is one object)."""
    if len(passed) == len(before):
        return []
    kept = {id(h) for h in passed}
    return [h for h in before if id(h) not in kept]
