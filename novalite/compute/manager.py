"""ComputeManager: the seed's heart. Builds, power actions and deletes of the
instances on this host, through the virt driver.

The build path keeps the seed's steps: run_instance → (instance lock) →
_run_instance → _build_instance (network, block devices) → _spawn →
driver.spawn. Every state transition is persisted with a compare-and-swap on
the task state, so a delete that arrives mid-build wins cleanly.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import oslo_messaging as messaging
from oslo_concurrency import lockutils
from oslo_log import log as logging

from novalite import context as nl_context
from novalite import exception, manager, notifications, persistence
from novalite.compute import task_states, vm_states
from novalite.compute.guest_watch import GuestWatch, declares_agent
from novalite.compute.image_actions import ComputeImageActions
from novalite.compute.interface_actions import ComputeInterfaceActions
from novalite.compute.move_actions import ComputeMoveActions
from novalite.compute.periodic import ComputePeriodicTasks
from novalite.compute.power_actions import ComputePowerActions
from novalite.compute.recovery import ComputeRecovery
from novalite.compute.resource_tracker import ResourceTracker
from novalite.compute.timeline import NETWORK_ALLOCATE, VOLUMES_PREPARE, Timeline, user_reason
from novalite.compute.volumes import ComputeVolumeActions
from novalite.conductor import rpcapi as conductor_rpcapi
from novalite.conf import CONF
from novalite.objects.instance import Instance, InstanceList
from novalite.objects.instance_action import InstanceActionEvent
from novalite.objects.instance_build import BUILD_ACTION, BUILD_EVENT, InstanceBuild
from novalite.objects.instance_info_cache import InstanceInfoCache
from novalite.objects.network import FixedIPList
from novalite.objects.request_spec import InjectedFileList, RequestSpec
from novalite.virt import driver as virt_driver
from novalite.virt import power_state, virtapi

if TYPE_CHECKING:
    from novalite.context import RequestContext

LOG = logging.getLogger(__name__)

_DELETED = (exception.InstanceNotFound, exception.UnexpectedDeletingTaskState)


@contextlib.contextmanager
def _instance_lock(uuid: str, blocking: bool = True) -> Iterator[None]:
    """The instance's lock; with ``blocking=False`` entering it raises
    ``lockutils.AcquireLockFailedException`` when someone holds it.

    What runs under it is one action: its steps' ``.end`` notifications are
    sent when it is released, after the action's final save (Nova sends
    them after the save: instance.power_off.end shows stopped)."""
    with lockutils.lock(f"instance-{uuid}", blocking=blocking), notifications.deferred():
        yield


def _create_notice(build: InstanceBuild | None,
                   request_spec: RequestSpec | None) -> dict[str, Any]:
    """What instance.create.* takes from the build (no read of its own): the
    ports ``begin`` allocated, the image's properties."""
    notice: dict[str, Any] = {}
    if build is not None:
        notice["network_info"] = list(build.vifs)
    if request_spec is not None and request_spec.obj_attr_is_set("image"):
        notice["image_meta"] = request_spec.image.to_dict()
    return notice


class ComputeVirtAPI(virtapi.VirtAPI):
    def __init__(self, compute: ComputeManager) -> None:
        self._compute = compute

    def power_state_changed(self, context: RequestContext, instance_uuid: str, power_state: int) -> None:
        try:
            inst = Instance.get_by_uuid(context, instance_uuid)
        except exception.InstanceNotFound:
            return
        if inst.power_state != power_state:
            inst.power_state = power_state
            inst.save()

    def instance_event(self, context: RequestContext, instance_uuid: str, event: str, message: str) -> None:
        LOG.warning("Instance %s: %s: %s", instance_uuid, event, message)


class ComputeV3Proxy:
    """Serves RPC version 3.0 callers by forwarding to the manager."""

    target = messaging.Target(version="3.0")
    supported_methods = ("run_instance", "terminate_instance", "stop_instance",
                         "start_instance", "reboot_instance")

    def __init__(self, manager: ComputeManager) -> None:
        self.manager = manager

    def __getattr__(self, name: str) -> Any:
        if name in self.supported_methods:
            return getattr(self.manager, name)
        raise AttributeError(name)


class ComputeManager(ComputePowerActions, ComputeImageActions, ComputeMoveActions,
                     ComputeInterfaceActions, ComputeVolumeActions, ComputePeriodicTasks,
                     ComputeRecovery, manager.Manager):
    """Manages the instances of one compute host (the families of
    operations beyond build, delete and the seed's power actions are mixins:
    power_actions, image_actions, move_actions)."""

    target = messaging.Target(version="6.11")

    def __init__(self, compute_driver: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.virtapi = ComputeVirtAPI(self)
        self.driver = virt_driver.load_compute_driver(self.virtapi,
                                                      compute_driver or CONF.compute_driver)
        self.conductor_api = conductor_rpcapi.ConductorAPI()
        self.rt = ResourceTracker(self.host, self.driver)
        # NOTE: build threads keep compute's persistence route (its objects
        # go through the conductor, also inside the all-in-one).
        self._builds = persistence.ContextThreadPoolExecutor(
            max_workers=CONF.compute.max_concurrent_builds, thread_name_prefix="build")
        self._in_flight: dict[str, concurrent.futures.Future[None]] = {}
        self._in_flight_lock = threading.Lock()
        # Builds a delete arrived for before their spawn began (under
        # _in_flight_lock): the spawn is not started.
        self._cancelled_builds: set[str] = set()
        self._stopping = threading.Event()
        # NOTE: one watcher (a periodic task) for every guest of the host.
        self._guest_watch = GuestWatch(self.driver, self.host)
        self._init_recovery()

    def create_rpc_dispatcher(self, backdoor_port: Any = None,
                              additional_apis: list[Any] | None = None) -> messaging.RPCDispatcher:
        additional_apis = list(additional_apis or [])
        additional_apis.append(ComputeV3Proxy(self))
        return super().create_rpc_dispatcher(backdoor_port, additional_apis)

    # -- life cycle of the service ----------------------------------------------

    def init_host(self) -> None:
        self.driver.init_host(self.host)

    def pre_start_hook(self, service: Any) -> None:
        super().pre_start_hook(service)
        ctxt = nl_context.get_admin_context()
        instances = InstanceList.get_by_host(ctxt, self.host)
        self.rt.track_existing([i for i in instances if i.vm_state != vm_states.BUILDING])
        self.rt.update_available_resource(ctxt)
        # NOTE: nothing stays transitional across a restart (compute/recovery.py).
        self._init_instances(ctxt, instances)

    def post_start_hook(self) -> None:
        super().post_start_hook()
        self._start_queued_build_grace()

    def cleanup_host(self) -> None:
        """SIGTERM: builds in flight get build_drain_timeout to finish; the rest
        are aborted and end in ERROR with a fault."""
        self._stopping.set()
        self._stop_recovery()
        with self._in_flight_lock:
            pending = dict(self._in_flight)
        if pending:
            LOG.info("Waiting up to %ss for %d build(s) in flight",
                     CONF.compute.build_drain_timeout,
                     len(pending))
            concurrent.futures.wait(pending.values(), timeout=CONF.compute.build_drain_timeout)
        ctxt = nl_context.get_admin_context()
        unfinished = {u: f for u, f in pending.items() if not f.done()}
        for uuid in unfinished:
            # NOTE: destroy makes the spawn fail promptly; the build then ends
            # in ERROR through its own failure path (see _run_instance).
            try:
                self.driver.destroy(ctxt, Instance.get_by_uuid(ctxt, uuid))
            except exception.InstanceNotFound:
                continue
        concurrent.futures.wait(unfinished.values(), timeout=10)
        for uuid, fut in unfinished.items():
            if fut.done():
                continue
            try:
                inst = Instance.get_by_uuid(ctxt, uuid)
            except exception.InstanceNotFound:
                continue
            self._fail(ctxt, inst, exception.NovaliteException(
                f"compute service on {self.host} stopped during the build"))
        self._builds.shutdown(wait=True, cancel_futures=True)
        self.driver.cleanup_host(self.host)

    # -- build ---------------------------------------------------------------

    def run_instance(self, context: RequestContext, instance: Instance,
                     request_spec: RequestSpec | dict[str, Any] | None = None,
                     injected_files: InjectedFileList | None = None) -> None:
        """Cast from the conductor: build ``instance`` on this host.
        ``request_spec``: a RequestSpec (6.2) or a 6.0/6.1 sender's dict.

        Idempotent: the queue is durable, so a copy may come again (a
        redelivery, or a message recovery already dealt with)."""
        spec = RequestSpec.coerce(context, request_spec)
        self._build_request_received(instance.uuid)
        if self._stopping.is_set():
            self._fail(context, instance, exception.NovaliteException(
                f"compute service on {self.host} is stopping"))
            return
        with self._in_flight_lock:
            if instance.uuid in self._in_flight:
                LOG.info("Ignoring a repeated run_instance for %s: its build is running",
                         instance.uuid)
                return
            self._in_flight[instance.uuid] = self._builds.submit(
                self._locked_run_instance, context, instance, spec,
                _injected_files(injected_files))

    def _locked_run_instance(self, context: RequestContext, instance: Instance,
                             request_spec: RequestSpec | None,
                             injected_files: list[dict[str, str]]) -> None:
        context.update_store()
        try:
            with _instance_lock(instance.uuid):
                self._run_instance(context, instance, request_spec, injected_files)
        except Exception:
            LOG.exception("Unexpected error building %s", instance.uuid)
        finally:
            with self._in_flight_lock:
                self._in_flight.pop(instance.uuid, None)
                self._cancelled_builds.discard(instance.uuid)

    def _run_instance(self, context: RequestContext, instance: Instance, request_spec: RequestSpec | None,
                      injected_files: list[dict[str, str]]) -> None:
        """The build: claim (in memory, checked against this host's capacity),
        ``InstanceBuild.begin`` (one conductor call: the instance still waits
        for this host → spawning, its event started, ports allocated, block
        devices read), spawn, ``InstanceBuild.finish`` (ACTIVE and the
        event's result, one call). A late or repeated message finds nothing
        to do.

        NOTE: the claim comes first so that nothing but the answer of
        ``begin`` stands between "spawning" becoming visible and the spawn:
        a delete seen in between destroys a guest the driver has not started
        yet, and a spawn started after it would run to its end first."""
        build: InstanceBuild | None = None
        timeline = Timeline(self.host)
        try:
            new_claim = self.rt.instance_claim(context, instance)
        except Exception as exc:
            self._record_failed_step(context, instance, exc)
            self._build_failed(context, instance, request_spec, injected_files, exc)
            return
        try:
            # NOTE: begin's work is mostly the ports' allocation (plus the
            # state change and the event start, in the same call).
            with timeline.step(NETWORK_ALLOCATE) as step:
                build = InstanceBuild.begin(context, instance.uuid, self.host)
                if build is not None:
                    step.details = f"{len(build.vifs)} port(s) allocated"
            if build is None:
                timeline.steps.clear()
                if new_claim:
                    self.rt.release(context, instance.uuid)
                return
            instance.refresh_from(build.instance)
            notifications.instance_action(context, instance, "create", "start", host=self.host,
                                          **_create_notice(build, request_spec))
            self._build_instance(context, instance, build, request_spec, injected_files,
                                 timeline)
            LOG.info("Instance %s is active on %s", instance.uuid, self.host)
        except _DELETED:
            LOG.info("Instance %s was deleted during its build", instance.uuid)
            self._cleanup_build(context, instance)
        except Exception as exc:
            notifications.instance_action(context, instance, "create", "error", exc,
                                          host=self.host, **_create_notice(build, request_spec))
            timeline.send(context, instance.uuid, BUILD_ACTION, self.conductor_api, wait=True)
            self._cleanup_build(context, instance)
            self._build_failed(context, instance, request_spec, injected_files, exc,
                               timeline)

    def _build_failed(self, context: RequestContext, instance: Instance,
                      request_spec: RequestSpec | None, injected_files: list[dict[str, str]],
                      exc: Exception, timeline: Timeline | None = None) -> None:
        """After a failed build step (what it made is cleaned up): another
        host when the failure is retryable, else ERROR with a fault (naming
        the step that failed, when the timeline knows it)."""
        if self._stopping.is_set():
            exc = exception.NovaliteException(
                f"compute service on {self.host} stopped during the build ({exc})")
        elif getattr(exc, "retryable", False) and request_spec is not None:
            self._reschedule(context, instance, request_spec, injected_files, exc)
            return
        if self._failed_elsewhere(context, instance):
            return
        LOG.warning("Build of %s failed: %s", instance.uuid, exc)
        self._fail(context, instance, timeline.attribute(exc) if timeline is not None else exc,
                   destroy=False)

    def _record_failed_step(self, context: RequestContext, instance: Instance,
                            exc: BaseException) -> None:
        """The build's event, started and finished as an Error, for a failure
        before ``begin`` (a claim that does not fit)."""
        with contextlib.suppress(BaseException):
            with self._event(context, instance, BUILD_ACTION, BUILD_EVENT):
                raise exc

    def _failed_elsewhere(self, context: RequestContext, instance: Instance) -> bool:
        """True when something else (the deadline check) already put the
        instance in ERROR with its fault."""
        try:
            current = Instance.get_by_uuid(context, instance.uuid)
        except exception.InstanceNotFound:
            return True
        return bool(current.vm_state == vm_states.ERROR)

    def _build_instance(self, context: RequestContext, instance: Instance, build: InstanceBuild,
                        request_spec: RequestSpec | None,
                        injected_files: list[dict[str, str]],
                        timeline: Timeline | None = None) -> None:
        """Spawn (a failure finishes the build's event with the error and
        raises), then record the outcome. The steps (volumes, and the
        driver's: image, disk, config drive, domain) go to ``timeline``,
        sent to the conductor in one cast before the outcome is recorded."""
        timeline = timeline if timeline is not None else Timeline(self.host)
        try:
            image_meta = request_spec.image.to_dict() if request_spec is not None else {}
            # NOTE: a delete that came before the spawn began found no guest
            # to destroy: the spawn must not start (it would wait for one).
            with self._in_flight_lock:
                if instance.uuid in self._cancelled_builds:
                    raise exception.InstanceSpawnError(
                        instance_uuid=instance.uuid, reason="deleted while building")
            # NOTE: the volumes (made here when the server boots from a new
            # one) are connected to this host before the spawn (volumes.py).
            with contextlib.ExitStack() as volumes_step:
                if build.block_device_mappings.volumes:
                    step = volumes_step.enter_context(timeline.step(VOLUMES_PREPARE))
                    step.details = f"{len(build.block_device_mappings.volumes)} volume(s)"
                block_device_info = self.prepare_volumes(context, instance,
                                                         build.block_device_mappings)
            with virt_driver.reporting_steps(timeline if timeline.on else None):
                self.driver.spawn(context, instance, image_meta, build.vifs, block_device_info,
                                  injected_files=injected_files)
            self._complete_volumes(context, build.block_device_mappings.volumes)
        except BaseException as exc:
            self._finish_event(build.event, "Error", _describe(exc), traceback.format_exc())
            raise
        timeline.send(context, instance.uuid, BUILD_ACTION, self.conductor_api)
        instance.refresh_from(InstanceBuild.finish(
            context, instance.uuid, self._get_power_state(instance),
            build.event.id if build.event is not None else None))
        notifications.instance_action(context, instance, "create", "end", host=self.host,
                                      **_create_notice(build, request_spec))
        self._guest_watch.watch(context, instance, BUILD_ACTION, list(build.vifs),
                                agent=declares_agent(image_meta.get("properties") or {}))
        self._inject_files(context, instance, request_spec, injected_files)

    @staticmethod
    def _network_info(context: RequestContext, instance: Instance) -> list[dict[str, Any]]:
        """The instance's VIFs from its info cache (best effort: [] when it
        cannot be read, the driver then plugs or unplugs nothing)."""
        try:
            vifs = InstanceInfoCache.get_by_instance_uuid(context, instance.uuid).vifs
            # NOTE: the action's notifications use it (no read of their own).
            notifications.remember_network_info(instance.uuid, vifs)
            return vifs
        except Exception:
            LOG.exception("Could not read the network info of %s", instance.uuid)
            return []

    def _deallocate_network(self, context: RequestContext, instance: Instance) -> None:
        try:
            FixedIPList.deallocate_for_instance(context, instance.uuid)
        except Exception:
            LOG.exception("Could not release the addresses of %s", instance.uuid)

    def _inject_files(self, context: RequestContext, instance: Instance, request_spec: RequestSpec | None,
                      files: list[dict[str, str]]) -> None:
        """Seed step 9: after spawn, the personality files go into the running
        guest through the QEMU guest agent, when the image declares one. A
        failure leaves the instance ACTIVE and is recorded as a failed
        instance action event saying what failed."""
        props = dict(request_spec.image.properties) if request_spec is not None else {}
        if not files or str(
                props.get("hw_qemu_guest_agent", "no")).lower() not in ("yes", "true", "1"):
            return
        if not self.driver.capabilities.get("supports_file_injection"):
            LOG.info("Driver of %s cannot inject files; %s has them on its config drive only",
                     self.host, instance.uuid)
            return
        try:
            with self._event(context, instance, "create", "compute_inject_files"):
                self.driver.inject_files(context, instance, _checked(files),
                                         CONF.compute.agent_timeout)
        except Exception as exc:
            LOG.warning("File injection into %s failed (it stays ACTIVE): %s",
                        instance.uuid, exc)

    @contextlib.contextmanager
    def _event(self, context: RequestContext, instance: Instance, action: str, event: str,
               **notify: Any) -> Iterator[None]:
        """An instance action event around a step: Success, or Error with
        what failed. Recording is best effort: it never fails the step.
        ``notify``: fields of the step's notification payload (volume_id)."""
        started = None
        try:
            started = InstanceActionEvent.event_start(context, instance.uuid, action, event,
                                                      self.host)
        except Exception:
            LOG.exception("Could not record the start of %s on %s", event, instance.uuid)
        # NOTE: the step's versioned notifications (instance.<action>.start,
        # .end, .error as Nova's), queued: they never fail or slow the step.
        notifications.step(context, instance, event, "start", host=self.host, **notify)
        try:
            yield
        except BaseException as exc:
            self._finish_event(started, "Error", _describe(exc), traceback.format_exc())
            notifications.step(context, instance, event, "error", exc, host=self.host,
                               **notify)
            raise
        self._finish_event(started, "Success")
        notifications.step(context, instance, event, "end", host=self.host, **notify)

    @staticmethod
    def _finish_event(started: InstanceActionEvent | None, result: str,
                      details: str | None = None, tb: str | None = None) -> None:
        if started is None:
            return
        try:
            started.finish(result, details, tb)
        except Exception:
            LOG.exception("Could not record the end of event %s", started.id)

    def _cleanup_build(self, context: RequestContext, instance: Instance) -> None:
        try:
            self.driver.destroy(context, instance, self._network_info(context, instance))
        except Exception:
            LOG.exception("Could not clean up the failed build of %s", instance.uuid)
        self._disconnect_failed_build(context, instance)
        self._deallocate_network(context, instance)
        self.rt.release(context, instance.uuid)

    def _reschedule(self, context: RequestContext, instance: Instance, request_spec: RequestSpec,
                    injected_files: list[dict[str, str]], exc: BaseException) -> None:
        reason = exc.format_message() if isinstance(exc, exception.NovaliteException) else str(exc)
        try:
            instance.host = None
            instance.node = None
            instance.task_state = task_states.SCHEDULING
            instance.save(expected_task_state=list(task_states.BUILD_STATES))
        except _DELETED:
            return
        LOG.info("Build of %s on %s failed (%s); asking for another host", instance.uuid,
                 self.host, reason)
        self.conductor_api.reschedule_instance(context, instance.uuid, request_spec,
                                               self.host, reason,
                                               InjectedFileList.from_api(injected_files))

    def _fail(self, context: RequestContext, instance: Instance, exc: BaseException,
              destroy: bool = False, expected_task_state: list[Any] | None = None) -> bool:
        """ERROR with a fault; never leaves a transitional state behind.

        With ``expected_task_state``, only if the stored task state is still
        one of those (a compare-and-swap: a delete that started meanwhile
        wins); returns whether the instance was put in ERROR."""
        if destroy:
            self._cleanup_build(context, instance)
        try:
            # NOTE: fault first, so an instance seen in ERROR always has one.
            instance.add_fault(exc, host=self.host)
            instance.vm_state = vm_states.ERROR
            instance.task_state = None
            instance.save(expected_task_state=expected_task_state)
        except (exception.InstanceNotFound, exception.Conflict):
            return False
        return True

    def _get_power_state(self, instance: Instance) -> int:
        try:
            return int(self.driver.get_info(instance).state)
        except exception.InstanceNotFound:
            return power_state.NOSTATE

    # -- delete --------------------------------------------------------------

    def terminate_instance(self, context: RequestContext, instance: Instance) -> None:
        # NOTE: destroy first, without the lock: it makes a spawn in progress
        # fail promptly, so the build releases the lock instead of finishing.
        with self._in_flight_lock:
            building = instance.uuid in self._in_flight
            if building:
                self._cancelled_builds.add(instance.uuid)
        if building:
            self.driver.destroy(context, instance)
        with _instance_lock(instance.uuid), \
                self._event(context, instance, "delete", "compute_terminate_instance"):
            self._do_terminate(context, instance)

    def _do_terminate(self, context: RequestContext, instance: Instance) -> None:
        try:
            self.driver.destroy(context, instance, self._network_info(context, instance),
                                self._block_device_info(context, instance))
        except Exception as exc:
            LOG.exception("Could not destroy %s", instance.uuid)
            self._fail(context, instance, exc)
            return
        # NOTE: as Nova's: volumes detached (deleted when delete_on_termination).
        self._release_volumes(context, instance)
        self._deallocate_network(context, instance)
        self.rt.release(context, instance.uuid)
        try:
            instance.destroy()
        except exception.InstanceNotFound:
            pass
        LOG.info("Instance %s deleted from %s", instance.uuid, self.host)

    # -- power ---------------------------------------------------------------

    def _power_action(self, context: RequestContext, instance: Instance, expected: tuple[str, ...],
                      action: Any, final_vm_state: str, name: str = "") -> None:
        with _instance_lock(instance.uuid):
            if not self._task_is_current(context, instance, expected, name):
                return
            # NOTE: the guest watcher reads what the guest prints after this.
            console_mark = self._guest_watch.mark(instance) if name in ("start", "reboot") \
                else None
            try:
                with self._event(context, instance, name, f"compute_{name}_instance"):
                    action()
                instance.power_state = self._get_power_state(instance)
                instance.vm_state = final_vm_state
                instance.task_state = None
                instance.save(expected_task_state=list(expected))
                if console_mark is not None and self._guest_watch.enabled:
                    self._guest_watch.watch(context, instance, name,
                                            self._network_info(context, instance),
                                            offset=console_mark)
            except _DELETED:
                return
            except Exception as exc:
                LOG.warning("Power action on %s failed: %s", instance.uuid, exc)
                self._fail(context, instance, exc)

    @staticmethod
    def _task_is_current(context: RequestContext, instance: Instance, expected: tuple[str, ...],
                         name: str) -> bool:
        """Under the lock: is the action still asked for? A repeated message
        (or one recovery already carried out) finds nothing to do."""
        try:
            current = Instance.get_by_uuid(context, instance.uuid)
        except exception.InstanceNotFound:
            return False
        if current.task_state not in expected:
            LOG.info("Ignoring %s of %s: its task state is %s (done already or superseded)",
                     name, instance.uuid, current.task_state)
            return False
        instance.refresh_from(current)
        return True

    def stop_instance(self, context: RequestContext, instance: Instance) -> None:
        self._power_action(context, instance, (task_states.POWERING_OFF,),
                           lambda: self.driver.power_off(instance,
                                                         CONF.compute.guest_shutdown_timeout),
                           vm_states.STOPPED, "stop")

    def start_instance(self, context: RequestContext, instance: Instance) -> None:
        self._power_action(context, instance, (task_states.POWERING_ON,),
                           lambda: self.driver.power_on(
                               context, instance,
                               network_info=self._network_info(context, instance),
                               block_device_info=self._block_device_info(context, instance)),
                           vm_states.ACTIVE, "start")

    def reboot_instance(self, context: RequestContext, instance: Instance, reboot_type: str = "SOFT") -> None:
        self._power_action(context, instance,
                           (task_states.REBOOTING, task_states.REBOOTING_HARD),
                           lambda: self.driver.reboot(
                               context, instance, reboot_type,
                               network_info=self._network_info(context, instance),
                               block_device_info=self._block_device_info(context, instance)),
                           vm_states.ACTIVE, "reboot")

    def get_host_uptime(self, context: RequestContext) -> str:
        """Call (6.7): this host's uptime line, from the driver."""
        return str(self.driver.get_host_uptime())

    def get_instance_diagnostics(self, context: RequestContext,
                                 instance: Instance) -> dict[str, Any]:
        """Call (6.6): the running guest's diagnostics, as the driver gives them."""
        state = self.driver.get_info(instance).state
        if state != power_state.RUNNING:
            raise exception.InstanceInvalidState(
                action="get_diagnostics", instance_uuid=instance.uuid, attr="power_state",
                state=power_state.STATE_MAP.get(state, str(state)))
        return dict(self.driver.get_instance_diagnostics(instance))

    def get_console_output(self, context: RequestContext, instance: Instance, length: int | None = None) -> str:
        data = self.driver.get_console_output(context, instance).decode("utf-8", "replace")
        if length is not None:
            data = "\n".join(data.splitlines()[-length:]) if length > 0 else ""
        return str(data)


def _describe(exc: BaseException) -> str:
    """An event's ``details``, which every reader sees from 2.84: the rest
    of an unexpected error is in its traceback (admins)."""
    return user_reason(exc)


def _injected_files(files: InjectedFileList | None) -> list[dict[str, str]]:
    """The personality files of the build request, as the driver takes them."""
    return files.to_dicts() if files is not None else []


def _checked(files: list[dict[str, str]]) -> list[dict[str, str]]:
    """``files``, re-checked here (the API checked them too): absolute
    paths without '..'."""
    for f in files:
        path = str(f.get("path", ""))
        if not path.startswith("/") or ".." in path.split("/") or "\0" in path:
            raise exception.Invalid(reason=f"personality path {path!r} is not absolute "
                                           "or contains '..'")
    return files
