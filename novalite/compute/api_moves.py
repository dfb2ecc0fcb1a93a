"""The compute API's part for resize / confirmResize / revertResize, migrate, evacuate, live migration and migrations.

A mixin of novalite.compute.api.API (which keeps create, read, delete and
the seed's power actions): validates against state, records the action and
hands the work to the conductor or the instance's host. The states each
action starts from, and its errors, are Nova's (compute/api.py resize,
migrate, confirm_resize, revert_resize, evacuate, live_migrate).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from oslo_log import log as logging

from novalite import exception, policy, quota
from novalite.compute import task_states, vm_states
from novalite.objects import migration as mig
from novalite.objects.flavor import Flavor
from novalite.objects.instance_action import InstanceAction
from novalite.objects.service import Service

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance

LOG = logging.getLogger(__name__)


class CannotResizeToSameFlavor(exception.Invalid):
    msg_fmt = "When resizing, instances must change flavor!"


class CannotResizeDisk(exception.Invalid):
    msg_fmt = "Server disk was unable to be resized because: %(reason)s"


class FlavorDisabled(exception.Invalid):
    msg_fmt = "Flavor %(flavor_id)s is disabled and cannot be used to resize."


class ComputeHostNotFound(exception.NotFound):
    msg_fmt = "Compute host %(host)s could not be found."


class ComputeServiceInUse(exception.Invalid):
    msg_fmt = "Compute service of %(host)s is still in use."


class CannotMigrateToSameHost(exception.Invalid):
    msg_fmt = "Unable to migrate instance (%(instance_uuid)s) to current host (%(host)s)."


class MigrationNotFoundByStatus(exception.Invalid):
    """Nova answers 400 (not 404) when the server has no such migration."""

    msg_fmt = "Migration not found for instance %(instance_id)s with status %(status)s."


class MigrationNotFoundForInstance(exception.NotFound):
    msg_fmt = "Migration %(migration_id)s not found for instance %(instance_id)s"


class InvalidMigrationState(exception.Invalid):
    msg_fmt = ("Migration %(migration_id)s state of instance %(instance_uuid)s is %(state)s. "
               "Cannot %(method)s while the migration is in this state.")


def _check_state(instance: Instance, action: str, vm_state: tuple[Any, ...],
                 task_state: tuple[Any, ...] | None = (None,)) -> None:
    if instance.vm_state not in vm_state:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="vm_state", state=instance.vm_state)
    if task_state is not None and instance.task_state not in task_state:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="task_state", state=instance.task_state)


def _check_lock(context: RequestContext, instance: Instance) -> None:
    """Nova's check_instance_lock: 409 for a locked server unless admin."""
    if instance.locked and not policy.check_is_admin(context):
        raise exception.InstanceIsLocked(instance_uuid=instance.uuid)


def _check_resize_quota(context: RequestContext, instance: Instance, flavor: Flavor) -> None:
    """As Nova: an upsize needs quota for the extra vCPUs and RAM (403)."""
    extra_cores = max(flavor.vcpus - instance.flavor.vcpus, 0)
    extra_ram = max(flavor.memory_mb - instance.flavor.memory_mb, 0)
    if extra_cores or extra_ram:
        quota.enforce_server_create(context, str(instance.project_id), 0, extra_cores,
                                    extra_ram)


def _set_task(instance: Instance, action: str, task: str) -> None:
    instance.task_state = task
    try:
        instance.save(expected_task_state=[None])
    except exception.Conflict as e:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="task_state", state="changing") from e


class MoveActionsAPI:
    """API-side resize / confirmResize / revertResize, migrate, evacuate, live migration and migrations."""

    conductor: Any
    compute_rpcapi: Any

    # -- resize and cold migration ------------------------------------------------

    def resize(self, context: RequestContext, instance: Instance, flavor_id: str) -> None:
        _check_lock(context, instance)
        _check_state(instance, "resize", (vm_states.ACTIVE, vm_states.STOPPED))
        try:
            flavor = Flavor.get_by_flavor_id(context, flavor_id)
        except exception.FlavorNotFound:
            raise exception.Invalid(reason=f"Unable to find flavor {flavor_id}.") from None
        current = instance.flavor
        if flavor.flavorid == current.flavorid:
            raise CannotResizeToSameFlavor()
        if flavor.disabled:
            raise FlavorDisabled(flavor_id=flavor_id)
        if (not flavor.is_public and not policy.check_is_admin(context)
                and not flavor.has_access(context.project_id)):
            raise exception.Invalid(reason=f"Unable to find flavor {flavor_id}.")
        if flavor.root_gb == 0 and current.root_gb > 0:
            raise CannotResizeDisk(reason="Resize to zero disk flavor is not allowed.")
        if flavor.root_gb and flavor.root_gb < current.root_gb:
            raise CannotResizeDisk(reason=(
                f"flavor {flavor.name}'s root disk ({flavor.root_gb} GiB) is smaller than "
                f"the server's ({current.root_gb} GiB)"))
        _check_resize_quota(context, instance, flavor)
        _set_task(instance, "resize", task_states.RESIZE_PREP)
        InstanceAction.action_start(context, instance.uuid, "resize")
        self.conductor.migrate_server(context, instance, flavor, None)

    def migrate(self, context: RequestContext, instance: Instance,
                host: str | None = None) -> None:
        """Cold migration (admin): the same flavor, another host (``host``
        from 2.56; it must exist and not be the server's)."""
        _check_lock(context, instance)
        _check_state(instance, "migrate", (vm_states.ACTIVE, vm_states.STOPPED))
        if host is not None:
            self._compute_service(context, host)
            if host == instance.host:
                raise CannotMigrateToSameHost(instance_uuid=instance.uuid, host=host)
        _set_task(instance, "migrate", task_states.RESIZE_PREP)
        InstanceAction.action_start(context, instance.uuid, "migrate")
        self.conductor.migrate_server(context, instance, instance.flavor, host)

    def _finished_migration(self, context: RequestContext, instance: Instance) -> mig.Migration:
        try:
            return mig.Migration.get_by_instance_and_status(context, instance.uuid,
                                                            mig.FINISHED)
        except mig.MigrationNotFound:
            raise MigrationNotFoundByStatus(instance_id=instance.uuid,
                                            status=mig.FINISHED) from None

    def confirm_resize(self, context: RequestContext, instance: Instance) -> None:
        _check_lock(context, instance)
        _check_state(instance, "confirmResize", (vm_states.RESIZED,))
        migration = self._finished_migration(context, instance)
        migration.status = mig.CONFIRMING
        migration.save()
        InstanceAction.action_start(context, instance.uuid, "confirmResize")
        self.compute_rpcapi.confirm_resize(context, instance, migration)

    def revert_resize(self, context: RequestContext, instance: Instance) -> None:
        _check_lock(context, instance)
        _check_state(instance, "revertResize", (vm_states.RESIZED,))
        migration = self._finished_migration(context, instance)
        _set_task(instance, "revertResize", task_states.RESIZE_REVERTING)
        migration.status = mig.REVERTING
        migration.save()
        InstanceAction.action_start(context, instance.uuid, "revertResize")
        self.compute_rpcapi.revert_resize(context, instance, migration)

    def _confirm_resize_on_deleting(self, context: RequestContext, instance: Instance) -> None:
        """A server deleted in VERIFY_RESIZE: the move is confirmed first, so
        its source removes the guest and files it kept (Nova's)."""
        try:
            migration = mig.Migration.get_by_instance_and_status(context, instance.uuid,
                                                                 mig.FINISHED)
        except mig.MigrationNotFound:
            return
        migration.status = mig.CONFIRMING
        migration.save()
        self.compute_rpcapi.confirm_resize(context, instance, migration)

    # -- evacuate ---------------------------------------------------------------------

    def evacuate(self, context: RequestContext, instance: Instance, host: str | None,
                 force: bool = False, target_state: str | None = None,
                 admin_password: str | None = None) -> str:
        """Rebuild elsewhere a server whose host is down (admin); returns
        the admin password (Nova answers it before 2.14)."""
        _check_state(instance, "evacuate", (vm_states.ACTIVE, vm_states.STOPPED,
                                             vm_states.ERROR))
        if host is not None:
            self._compute_service(context, host)
            if host == instance.host:
                raise exception.Invalid(reason="The target host can't be the same one.")
        source = instance.host
        if not source:
            raise exception.InstanceInvalidState(action="evacuate", instance_uuid=instance.uuid,
                                                 attr="host", state="none (never scheduled)")
        try:
            if Service.get_by_host_and_binary(context, source, "novalite-compute").is_up():
                raise ComputeServiceInUse(host=source)
        except exception.ServiceNotFound:
            pass
        _set_task(instance, "evacuate", task_states.REBUILDING)
        migration = mig.Migration(
            context=context, instance_uuid=instance.uuid, migration_type=mig.EVACUATION,
            status=mig.ACCEPTED, source_compute=source, source_node=instance.node,
            dest_compute=host, old_instance_type_id=instance.flavor.id,
            new_instance_type_id=instance.flavor.id, user_id=context.user_id,
            project_id=context.project_id)
        migration.create()
        InstanceAction.action_start(context, instance.uuid, "evacuate")
        self.conductor.evacuate(context, instance, migration, host, force, target_state)
        return admin_password or secrets.token_urlsafe(9)

    # -- live migration -----------------------------------------------------------------

    def live_migrate(self, context: RequestContext, instance: Instance, host: str | None,
                     block_migration: Any = "auto", force: bool = False) -> None:
        _check_lock(context, instance)
        _check_state(instance, "os-migrateLive", (vm_states.ACTIVE, vm_states.PAUSED))
        if host is not None:
            self._compute_service(context, host)
            if host == instance.host:
                raise CannotMigrateToSameHost(instance_uuid=instance.uuid, host=host)
        _set_task(instance, "os-migrateLive", task_states.MIGRATING)
        migration = mig.Migration(
            context=context, instance_uuid=instance.uuid, migration_type=mig.LIVE_MIGRATION,
            status=mig.ACCEPTED, source_compute=instance.host, source_node=instance.node,
            dest_compute=host, old_instance_type_id=instance.flavor.id,
            new_instance_type_id=instance.flavor.id, user_id=context.user_id,
            project_id=context.project_id)
        migration.create()
        InstanceAction.action_start(context, instance.uuid, "live-migration")
        self.conductor.live_migrate_instance(context, instance, migration, host, force)

    # -- a running live migration: force complete (2.22), abort (2.24, 2.65) ---------

    def live_migrate_force_complete(self, context: RequestContext, instance: Instance,
                                    migration_id: str) -> None:
        """As Nova's: an ACTIVE server being live-migrated, its migration
        ``running`` (InvalidMigrationState otherwise); the source's driver
        finishes the copy now."""
        _check_lock(context, instance)
        _check_state(instance, "force_complete", (vm_states.ACTIVE,),
                     (task_states.MIGRATING,))
        migration = _migration_of(context, instance, migration_id)
        if migration.status != mig.RUNNING:
            raise InvalidMigrationState(migration_id=migration_id,
                                        instance_uuid=instance.uuid, state=migration.status,
                                        method="force complete")
        InstanceAction.action_start(context, instance.uuid, "live_migration_force_complete")
        self.compute_rpcapi.live_migration_force_complete(context, instance, migration)

    def live_migrate_abort(self, context: RequestContext, instance: Instance,
                           migration_id: str, support_abort_in_queue: bool = False) -> None:
        """As Nova's: a server being live-migrated; its migration ``running``,
        or from 2.65 also ``queued``/``preparing`` (InvalidMigrationState
        otherwise). The source cancels it: the server stays where it is."""
        _check_lock(context, instance)
        if instance.task_state != task_states.MIGRATING:
            raise exception.InstanceInvalidState(
                action="abort live migration", instance_uuid=instance.uuid,
                attr="task_state", state=instance.task_state)
        migration = _migration_of(context, instance, migration_id)
        allowed = (mig.RUNNING, *mig.LIVE_QUEUED) if support_abort_in_queue \
            else (mig.RUNNING,)
        if migration.status not in allowed:
            raise InvalidMigrationState(migration_id=migration_id,
                                        instance_uuid=instance.uuid, state=migration.status,
                                        method="abort live migration")
        InstanceAction.action_start(context, instance.uuid, "live_migration_cancel")
        self.compute_rpcapi.live_migration_abort(context, instance, migration.id)

    # -- migrations ---------------------------------------------------------------

    def get_migrations(self, context: RequestContext, filters: dict[str, Any],
                       limit: int | None = None,
                       marker: str | None = None) -> mig.MigrationList:
        return mig.MigrationList.get_by_filters(context, filters, limit=limit, marker=marker)

    def get_migrations_in_progress_by_instance(self, context: RequestContext,
                                               instance_uuid: str) -> mig.MigrationList:
        return mig.MigrationList.get_by_filters(
            context, {"instance_uuid": instance_uuid, "migration_type": mig.LIVE_MIGRATION,
                      "status": list(mig.LIVE_IN_PROGRESS)})

    @staticmethod
    def _compute_service(context: RequestContext, host: str) -> Service:
        try:
            return Service.get_by_host_and_binary(context, host, "novalite-compute")
        except exception.ServiceNotFound:
            raise ComputeHostNotFound(host=host) from None


def _migration_of(context: RequestContext, instance: Instance,
                  migration_id: str) -> mig.Migration:
    """Migration ``migration_id`` (the integer id) of ``instance``, else
    MigrationNotFoundForInstance."""
    try:
        migration = mig.Migration.get_by_id(context, int(migration_id))
    except (ValueError, exception.NotFound):
        raise MigrationNotFoundForInstance(migration_id=migration_id,
                                           instance_id=instance.uuid) from None
    if migration.instance_uuid != instance.uuid:
        raise MigrationNotFoundForInstance(migration_id=migration_id, instance_id=instance.uuid)
    return migration
