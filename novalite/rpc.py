"""RPC plumbing on oslo.messaging: one transport per process, targets,
and a serializer that carries versioned objects and the request context."""

from __future__ import annotations

from typing import Any, cast

import oslo_messaging as messaging
from oslo_log import log as logging

from novalite import context as nl_context
from novalite.conf import CONF
from novalite.metrics import rpc as metrics_rpc
from novalite.objects import base as objects_base

LOG = logging.getLogger(__name__)

TRANSPORT: messaging.Transport | None = None

# NOTE: exceptions from these modules are re-raised with their own class at
# the caller, so a compute error reaches the conductor as what it is (and a
# Neutron error of the conductor, e.g. a port another server took meanwhile,
# reaches compute and the API as its 404/409, not as a RemoteError).
ALLOWED_EXMODS = ["novalite.exception", "novalite.network.exceptions",
                  "novalite.volume.exceptions",
                  "oslo_messaging.rpc.dispatcher"]


def init() -> messaging.Transport:
    """Create this process's transport (after fork: call it in start())."""
    global TRANSPORT
    if TRANSPORT is None:
        from novalite import config

        config.register_base_opts()
        # NOTE: durable queues so a broker restart loses no cast (FACTS.md).
        CONF.set_default("amqp_durable_queues", True, group="oslo_messaging_rabbit")
        TRANSPORT = messaging.get_rpc_transport(CONF, allowed_remote_exmods=ALLOWED_EXMODS)
    return TRANSPORT


def cleanup() -> None:
    global TRANSPORT
    from novalite import notifications

    # NOTE: the notification transport (and the API's listener on it) first.
    notifications.cleanup()
    if TRANSPORT is not None:
        TRANSPORT.cleanup()
    TRANSPORT = None


def get_transport() -> messaging.Transport:
    return TRANSPORT if TRANSPORT is not None else init()


class RequestContextSerializer(messaging.Serializer):
    """Wraps the object serializer and turns contexts into dicts and back."""

    def __init__(self, base: messaging.Serializer | None = None) -> None:
        self._base = base or objects_base.NovaliteObjectSerializer()

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return self._base.serialize_entity(ctxt, entity)

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return self._base.deserialize_entity(ctxt, entity)

    def serialize_context(self, ctxt: Any) -> dict:
        return ctxt.to_dict()

    def deserialize_context(self, ctxt: dict) -> nl_context.RequestContext:
        context = nl_context.RequestContext.from_dict(ctxt)
        # NOTE: make this the thread's current context so oslo.log prints the
        # caller's request id on every line the handler logs.
        context.update_store()
        return context


def get_client(target: messaging.Target, version_cap: str | None = None,
               timeout: int | None = None) -> messaging.RPCClient:
    """An oslo.messaging client whose calls and casts are timed
    (``novalite.metrics.rpc``)."""
    client = messaging.get_rpc_client(get_transport(), target, version_cap=version_cap,
                                      serializer=RequestContextSerializer(),
                                      timeout=timeout or CONF.rpc_call_timeout)
    return cast(messaging.RPCClient, metrics_rpc.TimedClient(client))


def get_server(target: messaging.Target, dispatcher: messaging.RPCDispatcher) -> Any:
    """An RPC server around an existing dispatcher (the seed's wiring:
    the manager builds the dispatcher, the service connects it)."""
    from oslo_messaging.rpc import server as rpc_server

    return rpc_server.RPCServer(get_transport(), target, dispatcher, "threading")


def get_dispatcher(endpoints: list, serializer: messaging.Serializer | None = None
                   ) -> messaging.RPCDispatcher:
    return messaging.RPCDispatcher(
        endpoints, serializer or RequestContextSerializer(),
        access_policy=messaging.DefaultRPCAccessPolicy)
