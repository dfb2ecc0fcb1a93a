"""Host weighers: rank the hosts that passed the filters.

As in Nova, each weigher's raw values are min-max normalised to [0, 1]
across the candidate hosts before its multiplier is applied, so weighers
measured in MiB and in vCPUs contribute comparably and the multipliers alone
set their relative importance (a negative one stacks instead of spreads).
"""

from __future__ import annotations

import abc
import heapq
import random
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from novalite.conf import CONF
from novalite.scheduler.filters import SchedulerPluginNotFound, load_named
from novalite.scheduler.host_state import HostState, RequestSpec

NAMESPACE = "novalite.scheduler.weighers"


class WeigherNotFound(SchedulerPluginNotFound):
    """A ``[scheduler] weighers`` name has no usable entry point."""


class WeighedHost(NamedTuple):
    """(weight, host_state); a tuple so callers can unpack it."""

    weight: float
    host_state: HostState


def normalize(values: Sequence[float], minval: float | None = None,
              maxval: float | None = None) -> list[float]:
    """Scale to [0, 1] by the min and max seen (or given); all equal -> all 0."""
    if not values:
        return []
    lo = float(min(values) if minval is None else minval)
    hi = float(max(values) if maxval is None else maxval)
    if hi == lo:
        return [0.0] * len(values)
    return [(v - lo) / (hi - lo) for v in values]


class BaseHostWeigher(abc.ABC):
    """Gives each host a raw score; higher means more preferred before the multiplier."""

    # NOTE: fixed bounds for normalisation; None means the min/max over the hosts.
    minval: float | None = None
    maxval: float | None = None

    def weight_multiplier(self) -> float:
        """Read at every call so config reloads and test overrides take effect."""
        return 1.0

    @abc.abstractmethod
    def _weigh_object(self, host_state: HostState, spec: RequestSpec) -> float:
        """Raw score of one host."""

    def raw_values(self, hosts: Sequence[HostState], spec: RequestSpec) -> list[float]:
        """Raw scores, one per host; a weigher may override it to skip a
        method call per host (a thousand hosts, every request)."""
        return [self._weigh_object(h, spec) for h in hosts]

    def weigh_objects(self, hosts: Sequence[HostState], spec: RequestSpec) -> list[float]:
        """Normalised scores, one per host, multiplier not yet applied."""
        return normalize(self.raw_values(hosts, spec), self.minval, self.maxval)


class WeightHandler:
    """Applies the configured weighers and sorts hosts best first."""

    def __init__(self, names: Sequence[str] | None = None, *,
                 weighers: Sequence[BaseHostWeigher] | None = None) -> None:
        """Load ``names`` (default ``[scheduler] weighers``) via stevedore, or use ``weighers``."""
        if weighers is None:
            if names is None:
                names = CONF.scheduler.weighers
            weighers = load_named(NAMESPACE, names, BaseHostWeigher, "weigher", WeigherNotFound)
        self.weighers: list[BaseHostWeigher] = list(weighers)

    @classmethod
    def from_classes(cls, classes: Iterable[type[BaseHostWeigher]]) -> WeightHandler:
        """Build without entry points, e.g. in tests before the package is installed."""
        return cls(weighers=[c() for c in classes])

    def get_weighed_hosts(self, hosts: Iterable[HostState],
                          spec: RequestSpec) -> list[WeighedHost]:
        """Hosts with their total weight, best first; ties keep the input order."""
        weighed = self._weigh(list(hosts), spec)
        return sorted(weighed, key=_weight, reverse=True)

    def get_best_hosts(self, hosts: Iterable[HostState], spec: RequestSpec,
                       count: int) -> list[WeighedHost]:
        """The first ``count`` of ``get_weighed_hosts``, without sorting them all."""
        return heapq.nlargest(count, self._weigh(list(hosts), spec), key=_weight)

    def _weigh(self, hosts: list[HostState], spec: RequestSpec) -> list[WeighedHost]:
        totals = [0.0] * len(hosts)
        for weigher in self.weighers:
            multiplier = weigher.weight_multiplier()
            if multiplier == 0 or not hosts:
                continue
            for i, value in enumerate(weigher.weigh_objects(hosts, spec)):
                totals[i] += multiplier * value
        return [WeighedHost(w, h) for w, h in zip(totals, hosts, strict=True)]


def _weight(weighed: WeighedHost) -> float:
    return weighed.weight


def pick_host(weighed: Sequence[WeighedHost], subset_size: int | None = None,
              rng: random.Random | None = None) -> HostState:
    """Choose randomly among the best ``subset_size`` (default ``[scheduler] host_subset_size``).

    A subset above 1 spreads requests that race each other across several
    good hosts instead of all landing on the single best one.
    """
    if not weighed:
        raise ValueError("pick_host needs at least one weighed host")
    size = CONF.scheduler.host_subset_size if subset_size is None else subset_size
    size = max(1, min(size, len(weighed)))
    return (rng or random).choice(weighed[:size]).host_state
