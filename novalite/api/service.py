"""APIService: the WSGI app served by waitress in a background thread.

It is an oslo.service ``ServiceBase`` so the launcher (and the all-in-one's
ServiceGroup) start and stop it like the RPC services.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from oslo_log import log as logging
from oslo_service import service as os_service
from waitress import trigger, wasyncore
from waitress.server import BaseWSGIServer, create_server

from novalite import rpc
from novalite.api import app as api_app
from novalite.api import edge
from novalite.conf import CONF
from novalite.notifications import stream

LOG = logging.getLogger(__name__)

# NOTE: how long stop() lets requests in flight finish before closing their
# connections; oslo.service's graceful_shutdown_timeout bounds the whole stop.
DRAIN_TIMEOUT = 30.0
# NOTE: how often (seconds) idle and slow connections are looked for;
# waitress' 30 s would let them live up to 30 s past their timeouts.
CLEANUP_INTERVAL = 1


class APIService(os_service.ServiceBase):
    """Serves ``novalite.api.app.make_app()`` on ``[api] listen``:``[api] port``.

    ``port=0`` binds a free port; ``.port`` holds the real one after
    ``start()`` (tests use that).
    """

    def __init__(self, listen: str | None = None, port: int | None = None,
                 app: Callable | None = None) -> None:
        self.listen = listen if listen is not None else CONF.api.listen
        self.port = port if port is not None else CONF.api.port
        self._app = app
        self._server: Any = None
        self._edge: edge.Edge | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def start(self) -> None:
        app = self._app
        if app is None:
            # NOTE: the transport is made here, after the launcher forked.
            rpc.init()
            app = api_app.make_app()
        # NOTE: waitress' own cap is the largest body any route takes; the
        # edge applies each route's (smaller) limit before reading a body.
        largest = app.largest_body() if hasattr(app, "largest_body") else \
            CONF.api.max_request_body_size
        self._server = create_server(app, host=self.listen, port=self.port,
                                     threads=CONF.api.threads, ident="novalite",
                                     max_request_body_size=largest + 1,
                                     connection_limit=CONF.api.connection_limit,
                                     channel_timeout=CONF.api.client_socket_timeout,
                                     cleanup_interval=CLEANUP_INTERVAL,
                                     # NOTE: select() fails past fd 1023.
                                     asyncore_use_poll=True, **self._server_options())
        self._edge = edge.Edge(app, CONF.api.max_request_body_size, CONF.api.header_timeout)
        edge.install(self._server, _socket_map(self._server), self._edge)
        self.port = _bound_port(self._server)
        self._stopped.clear()
        self._thread = threading.Thread(target=self._server.run, name="novalite-api",
                                        daemon=True)
        self._thread.start()
        host = "127.0.0.1" if self.listen in ("0.0.0.0", "::", "") else self.listen
        self._log_serving(f"[{host}]" if ":" in host else host)

    def _server_options(self) -> dict[str, Any]:
        """More waitress options (a subclass's)."""
        return {}

    def _log_serving(self, host: str) -> None:
        LOG.info("novalite-api serving the Compute API on http://%s:%s/compute/v2.1 and the "
                 "Image API on http://%s:%s/image (%d threads)", host, self.port, host,
                 self.port, CONF.api.threads)

    def stop(self, graceful: bool = True) -> None:
        """Stop accepting, let requests in flight finish (graceful), close."""
        server = self._server
        if server is None:
            return
        self._server = None
        self._in_loop(server, lambda: _close_listeners(server))
        # NOTE: open event streams end now (each would hold the drain to its
        # end), and their notification listener stops with the API.
        stream.close()
        if graceful:
            _drain(server, DRAIN_TIMEOUT)
        self._in_loop(server, lambda: wasyncore.close_all(_socket_map(server)))
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        if self._edge is not None:
            self._edge.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._stopped.set()
        LOG.info("novalite-api on port %s stopped", self.port)

    def wait(self) -> None:
        self._stopped.wait()

    def reset(self) -> None:
        # NOTE: under the threading backend SIGHUP respawns the worker, so
        # there is nothing to reload in place.
        pass

    def _in_loop(self, server: Any, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the server's loop thread (waitress' dispatchers are
        not thread-safe), or here if that thread is gone."""
        if self._thread is None or not self._thread.is_alive():
            fn()
            return
        done = threading.Event()

        def thunk() -> None:
            try:
                fn()
            finally:
                done.set()

        _trigger(server).pull_trigger(thunk)
        if not done.wait(timeout=10):
            LOG.warning("novalite-api: the server loop did not run %s in time", fn)


def _bound_port(server: Any) -> int:
    if hasattr(server, "effective_port"):
        return int(server.effective_port)
    return int(server.effective_listen[0][1])


def _socket_map(server: Any) -> dict:
    # NOTE: one listener is a TcpWSGIServer (``_map``); several (a host name
    # with IPv4 and IPv6 addresses) a MultiSocketServer (``map``).
    return server.map if hasattr(server, "map") else server._map


def _trigger(server: Any) -> Any:
    for dispatcher in _socket_map(server).values():
        if isinstance(dispatcher, trigger.trigger):
            return dispatcher
    raise RuntimeError("waitress server has no trigger")


def _close_listeners(server: Any) -> None:
    """Close the listening sockets only; the trigger and connections stay."""
    for dispatcher in list(_socket_map(server).values()):
        if isinstance(dispatcher, BaseWSGIServer):
            wasyncore.dispatcher.close(dispatcher)


def _drain(server: Any, timeout: float) -> None:
    """Wait until no worker thread is busy and no request is queued."""
    dispatcher = server.task_dispatcher
    deadline = time.monotonic() + timeout
    while (dispatcher.active_count or dispatcher.queue) and time.monotonic() < deadline:
        time.sleep(0.05)
