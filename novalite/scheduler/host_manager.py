"""HostManager: the scheduler's snapshot of every compute host, refreshed
from the database by its own thread and never under the selection lock.

Reading every service and compute node costs about 60 ms of CPU with 1,000
hosts (more wall time under load). Done inside the lock that serialises
selections, as before, every ``select_destinations`` waited for every other
one's read. Now:

* ``snapshot`` holds the host states selections use. A refresh reads the
  database with no lock held, builds the next snapshot, then installs it
  under ``lock`` (the selection lock) in well under a millisecond.
* Freshness: a request that arrives at time A is answered only from a
  snapshot whose database read began at or after A - ``[scheduler]
  host_state_max_age_ms``. Requests arriving within that age of one read
  share it, so 200 queued requests cost a few reads, not 200. While requests
  keep coming, the next read starts before the snapshot is too old (early by
  about the time a read takes), so they seldom wait for one.
* Merging, as Nova's ``HostState.update_from_compute_node``: a host whose
  report did not change keeps its HostState object, so what this scheduler
  consumed on it since stays; a newer report replaces it. What was consumed
  after that read began is applied again on the replacement: the report
  cannot contain instances placed after it was read. What was consumed
  before is the report's to say, as it always was.

Every consume and every install happen under ``lock``, so a consume either
lands in the snapshot being replaced (and is carried over as above) or in
the new one: concurrent requests never take the same free capacity twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from oslo_log import log as logging

from novalite import context as nl_context
from novalite import persistence
from novalite.conf import CONF
from novalite.context import RequestContext
from novalite.objects.compute_node import ComputeNode, ComputeNodeList
from novalite.objects.service import Service, ServiceList
from novalite.scheduler.host_state import HostState, Usage

LOG = logging.getLogger(__name__)

# NOTE: what one refresh's DB read yields: each compute node with its service.
Reports = list[tuple[ComputeNode, Service]]


@dataclass(frozen=True)
class Snapshot:
    """Every host's state as of one database read (plus consumes since)."""

    taken_at: float  # time.monotonic() when the read began
    hosts: list[HostState]
    by_host: dict[str, HostState]


@dataclass(frozen=True)
class RefreshFailure:
    """A read that failed: the requests it was to serve get its error."""

    started: float
    finished: float
    error: Exception


@dataclass(eq=False)
class Consumption:
    """One instance placed on ``host`` by this scheduler, and when."""

    at: float
    host: str
    usage: Usage


@dataclass
class _Merge:
    """The next snapshot, built with no lock held, and what its install does."""

    hosts: list[HostState] = field(default_factory=list)
    replaced: dict[str, HostState] = field(default_factory=dict)
    service_changes: list[tuple[HostState, bool, bool, str | None, str]] = \
        field(default_factory=list)


def _replaces(stamp: datetime | None, current: datetime | None) -> bool:
    """Whether a report stamped ``stamp`` replaces the state built from one
    stamped ``current``: when it differs and is not older."""
    if stamp == current:
        return False
    return stamp is None or current is None or stamp > current


class HostManager:
    """Snapshot of the compute hosts; ``want`` keeps it fresh enough."""

    def __init__(self) -> None:
        # NOTE: the selection lock: held to select for one request and to
        # install a snapshot, never for a database read.
        self.lock = threading.Lock()
        self.snapshot: Snapshot | None = None
        self.failure: RefreshFailure | None = None
        self._consumed: list[Consumption] = []
        self._listeners: list[Callable[[], None]] = []
        self._cv = threading.Condition()
        self._refresh_lock = threading.Lock()
        self._pending = False
        self._latest_start: float | None = None
        self._duration = 0.0
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- freshness -------------------------------------------------------------------

    @property
    def max_age(self) -> float:
        """Seconds; read on every use so overrides take effect."""
        return float(CONF.scheduler.host_state_max_age_ms) / 1000.0

    def serves(self, arrived: float) -> bool:
        """Whether the snapshot may answer a request that arrived at ``arrived``."""
        snap = self.snapshot
        return snap is not None and snap.taken_at >= arrived - self.max_age

    def failed(self, arrived: float) -> Exception | None:
        """The error of the read that was to serve a request that arrived at
        ``arrived`` and failed while it waited; None if there is none."""
        fail = self.failure
        if fail is None or self.serves(arrived):
            return None
        if fail.started >= arrived - self.max_age and arrived <= fail.finished:
            return fail.error
        return None

    def want(self, arrived: float) -> None:
        """A request arrived at ``arrived``: start a read unless the newest
        one (done or under way) is recent enough for it and the ones after it.

        The read starts early, by about the time the last reads took (at
        most half the age bound), so that under steady load the next
        snapshot is in before the current one is too old.
        """
        max_age = self.max_age
        early = max_age - min(max_age / 2, self._duration)
        with self._cv:
            start = self._latest_start
            if start is not None and arrived - start < early:
                return
            self._pending = True
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                # NOTE: bound: the thread keeps the service's persistence
                # route (the scheduler's: the database, here).
                self._thread = threading.Thread(target=persistence.bound(self._refresh_loop),
                                                name="scheduler-host-states", daemon=True)
                self._thread.start()
            self._cv.notify_all()

    def add_listener(self, callback: Callable[[], None]) -> None:
        """``callback()`` after every refresh, installed or failed (no lock held)."""
        self._listeners.append(callback)

    def stop(self) -> None:
        """End the refresh thread (the service stops); a later ``want`` starts it again."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(30)

    def _refresh_loop(self) -> None:
        context = nl_context.get_admin_context()
        while True:
            with self._cv:
                while not self._pending and not self._stopping:
                    self._cv.wait()
                if self._stopping:
                    return
                self._pending = False
            try:
                self.get_all_host_states(context)
            except Exception:  # noqa: BLE001  # the waiting requests get it
                LOG.exception("Reading the compute hosts' states failed; the "
                              "requests waiting for it fail, the next request reads again")
            for callback in self._listeners:
                callback()

    # -- refresh -----------------------------------------------------------------------

    def get_all_host_states(self, context: RequestContext) -> list[HostState]:
        """Read every host from the database (no lock held), merge, install.

        Called by the refresh thread; the name is the one the benchmarks
        time (``benchmarks/_selectstats.py``).
        """
        with self._refresh_lock:
            started = time.monotonic()
            with self._cv:
                self._latest_start = started
            try:
                reports = self.read_reports(context)
                merge = self._merge(reports, self.snapshot)
            except Exception as exc:
                with self._cv:
                    self.failure = RefreshFailure(started, time.monotonic(), exc)
                    snap = self.snapshot
                    # NOTE: the failed read is not a recent one: the next
                    # request reads again.
                    self._latest_start = snap.taken_at if snap is not None else None
                raise
            self._install(started, merge)
            elapsed = time.monotonic() - started
            self._duration = elapsed if not self._duration else (
                0.7 * self._duration + 0.3 * elapsed)
            return merge.hosts

    def read_reports(self, context: RequestContext) -> Reports:
        """Every compute node whose host has a compute service, with that service."""
        services = {s.host: s for s in ServiceList.get_all(context, binary="novalite-compute")}
        return [(node, services[node.host]) for node in ComputeNodeList.get_all(context)
                if node.host in services]

    def _merge(self, reports: Reports, current: Snapshot | None) -> _Merge:
        """The next snapshot's hosts: unchanged reports keep their state object."""
        merge = _Merge()
        old_states = current.by_host if current is not None else {}
        default_zone = CONF.default_availability_zone
        for node, svc in reports:
            zone = svc.availability_zone or default_zone
            up = svc.is_up()
            stamp = node.updated_at or node.created_at
            state = old_states.get(node.host)
            if state is not None and not _replaces(stamp, state.updated_at):
                if (state.service_up, state.service_disabled, state.disabled_reason,
                        state.availability_zone) != (up, svc.disabled, svc.disabled_reason, zone):
                    merge.service_changes.append(
                        (state, up, svc.disabled, svc.disabled_reason, zone))
            else:
                new = HostState(
                    host=node.host, nodename=node.hypervisor_hostname,
                    service_up=up, service_disabled=svc.disabled,
                    disabled_reason=svc.disabled_reason, availability_zone=zone,
                    vcpus=node.vcpus, vcpus_used=node.vcpus_used, memory_mb=node.memory_mb,
                    memory_mb_used=node.memory_mb_used, local_gb=node.local_gb,
                    local_gb_used=node.local_gb_used,
                    cpu_allocation_ratio=node.cpu_allocation_ratio,
                    ram_allocation_ratio=node.ram_allocation_ratio,
                    disk_allocation_ratio=node.disk_allocation_ratio,
                    num_instances=node.running_vms, updated_at=stamp)
                if state is not None:
                    merge.replaced[node.host] = new
                state = new
            merge.hosts.append(state)
        return merge

    def _install(self, started: float, merge: _Merge) -> None:
        with self.lock:
            for state, up, disabled, reason, zone in merge.service_changes:
                state.service_up = up
                state.service_disabled = disabled
                state.disabled_reason = reason
                state.availability_zone = zone
            kept = [c for c in self._consumed if c.at >= started]
            for c in kept:
                replacement = merge.replaced.get(c.host)
                if replacement is not None:
                    replacement.add_usage(c.usage.memory_mb, c.usage.vcpus, c.usage.disk_gb)
            self._consumed = kept
            self.snapshot = Snapshot(started, merge.hosts, {h.host: h for h in merge.hosts})
        with self._cv:
            self.failure = None

    # -- consuming (the caller holds ``lock``) -------------------------------------------

    def consume(self, state: HostState, usage: Usage) -> Consumption:
        """One instance of ``usage`` placed on ``state``'s host."""
        taken = Consumption(time.monotonic(), state.host, usage)
        state.add_usage(usage.memory_mb, usage.vcpus, usage.disk_gb)
        self._consumed.append(taken)
        return taken

    def release(self, state: HostState, taken: Consumption) -> None:
        """Undo ``consume`` (the request failed before all its instances had a host)."""
        state.add_usage(-taken.usage.memory_mb, -taken.usage.vcpus, -taken.usage.disk_gb,
                        instances=-1)
        if taken in self._consumed:
            self._consumed.remove(taken)
