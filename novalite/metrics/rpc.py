"""Client-side RPC latency and failures, by topic and method.

``novalite.rpc.get_client`` wraps every oslo.messaging client in
``TimedClient``: ``call()`` is timed until its reply (or failure), ``cast()``
until the transport took the message. Only the public client interface
(prepare/call/cast, attributes read through) is used, so this holds for
every driver (rabbit://, inproc://).
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram

from novalite.metrics import LATENCY_BUCKETS, REGISTRY, enabled

CALL_SECONDS = Histogram(
    "novalite_rpc_client_seconds",
    "Time an RPC took at the caller: a call until its reply, a cast until sent",
    ["topic", "method", "kind"], registry=REGISTRY, buckets=LATENCY_BUCKETS)

ERRORS = Counter(
    "novalite_rpc_client_errors",
    "RPC calls and casts that failed at the caller, by the exception's class",
    ["topic", "method", "kind", "error"], registry=REGISTRY)


class TimedClient:
    """An oslo.messaging RPC client (or prepared call context) whose calls
    and casts are measured."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def prepare(self, *args: Any, **kwargs: Any) -> TimedClient:
        return TimedClient(self._inner.prepare(*args, **kwargs))

    def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        return self._measured("call", ctxt, method, kwargs)

    def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        self._measured("cast", ctxt, method, kwargs)

    def _measured(self, kind: str, ctxt: Any, method: str, kwargs: dict[str, Any]) -> Any:
        send = getattr(self._inner, kind)
        if not enabled():
            return send(ctxt, method, **kwargs)
        # NOTE: the topic, not the server: a host name per label value
        # would grow with the cloud.
        topic = str(self._inner.target.topic)
        started = time.monotonic()
        try:
            return send(ctxt, method, **kwargs)
        except Exception as e:
            ERRORS.labels(topic=topic, method=method, kind=kind,
                          error=type(e).__name__).inc()
            raise
        finally:
            CALL_SECONDS.labels(topic=topic, method=method, kind=kind).observe(
                time.monotonic() - started)
