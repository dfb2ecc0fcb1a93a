"""This process's Prometheus metrics (prometheus_client).

One registry per process: the all-in-one serves every service's series on
the API's ``/metrics``; a separate service process serves its own.
Instruments live next to what they measure; this module holds only those
that several packages feed. ``[metrics] enabled`` = False turns every
recording into a no-op (the registry still answers, with what it has).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from novalite.conf import CONF

REGISTRY = CollectorRegistry(auto_describe=True)

# NOTE: a build's and an action's steps (the timeline) take from a few
# milliseconds (a database write) to minutes (an image download, a TCG boot).
STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

# NOTE: API requests and RPC calls: a millisecond (in-process bus) to the
# RPC timeout.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                   30, 60)

STEP_SECONDS = Histogram(
    "novalite_instance_step_seconds",
    "Duration of each step of a server's build or action (the timeline's events)",
    ["step", "result"], registry=REGISTRY, buckets=STEP_BUCKETS)


def enabled() -> bool:
    """Whether instruments record (``[metrics] enabled``)."""
    return bool(CONF.metrics.enabled)


def observe_step(step: str, seconds: float, result: str) -> None:
    """Record one finished step (``result``: Success or Error)."""
    if enabled():
        STEP_SECONDS.labels(step=step, result=result).observe(max(0.0, seconds))
