"""The compute API's part for os-interface: list, show, attach and detach a
server's ports (Nova's compute/api.py attach_interface / detach_interface).

Runs in the API service, where the database is: it checks what it can
before anything changes (the server's state and lock, the port or network
the caller asks for, the project's port quota), records the instance
action, then hands the work to the server's host (compute RPC 6.10: the
attach is a call, so the API answers with the port attached; the detach a
cast, answered 202).

States are Nova's ``check_instance_state`` for both: vm_state ACTIVE,
PAUSED or STOPPED (SHUTOFF) with no task; anything else 409. A locked
server refuses non-admins (409).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from novalite import exception, policy
from novalite.compute import vm_states
from novalite.compute.api_power import check_instance_lock
from novalite.network import api as network_api
from novalite.network import exceptions as n_exc
from novalite.network import neutron
from novalite.objects.instance_action import InstanceAction

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance

# NOTE: Nova's check_instance_state of attach_interface and detach_interface.
INTERFACE_STATES = (vm_states.ACTIVE, vm_states.PAUSED, vm_states.STOPPED)


def _check_state(instance: Instance, action: str) -> None:
    if instance.vm_state not in INTERFACE_STATES:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="vm_state", state=instance.vm_state)
    if instance.task_state is not None:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="task_state", state=instance.task_state)
    if not instance.host:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="host", state="none (never scheduled)")


class InterfacesAPI:
    """os-interface over ``compute_api`` (novalite.compute.api.API: its
    ``compute_rpcapi`` reaches the server's host)."""

    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    def list_ports(self, instance: Instance) -> list[dict[str, Any]]:
        """The server's ports (Neutron's list_ports(device_id=...)), each
        with the ``tag`` it was attached with (None when none)."""
        tags = network_api.interface_tags(instance.uuid)
        return [dict(port, tag=tags.get(port["uuid"]))
                for port in neutron.port_get_all(device_id=instance.uuid)]

    def show_port(self, instance: Instance, port_id: str) -> dict[str, Any]:
        """The server's port ``port_id``; PortNotFound when it has none such
        (also when the port is another server's or another project's)."""
        port = neutron.port_get(port_id)
        if port["device_id"] != instance.uuid:
            raise n_exc.PortNotFound(port_id=port_id)
        return dict(port, tag=network_api.interface_tags(instance.uuid).get(port_id))

    def attach_interface(self, context: RequestContext, instance: Instance,
                         network_id: str | None, port_id: str | None,
                         requested_ip: str | None, tag: str | None = None) -> dict[str, Any]:
        """Attach; returns the VIF attached (its ``id`` is the port's)."""
        check_instance_lock(context, instance)
        _check_state(instance, "attach_interface")
        rpcapi = self.compute_api.compute_rpcapi
        rpcapi.check_interfaces()
        network_api.validate_interface(context.project_id, policy.check_is_admin(context),
                                       network_id, port_id, requested_ip)
        InstanceAction.action_start(context, instance.uuid, "attach_interface")
        return dict(rpcapi.attach_interface(context, instance, network_id, port_id,
                                            requested_ip, tag))

    def detach_interface(self, context: RequestContext, instance: Instance,
                         port_id: str) -> None:
        check_instance_lock(context, instance)
        _check_state(instance, "detach_interface")
        self.show_port(instance, port_id)
        rpcapi = self.compute_api.compute_rpcapi
        rpcapi.check_interfaces()
        InstanceAction.action_start(context, instance.uuid, "detach_interface")
        rpcapi.detach_interface(context, instance, port_id)
