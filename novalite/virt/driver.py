"""The compute driver contract.

Every driver implements ``ComputeDriver``. The compute manager relies on the
failure semantics written on each method; a driver that breaks them leaves
instances or host resources behind. Drivers never import the database: what
they need from the service they get through the ``VirtAPI``.
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from oslo_concurrency import processutils
from oslo_log import log as logging
from stevedore import driver as stevedore_driver

from novalite import exception
from novalite.virt import stats
from novalite.virt.hardware import ConsoleSerial, HostResources, InstanceInfo
from novalite.virt.virtapi import VirtAPI

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance

LOG = logging.getLogger(__name__)

NAMESPACE = "novalite.virt"


class ResizeError(exception.NovaliteException):
    """A resize or cold migration the driver refuses or could not do; the
    guest is back where it was (Nova's InstanceFaultRollback(ResizeError))."""

    msg_fmt = "Resize error: %(reason)s"
    code = 400


class MigrationError(exception.NovaliteException):
    msg_fmt = "Migration error: %(reason)s"


class LiveMigrationAborted(MigrationError):
    """``live_migration_abort`` stopped the running live migration: the
    guest is still on the source, as it was (the migration is cancelled,
    not failed)."""

    msg_fmt = "Live migration of instance %(instance_uuid)s was aborted"


class AgentUnavailable(exception.NovaliteException):
    """The action needs the QEMU guest agent and the guest has none (or it
    does not answer)."""

    msg_fmt = "%(action)s of instance %(instance_uuid)s needs the guest agent: %(reason)s"
    code = 409


class DeviceBusy(exception.NovaliteException):
    """attach_volume: the guest already has a device at that mountpoint."""

    msg_fmt = "Instance %(instance_uuid)s already has a device at %(mountpoint)s"
    code = 409


class VolumeNotAttached(exception.NotFound):
    """extend_volume: the volume is not attached to the guest."""

    msg_fmt = "Volume %(volume_id)s is not attached to instance %(instance_uuid)s"


class DetachTimeout(exception.NovaliteException):
    """detach_volume: the guest did not let the device go in time."""

    msg_fmt = ("Instance %(instance_uuid)s did not release device %(mountpoint)s "
               "within %(timeout)s s")
    code = 409


class ConsoleTypeUnavailable(exception.Invalid):
    msg_fmt = "Unavailable console type %(console_type)s."
    code = 400


class DiskTransfer(abc.ABC):
    """How an instance's files travel from the source host to the
    destination of one resize or cold migration.

    The source calls ``send`` for each file while it prepares the move
    (``migrate_disk_and_power_off``); the destination calls ``receive`` for
    each entry of the disk info it was given (``finish_migration``). A
    cross-host channel authenticates both ends per migration; how is the
    implementation's business, the driver only moves bytes through it.
    """

    @abc.abstractmethod
    def send(self, instance_uuid: str, name: str, path: str) -> None:
        """Offer the file ``path`` (in the source's ``_resize`` copy) as
        ``name``; it must stay readable until the migration is confirmed."""

    @abc.abstractmethod
    def receive(self, instance_uuid: str, name: str, source_path: str, dest_path: str) -> None:
        """Write the file offered as ``name`` (at ``source_path`` on the
        source) to ``dest_path`` here. Raises MigrationError naming the
        file when it cannot."""


class LocalDiskTransfer(DiskTransfer):
    """Same host: the source's file is copied into place (the ``_resize``
    copy must stay intact for a revert)."""

    def send(self, instance_uuid: str, name: str, path: str) -> None:
        if not os.path.isfile(path):
            raise MigrationError(reason=f"file {name} of instance {instance_uuid} is missing")

    def receive(self, instance_uuid: str, name: str, source_path: str, dest_path: str) -> None:
        try:
            shutil.copyfile(source_path, dest_path)
        except OSError as e:
            raise MigrationError(reason=(
                f"could not copy file {name} of instance {instance_uuid}: {e.strerror}")) from e


class RemoteDiskTransferMissing(DiskTransfer):
    """The default for a move to another host: refuses, saying a channel is
    needed (the computes set one up per migration)."""

    def __init__(self, dest: str) -> None:
        self.dest = dest

    def send(self, instance_uuid: str, name: str, path: str) -> None:
        raise MigrationError(reason=(
            f"no disk transfer channel to host {self.dest} was given for instance "
            f"{instance_uuid}"))

    def receive(self, instance_uuid: str, name: str, source_path: str, dest_path: str) -> None:
        raise MigrationError(reason=(
            f"no disk transfer channel was given to receive file {name} of instance "
            f"{instance_uuid}"))


class StepReport(Protocol):
    """One reported step; the driver may set ``details`` (user-readable:
    sizes, seconds, whether a cache served it; never a host path)."""

    details: str | None


class StepReporter(Protocol):
    def step(self, name: str) -> contextlib.AbstractContextManager[StepReport]: ...


class _Unreported:
    details: str | None = None


_REPORTER: contextvars.ContextVar[StepReporter | None] = contextvars.ContextVar(
    "novalite_virt_step_reporter", default=None)


@contextlib.contextmanager
def reporting_steps(reporter: StepReporter | None) -> Iterator[None]:
    """While inside, ``step()`` in this thread reports to ``reporter`` (the
    compute manager's timeline of the build or action it runs)."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


@contextlib.contextmanager
def step(name: str) -> Iterator[StepReport]:
    """A step of the driver's part of a build or action (``image_fetch``,
    ``disk_create``, ``config_drive``, ``domain_define``, ``domain_start``):
    timed and recorded with its outcome when the caller asked for steps
    (``reporting_steps``), a no-op otherwise. An exception passes through,
    recorded as the step's error."""
    reporter = _REPORTER.get()
    if reporter is None:
        yield _Unreported()
        return
    with reporter.step(name) as report:
        yield report


class ComputeDriver(abc.ABC):
    """A hypervisor, seen by the compute manager.

    ``capabilities`` tells the manager what the driver can do, so it never
    has to guess from the class.
    """

    capabilities: dict[str, bool] = {
        "supports_reboot": True,
        "supports_console_output": False,
        "supports_file_injection": False,
        "supports_pause": False,
        "supports_suspend": False,
        "supports_snapshot": False,
        "supports_rescue": False,
        "supports_trigger_crash_dump": False,
        "supports_set_admin_password": False,
        "supports_migrate": False,
        "supports_serial_console": False,
        # NOTE: the console log is what the guest itself printed since it
        # started (firmware, kernel, init): the guest watcher follows it.
        "has_boot_console": False,
    }

    def __init__(self, virtapi: VirtAPI) -> None:
        self.virtapi = virtapi

    def init_host(self, host: str) -> None:
        """Prepare the host (connect to the hypervisor). Raises
        HypervisorUnavailable when it cannot; the service then fails to start."""
        return None

    def cleanup_host(self, host: str) -> None:
        """Release what init_host took (connections); guests keep running."""
        return None

    @abc.abstractmethod
    def get_available_nodes(self) -> list[str]:
        """Names of the nodes this driver manages (one for most drivers)."""

    @abc.abstractmethod
    def get_available_resource(self, nodename: str) -> HostResources:
        """Capacity and current usage of ``nodename``, as measured."""

    @abc.abstractmethod
    def spawn(self, context: RequestContext, instance: Instance, image_meta: dict[str, Any],
              network_info: list[Any], block_device_info: dict[str, Any] | None = None, *,
              injected_files: list[dict[str, str]] | None = None) -> None:
        """Create and start a guest; return when it is running.

        ``injected_files``: the build request's personality files
        (``{path, contents}``, contents base64), for the config drive.

        On failure, remove everything this call made (disks, domains) before
        raising. Raise an exception whose ``retryable`` is True when another
        host might succeed (e.g. ComputeResourcesUnavailable); anything else
        ends the build in ERROR. ``destroy`` may be called concurrently and
        must make a spawn in progress fail promptly.
        """

    @abc.abstractmethod
    def destroy(self, context: RequestContext, instance: Instance, network_info: list[Any] | None = None,
                block_device_info: dict[str, Any] | None = None) -> None:
        """Stop and remove the guest and everything made for it.

        Succeeds when the guest is already gone (idempotent); only raises when
        something could not be removed.
        """

    @abc.abstractmethod
    def power_off(self, instance: Instance, timeout: int = 0) -> None:
        """Shut the guest down: gracefully within ``timeout`` seconds, then
        forcibly. Succeeds when it is already off. Raises InstanceNotFound
        when there is no guest."""

    @abc.abstractmethod
    def power_on(self, context: RequestContext, instance: Instance, *,
                 network_info: list[dict[str, Any]] | None = None,
                 block_device_info: dict[str, Any] | None = None) -> None:
        """Start a stopped guest, its ports (``network_info``) plugged again
        first and its volumes (``block_device_info``, the shape ``spawn``
        takes) in the guest's definition. Succeeds when it is already
        running. Raises InstanceNotFound when there is no guest."""

    @abc.abstractmethod
    def reboot(self, context: RequestContext, instance: Instance, reboot_type: str, *,
               network_info: list[dict[str, Any]] | None = None,
               block_device_info: dict[str, Any] | None = None) -> None:
        """SOFT: ask the guest to restart, falling back to HARD; HARD: reset,
        its ports (``network_info``) plugged again and the guest defined
        afresh with its volumes (``block_device_info``). The guest is running
        when this returns. Raises InstanceNotFound when there is no guest."""

    @abc.abstractmethod
    def get_info(self, instance: Instance) -> InstanceInfo:
        """The guest's power state. Raises InstanceNotFound when there is none."""

    # -- volumes (issue 14). ``connection_info`` is what the volume service's
    # attachment_update answered (Cinder's shape: driver_volume_type "nbd" or
    # "local", its ``data``, ``serial`` = the volume id).

    def get_volume_connector(self, instance: Instance) -> dict[str, Any]:
        """This host as the volume service sees it (os-brick's
        get_connector_properties shape): ``ip`` (CONF.my_ip, an address the
        volume host can reach), ``host`` (CONF.host), ``multipath``,
        ``platform``, ``os_type``, ``initiator`` (None: no iSCSI)."""
        raise NotImplementedError()

    def attach_volume(self, context: RequestContext, connection_info: dict[str, Any],
                      instance: Instance, mountpoint: str, disk_bus: str | None = None,
                      device_type: str | None = None,
                      encryption: dict[str, Any] | None = None) -> None:
        """Hot-plug the volume into the guest as ``mountpoint`` (/dev/vdb
        ...), live when it runs and in its persistent definition either way.
        On failure nothing is left plugged. A device already at
        ``mountpoint``: InstanceInvalidState-like error naming it; no guest:
        InstanceNotFound."""
        raise NotImplementedError()

    def detach_volume(self, context: RequestContext, connection_info: dict[str, Any],
                      instance: Instance, mountpoint: str,
                      encryption: dict[str, Any] | None = None) -> None:
        """Unplug the volume at ``mountpoint`` (live and persistent), waiting
        for the guest to let it go within a deadline (DetachTimeout when it
        does not). Succeeds when it is not attached, or when
        the guest is gone (idempotent: detaching is the delete path)."""
        raise NotImplementedError()

    def extend_volume(self, context: RequestContext, connection_info: dict[str, Any],
                      instance: Instance, requested_size: int) -> int:
        """The volume attached to the guest grew to ``requested_size`` bytes
        on its backend: make the guest see it. Returns the size in bytes the
        guest now sees. No guest: InstanceNotFound; the volume is not
        attached: VolumeNotAttached."""
        raise NotImplementedError()

    @abc.abstractmethod
    def list_instance_uuids(self) -> list[str]:
        """UUIDs of the guests that exist on this host."""

    def manage_image_cache(self, context: RequestContext, all_instances: list[Any]) -> None:
        """Remove cached images that none of ``all_instances`` (this host's)
        uses, as ``[image_cache]`` says (Nova's). Never removes one in use;
        a driver without a cache does nothing."""
        return None

    def get_instance_stats(self, uuids: list[str]) -> dict[str, stats.InstanceStats]:
        """Usage counters of those of the guests ``uuids`` that exist here
        (absent: not found), read in one bulk query: the compute's metrics
        pass calls it every ``[metrics] instance_stats_interval``. A driver
        that cannot measure its guests returns {}; never raises for a guest
        that vanished meanwhile."""
        return {}

    def get_instance_diagnostics(self, instance: Instance) -> dict[str, Any]:
        """The guest's diagnostics in the standard format
        (``novalite.virt.diagnostics.diagnostics``, Nova's 2.48 one): a value
        the driver cannot measure is None. InstanceNotFound when the guest
        does not exist; NotImplementedError when the driver cannot describe
        its guests (the API answers 501)."""
        raise NotImplementedError()

    def get_host_uptime(self) -> str:
        """The host's ``uptime`` line (what Nova's libvirt driver answers);
        every novalite driver runs on the host it describes. Raise
        NotImplementedError when a driver cannot (the API answers 501)."""
        out, _err = processutils.execute("env", "LANG=C", "uptime")
        return str(out).strip()

    def get_console_output(self, context: RequestContext, instance: Instance) -> bytes:
        """What the guest wrote to its console so far."""
        raise NotImplementedError()

    def read_console_log(self, instance: Instance, offset: int,
                         limit: int) -> tuple[bytes, int]:
        """At most ``limit`` bytes the guest wrote to its console from
        ``offset`` on, and the offset after them; from 0 again when the log
        is shorter than ``offset`` (rotated). The compute host's guest
        watcher follows a guest's boot with it. No guest: InstanceNotFound.
        This default reads ``get_console_output`` (a driver that keeps the
        whole console in memory)."""
        data = self.get_console_output(None, instance)  # type: ignore[arg-type]
        if len(data) < offset:
            offset = 0
        chunk = data[offset:offset + limit]
        return chunk, offset + len(chunk)

    def guest_agent_ready(self, instance: Instance) -> bool:
        """Whether the guest's agent answers (QEMU guest agent's
        guest-ping) right now; quick (a second at most), never raises for a
        silent agent. Drivers without agents: False."""
        return False

    def inject_files(self, context: RequestContext, instance: Instance, files: list[dict[str, Any]],
                     timeout: float) -> None:
        """Write files ({"path": absolute path, "contents": base64}) into the
        running guest (``supports_file_injection``), within ``timeout``
        seconds; raise naming the file and the step that failed. The guest
        keeps running either way."""
        raise NotImplementedError()


    # -- lifecycle actions (issue 12). Each raises InstanceNotFound when there
    # is no guest, and InstanceInvalidState (naming the action and the power
    # state) when the guest is in a state the action cannot start from.

    def pause(self, instance: Instance) -> None:
        """Freeze the guest's vCPUs in memory (power state PAUSED). A paused
        guest: no-op; a guest that is not running: InstanceInvalidState."""
        raise NotImplementedError()

    def unpause(self, instance: Instance) -> None:
        """Let a paused guest run again. A running guest: no-op (as Nova's
        libvirt driver, whose domain resume accepts one); a guest that is
        off or suspended: InstanceInvalidState."""
        raise NotImplementedError()

    def suspend(self, context: RequestContext, instance: Instance) -> None:
        """Save the guest's memory to the host's disk and stop it (power
        state SUSPENDED; libvirt's managed save); it holds no CPU or RAM
        while suspended. From RUNNING or PAUSED (it comes back running); a
        suspended guest: no-op; a stopped one: InstanceInvalidState."""
        raise NotImplementedError()

    def resume(self, context: RequestContext, instance: Instance,
               network_info: list[dict[str, Any]] | None = None,
               block_device_info: dict[str, Any] | None = None) -> None:
        """Restore a suspended guest from its saved memory, its ports
        plugged again first (as power_on). A running guest: no-op; a guest
        that is stopped or paused: InstanceInvalidState."""
        raise NotImplementedError()

    def snapshot(self, context: RequestContext, instance: Instance,
                 image_meta: dict[str, Any] | None = None) -> str:
        """A consistent qcow2 copy of the guest's root disk as it is now;
        returns its path. The driver does not upload it: the CALLER owns the
        file (puts it in the image store, then removes it, also on failure).

        Consistent: with a guest agent (``image_meta`` properties
        ``hw_qemu_guest_agent``), the guest's file systems are frozen for the
        copy; without, the guest is paused for it. Either way the guest is
        back in the power state it had when this returns or raises, and a
        failure leaves no file behind. Running, paused, stopped and
        suspended guests can be snapshotted (a suspended one as it is: its
        disk is consistent with its saved memory; it stays suspended)."""
        raise NotImplementedError()

    def rescue(self, context: RequestContext, instance: Instance,
               rescue_image_meta: dict[str, Any], network_info: list[dict[str, Any]] | None = None,
               rescue_password: str | None = None,
               block_device_info: dict[str, Any] | None = None) -> None:
        """Boot the guest from ``rescue_image_meta`` (``id``: an image), its
        own root disk attached as the second disk, unchanged. On failure the
        original guest is back as it was. A rescued guest:
        InstanceInvalidState; a suspended one too."""
        raise NotImplementedError()

    def unrescue(self, context: RequestContext, instance: Instance,
                 network_info: list[dict[str, Any]] | None = None) -> None:
        """Back to the original guest (booted from its own disk, running),
        the rescue disk removed. A guest that is not rescued:
        InstanceInvalidState."""
        raise NotImplementedError()

    def attach_interface(self, context: RequestContext, instance: Instance,
                         image_meta: dict[str, Any], vif: dict[str, Any]) -> None:
        """Nova's: plug ``vif`` on this host and hot-plug its NIC into the
        guest, live when it runs (or is paused) and in its persistent
        definition either way (a stopped guest gets it at its next start).
        On failure nothing of it is left plugged. No guest: InstanceNotFound."""
        raise NotImplementedError()

    def detach_interface(self, context: RequestContext, instance: Instance,
                         vif: dict[str, Any]) -> None:
        """Nova's: take the NIC of ``vif`` out of the guest (live and
        persistent), waiting within a deadline for the guest to let it go (an
        error naming the device when it does not), then unplug it on this
        host. Succeeds when the NIC is not there (idempotent); no guest:
        InstanceNotFound."""
        raise NotImplementedError()

    def trigger_crash_dump(self, instance: Instance) -> None:
        """Send the guest a non-maskable interrupt (its kernel decides: a
        crash dump, a panic, or a log line). A guest that is not running:
        InstanceInvalidState."""
        raise NotImplementedError()

    def get_serial_console(self, context: RequestContext, instance: Instance) -> ConsoleSerial:
        """Where the serial console proxy connects to reach the guest's
        serial port (raw TCP). The driver's serial console switched off
        (libvirt: ``[libvirt] serial_console``, set when the guest was
        defined): ConsoleTypeUnavailable; a guest that is not running or
        paused: InstanceInvalidState. What the guest writes there is still
        in ``get_console_output``."""
        raise NotImplementedError()

    def set_admin_password(self, instance: Instance, new_pass: str) -> None:
        """Set the administrator's (root's) password inside the running guest
        through its guest agent. No agent (the image does not declare one,
        or it does not answer): AgentUnavailable; not running:
        InstanceInvalidState."""
        raise NotImplementedError()

    def migrate_disk_and_power_off(self, context: RequestContext, instance: Instance, dest: str,
                                   flavor: Any, network_info: list[dict[str, Any]] | None = None,
                                   block_device_info: dict[str, Any] | None = None,
                                   timeout: int = 0, retry_interval: int = 0, *,
                                   disk_transfer: DiskTransfer | None = None
                                   ) -> list[dict[str, Any]]:
        """Source side of a resize or cold migration to host ``dest``: power
        the guest off (gracefully within ``timeout``), keep its files aside
        (libvirt: ``<dir>_resize``) for a revert, offer each file through
        ``disk_transfer`` (default: a local copy when ``dest`` is this host;
        another host needs a channel). Returns the disk info
        ``finish_migration`` takes (a JSON-able list, one dict per file).

        A flavor whose root disk is smaller than the current one:
        ResizeError before anything changes. On any later failure the files
        are put back and the guest is started again if it was running."""
        raise NotImplementedError()

    def live_migration_source_data(self, instance: Instance) -> dict[str, Any]:
        """On the source of a live migration: what the destination's
        ``pre_live_migration`` needs to know of the guest (JSON-able). The
        default: nothing."""
        return {}

    def pre_live_migration(self, context: RequestContext, instance: Instance,
                           image_meta: dict[str, Any],
                           network_info: list[dict[str, Any]] | None,
                           source_data: dict[str, Any]) -> dict[str, Any]:
        """On the destination, before the source migrates: make ready for
        the incoming guest (files, VIFs); returns the migrate_data the
        source's ``live_migration`` gets (JSON-able). The default: nothing
        to prepare. On failure nothing made here is left."""
        return {}

    def rollback_live_migration_at_destination(self, context: RequestContext,
                                               instance: Instance,
                                               network_info: list[dict[str, Any]] | None
                                               ) -> None:
        """On the destination after the source failed: remove what
        ``pre_live_migration`` made. The default: nothing."""
        return None

    def live_migration_force_complete(self, instance: Instance) -> None:
        """On the source, while ``live_migration`` of ``instance`` runs in
        another thread: make it finish now (libvirt: switch to post-copy,
        ``virDomain.migrateStartPostCopy``, or pause the guest so the copy
        converges). Returns at once; ``live_migration`` then returns as
        usual. NotImplementedError when the driver cannot."""
        raise NotImplementedError()

    def live_migration_abort(self, instance: Instance) -> None:
        """On the source, while ``live_migration`` of ``instance`` runs in
        another thread: stop it (libvirt: ``virDomain.abortJob``), so that
        ``live_migration`` raises LiveMigrationAborted with the guest still
        running here as before. NotImplementedError when the driver cannot."""
        raise NotImplementedError()

    def finish_migration(self, context: RequestContext, migration: Any, instance: Instance,
                         disk_info: list[dict[str, Any]], network_info: list[dict[str, Any]] | None,
                         image_meta: dict[str, Any], resize_instance: bool,
                         block_device_info: dict[str, Any] | None = None,
                         power_on: bool = True, *,
                         disk_transfer: DiskTransfer | None = None) -> None:
        """Destination side: receive the files, grow the root disk to
        ``instance.flavor``'s root_gb when ``resize_instance``, define the
        guest with the flavor's vCPUs and RAM, start it when ``power_on``.
        The caller has set ``instance.flavor`` to the new flavor. On failure
        what this call made is removed; the source's copy is untouched (a
        revert still works)."""
        raise NotImplementedError()

    def finish_revert_migration(self, context: RequestContext, instance: Instance,
                                network_info: list[dict[str, Any]] | None,
                                migration: Any = None,
                                block_device_info: dict[str, Any] | None = None,
                                power_on: bool = True) -> None:
        """On the source: back to the files kept aside and the guest as it
        was defined before the move (old vCPUs, RAM, disk), started when
        ``power_on``. On the same host it replaces the resized guest itself
        (do not destroy first: that would remove the kept files' domain).
        Nothing kept aside: MigrationError."""
        raise NotImplementedError()

    def confirm_migration(self, context: RequestContext, migration: Any, instance: Instance,
                          network_info: list[dict[str, Any]] | None = None) -> None:
        """On the source: the move is final; remove the files kept aside
        and, when the guest moved to another host, the guest left here.
        Idempotent; with nothing kept aside (confirmed, or reverted) it does
        nothing."""
        raise NotImplementedError()


def load_compute_driver(virtapi: VirtAPI, compute_driver: str) -> ComputeDriver:
    """Load ``compute_driver`` (e.g. 'fake.FakeDriver') from the
    novalite.virt entry points."""
    LOG.info("Loading compute driver '%s'", compute_driver)
    try:
        mgr: stevedore_driver.DriverManager[ComputeDriver] = stevedore_driver.DriverManager(
            NAMESPACE, compute_driver, invoke_on_load=True, invoke_args=(virtapi,))
    except Exception as e:
        LOG.error("Unable to load the virtualization driver %s: %s", compute_driver, e)
        raise exception.VirtDriverNotFound(name=compute_driver) from e
    drv = mgr.driver
    if not isinstance(drv, ComputeDriver):
        raise exception.VirtDriverNotFound(name=compute_driver)
    return drv
