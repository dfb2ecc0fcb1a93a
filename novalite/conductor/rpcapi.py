"""Client side of the conductor RPC API.

API version history:

    * 1.0 - Initial version: build_instances (cast), object_class_action_versions,
            object_action, object_backport_versions, reschedule_instance (cast).
    * 1.1 - allocate_for_instance, deallocate_for_instance (network, for compute),
            action_event_start, action_event_finish (instance action events).
            Still served; current computes use the remotable methods of
            FixedIPList and InstanceActionEvent instead.
    * 1.2 - build_instances and reschedule_instance take a RequestSpec
            object and the build's InjectedFileList (a 1.1 conductor gets
            RequestSpec.to_legacy_dict() and no files: it read them from
            system_metadata, which holds them no more).
    * 1.3 - unshelve_instance, rebuild_instance (novalite/conductor/image_tasks.py).
    * 1.4 - migrate_server (resize, cold migration), live_migrate_instance,
            evacuate (novalite/conductor/move_tasks.py).
    * 1.5 - get_host_network_state (the per-host network agent's desired
            state, as the JSON form of novalite.network.dataplane.state.HostState).
    * 1.6 - record_action_events (cast or call): a build's or action's finished steps
            (an InstanceActionEventList, each with start and finish) written
            at once under the request's action (novalite/compute/timeline.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import oslo_messaging as messaging
from oslo_log import log as logging
from oslo_versionedobjects import base as ovo_base

from novalite import rpc
from novalite.conf import CONF
from novalite.objects.request_spec import InjectedFileList, RequestSpec

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance
    from novalite.objects.instance_action import InstanceActionEventList
    from novalite.objects.request_spec import ImageMeta

LOG = logging.getLogger(__name__)


class ConductorAPI(ovo_base.VersionedObjectIndirectionAPI):
    """Also the objects' indirection API: compute's remotable object methods
    arrive at the conductor's object_* methods."""

    RPC_API_VERSION = "1.6"

    def __init__(self) -> None:
        target = messaging.Target(topic=CONF.conductor_topic, version="1.0")
        self.client = rpc.get_client(target, version_cap=CONF.upgrade_levels.conductor,
                                     timeout=CONF.conductor.call_timeout)

    def wait_until_ready(self, context: RequestContext, stopped: Any, timeout: int = 2) -> None:
        """Block until a conductor answers a ping (short timeouts: a message
        sent before any conductor declared its queue is simply dropped)."""
        from novalite import baserpc

        api = baserpc.BaseAPI(CONF.conductor_topic)
        attempt = 0
        while not stopped.is_set():
            try:
                api.ping(context, "ready?", timeout=timeout)
                return
            except messaging.MessagingTimeout:
                attempt += 1
                if attempt % 5 == 0:
                    LOG.warning("No conductor answered on topic %s for %ss; still waiting",
                                CONF.conductor_topic, attempt * timeout)

    # -- builds ---------------------------------------------------------------

    def _build_args(self, spec: RequestSpec, files: InjectedFileList | None
                    ) -> tuple[Any, dict[str, Any]]:
        """The client, and the request spec and files as this conductor takes them."""
        if self.client.can_send_version("1.2"):
            return self.client.prepare(version="1.2"), {"request_spec": spec,
                                                        "injected_files": files}
        return self.client, {"request_spec": spec.to_legacy_dict()}

    def build_instances(self, context: RequestContext, instance_uuids: list[str],
                        request_spec: RequestSpec,
                        injected_files: InjectedFileList | None = None) -> None:
        cctxt, args = self._build_args(request_spec, injected_files)
        cctxt.cast(context, "build_instances", instance_uuids=instance_uuids, **args)

    def reschedule_instance(self, context: RequestContext, instance_uuid: str, request_spec: RequestSpec,
                            failed_host: str, reason: str,
                            injected_files: InjectedFileList | None = None) -> None:
        cctxt, args = self._build_args(request_spec, injected_files)
        cctxt.cast(context, "reschedule_instance", instance_uuid=instance_uuid,
                   failed_host=failed_host, reason=reason, **args)

    # -- image tasks (1.3): novalite/conductor/image_tasks.py -------------------

    def _image_tasks(self, what: str) -> Any:
        if not self.client.can_send_version("1.3"):
            from novalite import exception

            raise exception.Conflict(reason=f"{what} needs conductor RPC 1.3; the "
                                            "conductors are pinned lower")
        return self.client.prepare(version="1.3")

    def unshelve_instance(self, context: RequestContext, instance: Instance,
                          availability_zone: str | None = None, host: str | None = None,
                          unpin_az: bool = False) -> None:
        self._image_tasks("unshelve").cast(context, "unshelve_instance", instance=instance,
                                           availability_zone=availability_zone, host=host,
                                           unpin_az=unpin_az)

    def rebuild_instance(self, context: RequestContext, instance: Instance, image: ImageMeta,
                         admin_password: str | None, injected_files: list[Any],
                         preserve_ephemeral: bool = False) -> None:
        # NOTE: preserve_ephemeral only when asked (a conductor that predates
        # it keeps working for every other rebuild).
        extra = {"preserve_ephemeral": True} if preserve_ephemeral else {}
        self._image_tasks("rebuild").cast(context, "rebuild_instance", instance=instance,
                                          image=image, admin_password=admin_password,
                                          injected_files=InjectedFileList.from_api(
                                              injected_files), **extra)

    # -- network (1.1) ----------------------------------------------------------

    def allocate_for_instance(self, context: RequestContext, instance_uuid: str, host: str) -> list[Any]:
        """Allocate the instance's ports (from its requested networks);
        returns its network_info."""
        cctxt = self.client.prepare(version="1.1")
        return list(self._call(cctxt, context, "allocate_for_instance",
                               instance_uuid=instance_uuid, host=host))

    def deallocate_for_instance(self, context: RequestContext, instance_uuid: str) -> int:
        cctxt = self.client.prepare(version="1.1")
        return int(self._call(cctxt, context, "deallocate_for_instance",
                              instance_uuid=instance_uuid))

    # -- network agent (1.5) -----------------------------------------------------

    def get_host_network_state(self, context: RequestContext, host: str) -> dict[str, Any]:
        """``host``'s desired network state (HostState as JSON) for its
        network agent (novalite.network.agent_service)."""
        if not self.client.can_send_version("1.5"):
            from novalite import exception

            raise exception.Conflict(reason="the network agent needs conductor RPC 1.5; "
                                            "the conductors are pinned lower")
        cctxt = self.client.prepare(version="1.5")
        return dict(self._call(cctxt, context, "get_host_network_state", host=host))

    # -- instance action events (1.1) -------------------------------------------

    def record_action_events(self, context: RequestContext, instance_uuid: str, action: str,
                             events: InstanceActionEventList, wait: bool = False) -> None:
        """1.6: finished steps, all at once; a cast, or with ``wait`` a call
        (a failed build's steps are recorded before its ERROR shows). A
        conductor pinned lower gets nothing: the timeline is lost, the
        build is not."""
        if not self.client.can_send_version("1.6"):
            LOG.debug("Conductor RPC pinned below 1.6: %d step(s) of %s not recorded",
                      len(events), instance_uuid)
            return
        cctxt = self.client.prepare(version="1.6")
        if wait:
            self._call(cctxt, context, "record_action_events", instance_uuid=instance_uuid,
                       action=action, events=events)
            return
        cctxt.cast(context, "record_action_events", instance_uuid=instance_uuid,
                   action=action, events=events)

    def action_event_start(self, context: RequestContext, instance_uuid: str, action: str, event: str,
                           host: str) -> int:
        """Start ``event`` of the instance's action of this request (made,
        named ``action``, when the request has none yet); returns its id."""
        cctxt = self.client.prepare(version="1.1")
        return int(self._call(cctxt, context, "action_event_start", instance_uuid=instance_uuid,
                              action=action, event=event, host=host))

    def action_event_finish(self, context: RequestContext, event_id: int, result: str,
                            details: str | None = None, traceback: str | None = None) -> None:
        cctxt = self.client.prepare(version="1.1")
        self._call(cctxt, context, "action_event_finish", event_id=event_id, result=result,
                   details=details, traceback=traceback)

    # -- objects --------------------------------------------------------------

    def _call(self, cctxt: Any, context: RequestContext, method: str, **kwargs: Any) -> Any:
        """``cctxt.call``, sent again when no answer comes within
        [conductor] call_timeout, up to call_attempts times.

        A call made while no conductor runs waits in the durable queue and is
        answered once one starts; but a conductor that stops just as it
        receives a call can drop it, and then only a second copy is answered.
        NOTE: a copy is sent only after call_timeout, so while the conductor
        is away for less than that, each call runs exactly once."""
        attempts = CONF.conductor.call_attempts
        for attempt in range(1, attempts + 1):
            try:
                return cctxt.call(context, method, **kwargs)
            except messaging.MessagingTimeout:
                if attempt == attempts:
                    raise
                LOG.warning("No conductor answered %s within %ss (attempt %d of %d); "
                            "sending it again", method, CONF.conductor.call_timeout,
                            attempt, attempts)
        raise AssertionError("unreachable")

    def object_class_action_versions(self, context: RequestContext, objname: str, objmethod: str,
                                     object_versions: dict[str, Any], args: Any, kwargs: Any) -> Any:
        return self._call(self.client, context, "object_class_action_versions",
                          objname=objname, objmethod=objmethod,
                          object_versions=object_versions, args=args, kwargs=kwargs)

    def object_action(self, context: RequestContext, objinst: Any, objmethod: str, args: Any,
                      kwargs: Any) -> Any:
        if objmethod == "heartbeat":
            # NOTE: a heartbeat that waited in the queue would be stale when
            # answered; the next one follows in report_interval seconds.
            cctxt = self.client.prepare(timeout=max(1, CONF.report_interval))
            return cctxt.call(context, "object_action", objinst=objinst,
                              objmethod=objmethod, args=args, kwargs=kwargs)
        return self._call(self.client, context, "object_action", objinst=objinst,
                          objmethod=objmethod, args=args, kwargs=kwargs)

    def object_backport_versions(self, context: RequestContext, objinst: Any,
                                 object_versions: dict[str, Any]) -> Any:
        return self._call(self.client, context, "object_backport_versions",
                          objinst=objinst, object_versions=object_versions)

    def object_class_action(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError()

    def object_backport(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError()

    # -- moves (1.4) -----------------------------------------------------------

    def _prepare_14(self, what: str) -> Any:
        if not self.client.can_send_version("1.4"):
            from novalite import exception

            raise exception.Conflict(reason=f"{what} needs conductor RPC 1.4; the "
                                            "conductors are pinned lower")
        return self.client.prepare(version="1.4")

    def migrate_server(self, context: RequestContext, instance: Instance, flavor: Any,
                       host: str | None) -> None:
        """Resize (``flavor`` differs from the instance's) or cold migrate
        (``host``: the one asked for, else the scheduler's choice)."""
        self._prepare_14("a resize or cold migration").cast(
            context, "migrate_server", instance=instance, flavor=flavor, host=host)

    def evacuate(self, context: RequestContext, instance: Instance, migration: Any,
                 host: str | None, force: bool, target_state: str | None) -> None:
        self._prepare_14("evacuate").cast(context, "evacuate", instance=instance,
                                          migration=migration, host=host, force=force,
                                          target_state=target_state)

    def live_migrate_instance(self, context: RequestContext, instance: Instance, migration: Any,
                              host: str | None, force: bool) -> None:
        self._prepare_14("a live migration").cast(context, "live_migrate_instance",
                                                  instance=instance, migration=migration,
                                                  host=host, force=force)
