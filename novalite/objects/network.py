"""Network and FixedIP: novalite's flat networks and the addresses (ports)
allocated on them.

Network allocation is a remotable class method: compute (no database)
reaches it through the conductor, the API runs it where the database is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from oslo_versionedobjects import fields

from novalite import exception
from novalite.db import api as db_api
from novalite.db import network as db
from novalite.network import api as network_api
from novalite.objects import base
from novalite.objects.instance import Instance
from novalite.objects.request_spec import RequestSpec

if TYPE_CHECKING:
    from novalite.context import RequestContext


@base.register
class Network(base.NovaliteObject, base.NovaliteObjectDictCompat):
    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(),
        "uuid": fields.UUIDField(),
        "name": fields.StringField(),
        "cidr": fields.StringField(),
        "gateway": fields.StringField(),
        "bridge": fields.StringField(),
        "project_id": fields.StringField(nullable=True),
    }

    @classmethod
    @base.remotable
    def get_by_uuid(cls, context: RequestContext, network_uuid: str) -> Network:
        """The network; NetworkNotFound when there is none."""
        return cast("Network", cls._from_db_object(context, cls(), db.network_get(network_uuid)))


@base.register
class NetworkList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("Network")}

    @classmethod
    @base.remotable
    def get_all(cls, context: RequestContext, name: str | None = None,
                uuid: str | None = None) -> NetworkList:
        return cast("NetworkList", base.obj_make_list(context, cls(), Network, db.network_get_all(name, uuid)))


@base.register
class FixedIP(base.NovaliteObject, base.NovaliteObjectDictCompat):
    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(),
        "uuid": fields.UUIDField(),
        "network_id": fields.IntegerField(),
        "network_name": fields.StringField(nullable=True),
        "address": fields.StringField(),
        "mac": fields.StringField(),
        "instance_uuid": fields.UUIDField(),
        "host": fields.StringField(nullable=True),
    }


@base.register
class FixedIPList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    # Version 1.1: setup_instance_network_on_host
    # Version 1.2: allocate_port_for_instance, deallocate_port_for_instance
    VERSION = "1.2"
    fields = {"objects": fields.ListOfObjectsField("FixedIP")}

    @classmethod
    @base.remotable
    def get_by_instance_uuids(cls, context: RequestContext | None,
                              instance_uuids: list[str]) -> FixedIPList:
        """The addresses of many instances (with their network's name), in
        one query, in allocation order."""
        rows = [dict(port, instance_uuid=uuid) for uuid, ports in
                db_api.instance_addresses_get(None, list(instance_uuids)).items()
                for port in ports]
        return cast("FixedIPList", base.obj_make_list(context, cls(), FixedIP, rows))

    @classmethod
    @base.remotable
    def allocate_for_instance(cls, context: RequestContext, instance_uuid: str,
                              host: str | None) -> list[dict[str, Any]]:
        """Allocate the instance's ports on ``host`` from the networks it
        asked for; returns its network_info. Idempotent: a retried call (or a
        compute restart) releases the ports made before and makes them again."""
        requested = _requested_networks(context, instance_uuid)
        network_api.deallocate_for_instance(instance_uuid)
        return network_api.allocate_for_instance(instance_uuid, requested, host)

    @classmethod
    @base.remotable
    def setup_instance_network_on_host(cls, context: RequestContext, instance_uuid: str,
                                       host: str | None) -> list[dict[str, Any]]:
        """Bind the instance's ports to ``host`` (None: unbind them, as
        Nova's shelve offload); returns its network_info."""
        return network_api.setup_instance_network_on_host(instance_uuid, host)

    @classmethod
    @base.remotable
    def allocate_port_for_instance(cls, context: RequestContext, instance_uuid: str,
                                   host: str | None, network_id: str | None,
                                   port_id: str | None, requested_ip: str | None,
                                   tag: str | None = None,
                                   availability_zone: str | None = None) -> dict[str, Any]:
        """os-interface attach: bind ``port_id`` to the instance on ``host``
        or make a port on ``network_id``; returns the new VIF (the info
        cache has it)."""
        return network_api.allocate_port_for_instance(
            instance_uuid, host, network_id, port_id, requested_ip, tag, availability_zone)

    @classmethod
    @base.remotable
    def deallocate_port_for_instance(cls, context: RequestContext, instance_uuid: str,
                                     port_id: str) -> list[dict[str, Any]]:
        """os-interface detach: unbind the user's port or delete Nova's;
        returns the instance's network_info."""
        return network_api.deallocate_port_for_instance(instance_uuid, port_id)

    @classmethod
    @base.remotable
    def deallocate_for_instance(cls, context: RequestContext, instance_uuid: str) -> int:
        """Release every address of the instance; returns how many."""
        return network_api.deallocate_for_instance(instance_uuid)


def _requested_networks(context: RequestContext, instance_uuid: str) -> Any:
    """What the create request asked for, from the instance's RequestSpec;
    an instance recorded before specs were keeps it in system_metadata."""
    try:
        spec = RequestSpec.get_by_instance_uuid(context, instance_uuid)
    except exception.RequestSpecNotFound:
        instance = Instance.get_by_uuid(context, instance_uuid)
        return network_api.parse_requested(
            (instance.system_metadata or {}).get(network_api.REQUESTED_KEY))
    return spec.requested_networks.to_legacy()
