"""``inproc://``: an in-process oslo.messaging transport that does not poll.

Why it exists: oslo.messaging's ``fake://`` driver passes messages in memory
too, but its listener sleeps 50 ms between looks at its queues, so every RPC
``call()`` inside one process costs tens of milliseconds. A whole stack in one
process (novalite-all-in-one, the functional tests) makes thousands of calls.
Here each listener waits on a ``threading.Condition`` that a delivery (or
``stop()``) notifies, so a call costs a few thread hand-offs: microseconds.

Routing is fake://'s, whose exchange/queue classes this module subclasses:

* a message to ``topic`` goes to the topic queue that every server on the
  topic shares, so exactly one server receives it; it waits in the queue if
  no server consumes yet;
* a message to ``topic`` + ``server`` goes to that server's queue only (and
  waits there while the server is stopped, as in a durable broker queue);
* a fanout goes to every server consuming the topic at that moment; as with
  a broker's fanout queues, a server that is not running misses it;
* notifications to ``topic.priority`` go to one queue per listener pool,
  and only to the queues listeners made: one sent before any listener is
  dropped (a broker would keep it in a default queue).

What differs from fake://, on purpose, to behave like a real broker: the
context, each message and each reply travel as JSON text and are decoded per
receiver (so no two parties share a mutable object, and whatever is not
JSON-serialisable fails at the sender), and a server's exception reaches
the caller serialised as oslo.messaging's real drivers do it: re-raised as
its own class only if its module is in ``allowed_remote_exmods`` (or is
``builtins``), otherwise as ``oslo_messaging.RemoteError``.

The queues are process-global, like fake://'s, and kept apart per exchange
name, so two transports in one process (e.g. RPC and notifications) reach
each other. ``cleanup()`` releases one driver; the global queues are dropped
only when the last live driver of the process is cleaned up. Stop servers
before cleaning up their transport, and use no transport after its cleanup.
Heartbeats (``call_monitor_timeout``) and ``retry`` are not needed here: a
delivery cannot fail.

Registered as entry point ``inproc`` in group ``oslo.messaging.drivers``.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any

import oslo_messaging
from oslo_messaging._drivers import base, impl_fake
from oslo_messaging._drivers import common as rpc_common
from oslo_serialization import jsonutils

__all__ = ["InProcDriver", "InProcExchange", "InProcExchangeManager",
           "InProcIncomingMessage", "InProcListener"]


class _ReplySlot:
    """Where one call's reply lands: written once by the server, read by the
    caller. Holds JSON text (the result, or a serialised failure)."""

    __slots__ = ("_event", "reply", "failure")

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reply: str | None = None
        self.failure: str | None = None

    def put(self, reply: str | None, failure: str | None) -> None:
        if self._event.is_set():  # at-most-once: the first reply wins
            return
        self.reply, self.failure = reply, failure
        self._event.set()

    def wait(self, timeout: float | None) -> bool:
        return self._event.wait(timeout)


class InProcIncomingMessage(impl_fake.FakeIncomingMessage):
    """A received message; its reply goes back as JSON, failures serialised
    like a real driver's (``requeue``/``heartbeat`` are fake://'s)."""

    _reply_q: _ReplySlot | None

    def reply(self, reply: Any = None, failure: Any = None) -> None:
        if self._reply_q is None:
            return
        try:
            if failure:
                result, error = None, rpc_common.serialize_remote_exception(failure)
            else:
                result, error = jsonutils.dumps(reply), None
        except Exception:
            # NOTE: a reply that cannot travel fails the call at once (a
            # broker driver would leave the caller to time out).
            result, error = None, rpc_common.serialize_remote_exception(sys.exc_info())
        self._reply_q.put(result, error)


class InProcListener(base.PollStyleListener):
    """Blocks on a Condition until a delivery to one of its queues or
    ``stop()`` wakes it; never sleeps on a timer."""

    def __init__(self, sources: Iterable[tuple[InProcExchange, oslo_messaging.Target]],
                 pool: str | None = None, server: str | None = None) -> None:
        super().__init__()
        self._sources = list(sources)
        self._pool = pool
        self.server = server
        self._cond = threading.Condition(threading.Lock())
        self._stopped = False
        # NOTE: queues exist (and collect messages) from listen() on, before
        # the first poll, as with fake://.
        for exchange, target in self._sources:
            exchange.ensure_queue(target, pool)
            exchange.subscribe(target.topic, self)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def _take(self) -> tuple[Any, ...] | None:
        for exchange, target in self._sources:
            envelope = exchange.poll(target, self._pool)
            if envelope[1] is not None:
                return envelope
        return None

    @base.batch_poll_helper
    def poll(self, timeout: float | None = None) -> InProcIncomingMessage | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                # NOTE: queues are checked and the wait entered under the one
                # lock that wake() takes, so no delivery slips in between.
                if self._stopped:
                    return None
                envelope = self._take()
                if envelope is not None:
                    break
                if deadline is None:
                    self._cond.wait()
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)
        ctxt, message, reply_slot, requeue = envelope
        return InProcIncomingMessage(jsonutils.loads(ctxt), jsonutils.loads(message),
                                     reply_slot, requeue)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._unsubscribe()

    def cleanup(self) -> None:
        self._unsubscribe()

    def _unsubscribe(self) -> None:
        for exchange, target in self._sources:
            exchange.unsubscribe(target.topic, self)


class InProcExchange(impl_fake.FakeExchange):
    """fake://'s exchange, plus the listeners to wake per topic."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._listeners: dict[str, set[InProcListener]] = {}

    def subscribe(self, topic: str, listener: InProcListener) -> None:
        with self._queues_lock:
            self._listeners.setdefault(topic, set()).add(listener)

    def unsubscribe(self, topic: str, listener: InProcListener) -> None:
        with self._queues_lock:
            listeners = self._listeners.get(topic)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._listeners[topic]

    def queue_depths(self) -> dict[str, int]:
        """Messages waiting, by topic (a server's queue counts under its topic)."""
        depths: dict[str, int] = {}
        with self._queues_lock:
            for (topic, _other), queue in (*self._topic_queues.items(),
                                           *self._server_queues.items()):
                depths[topic] = depths.get(topic, 0) + len(queue)
        return depths

    def deliver_message(self, topic: str, ctxt: str, message: str,
                        server: str | None = None, fanout: bool = False,
                        reply_q: _ReplySlot | None = None, listened_only: bool = False) -> None:
        """``listened_only``: to the queues listeners made only (notifications)."""
        with self._queues_lock:
            listeners = list(self._listeners.get(topic, ()))
            if fanout:
                servers = {lsn.server for lsn in listeners if lsn.server is not None}
                queues = [self._get_server_queue(topic, s) for s in sorted(servers)]
            elif server is not None:
                queues = [self._get_server_queue(topic, server)]
            else:
                if not listened_only:
                    self._get_topic_queue(topic)  # the pool-less queue always exists
                queues = [q for (t, _pool), q in self._topic_queues.items() if t == topic]

            def requeue() -> None:
                self.deliver_message(topic, ctxt, message, server=server,
                                     fanout=fanout, reply_q=reply_q,
                                     listened_only=listened_only)

            for q in queues:
                q.append((ctxt, message, reply_q, requeue))
        # NOTE: woken outside the queue lock (poll() takes its Condition, then
        # the queue lock); a woken listener that finds nothing waits again.
        for listener in listeners:
            listener.wake()


class InProcExchangeManager(impl_fake.FakeExchangeManager):
    """The process-global exchanges (separate from fake://'s) and the live
    drivers that keep them."""

    _exchanges_lock = threading.Lock()
    _exchanges: dict[str, InProcExchange] = {}
    _drivers: weakref.WeakSet[InProcDriver] = weakref.WeakSet()

    def get_exchange(self, name: str | None) -> InProcExchange:
        if name is None:
            name = self._default_exchange
        with self._exchanges_lock:
            exchange = self._exchanges.get(name)
            if exchange is None:
                exchange = self._exchanges[name] = InProcExchange(name)
            return exchange

    @classmethod
    def attach(cls, driver: InProcDriver) -> None:
        with cls._exchanges_lock:
            cls._drivers.add(driver)

    @classmethod
    def detach(cls, driver: InProcDriver) -> None:
        """Forget ``driver``; with no live driver left, drop every queue."""
        with cls._exchanges_lock:
            cls._drivers.discard(driver)
            if not cls._drivers:
                cls._exchanges.clear()

    @classmethod
    def queue_depths(cls) -> dict[tuple[str, str], int]:
        """Messages waiting in this process, by exchange and topic (the
        metrics' queue depth gauge reads it at scrape time)."""
        with cls._exchanges_lock:
            exchanges = list(cls._exchanges.values())
        return {(exchange.name, topic): depth for exchange in exchanges
                for topic, depth in exchange.queue_depths().items()}

    @classmethod
    def live_drivers(cls) -> int:
        with cls._exchanges_lock:
            return len(cls._drivers)


class InProcDriver(base.BaseDriver):
    """oslo.messaging driver for ``inproc://`` (see the module docstring)."""

    def __init__(self, conf: Any, url: oslo_messaging.TransportURL,
                 default_exchange: str | None = None,
                 allowed_remote_exmods: list[str] | None = None) -> None:
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self._exchange_manager = InProcExchangeManager(default_exchange)
        InProcExchangeManager.attach(self)

    def require_features(self, requeue: bool = True) -> None:
        """Every feature is supported, requeue included."""

    def send(self, target: oslo_messaging.Target, ctxt: dict, message: dict,
             wait_for_reply: bool | None = None, timeout: float | None = None,
             call_monitor_timeout: float | None = None, retry: int | None = None,
             transport_options: Any = None) -> Any:
        # NOTE: encoding here is also fake://'s check that the message could
        # cross a real broker: it raises at the sender if it could not.
        ctxt_json, message_json = jsonutils.dumps(ctxt), jsonutils.dumps(message)
        slot = _ReplySlot() if wait_for_reply else None
        exchange = self._exchange_manager.get_exchange(target.exchange)
        exchange.deliver_message(target.topic, ctxt_json, message_json,
                                 server=target.server, fanout=bool(target.fanout),
                                 reply_q=slot)
        if slot is None:
            return None
        if not slot.wait(timeout):
            raise oslo_messaging.MessagingTimeout(f"No reply on topic {target.topic}")
        if slot.failure is not None:
            raise rpc_common.deserialize_remote_exception(slot.failure,
                                                          self._allowed_remote_exmods)
        return jsonutils.loads(slot.reply) if slot.reply is not None else None

    def send_notification(self, target: oslo_messaging.Target, ctxt: dict, message: dict,
                          version: float, retry: int | None = None) -> None:
        # NOTE: only to the queues of the listeners' pools that exist: a
        # broker's default queue keeps notifications for a consumer that may
        # come later; in one process none comes later, and the all-in-one
        # would hold every notification it ever sent in memory.
        exchange = self._exchange_manager.get_exchange(target.exchange)
        exchange.deliver_message(target.topic, jsonutils.dumps(ctxt), jsonutils.dumps(message),
                                 listened_only=True)

    def listen(self, target: oslo_messaging.Target, batch_size: int,
               batch_timeout: float | None) -> base.PollStyleListenerAdapter:
        exchange = self._exchange_manager.get_exchange(target.exchange)
        sources = [(exchange, oslo_messaging.Target(topic=target.topic, server=target.server)),
                   (exchange, oslo_messaging.Target(topic=target.topic))]
        listener = InProcListener(sources, server=target.server)
        return base.PollStyleListenerAdapter(listener, batch_size, batch_timeout)

    def listen_for_notifications(
            self, targets_and_priorities: list[tuple[oslo_messaging.Target, str]],
            pool: str | None, batch_size: int, batch_timeout: float | None,
    ) -> base.PollStyleListenerAdapter:
        sources = [(self._exchange_manager.get_exchange(target.exchange),
                    oslo_messaging.Target(topic=f"{target.topic}.{priority}"))
                   for target, priority in targets_and_priorities]
        listener = InProcListener(sources, pool=pool)
        return base.PollStyleListenerAdapter(listener, batch_size, batch_timeout)

    def cleanup(self) -> None:
        """Release this driver; the last live one takes the queues with it."""
        InProcExchangeManager.detach(self)

