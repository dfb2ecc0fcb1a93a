"""The API's network edge: what waitress lets in before the app runs.

waitress reads a whole request body (spooling it to a file) before it calls
the app, so a body limit in the app comes too late: by then an
unauthenticated client has written gigabytes to the API host's disk. Here,
once a request's headers are in and before any of its body is read, the
app's ``body_limit(method, path)`` decides how much body it may send:

- at most ``[api] max_request_body_size`` (every JSON request);
- more only on a route that declares it (``wsgi.large_body``: image data)
  and only for an authenticated caller: the connection stops being read
  while a worker thread checks the token (``app.authenticated``), so the
  event loop never waits on the identity service;
- a larger body is not read at all: the request reaches the app marked
  (``wsgi.BODY_REFUSED``), the app answers 413 (or 401/404 first) in its
  API's error format, and the connection is closed, as its unread body
  cannot be told from a next request.

Connections are bounded too (waitress' own limit stops accepting, so a
hundred idle keep-alive clients locked everyone else out for minutes): at
``[api] connection_limit`` the longest-idle keep-alive connections are
closed to make room, an idle connection lives ``[api]
client_socket_timeout`` seconds, and request headers must arrive within
``[api] header_timeout``.

This subclasses waitress' channel, parser and task (waitress 3.0); the
hooks used are the documented class attributes ``channel_class``,
``parser_class`` and ``task_class``.
"""

from __future__ import annotations

import concurrent.futures
import functools
import socket
import time
from collections.abc import Mapping
from typing import Any, Protocol

from oslo_log import log as logging
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer
from waitress.task import WSGITask
from waitress.utilities import RequestEntityTooLarge
from webob.headers import EnvironHeaders

from novalite.api import wsgi

LOG = logging.getLogger(__name__)

# NOTE: how many idle connections one pass closes beyond what the limit
# needs, so that a burst of new clients does not pay a scan each (nginx's
# ngx_drain_connections closes up to 32).
DRAIN_BATCH = 16
# NOTE: a connection only just accepted has its first request on the way:
# it is not idle yet.
DRAIN_MIN_IDLE = 0.5
# NOTE: after refusing a body the connection is half-closed and what the
# client still sends is read and dropped for a while (nginx's lingering
# close), so that a client busy sending can still read the 413 instead of
# a connection reset.
LINGER_SECONDS = 5.0
LINGER_BYTES = 64 * 1024 * 1024


class EdgeApp(Protocol):
    def body_limit(self, method: str, path: str) -> wsgi.BodyLimit: ...

    def authenticated(self, headers: Mapping[str, str]) -> bool: ...


class _Defaults:
    """The policy for an app that has none of its own: one limit for all."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def body_limit(self, method: str, path: str) -> wsgi.BodyLimit:
        return wsgi.BodyLimit(self.limit, self.limit)

    def authenticated(self, headers: Mapping[str, str]) -> bool:
        return False


class Edge:
    """One server's policy and the threads that check tokens for it."""

    def __init__(self, app: Any, default_limit: int, header_timeout: float,
                 auth_threads: int = 2) -> None:
        self.default = wsgi.BodyLimit(default_limit, default_limit)
        self.app: EdgeApp = app if hasattr(app, "body_limit") else _Defaults(default_limit)
        self.header_timeout = header_timeout
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=auth_threads, thread_name_prefix="novalite-api-edge")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def check_caller(self, channel: _Channel, request: _Parser) -> None:
        """Ask (in a worker) whether the caller may send a large body; the
        answer comes back to the server's loop thread."""
        def check() -> None:
            try:
                ok = self.app.authenticated(_headers(request.headers))
            except Exception:  # noqa: BLE001 - an error is a no; the app answers it again
                LOG.exception("checking the caller of %s %s failed", request.command,
                              request.path)
                ok = False
            channel.server.trigger.pull_trigger(
                functools.partial(channel.caller_checked, request, ok))

        self._pool.submit(check)


def _headers(parsed: dict[str, str]) -> EnvironHeaders:
    """waitress' header dict (``X_AUTH_TOKEN``) as case-insensitive HTTP names."""
    return EnvironHeaders({f"HTTP_{k}": v for k, v in parsed.items()})


class _Parser(HTTPRequestParser):
    """waitress' parser with a body limit for each request, decided from
    its method and path once the headers are in."""

    # NOTE: waitress' own attributes this class reads and writes.
    error: Any
    completed: bool
    expect_continue: bool
    headers_finished: bool

    def __init__(self, adj: Any, edge: Edge) -> None:
        super().__init__(adj)
        self.edge = edge
        self.started = time.time()
        self.limit: int | None = None
        self.rule: wsgi.BodyLimit | None = None
        # NOTE: (declared length, limit) once refused: completed, unread.
        self.refused: tuple[int | None, int] | None = None
        self.awaiting_caller = False
        self.caller_asked = False
        self.held: list[bytes] = []
        self.wants_continue = False

    def received(self, data: bytes) -> int:
        if self.awaiting_caller:
            self.held.append(data)
            return len(data)
        if self.refused is not None:
            return len(data)
        had_headers = self.headers_finished
        consumed = super().received(data)
        if not had_headers and self.headers_finished:
            if isinstance(self.error, RequestEntityTooLarge):
                # NOTE: over waitress' server-wide cap: answered by the app
                # like any other refusal, in its API's error format.
                self.error = None
                self.completed = False
                self._decide()
            elif self.error is None and not self.completed:
                self._decide()
            if self.refused is not None or self.awaiting_caller:
                # NOTE: the rest of this read is body (or garbage): not
                # parsed as another request.
                if self.awaiting_caller:
                    self.held.append(data[consumed:])
                return len(data)
        elif self.chunked and self.limit is not None and self.body_rcv is not None and (
                len(self.body_rcv) > self.limit or isinstance(self.error, RequestEntityTooLarge)):
            # NOTE: a chunked body has no length up front: cut where it passes
            # the limit (or waitress' cap, which counts the chunk framing too).
            self.error = None
            self.refuse(self.limit)
            return len(data)
        return consumed

    def _decide(self) -> None:
        try:
            rule = self.edge.app.body_limit(self.command, self.path)
        except Exception:  # noqa: BLE001 - the app answers the request; the limit stays
            LOG.exception("no body limit for %s %s; using the default", self.command,
                          self.path)
            rule = self.edge.default
        self.rule = rule
        declared = None if self.chunked else self.content_length
        if declared is not None and declared <= rule.limit:
            self.limit = rule.limit
        elif rule.authenticated_limit <= rule.limit:
            self.limit = rule.limit
            if declared is not None:
                self.refuse(rule.limit)
        elif declared is not None and declared > rule.authenticated_limit:
            self.refuse(rule.authenticated_limit)
        else:
            # NOTE: only an authenticated caller may send this much: nothing
            # more is read (and no 100 Continue sent) until the token is checked.
            self.awaiting_caller = True
            self.wants_continue, self.expect_continue = self.expect_continue, False

    def refuse(self, limit: int) -> None:
        self.refused = (None if self.chunked else self.content_length, limit)
        self.awaiting_caller = False
        self.expect_continue = False
        self.completed = True

    def caller_checked(self, ok: bool) -> bytes:
        """Resume after the caller check; the body bytes held meanwhile."""
        assert self.rule is not None
        self.awaiting_caller = False
        if ok:
            self.limit = self.rule.authenticated_limit
            self.expect_continue = self.wants_continue
        else:
            self.refuse(self.rule.limit)
        held, self.held = b"".join(self.held), []
        return held


class _Task(WSGITask):
    def get_environment(self) -> dict:
        environ = super().get_environment()
        if self.request.refused is not None:
            environ[wsgi.BODY_REFUSED] = self.request.refused
        return environ

    def build_response_header(self) -> bytes:
        if self.request.refused is not None:
            # NOTE: the unread body is still on the wire: nothing after it
            # on this connection can be read as a request.
            self.set_close_on_finish()
            self.channel.linger_wanted = True
        return super().build_response_header()


class _Channel(HTTPChannel):
    task_class = _Task
    request: _Parser | None
    linger_wanted = False
    linger_until: float | None = None
    lingered = 0

    def __init__(self, server: Any, sock: Any, addr: Any, adj: Any, map: Any = None) -> None:
        super().__init__(server, sock, addr, adj, map=map)
        self.parser_class = functools.partial(_Parser, edge=server.novalite_edge)

    def readable(self) -> bool:
        if self.linger_until is not None:
            return not self.will_close
        request = self.request
        if request is not None and request.awaiting_caller:
            return False
        return bool(super().readable())

    def writable(self) -> bool:
        if self.linger_until is not None:
            return self.will_close
        return bool(super().writable())

    def handle_read(self) -> None:
        if self.linger_until is None:
            super().handle_read()
            return
        try:
            data = self.socket.recv(65536)
        except OSError:
            data = b""
        self.lingered += len(data)
        if not data or self.lingered > LINGER_BYTES or time.time() > self.linger_until:
            HTTPChannel.handle_close(self)

    def handle_close(self) -> None:
        if self.linger_wanted and self.linger_until is None and self.connected:
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            else:
                self.linger_until = time.time() + LINGER_SECONDS
                self.will_close = self.close_when_flushed = False
                return
        HTTPChannel.handle_close(self)

    def received(self, data: bytes) -> bool:
        result = super().received(data)
        request = self.request
        if request is not None and request.awaiting_caller and not request.caller_asked:
            request.caller_asked = True
            self.server.novalite_edge.check_caller(self, request)
        return bool(result)

    def caller_checked(self, request: _Parser, ok: bool) -> None:
        """In the loop thread: read on, or queue the refused request."""
        if self.request is not request or not self.connected:
            return
        held = request.caller_checked(ok)
        if request.completed:
            with self.requests_lock:
                self.requests.append(request)
                self.request = None
                if len(self.requests) == 1:
                    self.server.add_task(self)
            return
        if request.expect_continue and not self.requests and not self.sent_continue:
            self.send_continue()
        if held:
            self.received(held)

    def idle(self) -> bool:
        """Between requests on a keep-alive connection, with nothing to send."""
        return (self.connected and self.request is None and not self.requests
                and not self.total_outbufs_len and not self.will_close
                and not self.close_when_flushed and self.linger_until is None)


class _Server:
    """Mixed into waitress' TCP server: drain idle keep-alives at the
    connection limit, close connections whose headers trickle in."""

    def readable(self) -> bool:
        server: Any = self
        if server.accepting and len(server._map) >= server.adj.connection_limit:
            self._drain(len(server._map) - server.adj.connection_limit + 1)
        return bool(super().readable())  # type: ignore[misc]

    def _drain(self, needed: int) -> None:
        server: Any = self
        limit = server.adj.connection_limit
        settled = time.time() - DRAIN_MIN_IDLE
        idle = sorted((c for c in server.active_channels.values()
                       if c.idle() and c.last_activity < settled),
                      key=lambda c: c.last_activity)
        batch = min(DRAIN_BATCH, limit // 8)
        closing = idle[:needed + batch] if len(idle) >= needed else []
        for channel in closing:
            # NOTE: closed by the loop in this pass (it writes what will
            # close), not here, in the middle of its walk over the sockets.
            channel.will_close = True
        if closing:
            server.trigger.pull_trigger()
            LOG.info("novalite-api: %d connections open (limit %d): closing the %d longest "
                     "idle keep-alive connections", len(server._map), limit, len(closing))

    def maintenance(self, now: float) -> None:
        server: Any = self
        super().maintenance(now)  # type: ignore[misc]
        cutoff = now - server.novalite_edge.header_timeout
        for channel in list(server.active_channels.values()):
            if channel.linger_until is not None:
                if channel.linger_until < now:
                    channel.will_close = True
                continue
            request = channel.request
            if request is not None and not request.headers_finished and \
                    request.started < cutoff:
                LOG.info("novalite-api: closing a connection from %s whose request "
                         "headers took over %ss", channel.addr,
                         server.novalite_edge.header_timeout)
                channel.will_close = True


_SERVER_CLASSES: dict[type, type] = {}


def _server_class(base: type) -> type:
    if base not in _SERVER_CLASSES:
        _SERVER_CLASSES[base] = type(f"Edge{base.__name__}", (_Server, base), {})
    return _SERVER_CLASSES[base]


def install(server: Any, socket_map: dict, edge: Edge) -> None:
    """Put the edge on every listener of a waitress server (one for an
    address, several for a name with IPv4 and IPv6 addresses)."""
    for dispatcher in list(socket_map.values()):
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.__class__ = _server_class(type(dispatcher))
            dispatcher.channel_class = _Channel
            dispatcher.novalite_edge = edge  # type: ignore[attr-defined]
