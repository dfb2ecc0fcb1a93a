"""Which way a remotable object method goes: to the database here, or to the
conductor.

The route is chosen per service, not per process: code that runs as a
service without database access (compute, ``db_allowed=False``) carries the
conductor's client as its route, in a context variable set by its Service
around everything it runs (start, each RPC message, timers, its own worker
threads); everything else (API, conductor, scheduler) has no route and runs
remotable methods against the database. So the all-in-one runs exactly the
code paths of a real deployment, where a compute process has the route for
all its threads (``set_process_route``).

``db/api.py`` refuses a connection to code that has a route: compute never
reaches the database, in one process or in many.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

_ROUTE: contextvars.ContextVar[Any] = contextvars.ContextVar("novalite_persistence_route",
                                                              default=None)
_process_route: Any = None

T = TypeVar("T")


def current() -> Any:
    """The conductor client this code's objects go through, or None (local)."""
    route = _ROUTE.get()
    return route if route is not None else _process_route


def set_process_route(route: Any) -> None:
    """Every thread of this process goes through ``route`` (a process that
    runs only compute); None undoes it."""
    global _process_route
    _process_route = route


@contextlib.contextmanager
def through(route: Any) -> Iterator[None]:
    """Run the block as a service whose route is ``route`` (None: local)."""
    token = _ROUTE.set(route)
    try:
        yield
    finally:
        _ROUTE.reset(token)


def bound(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` run, wherever it is called, in a copy of the caller's context
    (threads do not inherit context variables)."""
    ctx = contextvars.copy_context()

    def run(*args: Any, **kwargs: Any) -> T:
        return ctx.copy().run(fn, *args, **kwargs)

    return run


class ContextThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A thread pool whose tasks run in the submitter's context, so a
    service's worker threads keep its persistence route."""

    def submit(self, fn: Callable[..., T], /, *args: Any,  # type: ignore[override]
               **kwargs: Any) -> concurrent.futures.Future[T]:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)


def timer(interval: float, fn: Callable[[], Any]) -> threading.Timer:
    """A ``threading.Timer`` that runs ``fn`` in the caller's context."""
    return threading.Timer(interval, bound(fn))
