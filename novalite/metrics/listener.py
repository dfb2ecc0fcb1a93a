"""A service process's own ``/metrics`` listener (prometheus_client's HTTP
server on this process's registry), for a compute host that runs as its
own process: ``[metrics] compute_listen`` / ``compute_listen_port``.

NOTE: no token here (the compute has no database to check one against):
it serves every series of its host, so bind it to an address only the
monitoring system reaches.
"""

from __future__ import annotations

from typing import Any

from oslo_log import log as logging
from prometheus_client import start_http_server

from novalite.metrics import REGISTRY
from novalite.metrics import bus as _bus  # noqa: F401 - registers the queue depth gauge
from novalite.metrics import instances as _instances  # noqa: F401 - registers its collector

LOG = logging.getLogger(__name__)


def start(address: str, port: int) -> tuple[Any, Any]:
    """Serve the registry on ``address:port`` in a daemon thread; returns
    (server, thread) for ``stop``."""
    server, thread = start_http_server(port, addr=address, registry=REGISTRY)
    LOG.info("Metrics served on http://%s:%s/metrics", address, server.server_port)
    return server, thread


def stop(server: Any, thread: Any) -> None:
    server.shutdown()
    server.server_close()
    thread.join(5)
