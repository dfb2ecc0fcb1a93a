"""The compute manager's part for os-interface: attach a port (or a new one
on a network) to a server and detach it, on the server's host.

A mixin of ComputeManager (novalite/compute/manager.py keeps the seed's
entry points; each family of operations lives in a module of its own, as
STYLE.md asks). The RPC methods here are served by ComputeManager's target
(compute RPC 6.10).

As Nova's ComputeManager.attach_interface / detach_interface:

- attach (a call: the API answers with the port): the port is bound to
  this host through the conductor (device_id, device_owner, binding:host_id;
  the instance's info cache gets the VIF), then the driver hot-plugs the NIC
  (live when the guest runs, in its definition either way). A driver that
  fails: the port is released again (the user's unbound, one made here
  deleted) and InterfaceAttachFailed goes back to the API (500).
- detach (a cast): the driver unplugs the NIC and waits for the guest to let
  it go, then the port is released. A port the instance's info cache does
  not have: PortNotFound, recorded on the action's event.

Both run under the instance's lock, inside an instance-action event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oslo_log import log as logging

from novalite import exception
from novalite.network import exceptions as n_exc
from novalite.objects.network import FixedIPList

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance

LOG = logging.getLogger(__name__)


def _lock(uuid: str) -> Any:
    from novalite.compute.manager import _instance_lock

    return _instance_lock(uuid)


def _reason(exc: BaseException) -> str:
    return exc.format_message() if isinstance(exc, exception.NovaliteException) else \
        f"{type(exc).__name__}: {exc}"


class ComputeInterfaceActions:
    """Host-side attach_interface and detach_interface."""

    host: str
    driver: Any
    _event: Any
    _network_info: Any

    def attach_interface(self, context: RequestContext, instance: Instance,
                         network_id: str | None, port_id: str | None,
                         requested_ip: str | None, tag: str | None = None) -> dict[str, Any]:
        """Call (6.10): bind the port, hot-plug it; returns its VIF."""
        with _lock(instance.uuid), \
                self._event(context, instance, "attach_interface", "compute_attach_interface"):
            vif = FixedIPList.allocate_port_for_instance(
                context, instance.uuid, self.host, network_id, port_id, requested_ip, tag,
                instance.availability_zone if instance.obj_attr_is_set("availability_zone")
                else None)
            image_meta = {"id": instance.image_ref, "properties": {}}
            try:
                self.driver.attach_interface(context, instance, image_meta, vif)
            except BaseException as exc:
                LOG.warning("Attaching port %s to %s failed: %s", vif["id"], instance.uuid,
                            _reason(exc))
                self._release_port(context, instance, vif["id"])
                raise exception.InterfaceAttachFailed(instance_uuid=instance.uuid,
                                                      reason=_reason(exc)) from exc
            LOG.info("Port %s attached to %s as %s", vif["id"], instance.uuid,
                     vif.get("devname"))
            return dict(vif)

    def detach_interface(self, context: RequestContext, instance: Instance,
                         port_id: str) -> None:
        """Cast (6.10): unplug the port's NIC, then release the port."""
        with _lock(instance.uuid), \
                self._event(context, instance, "detach_interface", "compute_detach_interface"):
            condemned = next((v for v in self._network_info(context, instance)
                              if v.get("id") == port_id), None)
            if condemned is None:
                raise n_exc.PortNotFound(port_id=port_id)
            try:
                self.driver.detach_interface(context, instance, condemned)
            except exception.InstanceNotFound:
                # NOTE: no guest (deleted meanwhile): nothing is plugged.
                pass
            except BaseException as exc:
                LOG.warning("Detaching port %s from %s failed: %s", port_id, instance.uuid,
                            _reason(exc))
                raise exception.InterfaceDetachFailed(instance_uuid=instance.uuid,
                                                      reason=_reason(exc)) from exc
            FixedIPList.deallocate_port_for_instance(context, instance.uuid, port_id)
            LOG.info("Port %s detached from %s", port_id, instance.uuid)

    def _release_port(self, context: RequestContext, instance: Instance, port_id: str) -> None:
        try:
            FixedIPList.deallocate_port_for_instance(context, instance.uuid, port_id)
        except Exception:  # noqa: BLE001
            LOG.exception("Could not release port %s of the failed attach to %s", port_id,
                          instance.uuid)
