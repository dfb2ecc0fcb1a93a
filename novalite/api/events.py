"""``GET /dashboard/events``: the versioned instance notifications as a
Server-Sent Events stream (``event: instance.create.end`` + ``data: {json}``
per notification), for the dashboard.

Authenticated (``X-Auth-Token``: the dashboard reads it with fetch(), not
EventSource, which cannot send headers). A member sees their project's
instances only; an admin every project's, with the hosts and tracebacks a
member does not get. The events come from the API process's notification
listener (``novalite.notifications.stream``), in the all-in-one and in a
separate novalite-api alike.

A stream holds one of the API's waitress threads, so streams are bounded:
at most ``[notifications] max_event_streams`` at a time (default a quarter
of ``[api] threads``; beyond: 503 with Retry-After), each ends after
``event_stream_seconds`` (the client reconnects), and an idle stream sends a
keep-alive comment every ``event_stream_keepalive`` seconds, which is also
when a stream whose client left finds out and frees its thread.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Generator, Iterator
from typing import Any

import webob

from novalite import notifications, policy
from novalite.api import errors
from novalite.api.router import Router
from novalite.api.wsgi import Request
from novalite.conf import CONF
from novalite.notifications import stream

PATH = "/dashboard/events"
RETRY_AFTER = 5
# NOTE: the payload fields a member does not see (where the guest runs; as
# the servers API shows hosts to admins only).
_ADMIN_ONLY = ("host", "node")


def max_streams() -> int:
    configured = int(CONF.notifications.max_event_streams)
    return configured if configured > 0 else max(1, int(CONF.api.threads) // 4)


class EventsController:
    def stream(self, req: Request) -> webob.Response:
        ctx = req.context
        if not notifications.enabled():
            raise errors.HTTPError(503, "Versioned notifications are off "
                                        "([notifications] notification_format); there are "
                                        "no events to stream.")
        hub = stream.hub()
        if hub is None:
            raise errors.HTTPError(503, "This API process has no message bus to read "
                                        "events from.")
        admin = policy.check_is_admin(ctx)
        most = max_streams()
        sub = hub.subscribe(None if admin else ctx.project_id, most)
        if sub is None:
            raise errors.HTTPError(503, f"This API process already serves {most} event "
                                        f"stream(s), its most; retry in {RETRY_AFTER} s.",
                                   headers={"Retry-After": str(RETRY_AFTER)})
        resp = webob.Response(status=200, content_type="text/event-stream", charset="UTF-8")
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["X-Accel-Buffering"] = "no"
        resp.app_iter = _Events(hub, sub, admin)
        return resp


class _Events:
    """The response body: iterated by waitress, one chunk per event; its
    ``close()`` (the stream ended or the client went away) unsubscribes."""

    def __init__(self, hub: stream.Hub, sub: stream.Subscription, admin: bool) -> None:
        self._hub = hub
        self._sub = sub
        self._admin = admin
        self._body = self._run()

    def __iter__(self) -> Iterator[bytes]:
        return self._body

    def close(self) -> None:
        self._hub.unsubscribe(self._sub)
        self._body.close()

    def _run(self) -> Generator[bytes, None, None]:
        deadline = time.monotonic() + CONF.notifications.event_stream_seconds
        keepalive = float(CONF.notifications.event_stream_keepalive)
        # NOTE: the client waits this long before it reconnects (SSE's retry).
        yield f"retry: {RETRY_AFTER * 1000}\n: novalite events\n\n".encode()
        reported = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            item = self._sub.get(min(keepalive, left))
            if item is stream.CLOSED:
                return
            if self._sub.dropped != reported:
                reported = self._sub.dropped
                yield f": {reported} event(s) dropped (the stream fell behind)\n\n".encode()
            if item is None:
                yield b": keep-alive\n\n"
                continue
            event_type, message = item
            data = json.dumps(message if self._admin else _for_member(message),
                              separators=(",", ":"))
            yield f"event: {event_type}\ndata: {data}\n\n".encode()


def _for_member(message: dict[str, Any]) -> dict[str, Any]:
    """The notification without what only admins see: hosts, the
    publisher's host, a fault's traceback."""
    out = copy.deepcopy(message)
    out["publisher_id"] = str(out.get("publisher_id") or "").split(":", 1)[0]
    payload = out.get("payload")
    data = payload.get("nova_object.data") if isinstance(payload, dict) else None
    if isinstance(data, dict):
        for name in _ADMIN_ONLY:
            if name in data:
                data[name] = None
        fault = data.get("fault")
        fault_data = fault.get("nova_object.data") if isinstance(fault, dict) else None
        if isinstance(fault_data, dict) and "traceback" in fault_data:
            fault_data["traceback"] = None
    return out


def connect(router: Router) -> None:
    router.connect(PATH, "GET", EventsController(), "stream")
