"""Client side of the compute RPC API.

API version history (minor bumps only add; the client downgrades with
``can_send_version()``; ``[upgrade_levels] compute`` pins it):

    * 3.0 - Served by ComputeV3Proxy for old callers: run_instance,
            terminate_instance, stop_instance, start_instance, reboot_instance.
    * 6.0 - ComputeManager's first version: the 3.0 methods with versioned
            Instance objects and a request_spec dict on run_instance.
    * 6.1 - Add get_console_output.
    * 6.2 - run_instance takes a RequestSpec object and the build's
            InjectedFileList (a 6.0/6.1 host gets RequestSpec.to_legacy_dict()
            and no files).
    * 6.3 - Power and access actions: pause_instance, unpause_instance,
            suspend_instance, resume_instance, rescue_instance,
            unrescue_instance, set_admin_password, trigger_crash_dump,
            get_serial_console (novalite/compute/power_actions.py).
    * 6.4 - Image actions: snapshot_instance, backup_instance,
            shelve_instance, shelve_offload_instance, unshelve_instance,
            rebuild_instance (novalite/compute/image_actions.py).
    * 6.5 - Moves: prep_resize, resize_instance, finish_resize,
            confirm_resize, revert_resize, finish_revert_resize,
            live migration methods (novalite/compute/move_actions.py).
    * 6.6 - Add get_instance_diagnostics (a call; the guest's standard
            diagnostics).
    * 6.7 - Add get_host_uptime (a call; the host's uptime line).
    * 6.8 - Live migration with the disks copied: pre_live_migration (a
            call to the destination, before the source migrates: it
            prepares the instance directory and answers where the source
            sends the guest) and rollback_live_migration_at_destination
            (a cast: the source failed, the destination removes what it made).
    * 6.9 - Add live_migration_force_complete and live_migration_abort
            (casts to the source of a live migration: microversions 2.22,
            2.24 and 2.65).
    * 6.10 - Add attach_interface (a call: answers the new VIF) and
            detach_interface (a cast): os-interface
            (novalite/compute/interface_actions.py).
    * 6.11 - Volumes: attach_volume and detach_volume (casts: the API
            recorded the mapping and the reserved attachment), and
            external_instance_event (a cast: volume-extended)
            (novalite/compute/volumes.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import oslo_messaging as messaging
from oslo_log import log as logging

from novalite import exception, rpc
from novalite.conf import CONF
from novalite.objects.request_spec import InjectedFileList, RequestSpec

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance

LOG = logging.getLogger(__name__)

CURRENT_VERSION = "6.11"
V3_PROXY_VERSION = "3.0"
# NOTE: seconds a pre_live_migration call may take (an image download on
# the destination); at least [DEFAULT] rpc_call_timeout.
PRE_LIVE_MIGRATION_TIMEOUT = 600


def _resolve_version_cap(context: RequestContext) -> str | None:
    """``auto``: the lowest version among running compute services."""
    pin = CONF.upgrade_levels.compute
    if pin != "auto":
        return cast("str | None", pin)
    from novalite.objects.service import ServiceList

    lowest = ServiceList.min_rpc_version(context, "novalite-compute")
    LOG.info("Compute RPC version cap 'auto' resolved to %s", lowest or CURRENT_VERSION)
    return lowest or CURRENT_VERSION


class ComputeAPI:
    def __init__(self, context: RequestContext | None = None) -> None:
        self._client: messaging.RPCClient | None = None
        self._context = context

    @property
    def client(self) -> messaging.RPCClient:
        if self._client is None:
            from novalite import context as nl_context

            ctxt = self._context or nl_context.get_admin_context()
            target = messaging.Target(topic=CONF.compute_topic, version=CURRENT_VERSION)
            self._client = rpc.get_client(target, version_cap=_resolve_version_cap(ctxt))
        return self._client

    def _prepare(self, host: str, version: str = "6.0", **kw: Any) -> Any:
        if not host:
            raise exception.NovaliteException("compute RPC needs a host; the instance has none")
        return self.client.prepare(server=host, version=version, **kw)

    def run_instance(self, ctxt: RequestContext, instance: Instance, host: str,
                     request_spec: RequestSpec | None,
                     injected_files: InjectedFileList | None = None) -> None:
        if request_spec is None or self.client.can_send_version("6.2"):
            self._prepare(host, version="6.2").cast(ctxt, "run_instance", instance=instance,
                                                    request_spec=request_spec,
                                                    injected_files=injected_files)
            return
        self._prepare(host).cast(ctxt, "run_instance", instance=instance,
                                 request_spec=request_spec.to_legacy_dict())

    def terminate_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        self._prepare(instance.host).cast(ctxt, "terminate_instance", instance=instance)

    def stop_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        self._prepare(instance.host).cast(ctxt, "stop_instance", instance=instance)

    def start_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        self._prepare(instance.host).cast(ctxt, "start_instance", instance=instance)

    def reboot_instance(self, ctxt: RequestContext, instance: Instance, reboot_type: str) -> None:
        self._prepare(instance.host).cast(ctxt, "reboot_instance", instance=instance,
                                          reboot_type=reboot_type)

    def get_console_output(self, ctxt: RequestContext, instance: Instance, length: int | None) -> str:
        if not self.client.can_send_version("6.1"):
            raise exception.Conflict(reason="console output needs compute RPC 6.1; "
                                            "the compute services are pinned lower")
        return str(self._prepare(instance.host, version="6.1").call(
            ctxt, "get_console_output", instance=instance, length=length))

    # -- image actions (6.4): novalite/compute/image_actions.py ----------------

    def _image_client(self, host: str, what: str) -> Any:
        if not self.client.can_send_version("6.4"):
            raise exception.Conflict(reason=f"{what} needs compute RPC 6.4; the compute "
                                            "services are pinned lower")
        return self._prepare(host, version="6.4")

    def snapshot_instance(self, ctxt: RequestContext, instance: Instance, image_id: str) -> None:
        self._image_client(instance.host, "createImage").cast(
            ctxt, "snapshot_instance", instance=instance, image_id=image_id)

    def backup_instance(self, ctxt: RequestContext, instance: Instance, image_id: str,
                        backup_type: str, rotation: int) -> None:
        self._image_client(instance.host, "createBackup").cast(
            ctxt, "backup_instance", instance=instance, image_id=image_id,
            backup_type=backup_type, rotation=rotation)

    def shelve_instance(self, ctxt: RequestContext, instance: Instance, image_id: str) -> None:
        self._image_client(instance.host, "shelve").cast(
            ctxt, "shelve_instance", instance=instance, image_id=image_id)

    def shelve_offload_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        self._image_client(instance.host, "shelveOffload").cast(
            ctxt, "shelve_offload_instance", instance=instance)

    def unshelve_instance(self, ctxt: RequestContext, instance: Instance, host: str,
                          image: Any, request_spec: RequestSpec | None) -> None:
        """``image``: the shelved image's ImageMeta (None: the guest is still
        on its host, which starts it again)."""
        self._image_client(host, "unshelve").cast(
            ctxt, "unshelve_instance", instance=instance, image=image,
            request_spec=request_spec)

    def rebuild_instance(self, ctxt: RequestContext, instance: Instance, image: Any,
                         admin_password: str | None, injected_files: InjectedFileList,
                         preserve_ephemeral: bool = False) -> None:
        extra = {"preserve_ephemeral": True} if preserve_ephemeral else {}
        self._image_client(instance.host, "rebuild").cast(
            ctxt, "rebuild_instance", instance=instance, image=image,
            admin_password=admin_password, injected_files=injected_files, **extra)

    def fanout_ping(self, ctxt: RequestContext, arg: Any) -> None:
        """Cast ``ping`` to every compute host (namespace baseapi)."""
        client = rpc.get_client(messaging.Target(topic=CONF.compute_topic,
                                                 namespace="baseapi", version="1.0"))
        client.prepare(fanout=True).cast(ctxt, "ping", arg=arg)

    # -- 6.3: power and access actions (novalite/compute/power_actions.py) ------

    def check_power_actions(self, what: str) -> None:
        """Conflict when the computes are pinned below 6.3 (the API asks
        before it changes the instance's state)."""
        if not self.client.can_send_version("6.3"):
            raise exception.Conflict(reason=f"{what} needs compute RPC 6.3; the compute "
                                            "services are pinned lower")

    def _prepare_63(self, instance: Instance, what: str) -> Any:
        self.check_power_actions(what)
        return self._prepare(instance.host, version="6.3")

    def pause_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        self._prepare_63(instance, "pause").cast(ctxt, "pause_instance", instance=instance)

    def unpause_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        self._prepare_63(instance, "unpause").cast(ctxt, "unpause_instance", instance=instance)

    def suspend_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        self._prepare_63(instance, "suspend").cast(ctxt, "suspend_instance", instance=instance)

    def resume_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        self._prepare_63(instance, "resume").cast(ctxt, "resume_instance", instance=instance)

    def rescue_instance(self, ctxt: RequestContext, instance: Instance,
                        rescue_password: str | None, rescue_image_ref: str | None) -> None:
        self._prepare_63(instance, "rescue").cast(ctxt, "rescue_instance", instance=instance,
                                                  rescue_password=rescue_password,
                                                  rescue_image_ref=rescue_image_ref)

    def unrescue_instance(self, ctxt: RequestContext, instance: Instance) -> None:
        self._prepare_63(instance, "unrescue").cast(ctxt, "unrescue_instance",
                                                    instance=instance)

    def set_admin_password(self, ctxt: RequestContext, instance: Instance, new_pass: str) -> None:
        """A call, as Nova's: the API answers with the outcome."""
        self._prepare_63(instance, "changePassword").call(
            ctxt, "set_admin_password", instance=instance, new_pass=new_pass)

    def trigger_crash_dump(self, ctxt: RequestContext, instance: Instance) -> None:
        self._prepare_63(instance, "trigger_crash_dump").cast(ctxt, "trigger_crash_dump",
                                                              instance=instance)

    def get_serial_console(self, ctxt: RequestContext, instance: Instance) -> dict[str, Any]:
        """``{"host", "port"}`` of the guest's serial port on its host."""
        return dict(self._prepare_63(instance, "a serial console").call(
            ctxt, "get_serial_console", instance=instance))

    # -- moves (6.5): resize, cold migration, evacuation, live migration -------

    def _prepare_65(self, host: str, what: str) -> Any:
        if not self.client.can_send_version("6.5"):
            raise exception.Conflict(reason=f"{what} needs compute RPC 6.5; the compute "
                                            "services are pinned lower")
        return self._prepare(host, version="6.5")

    def prep_resize(self, ctxt: RequestContext, instance: Instance, flavor: Any,
                    migration: Any, host: str) -> None:
        """To the destination: claim ``flavor`` there and open its end of the disk channel."""
        self._prepare_65(host, "a resize").cast(ctxt, "prep_resize", instance=instance,
                                                flavor=flavor, migration=migration)

    def resize_instance(self, ctxt: RequestContext, instance: Instance, migration: Any,
                        flavor: Any, endpoint: dict[str, Any] | None) -> None:
        """To the source: power off and send the disks (``endpoint``: the
        destination's listener and the migration's token; None on one host)."""
        self._prepare_65(migration.source_compute, "a resize").cast(
            ctxt, "resize_instance", instance=instance, migration=migration, flavor=flavor,
            endpoint=endpoint)

    def finish_resize(self, ctxt: RequestContext, instance: Instance, migration: Any,
                      disk_info: list[dict[str, Any]]) -> None:
        self._prepare_65(migration.dest_compute, "a resize").cast(
            ctxt, "finish_resize", instance=instance, migration=migration, disk_info=disk_info)

    def abort_resize(self, ctxt: RequestContext, instance: Instance, migration: Any) -> None:
        """To the destination: the source failed; drop the claim and the channel."""
        self._prepare_65(migration.dest_compute, "a resize").cast(
            ctxt, "abort_resize", instance=instance, migration=migration)

    def confirm_resize(self, ctxt: RequestContext, instance: Instance, migration: Any) -> None:
        self._prepare_65(migration.source_compute, "confirmResize").cast(
            ctxt, "confirm_resize", instance=instance, migration=migration)

    def revert_resize(self, ctxt: RequestContext, instance: Instance, migration: Any) -> None:
        self._prepare_65(migration.dest_compute, "revertResize").cast(
            ctxt, "revert_resize", instance=instance, migration=migration)

    def finish_revert_resize(self, ctxt: RequestContext, instance: Instance,
                             migration: Any) -> None:
        self._prepare_65(migration.source_compute, "revertResize").cast(
            ctxt, "finish_revert_resize", instance=instance, migration=migration)

    def evacuate_instance(self, ctxt: RequestContext, instance: Instance, migration: Any,
                          host: str, target_state: str | None) -> None:
        """To the new host: rebuild there from the image (Nova's
        rebuild_instance with recreate=True)."""
        self._prepare_65(host, "evacuate").cast(ctxt, "evacuate_instance", instance=instance,
                                                migration=migration, target_state=target_state)

    def live_migration(self, ctxt: RequestContext, instance: Instance, migration: Any,
                       dest: str) -> None:
        self._prepare_65(migration.source_compute, "a live migration").cast(
            ctxt, "live_migration", instance=instance, migration=migration, dest=dest)

    def post_live_migration_at_destination(self, ctxt: RequestContext, instance: Instance,
                                           migration: Any, guest: dict[str, Any]) -> None:
        self._prepare_65(migration.dest_compute, "a live migration").cast(
            ctxt, "post_live_migration_at_destination", instance=instance,
            migration=migration, guest=guest)

    def pre_live_migration(self, ctxt: RequestContext, instance: Instance, migration: Any,
                           source_data: dict[str, Any]) -> dict[str, Any] | None:
        """To the destination (a call): prepare for the incoming guest;
        returns what the source's driver needs (migrate_data). None when
        the computes are pinned below 6.8 (a driver that needs no
        preparation, as the fake, migrates without it)."""
        if not self.client.can_send_version("6.8"):
            return None
        # NOTE: the destination may download the image first (Nova uses its
        # long_rpc_timeout here).
        return dict(self._prepare(migration.dest_compute, version="6.8",
                                  timeout=max(CONF.rpc_call_timeout, PRE_LIVE_MIGRATION_TIMEOUT)
                                  ).call(ctxt, "pre_live_migration", instance=instance,
                                         migration=migration, source_data=source_data))

    def live_migration_force_complete(self, ctxt: RequestContext, instance: Instance,
                                      migration: Any) -> None:
        """To the source (the instance's host): finish the running live
        migration now. Conflict when the computes are pinned below 6.9."""
        self._prepare_69(instance.host, "forcing a live migration to complete").cast(
            ctxt, "live_migration_force_complete", instance=instance, migration=migration)

    def live_migration_abort(self, ctxt: RequestContext, instance: Instance,
                             migration_id: int) -> None:
        """To the source: abort the live migration (queued, preparing or
        running). Conflict when the computes are pinned below 6.9."""
        self._prepare_69(instance.host, "aborting a live migration").cast(
            ctxt, "live_migration_abort", instance=instance, migration_id=migration_id)

    def _prepare_69(self, host: str, what: str) -> Any:
        if not self.client.can_send_version("6.9"):
            raise exception.Conflict(reason=f"{what} needs compute RPC 6.9; the compute "
                                            "services are pinned lower")
        return self._prepare(host, version="6.9")

    def rollback_live_migration_at_destination(self, ctxt: RequestContext, instance: Instance,
                                               migration: Any) -> None:
        if not self.client.can_send_version("6.8"):
            return
        self._prepare(migration.dest_compute, version="6.8").cast(
            ctxt, "rollback_live_migration_at_destination", instance=instance,
            migration=migration)

    # -- 6.6: diagnostics --------------------------------------------------------

    def get_instance_diagnostics(self, ctxt: RequestContext,
                                 instance: Instance) -> dict[str, Any]:
        if not self.client.can_send_version("6.6"):
            raise exception.Conflict(reason="server diagnostics need compute RPC 6.6; the "
                                            "compute services are pinned lower")
        return dict(self._prepare(instance.host, version="6.6").call(
            ctxt, "get_instance_diagnostics", instance=instance))

    def get_host_uptime(self, ctxt: RequestContext, host: str) -> str:
        if not self.client.can_send_version("6.7"):
            raise exception.Conflict(reason="a hypervisor's uptime needs compute RPC 6.7; "
                                            "the compute services are pinned lower")
        return str(self._prepare(host, version="6.7").call(ctxt, "get_host_uptime"))

    # -- 6.10: os-interface (novalite/compute/interface_actions.py) -------------

    def check_interfaces(self) -> None:
        """Conflict when the computes are pinned below 6.10 (the API asks
        before it records anything)."""
        if not self.client.can_send_version("6.10"):
            raise exception.Conflict(reason="attaching and detaching interfaces needs "
                                            "compute RPC 6.10; the compute services are "
                                            "pinned lower")

    def attach_interface(self, ctxt: RequestContext, instance: Instance,
                         network_id: str | None, port_id: str | None,
                         requested_ip: str | None, tag: str | None = None) -> dict[str, Any]:
        """A call, as Nova's: the API answers with the port attached."""
        self.check_interfaces()
        return dict(self._prepare(instance.host, version="6.10").call(
            ctxt, "attach_interface", instance=instance, network_id=network_id,
            port_id=port_id, requested_ip=requested_ip, tag=tag))

    def detach_interface(self, ctxt: RequestContext, instance: Instance, port_id: str) -> None:
        self.check_interfaces()
        self._prepare(instance.host, version="6.10").cast(
            ctxt, "detach_interface", instance=instance, port_id=port_id)

    # -- 6.11: volumes (novalite/compute/volumes.py) ------------------------------

    def _prepare_611(self, instance: Instance, what: str) -> Any:
        if not self.client.can_send_version("6.11"):
            raise exception.Conflict(reason=f"{what} needs compute RPC 6.11; the compute "
                                            "services are pinned lower")
        return self._prepare(instance.host, version="6.11")

    def attach_volume(self, ctxt: RequestContext, instance: Instance, bdm: Any) -> None:
        self._prepare_611(instance, "attaching a volume").cast(
            ctxt, "attach_volume", instance=instance, bdm=bdm)

    def detach_volume(self, ctxt: RequestContext, instance: Instance, volume_id: str) -> None:
        self._prepare_611(instance, "detaching a volume").cast(
            ctxt, "detach_volume", instance=instance, volume_id=volume_id)

    def external_instance_event(self, ctxt: RequestContext, instance: Instance, name: str,
                                tag: str | None) -> None:
        self._prepare_611(instance, "an external event").cast(
            ctxt, "external_instance_event", instance=instance, name=name, tag=tag)
