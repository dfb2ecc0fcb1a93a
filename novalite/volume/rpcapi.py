"""Client side of the volume service's RPC API (topic [volume] topic).

Compute reaches volumes only through this client (it has no database), as
Nova's compute reaches Cinder's REST API: ``get``, ``create``, ``delete`` and
the 3.44 attachment steps go to any volume service (topic ``volume``), which
records them in the database and asks the volume's own host for the backend
part. The API process and the volume services call that host-side part
(``create_volume``, ``initialize_connection`` ...) at ``volume.<host>``.

API version history:

    * 1.0 - Initial version: get, create, delete, attachment_create,
            attachment_update, attachment_complete, attachment_delete (any
            host); create_volume, delete_volume, extend_volume,
            create_snapshot, delete_snapshot, initialize_connection,
            terminate_connection (the volume's host).
    * 1.1 - get_stats (the volume's host): the backend's pool stats.
    * 1.2 - revert_to_snapshot (the volume's host).
"""

from __future__ import annotations

from typing import Any

import oslo_messaging as messaging

from novalite import rpc
from novalite.conf import CONF
from novalite.context import RequestContext
from novalite.volume import exceptions as v_exc

VERSION = "1.2"


def _reraise(e: messaging.RemoteError) -> None:
    """A volume service error as its own class (oslo.messaging gives
    RemoteError for classes outside rpc.ALLOWED_EXMODS)."""
    cls = getattr(v_exc, e.exc_type or "", None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        err = cls(e.value) if e.value else cls()
        raise err from e


class VolumeAPI:
    def __init__(self) -> None:
        self._client: messaging.RPCClient | None = None

    @property
    def client(self) -> messaging.RPCClient:
        """Made on first use: building the API's app (every controller)
        must not open a transport (tests/integration/test_real_live_migration:
        a transport made so, on the default URL, outlived its test)."""
        if self._client is None:
            self._client = rpc.get_client(messaging.Target(topic=CONF.volume.topic,
                                                           version="1.0"))
        return self._client

    def _call(self, context: RequestContext, method: str, host: str | None = None,
              timeout: int | None = None, version: str | None = None, **kwargs: Any) -> Any:
        cctxt = self.client.prepare(server=host, timeout=timeout, version=version) \
            if host or timeout or version else self.client
        try:
            return cctxt.call(context, method, **kwargs)
        except messaging.RemoteError as e:
            _reraise(e)
            raise

    # -- the contract (any volume service) ------------------------------------------

    def get(self, context: RequestContext, volume_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(context, "get", volume_id=volume_id)
        return result

    def create(self, context: RequestContext, size: int, name: str | None = None,
               image_id: str | None = None, snapshot_id: str | None = None,
               source_volid: str | None = None, availability_zone: str | None = None,
               description: str | None = None) -> dict[str, Any]:
        """A new volume, once ``available``; raises (the volume left in
        ``error`` with its reason) when it could not be made."""
        result: dict[str, Any] = self._call(
            context, "create", timeout=int(CONF.volume.create_timeout), size=size, name=name,
            image_id=image_id, snapshot_id=snapshot_id, source_volid=source_volid,
            availability_zone=availability_zone, description=description)
        return result

    def delete(self, context: RequestContext, volume_id: str) -> None:
        self._call(context, "delete", volume_id=volume_id)

    def attachment_create(self, context: RequestContext, volume_id: str, instance_uuid: str,
                          connector: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call(context, "attachment_create", volume_id=volume_id,
                                            instance_uuid=instance_uuid, connector=connector)
        return result

    def attachment_update(self, context: RequestContext, attachment_id: str,
                          connector: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call(context, "attachment_update",
                                            attachment_id=attachment_id, connector=connector)
        return result

    def attachment_complete(self, context: RequestContext, attachment_id: str) -> None:
        self._call(context, "attachment_complete", attachment_id=attachment_id)

    def attachment_delete(self, context: RequestContext, attachment_id: str) -> None:
        self._call(context, "attachment_delete", attachment_id=attachment_id)

    # -- the volume's host --------------------------------------------------------

    def create_volume(self, context: RequestContext, host: str, volume_id: str) -> None:
        self.client.prepare(server=host).cast(context, "create_volume", volume_id=volume_id)

    def delete_volume(self, context: RequestContext, host: str, volume_id: str) -> None:
        self.client.prepare(server=host).cast(context, "delete_volume", volume_id=volume_id)

    def extend_volume(self, context: RequestContext, host: str, volume_id: str,
                      new_size: int) -> None:
        self.client.prepare(server=host).cast(context, "extend_volume", volume_id=volume_id,
                                              new_size=new_size)

    def create_snapshot(self, context: RequestContext, host: str, snapshot_id: str) -> None:
        self.client.prepare(server=host).cast(context, "create_snapshot",
                                              snapshot_id=snapshot_id)

    def delete_snapshot(self, context: RequestContext, host: str, snapshot_id: str) -> None:
        self.client.prepare(server=host).cast(context, "delete_snapshot",
                                              snapshot_id=snapshot_id)

    def initialize_connection(self, context: RequestContext, host: str, attachment_id: str,
                              connector: dict[str, Any]) -> dict[str, Any]:
        """The connection_info for this connector (an NBD export, or the
        file when the connector's host is the volume's and local attach is on)."""
        result: dict[str, Any] = self._call(context, "initialize_connection", host=host,
                                            attachment_id=attachment_id, connector=connector)
        return result

    def terminate_connection(self, context: RequestContext, host: str,
                             attachment_id: str) -> None:
        """Close the attachment's export (idempotent)."""
        self._call(context, "terminate_connection", host=host, attachment_id=attachment_id)

    def get_stats(self, context: RequestContext, host: str) -> dict[str, Any]:
        """The pool stats of ``host``'s backend (capacity, allocation)."""
        result: dict[str, Any] = self._call(context, "get_stats", host=host, timeout=10,
                                            version="1.1")
        return result

    def revert_to_snapshot(self, context: RequestContext, host: str, volume_id: str,
                           snapshot_id: str) -> None:
        self.client.prepare(server=host, version="1.2").cast(
            context, "revert_to_snapshot", volume_id=volume_id, snapshot_id=snapshot_id)
