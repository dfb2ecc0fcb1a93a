"""ConductorManager: runs builds (scheduler → compute) and persists objects
for compute, which has no database access."""

from __future__ import annotations

import datetime
import time
from typing import TYPE_CHECKING, Any

import oslo_messaging as messaging
from oslo_log import log as logging
from oslo_utils import timeutils

from novalite import context as nl_context
from novalite import exception, manager, typed_rpc
from novalite.compute import rpcapi as compute_rpcapi
from novalite.compute import task_states, vm_states
from novalite.compute.timeline import ERROR, SCHEDULE, SUCCESS, Timeline, user_reason
from novalite.conductor.image_tasks import ConductorImageTasks
from novalite.conductor.move_tasks import ConductorMoveTasks
from novalite.conf import CONF
from novalite.manager import PeriodicTask
from novalite.objects import base as objects_base
from novalite.objects.instance import Instance, InstanceList
from novalite.objects.instance_action import InstanceActionEvent, InstanceActionEventList
from novalite.objects.instance_build import BUILD_ACTION
from novalite.objects.network import FixedIPList
from novalite.objects.request_spec import InjectedFileList, RequestSpec, SchedulerRetries
from novalite.objects.service import ServiceList
from novalite.scheduler import rpcapi as scheduler_rpcapi

if TYPE_CHECKING:
    from novalite.context import RequestContext

LOG = logging.getLogger(__name__)


class ConductorManager(ConductorImageTasks, ConductorMoveTasks, manager.Manager):
    target = messaging.Target(version="1.6")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scheduler_rpcapi = scheduler_rpcapi.SchedulerAPI()
        self.compute_rpcapi = compute_rpcapi.ComputeAPI()
        self._started = time.monotonic()

    # -- object persistence for compute ------------------------------------

    @typed_rpc.expected_exceptions(exception.NovaliteException)
    def object_class_action_versions(self, context: RequestContext, objname: str, objmethod: str,
                                     object_versions: dict[str, Any], args: Any, kwargs: Any) -> Any:
        objclass = objects_base.NovaliteObject.obj_class_from_name(
            objname, object_versions[objname])
        return getattr(objclass, objmethod)(context, *args, **kwargs)

    @typed_rpc.expected_exceptions(exception.NovaliteException)
    def object_action(self, context: RequestContext, objinst: Any, objmethod: str, args: Any,
                      kwargs: Any) -> tuple[dict[str, Any], Any]:
        """Run ``objinst.objmethod`` here; answer with the fields it changed
        (what the caller applies to its copy) and the method's result.

        NOTE: no deep copy to diff against (``obj_clone``, most of the cost of
        a save): the fields' values are kept by reference before the call,
        and only a field whose value was replaced and differs goes back
        (lists and dicts are copied, so a change made in place is seen)."""
        before = {name: _shallow(getattr(objinst, name)) for name in objinst.fields
                  if objinst.obj_attr_is_set(name)}
        result = getattr(objinst, objmethod)(*args, **kwargs)
        updates: dict[str, Any] = {}
        for name, field in objinst.fields.items():
            if not objinst.obj_attr_is_set(name):
                continue
            value = getattr(objinst, name)
            if name in before:
                old = before[name]
                if old is value or (not isinstance(value, objects_base.NovaliteObject)
                                    and old == value):
                    continue
            updates[name] = field.to_primitive(objinst, name, value)
        updates["obj_what_changed"] = list(objinst.obj_what_changed())
        return updates, result

    def object_backport_versions(self, context: RequestContext, objinst: Any,
                                 object_versions: dict[str, Any]) -> Any:
        target = object_versions[objinst.obj_name()]
        return objinst.obj_to_primitive(target_version=target, version_manifest=object_versions)

    # -- network and instance actions for compute (1.1) --------------------
    # NOTE: computes now reach these through remotable objects (FixedIPList,
    # InstanceActionEvent); the 1.1 methods stay served for older computes.

    @typed_rpc.expected_exceptions(exception.NovaliteException)
    def allocate_for_instance(self, context: RequestContext, instance_uuid: str, host: str) -> list[Any]:
        return FixedIPList.allocate_for_instance(context, instance_uuid, host)

    @typed_rpc.expected_exceptions(exception.NovaliteException)
    def deallocate_for_instance(self, context: RequestContext, instance_uuid: str) -> int:
        return FixedIPList.deallocate_for_instance(context, instance_uuid)

    # -- network agent (1.5) ---------------------------------------------------

    def get_host_network_state(self, context: RequestContext, host: str) -> dict[str, Any]:
        from novalite.network import agent_service

        return agent_service.host_state_json(host)

    def action_event_start(self, context: RequestContext, instance_uuid: str, action: str, event: str,
                           host: str) -> int:
        return int(InstanceActionEvent.event_start(context, instance_uuid, action, event,
                                                   host).id)

    def action_event_finish(self, context: RequestContext, event_id: int, result: str,
                            details: str | None = None, traceback: str | None = None) -> None:
        InstanceActionEvent(context=context, id=event_id).finish(result, details, traceback)

    def record_action_events(self, context: RequestContext, instance_uuid: str, action: str,
                             events: InstanceActionEventList) -> None:
        """1.6 (cast from compute): a timeline's finished steps."""
        try:
            InstanceActionEventList.record(context, instance_uuid, action, events)
        except Exception:
            LOG.exception("Could not record %d step(s) of %s", len(events), instance_uuid)

    def periodic_tasks(self) -> list[PeriodicTask]:
        return [PeriodicTask("check_unscheduled", CONF.compute.deadline_check_interval,
                             self.check_unscheduled),
                # NOTE: move_tasks.py: evacuations whose new host never took them.
                PeriodicTask("check_stuck_evacuations", CONF.compute.deadline_check_interval,
                             self.check_stuck_evacuations),
                # NOTE: image_tasks.py: unshelves no host took.
                PeriodicTask("check_unshelving", CONF.compute.deadline_check_interval,
                             self.check_unshelving)]

    def check_unscheduled(self) -> None:
        """Instances no host ever took (a lost message, a conductor that died
        mid-build) end in ERROR once [conductor] scheduling_timeout passes."""
        ctxt = nl_context.get_admin_context()
        cutoff = timeutils.utcnow() - datetime.timedelta(seconds=CONF.conductor.scheduling_timeout)
        stuck = InstanceList.get_by_filters(ctxt, {"host_is_null": True,
                                                   "vm_state": vm_states.BUILDING,
                                                   "created_before": cutoff})
        for inst in stuck:
            LOG.warning("Instance %s was never scheduled; putting it in ERROR", inst.uuid)
            self._set_error(ctxt, inst.uuid, exception.NovaliteException(
                f"the build was not scheduled within {CONF.conductor.scheduling_timeout} seconds"))
        self._check_builds_on_down_hosts(ctxt)

    def _check_builds_on_down_hosts(self, ctxt: RequestContext) -> None:
        """A build whose host went away never reaches its host's own deadline
        check: past build_timeout, with the host down, it ends in ERROR here."""
        cutoff = timeutils.utcnow() - datetime.timedelta(seconds=CONF.compute.build_timeout)
        building = InstanceList.get_by_filters(ctxt, {"vm_state": vm_states.BUILDING,
                                                      "created_before": cutoff})
        services = ServiceList.get_all(ctxt, binary="novalite-compute")
        up = {s.host for s in services if s.is_up()}
        if time.monotonic() - self._started < CONF.service_down_time:
            # NOTE: computes report their heartbeats through a conductor: one
            # that looks down may only have had no conductor to report to.
            # Until it had service_down_time to report again, it is not dead.
            up |= {s.host for s in services}
        for inst in building:
            if inst.host and inst.host not in up:
                LOG.warning("Instance %s is building on %s, which is down", inst.uuid, inst.host)
                self._set_error(ctxt, inst.uuid, exception.NovaliteException(
                    f"compute host {inst.host} went down during the build"))

    # -- builds --------------------------------------------------------------

    def build_instances(self, context: RequestContext, instance_uuids: list[str],
                        request_spec: RequestSpec | dict[str, Any],
                        injected_files: InjectedFileList | None = None) -> None:
        """Cast from the API: ask the scheduler for a host per instance,
        then cast to each host. ``request_spec``: a RequestSpec (1.2) or a
        1.1 sender's dict.

        NOTE: runs on the RPC server's own thread: the scheduler it waits for
        never calls back into the conductor (it reads the database itself),
        so no pool of its own is needed to avoid a deadlock."""
        spec = RequestSpec.coerce(context, request_spec)
        assert spec is not None, "build_instances always carries a request spec"
        try:
            self._build_instances(context, instance_uuids, spec, injected_files)
        except Exception:
            LOG.exception("Build orchestration failed")

    def _build_instances(self, context: RequestContext, instance_uuids: list[str],
                         request_spec: RequestSpec,
                         injected_files: InjectedFileList | None = None) -> None:
        """Ask the scheduler for a host per instance, then cast to each host."""
        self._await_compute_heartbeats(context)
        started, began = timeutils.utcnow(), time.monotonic()
        try:
            hosts = self.scheduler_rpcapi.select_destinations(context, request_spec,
                                                              instance_uuids)
        except exception.NoValidHost as exc:
            LOG.warning("No valid host for %s: %s", instance_uuids, exc.format_message())
            for uuid in instance_uuids:
                _schedule_step(context, uuid, started, began, exc)
                self._set_error(context, uuid, exc)
            return
        except Exception as exc:
            LOG.exception("Scheduling %s failed", instance_uuids)
            for uuid in instance_uuids:
                _schedule_step(context, uuid, started, began, exc)
                self._set_error(context, uuid, exc)
            return
        for uuid, dest in zip(instance_uuids, hosts, strict=True):
            _schedule_step(context, uuid, started, began, dest=dest)
            self._cast_to_host(context, uuid, dest, request_spec.for_instance(uuid),
                               injected_files)

    def reschedule_instance(self, context: RequestContext, instance_uuid: str,
                            request_spec: RequestSpec | dict[str, Any],
                            failed_host: str, reason: str,
                            injected_files: InjectedFileList | None = None) -> None:
        """Cast from compute: a retryable build failure; try another host.
        ``request_spec``: a RequestSpec (1.2) or a 1.1 sender's dict."""
        spec = RequestSpec.coerce(context, request_spec)
        assert spec is not None, "reschedule_instance always carries a request spec"
        try:
            self._reschedule_instance(context, instance_uuid, spec, failed_host, reason,
                                      injected_files)
        except Exception:
            LOG.exception("Rescheduling %s failed", instance_uuid)

    @staticmethod
    def _recorded_spec(context: RequestContext, instance_uuid: str, sent: RequestSpec) -> RequestSpec:
        """The spec recorded at create time (the sender's copy for an
        instance recorded before specs were)."""
        try:
            return RequestSpec.get_by_instance_uuid(context, instance_uuid)
        except exception.RequestSpecNotFound:
            return sent.for_instance(instance_uuid)

    def _reschedule_instance(self, context: RequestContext, instance_uuid: str, request_spec: RequestSpec,
                             failed_host: str, reason: str,
                             injected_files: InjectedFileList | None = None) -> None:
        try:
            instance = Instance.get_by_uuid(context, instance_uuid)
        except exception.InstanceNotFound:
            return
        tried = list(instance.build_attempts)
        if len(tried) >= CONF.scheduler.max_attempts:
            exc = exception.MaxRetriesExceeded(
                reason=f"tried {len(tried)} host(s) ({', '.join(tried)}); "
                       f"last failure on {failed_host}: {reason}")
            self._set_error(context, instance_uuid, exc)
            return
        spec = self._recorded_spec(context, instance_uuid, request_spec)
        spec.retry = SchedulerRetries(num_attempts=len(tried), hosts=tried)
        if spec.obj_attr_is_set("id"):
            spec.save()
        LOG.info("Rescheduling %s away from %s: %s", instance_uuid, failed_host, reason)
        self._await_compute_heartbeats(context)
        started, began = timeutils.utcnow(), time.monotonic()
        try:
            dest = self.scheduler_rpcapi.select_destinations(context, spec, [instance_uuid])[0]
        except exception.NoValidHost as exc:
            _schedule_step(context, instance_uuid, started, began, exc)
            self._set_error(context, instance_uuid, exception.NoValidHost(
                reason=f"build failed on {failed_host} ({reason}) and no other host fits: "
                       f"{exc.kwargs.get('reason', exc.format_message())}"))
            return
        _schedule_step(context, instance_uuid, started, began, dest=dest)
        self._cast_to_host(context, instance_uuid, dest, spec, injected_files)

    def _await_compute_heartbeats(self, context: RequestContext) -> None:
        """Just after this conductor started, let computes that look down
        report first: their heartbeats pass through a conductor, so after a
        conductor outage every compute looks down until its queued heartbeat
        is recorded, and builds queued meanwhile would all find no valid host.

        Waits at most min(service_down_time, 3 * report_interval + 2) seconds
        after the start, and only for computes that were running (a stopped
        compute marked itself down; a disabled or forced-down one is down on
        purpose)."""
        deadline = self._started + min(CONF.service_down_time, 3 * CONF.report_interval + 2)
        logged = False
        while time.monotonic() < deadline:
            waiting = [s.host for s in ServiceList.get_all(context, binary="novalite-compute")
                       if not (s.is_up() or s.disabled or s.forced_down
                               or s.last_seen_up is None)]
            if not waiting:
                return
            if not logged:
                LOG.info("Conductor just started; waiting up to %.0fs for the heartbeats "
                         "of %s before scheduling", deadline - time.monotonic(),
                         ", ".join(sorted(waiting)))
                logged = True
            time.sleep(0.5)

    def _cast_to_host(self, context: RequestContext, uuid: str, dest: dict[str, str],
                      request_spec: RequestSpec,
                      injected_files: InjectedFileList | None = None) -> None:
        """Record the host (only while the instance still waits to be
        scheduled: a delete that started meanwhile wins) and cast the build
        to it. The hosts tried before come with the spec's retry."""
        tried = (list(request_spec.retry.hosts)
                 if request_spec.obj_attr_is_set("retry") and request_spec.retry else [])
        instance = Instance(context=context, uuid=uuid)
        instance.host = dest["host"]
        instance.node = dest["nodename"]
        instance.build_attempts = tried + [dest["host"]]
        try:
            instance.save(expected_task_state=[task_states.SCHEDULING])
        except (exception.InstanceNotFound, exception.UnexpectedDeletingTaskState):
            LOG.info("Instance %s was deleted while it was scheduled", uuid)
            return
        self.compute_rpcapi.run_instance(context, instance, dest["host"], request_spec,
                                         injected_files)

    def _set_error(self, context: RequestContext, uuid: str, exc: BaseException) -> None:
        try:
            instance = Instance.get_by_uuid(context, uuid)
            # NOTE: fault first, so an instance seen in ERROR always has one.
            instance.add_fault(exc, host=None)
            instance.vm_state = vm_states.ERROR
            instance.task_state = None
            instance.save()
        except exception.InstanceNotFound:
            pass


def _schedule_step(context: RequestContext, instance_uuid: str, started: datetime.datetime,
                   began: float, exc: BaseException | None = None,
                   dest: dict[str, str] | None = None) -> None:
    """The build's ``schedule_instances`` step: the chosen host (``host``,
    admins only) and which filters refused how many hosts (``details``,
    without host names); on NoValidHost the same refusals, and the full
    reason naming the hosts in ``traceback`` (admins only)."""
    steps = Timeline()
    seconds = time.monotonic() - began
    if exc is None:
        assert dest is not None
        steps.add(SCHEDULE, started, seconds, SUCCESS,
                  f"host chosen; {dest.get('refusals') or 'no refusals reported'}",
                  host=dest.get("host"))
    else:
        refusals = exc.kwargs.get("refusals") if isinstance(exc, exception.NoValidHost) else None
        details = user_reason(exc) if refusals is None else f"No valid host was found: {refusals}"
        steps.add(SCHEDULE, started, seconds, ERROR, details, traceback=str(exc))
    steps.write(context, instance_uuid, BUILD_ACTION)


def _shallow(value: Any) -> Any:
    """``value``, with a list or dict copied (one level)."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value
