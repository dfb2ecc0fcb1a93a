"""The conductor's part for resize, cold migration, evacuation and live migration orchestration.

A mixin of ConductorManager (novalite/conductor/manager.py). As Nova's
conductor (MigrationTask, LiveMigrationTask, rebuild with recreate): it
asks the scheduler for a destination with the instance's recorded request
spec (the new flavor for a resize; the source host avoided unless
``allow_resize_to_same_host``; a requested host is the only candidate and
still passes the filters), records the migration (or completes the one the
API made) and casts to the hosts. When no host fits, the server goes back
to where it was (task state cleared, a fault saying why, the conductor's
event marked Error) and the migration is ``error``.
"""

from __future__ import annotations

import datetime
import traceback
from typing import TYPE_CHECKING, Any

from oslo_log import log as logging
from oslo_utils import timeutils

from novalite import context as nl_context
from novalite import exception
from novalite.compute import task_states, vm_states
from novalite.conf import CONF
from novalite.objects import migration as mig
from novalite.objects.instance import Instance
from novalite.objects.instance_action import InstanceActionEvent
from novalite.objects.request_spec import RequestSpec
from novalite.objects.service import ServiceList

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.flavor import Flavor

LOG = logging.getLogger(__name__)


class ConductorMoveTasks:
    """Conductor-side resize, cold migration, evacuation and live migration orchestration."""

    host: str
    scheduler_rpcapi: Any
    compute_rpcapi: Any
    _await_compute_heartbeats: Any

    # -- resize and cold migration --------------------------------------------

    def migrate_server(self, context: RequestContext, instance: Instance, flavor: Flavor,
                       host: str | None = None) -> None:
        """Cast from the API (the instance is in RESIZE_PREP)."""
        action = "migrate" if flavor.id == instance.flavor.id else "resize"
        event = _start_event(context, instance.uuid, action, "cold_migrate", self.host)
        try:
            spec = self._move_spec(context, instance, flavor, host,
                                   avoid_source=not CONF.allow_resize_to_same_host)
            dest = self._select(context, instance, spec)
            migration = mig.Migration(
                context=context, instance_uuid=instance.uuid,
                migration_type=mig.RESIZE if action == "resize" else mig.MIGRATION,
                status=mig.PRE_MIGRATING, source_compute=instance.host,
                source_node=instance.node, dest_compute=dest["host"],
                dest_node=dest["nodename"], old_instance_type_id=instance.flavor.id,
                new_instance_type_id=flavor.id, user_id=context.user_id,
                project_id=context.project_id)
            migration.create()
            self.compute_rpcapi.prep_resize(context, instance, flavor, migration, dest["host"])
        except Exception as exc:
            _finish_event(event, exc)
            LOG.warning("%s of %s failed in the conductor: %s", action, instance.uuid, exc)
            _back_to_stable(context, instance.uuid, exc)
            return
        _finish_event(event, None)

    def _move_spec(self, context: RequestContext, instance: Instance, flavor: Flavor,
                   host: str | None, avoid_source: bool) -> RequestSpec:
        """The instance's recorded spec for one more placement: ``flavor``;
        the source avoided when ``avoid_source``; only ``host`` when given."""
        try:
            spec = RequestSpec.get_by_instance_uuid(context, instance.uuid)
        except exception.RequestSpecNotFound as e:
            raise exception.NoValidHost(reason=f"instance {instance.uuid} has no recorded "
                                               "request spec to schedule it with") from e
        spec = spec.for_instance(instance.uuid)
        spec.flavor = flavor
        spec.num_instances = 1
        spec.retry = None
        avoid: set[str] = set()
        if avoid_source and instance.host:
            avoid.add(instance.host)
        if host:
            computes = {s.host for s in ServiceList.get_all(context, binary="novalite-compute")}
            if host not in computes:
                raise exception.NoValidHost(reason=f"compute host {host} does not exist")
            avoid |= computes - {host}
            if host in avoid:
                raise exception.NoValidHost(reason=(
                    f"the requested host {host} is the instance's own host (set "
                    "[DEFAULT] allow_resize_to_same_host to allow it)"))
        spec.ignore_hosts = sorted(avoid)
        return spec

    def _select(self, context: RequestContext, instance: Instance,
                spec: RequestSpec) -> dict[str, str]:
        self._await_compute_heartbeats(context)
        hosts: list[dict[str, str]] = self.scheduler_rpcapi.select_destinations(
            context, spec, [instance.uuid])
        return hosts[0]

    def _record_destination(self, context: RequestContext, instance: Instance,
                            migration: mig.Migration, host: str | None, force: bool,
                            status: str) -> dict[str, str]:
        """The move's destination (``host`` as given when forced, else
        scheduled away from the source), recorded on the migration with
        ``status``."""
        if host and force:
            dest = {"host": host, "nodename": host}
        else:
            spec = self._move_spec(context, instance, instance.flavor, host,
                                   avoid_source=True)
            dest = self._select(context, instance, spec)
        migration.dest_compute = dest["host"]
        migration.dest_node = dest["nodename"]
        migration.status = status
        migration.save()
        return dest

    # -- evacuate -------------------------------------------------------------

    def evacuate(self, context: RequestContext, instance: Instance, migration: mig.Migration,
                 host: str | None = None, force: bool = False,
                 target_state: str | None = None) -> None:
        """Cast from the API (instance REBUILDING, its host down, the
        migration ``accepted``): a new host, then the rebuild there."""
        event = _start_event(context, instance.uuid, "evacuate", "rebuild_server", self.host)
        try:
            dest = self._record_destination(context, instance, migration, host, force,
                                            mig.PRE_MIGRATING)
            self.compute_rpcapi.evacuate_instance(context, instance, migration, dest["host"],
                                                  target_state)
        except Exception as exc:
            _finish_event(event, exc)
            LOG.warning("Evacuation of %s failed in the conductor: %s", instance.uuid, exc)
            _migration_status(migration, mig.ERROR)
            _back_to_stable(context, instance.uuid, exc)
            return
        _finish_event(event, None)

    def check_stuck_evacuations(self) -> None:
        """Periodic: an evacuation no new host took within [compute]
        task_timeout (a lost message, a destination that died) leaves the
        server ERROR with a fault and the migration failed. Its old host is
        down, so no compute's own deadline check sees it."""
        ctxt = nl_context.get_admin_context()
        cutoff = timeutils.utcnow() - datetime.timedelta(seconds=CONF.compute.task_timeout)
        stuck = mig.MigrationList.get_by_filters(
            ctxt, {"migration_type": mig.EVACUATION,
                   "status": [mig.ACCEPTED, mig.PRE_MIGRATING], "updated_before": cutoff})
        for migration in stuck:
            try:
                instance = Instance.get_by_uuid(ctxt, migration.instance_uuid)
            except exception.InstanceNotFound:
                _migration_status(migration, mig.FAILED)
                continue
            if instance.task_state != task_states.REBUILDING \
                    or instance.host != migration.source_compute:
                continue
            exc = exception.NovaliteException(
                f"the evacuation of instance {instance.uuid} from {migration.source_compute} "
                f"was not taken by a new host within {CONF.compute.task_timeout} seconds")
            LOG.warning("%s", exc.format_message())
            try:
                instance.add_fault(exc, host=None)
                instance.vm_state = vm_states.ERROR
                instance.task_state = None
                instance.save(expected_task_state=[task_states.REBUILDING])
            except (exception.Conflict, exception.InstanceNotFound):
                continue
            _migration_status(migration, mig.FAILED)

    # -- live migration --------------------------------------------------------

    def live_migrate_instance(self, context: RequestContext, instance: Instance,
                              migration: mig.Migration, host: str | None = None,
                              force: bool = False) -> None:
        """Cast from the API (instance MIGRATING, the migration ``accepted``)."""
        event = _start_event(context, instance.uuid, "live-migration",
                             "conductor_live_migrate_instance", self.host)
        try:
            dest = self._record_destination(context, instance, migration, host, force,
                                            mig.PREPARING)
            self.compute_rpcapi.live_migration(context, instance, migration, dest["host"])
        except Exception as exc:
            _finish_event(event, exc)
            LOG.warning("Live migration of %s failed in the conductor: %s", instance.uuid, exc)
            _migration_status(migration, mig.ERROR)
            _back_to_stable(context, instance.uuid, exc)
            return
        _finish_event(event, None)


def _start_event(context: RequestContext, uuid: str, action: str, name: str,
                 host: str) -> InstanceActionEvent | None:
    try:
        return InstanceActionEvent.event_start(context, uuid, action, name, host)
    except Exception:
        LOG.exception("Could not record the start of %s on %s", name, uuid)
        return None


def _finish_event(event: InstanceActionEvent | None, exc: BaseException | None) -> None:
    if event is None:
        return
    try:
        if exc is None:
            event.finish("Success")
        else:
            details = (exc.format_message() if isinstance(exc, exception.NovaliteException)
                       else f"{type(exc).__name__}: {exc}")
            event.finish("Error", details, traceback.format_exc())
    except Exception:
        LOG.exception("Could not record the end of event %s", event.id)


def _migration_status(migration: mig.Migration, status: str) -> None:
    try:
        migration.status = status
        migration.save()
    except Exception:
        LOG.exception("Could not record migration %s as %s", migration.uuid, status)


def _back_to_stable(context: RequestContext, uuid: str, exc: BaseException) -> None:
    """As Nova's conductor when a move cannot start: the server keeps its
    vm_state (an ERROR one stays ERROR), its task state is cleared and a
    fault says why."""
    try:
        instance = Instance.get_by_uuid(context, uuid)
        instance.add_fault(exc, host=None)
        if instance.vm_state not in (vm_states.ACTIVE, vm_states.STOPPED, vm_states.PAUSED,
                                     vm_states.ERROR):
            instance.vm_state = vm_states.ERROR
        instance.task_state = None
        instance.save()
    except exception.InstanceNotFound:
        pass
