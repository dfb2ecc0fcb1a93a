"""Versioned notifications, as Nova's: ``instance.<action>.start|end|error``
on the ``versioned_notifications`` topic, payloads in Nova's envelope
(``payloads``), sent with oslo.messaging's Notifier (driver ``messagingv2``)
on the notification transport (``[oslo_messaging_notifications]
transport_url``, else the RPC bus).

Fire and forget: an action only snapshots its instance and queues the
notification; one background thread per process builds the payload and
sends it.

State after the save, as Nova's: inside ``deferred()`` (compute's instance
lock: one action) a step's ``.end`` waits until the scope ends, i.e. after
the action's final save, and shows the instance as the action left it
(instance.power_off.end: stopped, no task state). The addresses come from
what the action holds: the network info given (the build's ports), else
the info cache compute read during the action (``remember_network_info``),
else one read of the info cache per action (a conductor call in compute,
in the sender thread), shared by its ``.start`` and ``.end``. Nothing here fails or slows an action: errors are logged, a full queue
drops the newest (logged). A process that has no RPC transport (a unit test
of a manager) emits nothing.

``publisher_id`` is ``<binary>:<host>`` with novalite's binary names
(``novalite-compute:host1``, ``novalite-api:host1``): Nova's tools that
match ``nova-compute`` need the prefix changed, but a consumer can tell
novalite's services apart as Nova's own.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import oslo_messaging
from oslo_log import log as logging

from novalite import persistence
from novalite.conf import CONF
from novalite.notifications import events, payloads

LOG = logging.getLogger(__name__)

COMPUTE = "novalite-compute"
API = "novalite-api"

_lock = threading.Lock()
_transport: oslo_messaging.Transport | None = None
_notifier: oslo_messaging.Notifier | None = None
_sender: _Sender | None = None


def enabled() -> bool:
    return str(CONF.notifications.notification_format) in ("versioned", "both")


def get_transport() -> oslo_messaging.Transport | None:
    """The notification transport (made with the process's RPC transport;
    None while there is none)."""
    global _transport
    from novalite import rpc

    if rpc.TRANSPORT is None:
        return None
    with _lock:
        if _transport is None:
            _transport = oslo_messaging.get_notification_transport(
                CONF, allowed_remote_exmods=rpc.ALLOWED_EXMODS)
        return _transport


def _get_notifier() -> oslo_messaging.Notifier | None:
    global _notifier
    transport = get_transport()
    if transport is None:
        return None
    with _lock:
        if _notifier is None:
            # NOTE: oslo.messaging's default driver is none (Nova's operators
            # must set it); novalite's is messagingv2, 'noop' turns it off.
            CONF.set_default("driver", ["messagingv2"], group="oslo_messaging_notifications")
            _notifier = oslo_messaging.Notifier(
                transport, topics=list(CONF.notifications.versioned_notifications_topics))
        return _notifier


class _Sender:
    """One daemon thread that runs queued sends in order."""

    def __init__(self, size: int) -> None:
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=size)
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, name="notifications", daemon=True)
        self._thread.start()

    def put(self, job: Callable[[], None]) -> None:
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                LOG.warning("Notification queue full ([notifications] queue_size): %d "
                            "notification(s) dropped so far", self._dropped)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                job()
            except Exception:
                LOG.exception("Could not send a notification")

    def stop(self, timeout: float = 5.0) -> None:
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)


class _Scope:
    """One action (compute's instance lock) in one thread: its pending
    ``.end`` notifications and the network info read during it."""

    def __init__(self) -> None:
        self.pending: list[tuple[Any, Any, str, str | None, dict[str, Any]]] = []
        self._vifs: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def remember(self, uuid: str, vifs: list[dict[str, Any]]) -> None:
        with self._lock:
            self._vifs[uuid] = list(vifs)

    def forget(self, uuid: str) -> None:
        with self._lock:
            self._vifs.pop(uuid, None)

    def network_info(self, context: Any, instance: Any) -> list[dict[str, Any]]:
        """The instance's network info: what the action read, else read
        once (kept for the action's next notification)."""
        with self._lock:
            known = self._vifs.get(instance.uuid)
        if known is not None:
            return known
        vifs = _network_info(context, instance)
        with self._lock:
            return self._vifs.setdefault(instance.uuid, vifs)


_local = threading.local()


def _scopes() -> list[_Scope]:
    scopes: list[_Scope] | None = getattr(_local, "scopes", None)
    if scopes is None:
        scopes = _local.scopes = []
    return scopes


def _current() -> _Scope | None:
    scopes = _scopes()
    return scopes[-1] if scopes else None


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """One action: the ``.end`` of its steps is sent when it ends (after
    its final save: the state it left), and its notifications share one
    read of the network info."""
    scope = _Scope()
    scopes = _scopes()
    scopes.append(scope)
    try:
        yield
    finally:
        scopes.pop()
        for context, instance, action, host, extra in scope.pending:
            instance_action(context, instance, action, events.END, host=host,
                            _scope=scope, **extra)


def remember_network_info(instance_uuid: str, vifs: list[dict[str, Any]]) -> None:
    """Compute read the instance's network info in this action: its
    notifications use it (no read of their own)."""
    scope = _current()
    if scope is not None:
        scope.remember(instance_uuid, vifs)


def _get_sender() -> _Sender:
    global _sender
    with _lock:
        if _sender is None:
            _sender = _Sender(CONF.notifications.queue_size)
        return _sender


def instance_action(context: Any, instance: Any, action: str, phase: str | None,
                    exc: BaseException | None = None, *, binary: str = COMPUTE,
                    host: str | None = None,
                    network_info: list[dict[str, Any]] | None = None,
                    _scope: _Scope | None = None, **extra: Any) -> None:
    """Queue ``instance.<action>.<phase>`` (``instance.<action>`` without a
    phase: lock, unlock) about ``instance`` as it is now (``exc``: the fault
    of an ``error``; ``network_info``: the instance's, when the caller
    holds it; ``extra``: the action payload's own fields, e.g.
    ``volume_id``, ``image_meta`` for create). Never raises."""
    try:
        if not enabled() or get_transport() is None:
            return
        snapshot = instance.obj_clone()
        fault = None
        if exc is not None:
            fault = payloads.ExceptionPayload.from_exception(exc, _message(exc))
        publisher = f"{binary}:{host or CONF.host}"
        scope = _scope if _scope is not None else _current()
        vifs = list(network_info) if network_info is not None else None
        _get_sender().put(persistence.bound(
            lambda: _send(context, snapshot, action, phase, fault, publisher, extra,
                          vifs, scope)))
    except Exception:
        LOG.exception("Could not queue instance.%s.%s of %s", action, phase,
                      getattr(instance, "uuid", "?"))


def step(context: Any, instance: Any, event: str, phase: str,
         exc: BaseException | None = None, host: str | None = None, **extra: Any) -> None:
    """The compute manager's hook: a step (instance-action event) started,
    succeeded or failed; notifies what Nova notifies for that step."""
    action = events.for_event(event, phase)
    scope = _current()
    if scope is not None and phase != events.START and event in events.CHANGES_NETWORK:
        scope.forget(instance.uuid)
    if action is None:
        return
    if phase == events.END and scope is not None:
        # NOTE: sent when the action ends (deferred), as the action left it.
        scope.pending.append((context, instance, action, host, extra))
        return
    instance_action(context, instance, action, phase, exc, host=host, **extra)


def _message(exc: BaseException) -> str:
    from novalite import exception

    if isinstance(exc, exception.NovaliteException):
        return str(exc.format_message())
    return str(exc) or type(exc).__name__


def _network_info(context: Any, instance: Any) -> list[dict[str, Any]]:
    from novalite import exception
    from novalite.objects.instance_info_cache import InstanceInfoCache

    try:
        return list(InstanceInfoCache.get_by_instance_uuid(context, instance.uuid).vifs)
    except exception.NotFound:
        return []


def build(context: Any, instance: Any, action: str, fault: Any = None,
          network_info: list[dict[str, Any]] | None = None,
          **extra: Any) -> payloads.InstanceActionPayload:
    """The payload of ``instance.<action>.*`` (``network_info``: read from
    the info cache when not given)."""
    payload = events.payload_class(action)()
    payload.fill(context, instance,
                 network_info if network_info is not None else _network_info(context, instance))
    payload.fault = fault
    image_meta = extra.pop("image_meta", None)
    if image_meta:
        payload.fill_image(image_meta)
    for name, value in extra.items():
        if name in payload.fields:
            setattr(payload, name, value)
    return payload


def _send(context: Any, instance: Any, action: str, phase: str | None, fault: Any,
          publisher: str, extra: dict[str, Any], vifs: list[dict[str, Any]] | None = None,
          scope: _Scope | None = None) -> None:
    notifier = _get_notifier()
    if notifier is None:
        return
    if vifs is None and scope is not None:
        vifs = scope.network_info(context, instance)
    payload = build(context, instance, action, fault, vifs, **dict(extra)).primitive()
    ctxt = {"request_id": getattr(context, "request_id", None),
            "user_id": getattr(context, "user_id", None),
            "project_id": getattr(context, "project_id", None)}
    send = notifier.prepare(publisher_id=publisher)
    event_type = f"instance.{action}.{phase}" if phase else f"instance.{action}"
    if phase == events.ERROR:
        send.error(ctxt, event_type, payload)
    else:
        send.info(ctxt, event_type, payload)


def cleanup() -> None:
    """Stop the sender (after what it holds is sent), the API's stream
    listener, and release the transport (``rpc.cleanup`` calls this)."""
    global _transport, _notifier, _sender
    from novalite.notifications import stream

    stream.close()
    with _lock:
        sender, _sender = _sender, None
    if sender is not None:
        sender.stop()
    with _lock:
        transport, _transport, _notifier = _transport, None, None
    if transport is not None:
        try:
            transport.cleanup()
        except Exception:
            LOG.warning("Could not clean up the notification transport: %s",
                        traceback.format_exc())
