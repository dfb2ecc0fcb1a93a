"""The API's request latency, by API, route template and status.

NOTE: the route is the router's template (``/compute/v2.1/servers/{id}``),
never the raw path: ids in a label would make one series per server.
A request no route matched is counted under route ``unmatched``.
"""

from __future__ import annotations

from prometheus_client import Histogram

from novalite.metrics import LATENCY_BUCKETS, REGISTRY, enabled

UNMATCHED = "unmatched"

REQUEST_SECONDS = Histogram(
    "novalite_api_request_seconds",
    "Time the API took to answer a request, by API, method, route template and status",
    ["api", "method", "route", "status"], registry=REGISTRY, buckets=LATENCY_BUCKETS)


def observe_request(api: str | None, method: str, route: str | None, status: int,
                    seconds: float) -> None:
    if enabled():
        REQUEST_SECONDS.labels(api=api or "other", method=method, route=route or UNMATCHED,
                               status=str(status)).observe(max(0.0, seconds))
