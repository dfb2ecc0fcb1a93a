"""The conductor's part for unshelve (schedule anew) and rebuild orchestration.

A mixin of ConductorManager (novalite/conductor/manager.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oslo_log import log as logging

from novalite import exception
from novalite.compute import api_images, task_states, vm_states
from novalite.image import api as image_api
from novalite.objects.instance import Instance
from novalite.objects.request_spec import ImageMeta, InjectedFileList, RequestSpec

if TYPE_CHECKING:
    from novalite.context import RequestContext

LOG = logging.getLogger(__name__)


class ConductorImageTasks:
    """Conductor-side unshelve (schedule anew) and rebuild orchestration."""

    if TYPE_CHECKING:
        compute_rpcapi: Any
        scheduler_rpcapi: Any

        def _await_compute_heartbeats(self, context: RequestContext) -> None: ...

    def unshelve_instance(self, context: RequestContext, instance: Instance,
                          availability_zone: str | None = None, host: str | None = None,
                          unpin_az: bool = False) -> None:
        """Cast from the API. SHELVED: its host starts it again. SHELVED_OFFLOADED:
        the scheduler picks a host anew (in ``availability_zone``, or only
        ``host``, when asked), which spawns it from the shelved image."""
        try:
            self._unshelve(context, instance, availability_zone, host, unpin_az)
        except Exception as exc:
            LOG.exception("Unshelve of %s failed", instance.uuid)
            _back_to_shelved(context, instance.uuid, exc)

    def _unshelve(self, context: RequestContext, instance: Instance, zone: str | None,
                  host: str | None, unpin_az: bool) -> None:
        if instance.vm_state == vm_states.SHELVED:
            self.compute_rpcapi.unshelve_instance(context, instance, instance.host, None, None)
            return
        image_id = (instance.system_metadata or {}).get(api_images.SHELVED_IMAGE_ID)
        spec = RequestSpec.get_by_instance_uuid(context, instance.uuid)
        if image_id:
            image = ImageMeta.from_image(image_api.API().get(context, image_id))
        elif instance.image_ref == "":
            # NOTE: a volume-backed server was shelved without an image: it
            # boots from its root volume, with its create-time image's
            # properties.
            image = spec.image
        else:
            raise exception.NovaliteException(
                f"instance {instance.uuid} is offloaded but has no shelved image")
        spec.retry = None
        if zone or unpin_az:
            spec.availability_zone = zone
            instance.availability_zone = zone
        spec.ignore_hosts = self._other_hosts(context, host) if host else []
        self._await_compute_heartbeats(context)
        dest = self.scheduler_rpcapi.select_destinations(context, spec, [instance.uuid])[0]
        if spec.obj_attr_is_set("id") and (zone or unpin_az):
            spec.save()
        instance.host = dest["host"]
        instance.node = dest["nodename"]
        instance.save(expected_task_state=[task_states.UNSHELVING])
        LOG.info("Unshelving %s onto %s", instance.uuid, dest["host"])
        self.compute_rpcapi.unshelve_instance(context, instance, dest["host"], image, spec)

    def check_unshelving(self) -> None:
        """Periodic: the deadline of an unshelve no host took yet (a lost
        message). Past [compute] task_timeout the server is SHELVED_OFFLOADED
        again with a fault saying so (a host's own deadline check covers it
        once it has a host)."""
        import datetime

        from oslo_utils import timeutils

        from novalite import context as nl_context
        from novalite.conf import CONF
        from novalite.objects.instance import InstanceList

        ctxt = nl_context.get_admin_context()
        cutoff = timeutils.utcnow() - datetime.timedelta(seconds=CONF.compute.task_timeout)
        stuck = InstanceList.get_by_filters(ctxt, {
            "host_is_null": True, "vm_state": vm_states.SHELVED_OFFLOADED,
            "task_state": [task_states.UNSHELVING], "updated_before": cutoff})
        for inst in stuck:
            LOG.warning("Unshelve of %s was not scheduled in time; giving it up", inst.uuid)
            _back_to_shelved(ctxt, inst.uuid, exception.NovaliteException(
                f"the unshelve was not scheduled within {CONF.compute.task_timeout} seconds"))

    @staticmethod
    def _other_hosts(context: RequestContext, host: str) -> list[str]:
        """NOTE: 2.91's ``host`` as the scheduler's ignore list: every
        compute host but that one (its filters still check it fits)."""
        from novalite.objects.service import ServiceList

        return sorted(s.host for s in ServiceList.get_all(context, binary="novalite-compute")
                      if s.host != host)

    def rebuild_instance(self, context: RequestContext, instance: Instance, image: ImageMeta,
                         admin_password: str | None,
                         injected_files: InjectedFileList | None = None,
                         preserve_ephemeral: bool = False) -> None:
        """Cast from the API: the instance's request spec takes the new
        image (what a later snapshot inherits from), then its host rebuilds."""
        try:
            spec = RequestSpec.get_by_instance_uuid(context, instance.uuid)
            spec.image = image
            spec.save()
        except exception.RequestSpecNotFound:
            pass
        try:
            self.compute_rpcapi.rebuild_instance(context, instance, image, admin_password,
                                                 injected_files or InjectedFileList(objects=[]),
                                                 preserve_ephemeral=preserve_ephemeral)
        except Exception as exc:
            LOG.exception("Rebuild of %s could not be sent to %s", instance.uuid, instance.host)
            _set_error(context, instance.uuid, exc)


def _back_to_shelved(context: RequestContext, uuid: str, exc: BaseException) -> None:
    """As Nova: an unshelve that found no host leaves the server as it was
    (task state cleared) with a fault saying why."""
    try:
        instance = Instance.get_by_uuid(context, uuid)
        instance.add_fault(exc, host=None)
        instance.task_state = None
        instance.save(expected_task_state=[task_states.UNSHELVING])
    except (exception.InstanceNotFound, exception.Conflict):
        pass


def _set_error(context: RequestContext, uuid: str, exc: BaseException) -> None:
    try:
        instance = Instance.get_by_uuid(context, uuid)
        instance.add_fault(exc, host=None)
        instance.vm_state = vm_states.ERROR
        instance.task_state = None
        instance.save()
    except exception.InstanceNotFound:
        pass
