"""The API process's view of the versioned notifications: one oslo.messaging
notification listener, fanned out to the open event streams
(``novalite.api.events``).

The listener consumes with its own pool, ``novalite-api-events.<host>``, so
it takes no message from any other consumer of ``versioned_notifications``
(on RabbitMQ: its own queue bound to the topic). It starts with the first
stream and runs until the API stops (or the process's transport is cleaned
up); with no stream open what it receives is dropped. Each stream has a
bounded queue: a stream that does not keep up loses events (and is told how
many), it never holds the listener up.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import oslo_messaging
from oslo_log import log as logging

from novalite.conf import CONF

LOG = logging.getLogger(__name__)

# NOTE: events waiting per stream before the newest are dropped.
STREAM_QUEUE = 256
CLOSED = object()


class Subscription:
    """One stream's events: ``(event_type, message)`` tuples, or CLOSED."""

    def __init__(self, project_id: str | None) -> None:
        # NOTE: None: every project's events (an admin's stream).
        self.project_id = project_id
        self.events: queue.Queue[Any] = queue.Queue(maxsize=STREAM_QUEUE)
        self.dropped = 0

    def offer(self, item: Any) -> None:
        try:
            self.events.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        # NOTE: room is made for the end mark, so a full stream still ends.
        while True:
            try:
                self.events.put_nowait(CLOSED)
                return
            except queue.Full:
                try:
                    self.events.get_nowait()
                except queue.Empty:
                    pass

    def get(self, timeout: float) -> Any:
        """The next event, CLOSED, or None after ``timeout`` seconds."""
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None


class _Endpoint:
    """oslo.messaging notification endpoint: instance notifications only."""

    filter_rule = oslo_messaging.NotificationFilter(event_type=r"^instance\.")

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def info(self, ctxt: dict, publisher_id: str, event_type: str, payload: Any,
             metadata: dict) -> None:
        self._hub.publish("INFO", publisher_id, event_type, payload, metadata)

    def error(self, ctxt: dict, publisher_id: str, event_type: str, payload: Any,
              metadata: dict) -> None:
        self._hub.publish("ERROR", publisher_id, event_type, payload, metadata)


class Hub:
    def __init__(self, transport: oslo_messaging.Transport) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        targets = [oslo_messaging.Target(topic=topic)
                   for topic in CONF.notifications.versioned_notifications_topics]
        self._listener = oslo_messaging.get_notification_listener(
            transport, targets, [_Endpoint(self)],
            pool=f"novalite-api-events.{CONF.host}")
        self._listener.start()

    def subscribe(self, project_id: str | None, most: int) -> Subscription | None:
        """A new stream's subscription, or None when ``most`` are open."""
        sub = Subscription(project_id)
        with self._lock:
            if len(self._subscriptions) >= most:
                return None
            self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(sub)

    @property
    def streams(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def publish(self, priority: str, publisher_id: str, event_type: str, payload: Any,
                metadata: dict) -> None:
        data = payload.get("nova_object.data") if isinstance(payload, dict) else None
        project = data.get("tenant_id") if isinstance(data, dict) else None
        message = {"event_type": event_type, "priority": priority,
                   "publisher_id": publisher_id, "timestamp": metadata.get("timestamp"),
                   "message_id": metadata.get("message_id"), "payload": payload}
        with self._lock:
            subs = list(self._subscriptions)
        for sub in subs:
            if sub.project_id is None or (project is not None and sub.project_id == project):
                sub.offer((event_type, message))

    def close(self) -> None:
        with self._lock:
            subs = list(self._subscriptions)
            self._subscriptions.clear()
        for sub in subs:
            sub.close()
        try:
            self._listener.stop()
            self._listener.wait()
        except Exception:
            LOG.exception("Could not stop the event stream's notification listener")


_hub: Hub | None = None
_hub_lock = threading.Lock()


def hub() -> Hub | None:
    """The process's hub, started on first use (None without a transport)."""
    global _hub
    from novalite import notifications

    with _hub_lock:
        if _hub is None:
            transport = notifications.get_transport()
            if transport is None:
                return None
            _hub = Hub(transport)
        return _hub


def close() -> None:
    """Stop the listener and end every stream (before the transport goes)."""
    global _hub
    with _hub_lock:
        current, _hub = _hub, None
    if current is not None:
        current.close()
