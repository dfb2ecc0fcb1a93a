"""Versioned notifications, as Nova's: ``instance.<action>.start|end|error``
on the ``versioned_notifications`` topic, payloads in Nova's envelope
(``payloads``), sent with oslo.messaging's Notifier (driver ``messagingv2``)
on the notification transport (``[oslo_messaging_notifications]
transport_url``, else the RPC bus).

Fire and forget: an action only snapshots its instance and queues the
notification; one background thread per process builds the payload (the
addresses come from the info cache, a conductor call in compute) and sends
it. Nothing here fails or slows an action: errors are logged, a full queue
drops the newest (logged). A process that has no RPC transport (a unit test
of a manager) emits nothing.

``publisher_id`` is ``<binary>:<host>`` with novalite's binary names
(``novalite-compute:host1``, ``novalite-api:host1``): Nova's tools that
match ``nova-compute`` need the prefix changed, but a consumer can tell
novalite's services apart as Nova's own.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
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


def _get_sender() -> _Sender:
    global _sender
    with _lock:
        if _sender is None:
            _sender = _Sender(CONF.notifications.queue_size)
        return _sender


def instance_action(context: Any, instance: Any, action: str, phase: str | None,
                    exc: BaseException | None = None, *, binary: str = COMPUTE,
                    host: str | None = None, **extra: Any) -> None:
    """Queue ``instance.<action>.<phase>`` (``instance.<action>`` without a
    phase: lock, unlock) about ``instance`` as it is now (``exc``: the fault
    of an ``error``; ``extra``: the action payload's own fields, e.g.
    ``volume_id``). Never raises."""
    try:
        if not enabled() or get_transport() is None:
            return
        snapshot = instance.obj_clone()
        fault = None
        if exc is not None:
            fault = payloads.ExceptionPayload.from_exception(exc, _message(exc))
        publisher = f"{binary}:{host or CONF.host}"
        _get_sender().put(persistence.bound(
            lambda: _send(context, snapshot, action, phase, fault, publisher, extra)))
    except Exception:
        LOG.exception("Could not queue instance.%s.%s of %s", action, phase,
                      getattr(instance, "uuid", "?"))


def step(context: Any, instance: Any, event: str, phase: str,
         exc: BaseException | None = None, host: str | None = None, **extra: Any) -> None:
    """The compute manager's hook: a step (instance-action event) started,
    succeeded or failed; notifies what Nova notifies for that step."""
    action = events.for_event(event, phase)
    if action is not None:
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
          **extra: Any) -> payloads.InstanceActionPayload:
    """The payload of ``instance.<action>.*``."""
    payload = events.payload_class(action)()
    payload.fill(context, instance, _network_info(context, instance))
    payload.fault = fault
    for name, value in extra.items():
        if name in payload.fields:
            setattr(payload, name, value)
    return payload


def _send(context: Any, instance: Any, action: str, phase: str | None, fault: Any,
          publisher: str, extra: dict[str, Any]) -> None:
    notifier = _get_notifier()
    if notifier is None:
        return
    payload = build(context, instance, action, fault, **extra).primitive()
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
