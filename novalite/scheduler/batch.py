"""SelectionQueue: concurrent ``select_destinations`` calls are answered in
batches by one of their own threads.

Each call queues its request and waits. When no one is selecting and the
host snapshot is fresh enough for the oldest queued request, that caller
becomes the leader: it takes every queued request the snapshot may answer,
selects them one after the other (each under the selection lock, against the
snapshot as it is then, so what one consumed the next one sees), hands each
caller its answer as soon as it is made, then steps down and wakes the next
waiter. A request that fits nowhere gets its own NoValidHost; the others in
the batch are unaffected.

No thread of its own: the callers are the RPC server's threads, which would
wait anyway. Database reads happen in the HostManager's thread, never here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from oslo_log import log as logging

from novalite import exception
from novalite.scheduler.host_manager import HostManager, Snapshot
from novalite.scheduler.host_state import RequestSpec

LOG = logging.getLogger(__name__)

Destination = dict[str, str]
SelectFn = Callable[[Snapshot | None, RequestSpec, list[str]], list[Destination]]


class _Waiter:
    """One queued request and, once done, its answer."""

    __slots__ = ("spec", "instance_uuids", "arrived", "result", "error", "done", "wake")

    def __init__(self, spec: RequestSpec, instance_uuids: list[str]) -> None:
        self.spec = spec
        self.instance_uuids = instance_uuids
        self.arrived = 0.0
        self.result: list[Destination] = []
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Event()


class SelectionQueue:
    """Queues requests and lets one caller at a time select a batch of them."""

    def __init__(self, host_manager: HostManager, select: SelectFn) -> None:
        """``select(snapshot, spec, instance_uuids)`` runs under the selection
        lock and returns one destination per instance or raises."""
        self._hosts = host_manager
        self._select = select
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._leading = False
        host_manager.add_listener(self._wake_head)

    @property
    def waiting(self) -> int:
        """Requests queued and not yet taken into a batch."""
        with self._lock:
            return len(self._queue)

    def submit(self, spec: RequestSpec, instance_uuids: list[str]) -> list[Destination]:
        """Queue one request; return its destinations or raise its error."""
        me = _Waiter(spec, instance_uuids)
        with self._lock:
            me.arrived = time.monotonic()
            self._queue.append(me)
        self._hosts.want(me.arrived)
        while True:
            with self._lock:
                if me.done:
                    break
                batch = [] if self._leading else self._take_batch()
                if batch:
                    self._leading = True
            if batch:
                self._lead(batch)
                continue
            me.wake.wait()
            me.wake.clear()
        if me.error is not None:
            raise me.error
        return me.result

    def _take_batch(self) -> list[_Waiter]:
        """Under ``_lock``: fail the requests whose read failed, then take
        every request the snapshot may answer (off the queue, in order)."""
        batch: list[_Waiter] = []
        waiting: list[_Waiter] = []
        for w in self._queue:
            if self._hosts.serves(w.arrived):
                batch.append(w)
                continue
            error = self._hosts.failed(w.arrived)
            if error is None:
                waiting.append(w)
                continue
            w.error = error
            w.done = True
            w.wake.set()
        self._queue = waiting
        return batch

    def _lead(self, batch: list[_Waiter]) -> None:
        """Select for every request of ``batch``, answering each when done."""
        try:
            for w in batch:
                with self._hosts.lock:
                    try:
                        w.result = self._select(self._hosts.snapshot, w.spec, w.instance_uuids)
                    except exception.NoValidHost as exc:
                        w.error = exc
                    except Exception as exc:  # noqa: BLE001  # that caller's error only
                        LOG.exception("Selecting hosts for %s failed", w.instance_uuids)
                        w.error = exc
                with self._lock:
                    w.done = True
                w.wake.set()
        finally:
            with self._lock:
                for w in batch:
                    if not w.done:
                        w.error = w.error or RuntimeError("selection interrupted")
                        w.done = True
                        w.wake.set()
                self._leading = False
            self._wake_head()

    def _wake_head(self) -> None:
        """Let the oldest waiter check whether it can lead (or has failed)."""
        with self._lock:
            head = self._queue[0] if self._queue else None
        if head is not None:
            head.wake.set()
