"""LibvirtDriver: real QEMU guests through libvirt-python.

The build path keeps the seed's steps: ``spawn()`` → ``_create_image()``
(fetch the image into the cache, inspect it, make the instance's
copy-on-write disk) → ``to_xml()`` (``get_guest_config()`` rendered) →
``_create_domain_and_network()`` (check the bridges, define and start the
domain).

Each instance owns ``[libvirt] instances_path/<uuid>/`` (disk, kernel,
ramdisk, console.log) and one persistent domain named after its integer
id or uuid (``[libvirt] instance_name_template``, ``instance-%(uuid)s``), whose
libvirt UUID is the instance's. Its novalite metadata names the instances path
it belongs to: a libvirtd shared by several deployments (two all-in-ones, or
one whose state directory was removed) lists only this one's guests as its
own, and the others' as foreign (never reaped, never a reason to fail).
Two compute services on one libvirtd (distinct instances paths) decide by
that ownership, not by a domain's existence, when an instance moves between
them (its domain keeps its name and UUID): the destination of a cold
migration takes over the source's shut-off guest kept for a revert (its
persistent definition replaced), an evacuation's destination also the
running guest of the dead source; a compute destroys, and unplugs the ports
of, only a domain that is its own (the taps are the other's too).
A per-instance lock orders spawn's steps against ``destroy``;
``destroy`` also sets the spawn's cancel flag, which the download and every
later step check, so a spawn in flight fails promptly and cleans up.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import re
import shutil
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import libvirt
from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_utils import timeutils

from novalite import exception, filemodes
from novalite.conf import CONF
from novalite.virt import configdrive, driver, naming, power_state, stats
from novalite.virt.hardware import ConsoleSerial, HostResources, InstanceInfo
from novalite.virt.libvirt import (
    agent,
    config,
    host,
    image_ageing,
    imagebackend,
    imagecache,
    serial,
    vif,
)
from novalite.virt.libvirt import diagnostics as libvirt_diagnostics
from novalite.virt.libvirt import interfaces as libvirt_interfaces
from novalite.virt.libvirt import volume as libvirt_volume
from novalite.virt.libvirt.guest import Guest

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance

LOG = logging.getLogger(__name__)

CONSOLE_LOG = "console.log"
# NOTE: get_console_output returns the end of the log, as Nova does.
MAX_CONSOLE_BYTES = 256 * 1024
# An "ami" smaller than one sector holds no root file system: the guest
# boots from its kernel and ramdisk and gets a blank disk of the flavor's size.
MIN_ROOT_IMAGE_BYTES = 512
GiB = 1024 ** 3
# NOTE: as Nova's: the domain XML to go back to, kept while rescued.
UNRESCUE_XML = "unrescue.xml"
RESCUE_DISK = "disk.rescue"
ADMIN_USER = "root"
# NOTE: as Nova's: a resize or cold migration keeps the instance's directory
# as <dir>_resize until it is confirmed or reverted, with the domain XML to
# go back to.
RESIZE_SUFFIX = "_resize"
DOMAIN_XML = "domain.xml"
# NOTE: the config drive travels inside the pre_live_migration call.
MAX_CONFIG_DRIVE_BYTES = 64 * 1024 * 1024


def instance_name(instance: Instance) -> str:
    return naming.instance_name(instance)


def deployment_path() -> str:
    """What marks this deployment's guests: its instances path, resolved."""
    return str(os.path.realpath(CONF.libvirt.instances_path))


def guest_hostname(instance: Instance) -> str:
    """The hostname the API derived, reduced to RFC 952 characters again:
    it ends up on the kernel command line."""
    name = re.sub(r"[^a-z0-9]+", "-", (instance.hostname or "").lower()).strip("-")[:63]
    return name.strip("-") or instance_name(instance)


@dataclasses.dataclass
class DiskInfo:
    root: str | None = None
    kernel: str | None = None
    initrd: str | None = None
    config_drive: str | None = None


class LibvirtDriver(driver.ComputeDriver):
    capabilities = {
        "supports_reboot": True,
        "supports_console_output": True,
        "supports_file_injection": True,
        "supports_pause": True,
        "supports_suspend": True,
        "supports_snapshot": True,
        "supports_rescue": True,
        "supports_trigger_crash_dump": True,
        "supports_set_admin_password": True,
        "supports_migrate": True,
        "supports_serial_console": True,
        "has_boot_console": True,
    }

    def __init__(self, virtapi: Any) -> None:
        super().__init__(virtapi)
        self._hostname = CONF.host
        self._host = host.Host(CONF.libvirt.connection_uri, self._hostname)
        self.virt_type = self._resolve_virt_type()
        self._spawning: dict[str, threading.Event] = {}
        self._spawning_lock = threading.Lock()
        self._serial_ports = serial.SerialPorts()
        # Instances whose running live migration was asked to abort / was
        # forced to complete (by pausing the guest), from other threads.
        self._lm_aborted: set[str] = set()
        self._lm_forced: set[str] = set()

    @property
    def _cache(self) -> imagecache.ImageCache:
        # NOTE: stateless (its locks are lockutils'), so the options are read
        # at each use.
        return imagecache.ImageCache(CONF.libvirt.image_cache_path, CONF.image.api_url,
                                     CONF.image.download_timeout)

    @staticmethod
    def _resolve_virt_type() -> str:
        configured = CONF.libvirt.virt_type
        return host.probe_virt_type() if configured == "auto" else configured

    @property
    def hypervisor_description(self) -> str:
        """E.g. 'QEMU 7.2.22, qemu (TCG)': what runs the guests here."""
        version = self._host.version()
        return (f"QEMU {version // 1000000}.{version // 1000 % 1000}.{version % 1000}, "
                f"{host.describe_virt_type(self.virt_type)}")

    # -- host --------------------------------------------------------------

    def init_host(self, host_name: str) -> None:
        self._hostname = host_name
        self._host.hostname = host_name
        self._host.get_connection()
        for path in (CONF.libvirt.instances_path, CONF.libvirt.image_cache_path):
            filemodes.qemu_tree(path)
        LOG.info("libvirt driver on %s: %s at %s (virt_type %s configured)", host_name,
                 self.hypervisor_description, CONF.libvirt.connection_uri,
                 CONF.libvirt.virt_type)

    def cleanup_host(self, host_name: str) -> None:
        self._host.close()

    def get_available_nodes(self) -> list[str]:
        return [self._hostname]

    def get_available_resource(self, nodename: str) -> HostResources:
        usage = [u for u in (Guest(d).usage() for d in self._host.list_domains()) if u]
        fs = os.statvfs(CONF.libvirt.instances_path)
        total_gb = fs.f_frsize * fs.f_blocks // GiB
        free_gb = fs.f_frsize * fs.f_bavail // GiB
        return HostResources(
            hypervisor_hostname=nodename, hypervisor_type="QEMU",
            hypervisor_version=self._host.version(),
            vcpus=self._host.cpu_count(), memory_mb=self._host.memory_mb(), local_gb=total_gb,
            vcpus_used=sum(u[0] for u in usage), memory_mb_used=sum(u[1] for u in usage),
            local_gb_used=total_gb - free_gb, running_vms=sum(1 for u in usage if u[2]),
            hypervisor_description=self.hypervisor_description)

    # -- spawn -------------------------------------------------------------

    def spawn(self, context: RequestContext, instance: Instance, image_meta: dict[str, Any], network_info: list[Any],
              block_device_info: dict[str, Any] | None = None, *,
              injected_files: list[dict[str, str]] | None = None) -> None:
        started = time.monotonic()
        cancel = self._begin_spawn(instance)
        try:
            with contextlib.ExitStack() as undo:
                domain = self._host.lookup(instance.uuid)
                # NOTE: an evacuation's destination on the libvirtd of the
                # dead source (two compute services on one host) takes over
                # its guest; anything else of that uuid refuses.
                if domain is not None and not _evacuating(instance):
                    raise exception.InstanceSpawnError(
                        instance_uuid=instance.uuid,
                        reason="a domain with its uuid already exists")
                if domain is not None:
                    taken = self._take_over(instance, domain, stop_running=True)
                    undo.callback(self._give_back, instance, taken)
                undo.callback(self._cleanup_failed_spawn, instance, network_info)
                disk_info = self._create_image(context, instance, image_meta, cancel,
                                               block_device_info)
                disk_info.config_drive = self._create_config_drive(
                    instance, network_info, injected_files or [], cancel)
                xml = self.to_xml(context, instance, image_meta, disk_info, network_info,
                                  block_device_info)
                self._create_domain_and_network(context, instance, xml, network_info, cancel)
                undo.pop_all()
        finally:
            with self._spawning_lock:
                self._spawning.pop(instance.uuid, None)
        LOG.info("Instance %s spawned as %s in %.2fs (%s)", instance.uuid,
                 instance_name(instance), time.monotonic() - started,
                 host.describe_virt_type(self.virt_type))

    def _begin_spawn(self, instance: Instance) -> threading.Event:
        with self._spawning_lock:
            if instance.uuid in self._spawning:
                raise exception.InstanceSpawnError(instance_uuid=instance.uuid,
                                                   reason="it is already being spawned")
            cancel = self._spawning[instance.uuid] = threading.Event()
        return cancel

    def _checker(self, instance: Instance, cancel: threading.Event) -> Any:
        def check() -> None:
            if cancel.is_set():
                raise exception.InstanceSpawnError(
                    instance_uuid=instance.uuid,
                    reason="the instance was destroyed while it was spawning")
        return check

    @contextlib.contextmanager
    def _step(self, instance: Instance, cancel: threading.Event) -> Iterator[None]:
        """One step of spawn, ordered against destroy."""
        with _instance_lock(instance.uuid):
            self._checker(instance, cancel)()
            yield

    def _cleanup_failed_spawn(self, instance: Instance, network_info: list[Any] | None = None) -> None:
        LOG.info("Spawn of %s failed; removing its domain, port filters and files",
                 instance.uuid)
        try:
            with _instance_lock(instance.uuid):
                if not self._destroy_guest(instance.uuid):
                    self._unplug_vifs(instance, network_info)
                self._remove_files(instance.uuid)
        except Exception:
            LOG.exception("Could not clean up after the failed spawn of %s", instance.uuid)

    def _create_image(self, context: RequestContext, instance: Instance, image_meta: dict[str, Any],
                      cancel: threading.Event,
                      block_device_info: dict[str, Any] | None = None) -> DiskInfo:
        root_volume, _others = libvirt_volume.volume_disks(block_device_info)
        inst_dir = self._instance_dir(instance.uuid)
        if root_volume is not None:
            # NOTE: boot from volume: no image, no local root disk; the
            # volume is the guest's vda and the BIOS boots it.
            with self._step(instance, cancel):
                shutil.rmtree(inst_dir, ignore_errors=True)
                filemodes.qemu_dir(inst_dir)
            return DiskInfo()
        with driver.step("image_check") as step:
            meta = self._cache.get_meta(context, image_meta.get("id") or instance.image_ref)
            imagebackend.check_declared_size(meta["id"], meta.get("disk_format"),
                                             meta.get("size"), instance.flavor.root_gb)
            step.details = (f"image {meta['id']}: {meta.get('disk_format')}, "
                            f"{meta.get('size')} bytes")
        with self._step(instance, cancel):
            # NOTE: no domain exists (spawn checked) and no spawn is in
            # flight, so a directory here is a leftover of a crashed build.
            shutil.rmtree(inst_dir, ignore_errors=True)
            filemodes.qemu_dir(inst_dir)
        info = DiskInfo()
        if meta.get("kernel_id"):
            info.kernel = self._fetch_boot_file(context, instance, meta["kernel_id"], "kernel",
                                                cancel)
            if meta.get("ramdisk_id"):
                info.initrd = self._fetch_boot_file(context, instance, meta["ramdisk_id"],
                                                    "ramdisk", cancel)
        info.root = self._create_root_disk(context, instance, meta, inst_dir, cancel,
                                           boots_kernel=info.kernel is not None)
        return info

    def _fetch_boot_file(self, context: RequestContext, instance: Instance, image_id: str, name: str,
                         cancel: threading.Event) -> str:
        """A copy of the kernel or ramdisk image in the instance directory
        (libvirt relabels it for QEMU; the cached file stays untouched)."""
        cached = self._cache.fetch(context, self._cache.get_meta(context, image_id),
                                   self._checker(instance, cancel))
        dest = os.path.join(self._instance_dir(instance.uuid), name)
        with self._step(instance, cancel):
            shutil.copyfile(cached, dest)
            filemodes.make_private(dest)
        return dest

    def _create_root_disk(self, context: RequestContext, instance: Instance, meta: dict[str, Any], inst_dir: str,
                          cancel: threading.Event, boots_kernel: bool) -> str | None:
        root_gb = instance.flavor.root_gb
        disk = os.path.join(inst_dir, "disk")
        if boots_kernel and (meta.get("size") or 0) < MIN_ROOT_IMAGE_BYTES:
            if not root_gb:
                return None
            with self._step(instance, cancel):
                imagebackend.create_blank(disk, root_gb)
            return disk
        with driver.step("image_fetch") as step:
            fmt = imagebackend.qemu_format(meta["id"], meta.get("disk_format"))
            cached = os.path.exists(self._cache.path_of(meta["id"]))
            began = time.monotonic()
            base = self._cache.fetch(context, meta, self._checker(instance, cancel))
            step.details = (f"{os.path.getsize(base)} bytes, "
                            f"{'found in the cache' if cached else 'downloaded'} in "
                            f"{time.monotonic() - began:.2f} s")
            imagebackend.inspect(meta["id"], base, meta.get("disk_format"), root_gb)
        with driver.step("disk_create") as step, self._step(instance, cancel):
            imagebackend.create_overlay(base, fmt, disk, root_gb)
            step.details = f"{fmt} overlay, {root_gb} GiB"
        return disk

    def _create_config_drive(self, instance: Instance, network_info: list[Any],
                             injected_files: list[dict[str, str]],
                             cancel: threading.Event) -> str | None:
        if not configdrive.required(instance):
            return None
        path = os.path.join(self._instance_dir(instance.uuid), configdrive.FILE_NAME)
        with driver.step("config_drive") as step, self._step(instance, cancel):
            made = configdrive.make_drive(path, instance, network_info or [], injected_files)
            step.details = f"{len(injected_files)} personality file(s)"
            return made

    def to_xml(self, context: RequestContext, instance: Instance, image_meta: dict[str, Any], disk_info: DiskInfo,
               network_info: list[Any], block_device_info: dict[str, Any] | None = None) -> str:
        xml = self.get_guest_config(instance, image_meta, disk_info, network_info,
                                    block_device_info).to_xml()
        LOG.debug("Domain XML of %s:\n%s", instance.uuid, xml)
        return xml

    def get_guest_config(self, instance: Instance, image_meta: dict[str, Any], disk_info: DiskInfo,
                         network_info: list[Any],
                         block_device_info: dict[str, Any] | None = None
                         ) -> config.LibvirtConfigGuest:
        flavor = instance.flavor
        inst_dir = self._instance_dir(instance.uuid)
        guest = config.LibvirtConfigGuest(
            virt_type=self.virt_type, name=instance_name(instance), uuid=instance.uuid,
            memory_mib=flavor.memory_mb, vcpus=flavor.vcpus,
            metadata=self._guest_metadata(instance, image_meta),
            tb_cache_mib=CONF.libvirt.tb_cache_mb, kernel=disk_info.kernel,
            initrd=disk_info.initrd)
        if disk_info.kernel:
            guest.cmdline = f"console=ttyS0 novalite.hostname={guest_hostname(instance)}"
        root_volume, volumes = libvirt_volume.volume_disks(block_device_info)
        if root_volume is not None:
            guest.devices.append(self._volume_config(root_volume, "/dev/vda"))
        elif disk_info.root:
            guest.devices.append(config.LibvirtConfigGuestDisk(
                disk_info.root, cache=CONF.libvirt.disk_cachemode))
        guest.devices.extend(self._volume_config(bdm) for bdm in volumes)
        if disk_info.config_drive:
            guest.devices.append(config.config_drive_disk(disk_info.config_drive))
        guest.devices.extend(vif.get_config(v) for v in network_info or [])
        guest.devices.append(self._serial_config(os.path.join(inst_dir, CONSOLE_LOG)))
        guest.devices.append(config.LibvirtConfigGuestChannel())
        return guest

    @staticmethod
    def _volume_config(bdm: dict[str, Any],
                       mountpoint: str | None = None) -> config.LibvirtConfigGuestDisk:
        return libvirt_volume.disk_config(
            bdm.get("connection_info") or {}, mountpoint or str(bdm.get("mount_device") or ""),
            disk_bus=bdm.get("disk_bus"), device_type=bdm.get("device_type"),
            cache=CONF.libvirt.disk_cachemode)

    def _serial_config(self, log_path: str) -> config.LibvirtConfigGuestSerial:
        if not CONF.libvirt.serial_console:
            return config.LibvirtConfigGuestSerial(log_path)
        host_addr = CONF.libvirt.serial_listen
        port = self._serial_ports.acquire(self._host.get_connection(), host_addr,
                                          CONF.libvirt.serial_port_range)
        return config.LibvirtConfigGuestSerial(log_path, tcp_host=host_addr, tcp_port=port)

    @staticmethod
    def _guest_metadata(instance: Instance, image_meta: dict[str, Any]) -> config.LibvirtConfigGuestMetadata:
        created = instance.created_at if instance.obj_attr_is_set("created_at") else None
        return config.LibvirtConfigGuestMetadata(
            display_name=instance.display_name or "", hostname=instance.hostname or "",
            flavor_name=instance.flavor.name, project_id=instance.project_id or "",
            user_id=instance.user_id or "",
            image_id=image_meta.get("id") or instance.image_ref or "",
            created=(created or timeutils.utcnow()).isoformat(),
            instances_path=deployment_path())

    def _create_domain_and_network(self, context: RequestContext, instance: Instance, xml: str,
                                   network_info: list[Any], cancel: threading.Event) -> None:
        for v in network_info or []:
            vif.plug(v)
        with self._step(instance, cancel):
            guest = self._define_and_launch(instance, xml)
        state = guest.get_power_state()
        if state != power_state.RUNNING:
            raise exception.InstanceSpawnError(
                instance_uuid=instance.uuid,
                reason=f"its domain is {power_state.STATE_MAP.get(state)} after start")

    def _define_and_launch(self, instance: Instance, xml: str) -> Guest:
        """Define and start the domain. libvirt's nwfilter driver can fail
        to apply a guest's ebtables rules when several guests start at once
        ("Failed to apply firewall rules ... RULE_DELETE failed": a race
        between its concurrent ebtables calls); such a start is tried again,
        up to three times, before the spawn fails."""
        attempts = 3
        for attempt in range(1, attempts + 1):
            try:
                with driver.step("domain_define"):
                    guest = Guest(self._host.get_connection().defineXML(xml))
                with driver.step("domain_start") as step:
                    guest.launch()
                    if attempt > 1:
                        step.details = f"started at attempt {attempt}"
                return guest
            except libvirt.libvirtError as e:
                message = e.get_error_message() or str(e)
                if "Failed to apply firewall rules" in message and attempt < attempts:
                    LOG.warning("Starting %s: libvirt could not apply its firewall rules "
                                "(attempt %d of %d), trying again: %s", instance.uuid,
                                attempt, attempts, message)
                    time.sleep(0.5 * attempt)
                    continue
                raise exception.InstanceSpawnError(
                    instance_uuid=instance.uuid,
                    reason=f"libvirt could not start it: {message}") from e
        raise AssertionError("unreachable")

    # -- destroy -----------------------------------------------------------

    def destroy(self, context: RequestContext, instance: Instance, network_info: list[Any] | None = None,
                block_device_info: dict[str, Any] | None = None) -> None:
        with self._spawning_lock:
            cancel = self._spawning.get(instance.uuid)
        if cancel is not None:
            cancel.set()
        with _instance_lock(instance.uuid):
            # NOTE: another compute's guest of this instance on this libvirtd
            # (it moved there) stays, and so do the taps it uses.
            if not self._destroy_guest(instance.uuid):
                self._unplug_vifs(instance, network_info)
            self._remove_files(instance.uuid)

    @staticmethod
    def _plug_vifs(network_info: list[dict[str, Any]] | None) -> None:
        """Plug again before a (re)start, as Nova's hard reboot: after the
        host rebooted neither the bridge nor the port's host-protection rule
        exists. Idempotent."""
        for v in network_info or []:
            vif.plug(v)

    @staticmethod
    def _unplug_vifs(instance: Instance, network_info: list[Any] | None) -> None:
        """libvirt removed the taps with the domain; one that outlived it
        (a crash between the two) goes now. The bridge stays."""
        for v in network_info or []:
            vif.unplug(v)

    def _destroy_guest(self, uuid: str) -> bool:
        """Power off and undefine the domain of ``uuid`` when it is this
        compute's; True when the domain there is another compute's (on a
        libvirtd both use), which is left as it is."""
        domain = self._host.lookup(uuid)
        if domain is None:
            return False
        guest = Guest(domain)
        if _owner(guest) is not None:
            LOG.info("Leaving domain %s of instance %s: it belongs to the compute service of "
                     "instances path %s", guest.name, uuid, _owner(guest))
            return True
        guest.poweroff()
        guest.delete_configuration()
        LOG.info("Domain %s of instance %s destroyed and undefined", guest.name, uuid)
        return False

    def _take_over(self, instance: Instance, domain: libvirt.virDomain,
                   stop_running: bool = False) -> str:
        """Another compute service's guest of ``instance`` on this libvirtd,
        made room for (powered off when ``stop_running``, else it must be
        off; then undefined): this compute defines its own in its place.
        Returns its inactive definition (for ``_give_back``). Refuses a
        domain of this compute's own, or a running one."""
        guest = Guest(domain)
        owner = _owner(guest)
        if owner is None:
            raise driver.MigrationError(reason=(
                f"instance {instance.uuid} already has a guest on host {self._hostname}"))
        if guest.is_active():
            if not stop_running:
                raise driver.MigrationError(reason=(
                    f"instance {instance.uuid} has a running guest of the compute service of "
                    f"instances path {owner} on this hypervisor"))
            LOG.warning("Powering off domain %s of instance %s of the compute service of "
                        "instances path %s: the instance is evacuated here from its host, "
                        "which is down", guest.name, instance.uuid, owner)
            guest.poweroff()
        original = guest.xml_desc(inactive=True)
        guest.delete_configuration()
        LOG.info("Domain %s of instance %s of the compute service of instances path %s "
                 "taken over", guest.name, instance.uuid, owner)
        return original

    def _give_back(self, instance: Instance, original: str) -> None:
        """Undo of ``_take_over`` (after this compute's domain is gone): the
        other compute's definition again, shut off."""
        if self._host.lookup(instance.uuid) is not None:
            return
        try:
            self._host.get_connection().defineXML(original)
        except libvirt.libvirtError:
            LOG.exception("Could not define the domain of %s taken over again", instance.uuid)

    def _remove_files(self, uuid: str) -> None:
        inst_dir = self._instance_dir(uuid)
        # NOTE: also what a resize kept aside (destroy removes everything).
        for path in (inst_dir, inst_dir + RESIZE_SUFFIX):
            if not os.path.exists(path):
                continue
            try:
                shutil.rmtree(path)
            except OSError as e:
                raise exception.NovaliteException(
                    f"could not remove the files of instance {uuid}: {e.strerror}") from e

    @staticmethod
    def _instance_dir(uuid: str) -> str:
        return os.path.join(CONF.libvirt.instances_path, uuid)

    # -- power -------------------------------------------------------------

    def _guest(self, instance: Instance) -> Guest:
        domain = self._host.lookup(instance.uuid)
        if domain is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return Guest(domain)

    def power_off(self, instance: Instance, timeout: int = 0) -> None:
        guest = self._guest(instance)
        if not guest.is_active():
            return
        if timeout > 0:
            guest.shutdown()
            if guest.wait_for_shutoff(timeout, retry=guest.shutdown):
                LOG.info("Instance %s shut down cleanly", instance.uuid)
                return
            LOG.info("Instance %s did not shut down within %ss; powering it off",
                     instance.uuid, timeout)
        guest.poweroff()

    def power_on(self, context: RequestContext, instance: Instance, *,
                 network_info: list[dict[str, Any]] | None = None,
                 block_device_info: dict[str, Any] | None = None) -> None:
        guest = self._guest(instance)
        if not guest.is_active():
            self._plug_vifs(network_info)
            self._sync_volumes(guest, instance, block_device_info)
            guest.launch()

    def reboot(self, context: RequestContext, instance: Instance, reboot_type: str, *,
               network_info: list[dict[str, Any]] | None = None,
               block_device_info: dict[str, Any] | None = None) -> None:
        guest = self._guest(instance)
        if reboot_type == "SOFT" and guest.is_active():
            guest.shutdown()
            if guest.wait_for_shutoff(CONF.libvirt.shutdown_timeout, retry=guest.shutdown):
                guest.launch()
                LOG.info("Instance %s soft-rebooted", instance.uuid)
                return
            LOG.info("Instance %s did not shut down within %ss; rebooting it hard",
                     instance.uuid, CONF.libvirt.shutdown_timeout)
        if os.path.exists(os.path.join(self._instance_dir(instance.uuid), UNRESCUE_XML)):
            # NOTE: as Nova's: a hard reboot of a rescued guest boots it from
            # its own disk (its definition from before the rescue).
            guest.poweroff()
            self.unrescue(context, instance, network_info=network_info)
            return
        guest.poweroff()
        self._plug_vifs(network_info)
        self._sync_volumes(guest, instance, block_device_info)
        # NOTE: a boot afresh, also of a suspended guest (its managed save
        # dropped), as Nova's hard reboot.
        guest.domain.createWithFlags(libvirt.VIR_DOMAIN_START_FORCE_BOOT)

    def _invalid(self, instance: Instance, action: str, state: int) -> exception.InstanceInvalidState:
        return exception.InstanceInvalidState(
            action=action, instance_uuid=instance.uuid, attr="power_state",
            state=power_state.STATE_MAP.get(state, str(state)))

    def pause(self, instance: Instance) -> None:
        with _instance_lock(instance.uuid):
            guest = self._guest(instance)
            state = guest.get_power_state()
            if state == power_state.PAUSED:
                return
            if state != power_state.RUNNING:
                raise self._invalid(instance, "pause", state)
            guest.pause()
        LOG.info("Instance %s paused", instance.uuid)

    def unpause(self, instance: Instance) -> None:
        with _instance_lock(instance.uuid):
            guest = self._guest(instance)
            state = guest.get_power_state()
            if state == power_state.RUNNING:
                return
            if state != power_state.PAUSED:
                raise self._invalid(instance, "unpause", state)
            guest.resume()
        LOG.info("Instance %s unpaused", instance.uuid)

    def suspend(self, context: RequestContext, instance: Instance) -> None:
        with _instance_lock(instance.uuid):
            guest = self._guest(instance)
            state = guest.get_power_state()
            if state == power_state.SUSPENDED:
                return
            if state not in (power_state.RUNNING, power_state.PAUSED):
                raise self._invalid(instance, "suspend", state)
            started = time.monotonic()
            guest.save_memory_state()
        LOG.info("Instance %s suspended (managed save) in %.2fs", instance.uuid,
                 time.monotonic() - started)

    def resume(self, context: RequestContext, instance: Instance,
               network_info: list[dict[str, Any]] | None = None,
               block_device_info: dict[str, Any] | None = None) -> None:
        with _instance_lock(instance.uuid):
            guest = self._guest(instance)
            state = guest.get_power_state()
            if state == power_state.RUNNING:
                return
            if state != power_state.SUSPENDED:
                raise self._invalid(instance, "resume", state)
            self._plug_vifs(network_info)
            guest.launch()
        LOG.info("Instance %s resumed from its managed save", instance.uuid)

    # -- volumes -----------------------------------------------------------
    # NOTE: see virt/libvirt/volume.py. A volume attached to a guest is in
    # its persistent definition too, so stop/start, hard reboot and resume
    # (a managed save holds its disks) keep it; power_on and hard reboot
    # also bring the definition in line with block_device_info (a
    # connection that changed, a volume the definition lacks).

    def get_volume_connector(self, instance: Instance) -> dict[str, Any]:
        return libvirt_volume.connector(CONF.my_ip, self._hostname)

    def attach_volume(self, context: RequestContext, connection_info: dict[str, Any],
                      instance: Instance, mountpoint: str, disk_bus: str | None = None,
                      device_type: str | None = None,
                      encryption: dict[str, Any] | None = None) -> None:
        volume = libvirt_volume.volume_id(connection_info)
        if encryption:
            raise libvirt_volume.VolumeDriverError(
                volume_id=volume, reason="encrypted volumes are not supported")
        disk = libvirt_volume.disk_config(connection_info, mountpoint, disk_bus, device_type,
                                          cache=CONF.libvirt.disk_cachemode)
        with _instance_lock(instance.uuid):
            guest = self._guest(instance)
            libvirt_volume.attach(guest, disk, volume)
        LOG.info("Volume %s attached to %s as %s (%s)", volume, instance.uuid,
                 disk.target_dev, connection_info.get("driver_volume_type"))

    def detach_volume(self, context: RequestContext, connection_info: dict[str, Any],
                      instance: Instance, mountpoint: str,
                      encryption: dict[str, Any] | None = None) -> None:
        volume = libvirt_volume.volume_id(connection_info)
        target = libvirt_volume.target_dev(mountpoint, volume)
        with _instance_lock(instance.uuid):
            guest = self._guest(instance)
            libvirt_volume.detach(guest, target, volume)
        LOG.info("Volume %s detached from %s (%s)", volume, instance.uuid, target)

    def extend_volume(self, context: RequestContext, connection_info: dict[str, Any],
                      instance: Instance, requested_size: int) -> int:
        volume = libvirt_volume.volume_id(connection_info)
        with _instance_lock(instance.uuid):
            guest = self._guest(instance)
            disk = libvirt_volume.find_disk(guest.xml_desc(inactive=not guest.is_active()),
                                            serial=volume)
            target = disk.find("target") if disk is not None else None
            if target is None or not target.get("dev"):
                raise libvirt_volume.VolumeDriverError(
                    volume_id=volume, reason=f"instance {instance.uuid} has no disk of it")
            if not guest.is_active():
                # NOTE: QEMU reads the size when the guest starts.
                return requested_size
            seen = libvirt_volume.extend(guest, str(target.get("dev")), requested_size, volume)
        LOG.info("Volume %s of %s extended to %d bytes", volume, instance.uuid, seen)
        return seen

    def _sync_volumes(self, guest: Guest, instance: Instance,
                      block_device_info: dict[str, Any] | None) -> None:
        """The stopped guest's definition with the disks block_device_info
        names, at their connections."""
        if not block_device_info:
            return
        root, others = libvirt_volume.volume_disks(block_device_info)
        wanted = ([self._volume_config(root, "/dev/vda")] if root is not None else []) + [
            self._volume_config(bdm) for bdm in others]
        for disk in wanted:
            present = libvirt_volume.find_disk(guest.xml_desc(inactive=True),
                                               target=disk.target_dev)
            if present is not None and libvirt_volume.same_source(present, disk):
                continue
            if present is not None:
                guest.domain.detachDeviceFlags(ET.tostring(present, encoding="unicode"),
                                               libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            guest.domain.attachDeviceFlags(disk.to_xml(), libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            LOG.info("Instance %s: %s of its definition set to volume %s", instance.uuid,
                     disk.target_dev, disk.serial)

    # -- snapshot ----------------------------------------------------------

    def snapshot(self, context: RequestContext, instance: Instance,
                 image_meta: dict[str, Any] | None = None) -> str:
        started = time.monotonic()
        with _instance_lock(instance.uuid):
            guest = self._guest(instance)
            # NOTE: as Nova's: a suspended (managed-saved) guest is not
            # running, its disk is consistent with the saved memory: a cold
            # snapshot, not resumed, so it stays suspended.
            state = guest.get_power_state()
            disk = os.path.join(self._instance_dir(instance.uuid), "disk")
            if not os.path.exists(disk):
                raise exception.NovaliteException(
                    f"instance {instance.uuid} has no root disk to snapshot")
            out_dir = filemodes.qemu_dir(CONF.libvirt.snapshots_directory)
            fd, out = tempfile.mkstemp(dir=out_dir, prefix=f"{instance.uuid}-", suffix=".qcow2")
            os.close(fd)
            try:
                with self._consistent(guest, instance, state, image_meta) as how:
                    imagebackend.convert_to_qcow2(disk, "qcow2", out,
                                                  force_share=guest.is_active())
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(out)
                raise
        LOG.info("Snapshot of %s (%s) written in %.2fs", instance.uuid, how,
                 time.monotonic() - started)
        return out

    @contextlib.contextmanager
    def _consistent(self, guest: Guest, instance: Instance, state: int,
                    image_meta: dict[str, Any] | None) -> Iterator[str]:
        """The disk does not change while the body runs: file systems
        frozen through the agent when the image declares one, else the guest
        paused (QEMU flushes its disks when it stops the vCPUs); back as it
        was afterwards, also on failure."""
        if state != power_state.RUNNING:
            yield "guest not running"
            return
        declared = (_declares_agent(image_meta) if image_meta is not None
                    else _agent_connected(guest))
        if declared:
            try:
                agent.command(guest.domain, "guest-fsfreeze-freeze",
                              timeout=CONF.libvirt.agent_timeout)
            except agent.AgentError as e:
                LOG.warning("Could not freeze the file systems of %s (%s); pausing it for "
                            "the snapshot instead", instance.uuid, e)
            else:
                try:
                    yield "file systems frozen by the guest agent"
                finally:
                    _thaw(guest, instance)
                return
        guest.pause()
        try:
            yield "guest paused"
        finally:
            guest.resume()

    # -- rescue ------------------------------------------------------------

    def rescue(self, context: RequestContext, instance: Instance,
               rescue_image_meta: dict[str, Any], network_info: list[dict[str, Any]] | None = None,
               rescue_password: str | None = None,
               block_device_info: dict[str, Any] | None = None) -> None:
        inst_dir = self._instance_dir(instance.uuid)
        unrescue_xml = os.path.join(inst_dir, UNRESCUE_XML)
        rescue_disk = os.path.join(inst_dir, RESCUE_DISK)
        with _instance_lock(instance.uuid):
            guest = self._guest(instance)
            state = guest.get_power_state()
            if os.path.exists(unrescue_xml):
                raise exception.InstanceInvalidState(
                    action="rescue", instance_uuid=instance.uuid, attr="state", state="rescued")
            if state == power_state.SUSPENDED:
                raise self._invalid(instance, "rescue", state)
            if not os.path.exists(os.path.join(inst_dir, "disk")):
                # NOTE: as Nova before stable device rescue: a guest whose
                # root is a volume has no local disk to give the rescue image.
                raise exception.InstanceInvalidState(
                    f"Cannot 'rescue' instance {instance.uuid}: its root disk is a volume")
            original = guest.xml_desc(inactive=True)
            meta = self._cache.get_meta(context, rescue_image_meta.get("id") or "")
            fmt = imagebackend.qemu_format(meta["id"], meta.get("disk_format"))
            base = self._cache.fetch(context, meta, lambda: None)
            imagebackend.inspect(meta["id"], base, meta.get("disk_format"), 0)
            with contextlib.ExitStack() as undo:
                imagebackend.create_overlay(base, fmt, rescue_disk, 0)
                undo.callback(_unlink, rescue_disk)
                with open(unrescue_xml, "w") as f:
                    f.write(original)
                filemodes.make_private(unrescue_xml)
                undo.callback(_unlink, unrescue_xml)
                config_drive = os.path.join(inst_dir, configdrive.FILE_NAME)
                disk_info = DiskInfo(root=rescue_disk, config_drive=(
                    config_drive if os.path.exists(config_drive) else None))
                cfg = self.get_guest_config(instance, {"id": meta["id"]}, disk_info,
                                            network_info or [])
                # NOTE: as Nova: the rescue image is the first disk, the
                # instance's own root disk the second, as it was.
                cfg.devices.insert(1, config.LibvirtConfigGuestDisk(
                    os.path.join(inst_dir, "disk"), target_dev="vdb",
                    cache=CONF.libvirt.disk_cachemode))
                guest.poweroff()
                undo.callback(self._redefine, instance, original, state)
                self._plug_vifs(network_info)
                rescued = Guest(self._host.get_connection().defineXML(cfg.to_xml()))
                rescued.launch()
                undo.pop_all()
        LOG.info("Instance %s rescued with image %s", instance.uuid, meta["id"])

    def _redefine(self, instance: Instance, xml: str, state: int) -> None:
        """The guest defined by ``xml`` again, started when ``state`` was
        running or paused (a failed rescue's undo, unrescue)."""
        domain = self._host.lookup(instance.uuid)
        if domain is not None:
            Guest(domain).poweroff()
        guest = Guest(self._host.get_connection().defineXML(xml))
        if state in (power_state.RUNNING, power_state.PAUSED):
            guest.launch()

    def unrescue(self, context: RequestContext, instance: Instance,
                 network_info: list[dict[str, Any]] | None = None) -> None:
        inst_dir = self._instance_dir(instance.uuid)
        unrescue_xml = os.path.join(inst_dir, UNRESCUE_XML)
        with _instance_lock(instance.uuid):
            self._guest(instance)
            if not os.path.exists(unrescue_xml):
                raise exception.InstanceInvalidState(
                    action="unrescue", instance_uuid=instance.uuid, attr="state",
                    state="not rescued")
            with open(unrescue_xml) as f:
                original = f.read()
            self._plug_vifs(network_info)
            self._redefine(instance, original, power_state.RUNNING)
            _unlink(os.path.join(inst_dir, RESCUE_DISK))
            _unlink(unrescue_xml)
        LOG.info("Instance %s unrescued", instance.uuid)

    # -- resize and cold migration ------------------------------------------

    def migrate_disk_and_power_off(self, context: RequestContext, instance: Instance, dest: str,
                                   flavor: Any, network_info: list[dict[str, Any]] | None = None,
                                   block_device_info: dict[str, Any] | None = None,
                                   timeout: int = 0, retry_interval: int = 0, *,
                                   disk_transfer: driver.DiskTransfer | None = None
                                   ) -> list[dict[str, Any]]:
        inst_dir = self._instance_dir(instance.uuid)
        resize_dir = inst_dir + RESIZE_SUFFIX
        transfer = disk_transfer or (driver.LocalDiskTransfer() if dest == self._hostname
                                     else driver.RemoteDiskTransferMissing(dest))
        with _instance_lock(instance.uuid):
            guest = self._guest(instance)
            state = guest.get_power_state()
            self._check_migratable(instance, state, flavor, inst_dir, resize_dir)
            original = guest.xml_desc(inactive=True)
            was_running = state in (power_state.RUNNING, power_state.PAUSED)
            self._power_off_guest(instance, guest, timeout)
            with contextlib.ExitStack() as undo:
                os.rename(inst_dir, resize_dir)
                undo.callback(self._undo_move_aside, instance, inst_dir, resize_dir, original,
                              was_running)
                with open(os.path.join(resize_dir, DOMAIN_XML), "w") as f:
                    f.write(original)
                filemodes.make_private(os.path.join(resize_dir, DOMAIN_XML))
                disk_info = self._offer_files(instance, resize_dir, transfer)
                undo.pop_all()
        LOG.info("Instance %s powered off, its files kept aside for a move to %s",
                 instance.uuid, dest)
        return disk_info

    def _check_migratable(self, instance: Instance, state: int, flavor: Any, inst_dir: str,
                          resize_dir: str) -> None:
        """Validation only: nothing changes."""
        if state == power_state.SUSPENDED:
            raise self._invalid(instance, "migrate_disk_and_power_off", state)
        if os.path.exists(os.path.join(inst_dir, UNRESCUE_XML)):
            raise exception.InstanceInvalidState(
                action="migrate_disk_and_power_off", instance_uuid=instance.uuid,
                attr="state", state="rescued")
        if os.path.exists(resize_dir):
            raise driver.MigrationError(reason=(
                f"instance {instance.uuid} has files kept aside by an earlier move that "
                "was neither confirmed nor reverted"))
        disk = os.path.join(inst_dir, "disk")
        current = imagebackend.virtual_size(disk, "qcow2") if os.path.exists(disk) else 0
        if flavor.root_gb and flavor.root_gb * GiB < current:
            raise driver.ResizeError(reason=(
                f"unable to resize the root disk of instance {instance.uuid} down: flavor "
                f"{flavor.name} has {flavor.root_gb} GiB, the disk is "
                f"{current / GiB:.2f} GiB"))

    def _power_off_guest(self, instance: Instance, guest: Guest, timeout: int) -> None:
        if not guest.is_active():
            return
        if timeout > 0:
            guest.shutdown()
            if guest.wait_for_shutoff(timeout, retry=guest.shutdown):
                return
            LOG.info("Instance %s did not shut down within %ss; powering it off",
                     instance.uuid, timeout)
        guest.poweroff()

    @staticmethod
    def _offer_files(instance: Instance, resize_dir: str,
                     transfer: driver.DiskTransfer) -> list[dict[str, Any]]:
        disk_info = []
        for name in sorted(os.listdir(resize_dir)):
            path = os.path.join(resize_dir, name)
            if name in (CONSOLE_LOG, DOMAIN_XML) or not os.path.isfile(path):
                continue
            fmt = "qcow2" if name == "disk" else "raw"
            entry: dict[str, Any] = {"name": name, "path": path, "type": fmt,
                                     "disk_size": os.path.getsize(path)}
            if fmt == "qcow2":
                entry["virt_disk_size"] = imagebackend.virtual_size(path, fmt)
                entry["backing_file"] = imagebackend.backing_file(path, fmt)
            transfer.send(instance.uuid, name, path)
            disk_info.append(entry)
        return disk_info

    def _undo_move_aside(self, instance: Instance, inst_dir: str, resize_dir: str,
                         original: str, was_running: bool) -> None:
        LOG.info("Moving %s failed; putting its files back", instance.uuid)
        shutil.rmtree(inst_dir, ignore_errors=True)
        os.rename(resize_dir, inst_dir)
        _unlink(os.path.join(inst_dir, DOMAIN_XML))
        self._redefine(instance, original,
                       power_state.RUNNING if was_running else power_state.SHUTDOWN)

    def finish_migration(self, context: RequestContext, migration: Any, instance: Instance,
                         disk_info: list[dict[str, Any]], network_info: list[dict[str, Any]] | None,
                         image_meta: dict[str, Any], resize_instance: bool,
                         block_device_info: dict[str, Any] | None = None,
                         power_on: bool = True, *,
                         disk_transfer: driver.DiskTransfer | None = None) -> None:
        inst_dir = self._instance_dir(instance.uuid)
        same_host = os.path.isdir(inst_dir + RESIZE_SUFFIX)
        transfer = disk_transfer or driver.LocalDiskTransfer()
        with _instance_lock(instance.uuid), contextlib.ExitStack() as undo:
            domain = None if same_host else self._host.lookup(instance.uuid)
            if domain is not None:
                # NOTE: the source's guest kept for a revert, when both
                # compute services use this libvirtd: its definition is
                # replaced (same name and UUID), the source keeps its XML.
                undo.callback(self._give_back, instance, self._take_over(instance, domain))
            filemodes.qemu_dir(inst_dir)
            undo.callback(shutil.rmtree, inst_dir, True)
            files = self._receive_files(instance, inst_dir, disk_info, transfer)
            root = files.get("disk")
            if root is not None:
                self._ensure_backing_file(context, instance, image_meta, root)
                if resize_instance and instance.flavor.root_gb:
                    imagebackend.grow(root, "qcow2", instance.flavor.root_gb)
            info = DiskInfo(root=root, kernel=files.get("kernel"), initrd=files.get("ramdisk"),
                            config_drive=files.get(configdrive.FILE_NAME))
            # NOTE: the volumes at the connections made for this host.
            xml = self.to_xml(context, instance, image_meta, info, network_info or [],
                              block_device_info)
            self._plug_vifs(network_info)
            guest = Guest(self._host.get_connection().defineXML(xml))
            if not same_host:
                undo.callback(self._destroy_guest, instance.uuid)
            if power_on:
                guest.launch()
            undo.pop_all()
        LOG.info("Instance %s finished its move here (%d vCPU, %d MiB, %d GiB)", instance.uuid,
                 instance.flavor.vcpus, instance.flavor.memory_mb, instance.flavor.root_gb)

    @staticmethod
    def _receive_files(instance: Instance, inst_dir: str, disk_info: list[dict[str, Any]],
                       transfer: driver.DiskTransfer) -> dict[str, str]:
        files = {}
        for entry in disk_info:
            name = str(entry["name"])
            if os.path.basename(name) != name or name in ("", ".", ".."):
                raise driver.MigrationError(reason=f"disk info names an invalid file {name!r}")
            dest = os.path.join(inst_dir, name)
            transfer.receive(instance.uuid, name, str(entry["path"]), dest)
            filemodes.make_private(dest)
            files[name] = dest
        return files

    def _ensure_backing_file(self, context: RequestContext, instance: Instance,
                             image_meta: dict[str, Any], disk: str) -> None:
        """Another host's overlay needs its base image in this host's cache."""
        backing = imagebackend.backing_file(disk, "qcow2")
        if backing is None or os.path.exists(backing):
            return
        meta = self._cache.get_meta(context, image_meta.get("id") or instance.image_ref or "")
        cached = self._cache.fetch(context, meta, lambda: None)
        if os.path.realpath(cached) != os.path.realpath(backing):
            raise driver.MigrationError(reason=(
                f"the disk of instance {instance.uuid} is backed by a file this host's image "
                f"cache does not have (image {meta['id']})"))

    def finish_revert_migration(self, context: RequestContext, instance: Instance,
                                network_info: list[dict[str, Any]] | None,
                                migration: Any = None,
                                block_device_info: dict[str, Any] | None = None,
                                power_on: bool = True) -> None:
        inst_dir = self._instance_dir(instance.uuid)
        resize_dir = inst_dir + RESIZE_SUFFIX
        with _instance_lock(instance.uuid):
            saved = os.path.join(resize_dir, DOMAIN_XML)
            if not os.path.exists(saved):
                raise driver.MigrationError(reason=(
                    f"instance {instance.uuid} has no files kept aside on host "
                    f"{self._hostname} to revert to"))
            with open(saved) as f:
                original = f.read()
            domain = self._host.lookup(instance.uuid)
            if domain is not None and _owner(Guest(domain)) is not None:
                # NOTE: the destination's guest, on this libvirtd too, when
                # it did not remove it: it must not be running.
                self._take_over(instance, domain)
            elif domain is not None:
                Guest(domain).poweroff()
            shutil.rmtree(inst_dir, ignore_errors=True)
            os.rename(resize_dir, inst_dir)
            _unlink(os.path.join(inst_dir, DOMAIN_XML))
            self._plug_vifs(network_info)
            self._redefine(instance, original, power_state.SHUTDOWN)
            # NOTE: the volumes at the connections made again for this host
            # (the move's hand-over removed the ones the definition names).
            guest = self._guest(instance)
            self._sync_volumes(guest, instance, block_device_info)
            if power_on:
                guest.launch()
        LOG.info("Instance %s reverted to its files and definition before the move",
                 instance.uuid)

    def confirm_migration(self, context: RequestContext, migration: Any, instance: Instance,
                          network_info: list[dict[str, Any]] | None = None) -> None:
        dest = _migration_field(migration, "dest_compute")
        resize_dir = self._instance_dir(instance.uuid) + RESIZE_SUFFIX
        with _instance_lock(instance.uuid):
            # NOTE: nothing kept aside: confirmed already, or reverted (then
            # the guest here is the instance, and stays).
            if not os.path.exists(resize_dir):
                return
            # NOTE: after a take-over by the destination on this libvirtd the
            # domain is the destination's: it stays, with its taps.
            if dest and dest != self._hostname and not self._destroy_guest(instance.uuid):
                self._unplug_vifs(instance, network_info)
            shutil.rmtree(resize_dir)
        LOG.info("Move of instance %s confirmed; the files kept aside are removed",
                 instance.uuid)

    # -- live migration ----------------------------------------------------
    #
    # As Nova's, disks not shared: the source's libvirtd connects to the
    # destination's (peer to peer) and QEMU streams the memory and the
    # blocks the guest wrote (NON_SHARED_INC: the destination's disk is an
    # empty overlay on its own copy of the image). The destination prepares
    # the instance directory first (``pre_live_migration``); the guest's
    # definition there names the destination's paths (DEST_XML).

    def live_migration_source_data(self, instance: Instance) -> dict[str, Any]:
        """On the source, before ``pre_live_migration`` on the destination:
        what the destination must recreate (the root disk's virtual size,
        the boot files, the config drive's bytes: a read-only disk QEMU does
        not copy)."""
        inst_dir = self._instance_dir(instance.uuid)
        disk = os.path.join(inst_dir, "disk")
        data: dict[str, Any] = {"instance_dir": inst_dir, "instances_path": deployment_path()}
        if os.path.exists(disk):
            data["disk_virtual_size"] = imagebackend.virtual_size(disk, "qcow2")
            data["disk_backed"] = imagebackend.backing_file(disk, "qcow2") is not None
        data["kernel"] = os.path.exists(os.path.join(inst_dir, "kernel"))
        data["serial_ports"] = len(serial.ports_of(self._guest(instance).xml_desc()))
        data["ramdisk"] = os.path.exists(os.path.join(inst_dir, "ramdisk"))
        drive = os.path.join(inst_dir, configdrive.FILE_NAME)
        if os.path.exists(drive):
            if os.path.getsize(drive) > MAX_CONFIG_DRIVE_BYTES:
                raise driver.MigrationError(reason=(
                    f"the config drive of instance {instance.uuid} is larger than "
                    f"{MAX_CONFIG_DRIVE_BYTES} bytes"))
            with open(drive, "rb") as f:
                data["config_drive"] = base64.b64encode(f.read()).decode()
        return data

    def pre_live_migration(self, context: RequestContext, instance: Instance,
                           image_meta: dict[str, Any],
                           network_info: list[dict[str, Any]] | None,
                           source_data: dict[str, Any]) -> dict[str, Any]:
        """On the destination: the instance directory with an empty root
        disk on this host's copy of the image (same virtual size as the
        source's), the kernel and ramdisk, the config drive's bytes, the
        VIFs plugged. Returns what the source needs (migrate_data)."""
        inst_dir = self._instance_dir(instance.uuid)
        with _instance_lock(instance.uuid), contextlib.ExitStack() as undo:
            if self._host.lookup(instance.uuid) is not None:
                raise driver.MigrationError(reason=(
                    f"instance {instance.uuid} already has a guest on host {self._hostname}"))
            if os.path.realpath(inst_dir) == os.path.realpath(
                    str(source_data.get("instance_dir") or "")):
                raise driver.MigrationError(reason=(
                    f"the instance directory of {instance.uuid} is shared with the source "
                    "host; only migrations with the disks copied are supported"))
            shutil.rmtree(inst_dir, ignore_errors=True)
            filemodes.qemu_dir(inst_dir)
            undo.callback(shutil.rmtree, inst_dir, True)
            self._prepare_disks(context, instance, image_meta, inst_dir, source_data)
            self._plug_vifs(network_info)
            undo.pop_all()
        addr = CONF.libvirt.live_migration_inbound_addr or CONF.my_ip
        # NOTE: as Nova's serial_listen_addr/serial_listen_ports: the
        # guest's serial console sockets get this host's address and free
        # ports (the source's may be taken here).
        conn = self._host.get_connection()
        ports = [self._serial_ports.acquire(conn, CONF.libvirt.serial_listen,
                                            CONF.libvirt.serial_port_range)
                 for _ in range(int(source_data.get("serial_ports") or 0))]
        LOG.info("Instance directory of %s ready on %s for an incoming live migration",
                 instance.uuid, self._hostname)
        return {"instance_dir": inst_dir, "instances_path": deployment_path(),
                "target_connect_addr": addr,
                "target_uri": _format_uri(CONF.libvirt.live_migration_scheme, addr),
                "migrate_uri": f"tcp://{_uri_host(addr)}",
                "serial_listen_addr": CONF.libvirt.serial_listen,
                "serial_listen_ports": ports}

    def _prepare_disks(self, context: RequestContext, instance: Instance,
                       image_meta: dict[str, Any], inst_dir: str,
                       source_data: dict[str, Any]) -> None:
        image_id = image_meta.get("id") or instance.image_ref or ""
        meta = self._cache.get_meta(context, image_id) if image_id else {}
        for name, key in (("kernel", "kernel_id"), ("ramdisk", "ramdisk_id")):
            if not source_data.get(name):
                continue
            if not meta.get(key):
                raise driver.MigrationError(reason=(
                    f"instance {instance.uuid} boots a {name} its image {image_id} does not "
                    "name"))
            cached = self._cache.fetch(context, self._cache.get_meta(context, meta[key]),
                                       lambda: None)
            dest = os.path.join(inst_dir, name)
            shutil.copyfile(cached, dest)
            filemodes.make_private(dest)
        size = source_data.get("disk_virtual_size")
        if size is not None:
            disk = os.path.join(inst_dir, "disk")
            if source_data.get("disk_backed"):
                fmt = imagebackend.qemu_format(meta["id"], meta.get("disk_format"))
                base = self._cache.fetch(context, meta, lambda: None)
                imagebackend.create_overlay(base, fmt, disk, instance.flavor.root_gb)
            else:
                imagebackend.create_blank(disk, instance.flavor.root_gb)
            made = imagebackend.virtual_size(disk, "qcow2")
            if made != int(size):
                raise driver.MigrationError(reason=(
                    f"the root disk of instance {instance.uuid} is {size} bytes on the source "
                    f"but would be {made} here"))
        drive = source_data.get("config_drive")
        if drive:
            path = os.path.join(inst_dir, configdrive.FILE_NAME)
            with open(path, "wb") as f:
                f.write(base64.b64decode(drive))
            filemodes.make_private(path)

    def live_migration(self, context: RequestContext, instance: Instance, dest: str,
                       network_info: list[dict[str, Any]] | None = None, *,
                       migrate_data: dict[str, Any] | None = None) -> dict[str, Any]:
        """On the source: move the running (or paused) guest to ``dest``
        (its libvirtd at ``migrate_data['target_uri']``). Afterwards the
        domain here is gone and so are the instance's files; on failure the
        guest keeps running here, as it was."""
        if not migrate_data or not migrate_data.get("target_uri"):
            raise driver.MigrationError(reason=(
                f"no destination prepared the live migration of {instance.uuid} to {dest}"))
        started = time.monotonic()
        inst_dir = self._instance_dir(instance.uuid)
        with _instance_lock(instance.uuid):
            guest = self._guest(instance)
            state = guest.get_power_state()
            if state not in (power_state.RUNNING, power_state.PAUSED):
                raise self._invalid(instance, "live_migration", state)
            if os.path.exists(os.path.join(inst_dir, UNRESCUE_XML)) \
                    or os.path.exists(inst_dir + RESIZE_SUFFIX):
                raise driver.MigrationError(reason=(
                    f"instance {instance.uuid} is rescued or in the middle of a resize"))
            xml = guest.domain.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE)
            dest_xml, disks = _destination_xml(
                xml, (inst_dir, str(migrate_data["instance_dir"])),
                (deployment_path(), str(migrate_data["instances_path"])),
                (str(migrate_data.get("serial_listen_addr") or ""),
                 [int(p) for p in migrate_data.get("serial_listen_ports") or []]))
            # NOTE: volumes are reached at the destination's own attachments
            # (its pre_live_migration connected them) and never copied.
            dest_xml, volume_targets = libvirt_volume.retarget(
                dest_xml, migrate_data.get("volumes"), CONF.libvirt.disk_cachemode)
            disks = [d for d in disks if d not in volume_targets]
            params: dict[str, Any] = {
                libvirt.VIR_MIGRATE_PARAM_URI: str(migrate_data["migrate_uri"]),
                libvirt.VIR_MIGRATE_PARAM_DEST_XML: dest_xml,
                libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: dest_xml,
            }
            if CONF.libvirt.live_migration_bandwidth:
                params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = CONF.libvirt.live_migration_bandwidth
            flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER
                     | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
            if disks:
                # NOTE: an empty list would mean every disk to libvirt.
                params[libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS] = disks
                flags |= libvirt.VIR_MIGRATE_NON_SHARED_INC
            self._lm_aborted.discard(instance.uuid)
            self._lm_forced.discard(instance.uuid)
            with _abort_after(guest, instance, _completion_timeout(instance)):
                try:
                    guest.domain.migrateToURI3(str(migrate_data["target_uri"]), params, flags)
                except libvirt.libvirtError as e:
                    self._after_failed_migration(instance, guest, state)
                    if instance.uuid in self._lm_aborted:
                        self._lm_aborted.discard(instance.uuid)
                        raise driver.LiveMigrationAborted(instance_uuid=instance.uuid) from e
                    raise driver.MigrationError(reason=(
                        f"libvirt could not live-migrate instance {instance.uuid} to {dest}: "
                        f"{e.get_error_message() or e}")) from e
            forced = instance.uuid in self._lm_forced
            self._lm_forced.discard(instance.uuid)
            # NOTE: libvirt undefined the domain here; its taps went with it.
            self._unplug_vifs(instance, network_info)
            shutil.rmtree(inst_dir, ignore_errors=True)
        LOG.info("Instance %s live-migrated to %s in %.2fs", instance.uuid, dest,
                 time.monotonic() - started)
        return {"uuid": instance.uuid, "name": guest.name, "source": self._hostname,
                "power_state": state, "force_paused": forced}

    def _after_failed_migration(self, instance: Instance, guest: Guest, state: int) -> None:
        """The guest stays here: a guest paused only to force the copy to
        complete runs again."""
        if instance.uuid not in self._lm_forced:
            return
        self._lm_forced.discard(instance.uuid)
        if state == power_state.RUNNING:
            with contextlib.suppress(libvirt.libvirtError):
                guest.domain.resume()

    def _migrating_guest(self, instance: Instance, action: str) -> Guest:
        """The guest whose outgoing live migration runs now (another
        thread is in ``live_migration``; no instance lock taken: it holds
        it)."""
        domain = self._host.lookup(instance.uuid)
        if domain is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        try:
            job = domain.jobInfo()[0]
        except libvirt.libvirtError as e:
            raise driver.MigrationError(reason=(
                f"cannot {action} the live migration of {instance.uuid}: "
                f"{e.get_error_message() or e}")) from e
        if job == libvirt.VIR_DOMAIN_JOB_NONE:
            raise driver.MigrationError(reason=(
                f"instance {instance.uuid} has no live migration running on host "
                f"{self._hostname}"))
        return Guest(domain)

    def live_migration_force_complete(self, instance: Instance) -> None:
        """No post-copy here: as Nova's libvirt driver without it, the
        guest's vCPUs are paused so its memory stops changing and the copy
        converges; the destination runs it again on arrival."""
        guest = self._migrating_guest(instance, "force-complete")
        self._lm_forced.add(instance.uuid)
        try:
            guest.domain.suspend()
        except libvirt.libvirtError as e:
            self._lm_forced.discard(instance.uuid)
            raise driver.MigrationError(reason=(
                f"could not pause {instance.uuid} to complete its live migration: "
                f"{e.get_error_message() or e}")) from e
        LOG.info("Live migration of %s forced to complete: guest paused", instance.uuid)

    def live_migration_abort(self, instance: Instance) -> None:
        guest = self._migrating_guest(instance, "abort")
        self._lm_aborted.add(instance.uuid)
        try:
            guest.domain.abortJob()
        except libvirt.libvirtError as e:
            self._lm_aborted.discard(instance.uuid)
            raise driver.MigrationError(reason=(
                f"could not abort the live migration of {instance.uuid}: "
                f"{e.get_error_message() or e}")) from e
        LOG.info("Live migration of %s aborted on request", instance.uuid)

    def post_live_migration_at_destination(self, context: RequestContext, instance: Instance,
                                           network_info: list[dict[str, Any]] | None,
                                           guest_state: dict[str, Any]) -> None:
        """On the destination: the guest arrived (running or paused, its
        definition kept); the VIFs plugged again (the source unplugged its
        side)."""
        with _instance_lock(instance.uuid):
            domain = self._host.lookup(instance.uuid)
            if domain is None:
                raise driver.MigrationError(reason=(
                    f"instance {instance.uuid} did not arrive on host {self._hostname}"))
            guest = Guest(domain)
            if not domain.isPersistent():
                raise driver.MigrationError(reason=(
                    f"the guest of {instance.uuid} arrived on {self._hostname} undefined"))
            self._plug_vifs(network_info)
            # NOTE: a guest paused only to force its migration to complete
            # runs again here, as it ran on the source.
            if guest_state.get("force_paused") \
                    and guest_state.get("power_state") == power_state.RUNNING \
                    and guest.get_power_state() == power_state.PAUSED:
                domain.resume()
        LOG.info("Instance %s arrived on %s (%s)", instance.uuid, self._hostname,
                 power_state.STATE_MAP.get(guest.get_power_state()))

    def rollback_live_migration_at_destination(self, context: RequestContext,
                                               instance: Instance,
                                               network_info: list[dict[str, Any]] | None
                                               ) -> None:
        """On the destination after a failed live migration: what
        ``pre_live_migration`` made goes, unless the guest is here after
        all. The VIFs' taps went with libvirt's incoming domain; the bridge
        stays (as unplug leaves it)."""
        with _instance_lock(instance.uuid):
            if self._host.lookup(instance.uuid) is not None:
                LOG.warning("Not rolling back the live migration of %s on %s: its guest is "
                            "here", instance.uuid, self._hostname)
                return
            shutil.rmtree(self._instance_dir(instance.uuid), ignore_errors=True)
        LOG.info("Live migration of %s to %s rolled back here", instance.uuid,
                 self._hostname)

    # -- through the guest -------------------------------------------------

    # -- interfaces (os-interface): novalite/virt/libvirt/interfaces.py -------

    def attach_interface(self, context: RequestContext, instance: Instance,
                         image_meta: dict[str, Any], vif: dict[str, Any]) -> None:
        host = instance.host if instance.obj_attr_is_set("host") else None
        libvirt_interfaces.attach(self._guest(instance), vif, host)

    def detach_interface(self, context: RequestContext, instance: Instance,
                         vif: dict[str, Any]) -> None:
        libvirt_interfaces.detach(self._guest(instance), vif)

    def trigger_crash_dump(self, instance: Instance) -> None:
        guest = self._guest(instance)
        state = guest.get_power_state()
        if state != power_state.RUNNING:
            raise self._invalid(instance, "trigger_crash_dump", state)
        guest.inject_nmi()
        LOG.info("NMI injected into %s", instance.uuid)

    def get_serial_console(self, context: RequestContext, instance: Instance) -> ConsoleSerial:
        guest = self._guest(instance)
        state = guest.get_power_state()
        if state not in (power_state.RUNNING, power_state.PAUSED):
            raise self._invalid(instance, "get_serial_console", state)
        for host_addr, port in serial.ports_of(guest.xml_desc()):
            return ConsoleSerial(host=host_addr, port=port)
        raise driver.ConsoleTypeUnavailable(console_type="serial")

    def set_admin_password(self, instance: Instance, new_pass: str) -> None:
        guest = self._guest(instance)
        state = guest.get_power_state()
        if state != power_state.RUNNING:
            raise self._invalid(instance, "set_admin_password", state)
        if not _agent_connected(guest):
            raise driver.AgentUnavailable(
                action="set_admin_password", instance_uuid=instance.uuid,
                reason="no guest agent is connected (the image declares none, or it has not "
                       "started)")
        try:
            agent.command(guest.domain, "guest-set-user-password",
                          {"username": ADMIN_USER, "crypted": False,
                           "password": base64.b64encode(new_pass.encode()).decode()},
                          timeout=CONF.libvirt.agent_timeout)
        except agent.AgentError as e:
            raise exception.NovaliteException(
                f"setting the password of {ADMIN_USER} in instance {instance.uuid} failed: "
                f"{e}") from e
        LOG.info("Password of %s set in %s through the guest agent", ADMIN_USER, instance.uuid)

    def get_info(self, instance: Instance) -> InstanceInfo:
        guest = self._guest(instance)
        return InstanceInfo(state=guest.get_power_state(), internal_id=guest.name)

    def list_instance_uuids(self) -> list[str]:
        """This deployment's guests only: another deployment's guest on the
        same libvirtd is not an orphan of ours."""
        mine = deployment_path()
        return [g.uuid for g in self._novalite_guests() if g.deployment() in (mine, None)]

    def manage_image_cache(self, context: RequestContext, all_instances: list[Any]) -> None:
        image_ageing.ImageCacheManager(
            CONF.libvirt.image_cache_path, CONF.libvirt.instances_path,
            CONF.image_cache.remove_unused_base_images,
            CONF.image_cache.remove_unused_original_minimum_age_seconds).update(all_instances)

    def _novalite_guests(self) -> list[Guest]:
        guests = []
        for domain in self._host.list_domains():
            guest = Guest(domain)
            try:
                if guest.is_novalite():
                    guests.append(guest)
            except libvirt.libvirtError:
                continue  # NOTE: destroyed since it was listed.
        return guests

    def inject_files(self, context: RequestContext, instance: Instance, files: list[dict[str, Any]],
                     timeout: float) -> None:
        decoded = [(str(f["path"]), configdrive.decode_contents(f, instance.uuid))
                   for f in files]
        domain = self._host.lookup(instance.uuid)
        if domain is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        try:
            agent.inject_files(domain, decoded, timeout)
        except agent.AgentError as e:
            raise exception.NovaliteException(
                f"file injection through the guest agent failed: {e}") from e
        LOG.info("Injected %d file(s) into %s through the guest agent", len(decoded),
                 instance.uuid)

    def get_instance_stats(self, uuids: list[str]) -> dict[str, stats.InstanceStats]:
        # NOTE: one getAllDomainStats for every guest of libvirtd (it may
        # hold other deployments' too: only ``uuids`` are kept).
        wanted = set(uuids)
        groups = (libvirt.VIR_DOMAIN_STATS_CPU_TOTAL | libvirt.VIR_DOMAIN_STATS_BALLOON
                  | libvirt.VIR_DOMAIN_STATS_BLOCK | libvirt.VIR_DOMAIN_STATS_INTERFACE)
        records = self._host.get_connection().getAllDomainStats(groups, 0)
        return {domain.UUIDString(): stats.from_libvirt(record) for domain, record in records
                if domain.UUIDString() in wanted}

    def get_instance_diagnostics(self, instance: Instance) -> dict[str, Any]:
        guest = self._guest(instance)
        config_drive = bool(instance.obj_attr_is_set("config_drive") and instance.config_drive)
        return libvirt_diagnostics.collect(guest.domain, guest.get_power_state(), config_drive)

    def get_console_output(self, context: RequestContext, instance: Instance) -> bytes:
        self._guest(instance)
        path = os.path.join(self._instance_dir(instance.uuid), CONSOLE_LOG)
        try:
            with open(path, "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - MAX_CONSOLE_BYTES))
                return f.read(MAX_CONSOLE_BYTES)
        except FileNotFoundError:
            return b""

    def read_console_log(self, instance: Instance, offset: int,
                         limit: int) -> tuple[bytes, int]:
        self._guest(instance)
        path = os.path.join(self._instance_dir(instance.uuid), CONSOLE_LOG)
        try:
            with open(path, "rb") as f:
                # NOTE: virtlogd rotates the log (console.log.0 ...): a log
                # shorter than what was read is a new one.
                if os.fstat(f.fileno()).st_size < offset:
                    offset = 0
                f.seek(offset)
                data = f.read(limit)
        except FileNotFoundError:
            return b"", 0
        return data, offset + len(data)

    def guest_agent_ready(self, instance: Instance) -> bool:
        try:
            guest = self._guest(instance)
        except exception.InstanceNotFound:
            return False
        if not _agent_connected(guest):
            return False
        try:
            agent.command(guest.domain, "guest-ping", timeout=1)
        except agent.AgentError:
            return False
        return True


# NOTE: the compute manager's task state (novalite.compute.task_states
# .REBUILD_SPAWNING, which a unit test holds equal); virt imports no compute.
REBUILD_SPAWNING = "rebuild_spawning"


def _evacuating(instance: Instance) -> bool:
    """Spawned as an evacuation's (or a rebuild's) new guest."""
    return bool(instance.obj_attr_is_set("task_state")
                and instance.task_state == REBUILD_SPAWNING)


def _owner(guest: Guest) -> str | None:
    """The instances path of the compute service the guest belongs to when
    that is not this one (another compute, or another deployment, on the
    same libvirtd); None when it is this one's (or says nothing)."""
    found = guest.deployment()
    if found is None or os.path.realpath(found) == deployment_path():
        return None
    return found


def _instance_lock(uuid: str) -> Any:
    return lockutils.lock(f"libvirt-instance-{uuid}")


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _migration_field(migration: Any, name: str) -> Any:
    if migration is None:
        return None
    if isinstance(migration, dict):
        return migration.get(name)
    return getattr(migration, name, None)


def _format_uri(scheme: str, addr: str) -> str:
    return f"qemu+{scheme}://{_uri_host(addr)}/system"


def _uri_host(addr: str) -> str:
    return f"[{addr}]" if ":" in addr else addr


def _destination_xml(xml: str, inst_dirs: tuple[str, str], deployments: tuple[str, str],
                     serials: tuple[str, list[int]] = ("", [])) -> tuple[str, list[str]]:
    """The source's migratable domain XML with every path under the
    source's instance directory (disks, kernel, ramdisk, console log) under
    the destination's, the deployment mark (exactly the source's instances
    path) the destination's and the serial console sockets on the
    destination's address and ports, in order; and the target devices of
    the writable disks (the ones QEMU copies)."""
    root = ET.fromstring(xml)
    listen, ports = serials
    sockets = root.findall("./devices/serial[@type='tcp']/source[@mode='bind']")
    if sockets and len(ports) != len(sockets):
        raise driver.MigrationError(reason=(
            f"the guest has {len(sockets)} serial console socket(s); the destination "
            f"offered {len(ports)} port(s)"))
    for source, port in zip(sockets, ports, strict=False):
        source.set("host", listen)
        source.set("service", str(port))
    old_dir, new_dir = inst_dirs

    def moved(value: str) -> str:
        if value == old_dir or value.startswith(old_dir + "/"):
            return new_dir + value[len(old_dir):]
        return deployments[1] if value == deployments[0] else value

    for elem in root.iter():
        for key, value in elem.attrib.items():
            elem.set(key, moved(value))
        if elem.text and elem.text.strip():
            elem.text = moved(elem.text)
    disks = []
    for disk in root.findall("devices/disk"):
        target = disk.find("target")
        if disk.get("device", "disk") == "disk" and disk.find("readonly") is None \
                and disk.find("source") is not None and target is not None:
            disks.append(str(target.get("dev")))
    return ET.tostring(root, encoding="unicode"), disks


def _completion_timeout(instance: Instance) -> float:
    per_gib = CONF.libvirt.live_migration_completion_timeout
    if per_gib <= 0:
        return 0.0
    return max(120.0, float(per_gib) * float(instance.flavor.memory_mb) / 1024)


@contextlib.contextmanager
def _abort_after(guest: Guest, instance: Instance, timeout: float) -> Iterator[None]:
    """Abort the domain's migration job when it runs past ``timeout``
    seconds (0: never); the guest stays on the source."""
    if timeout <= 0:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        if done.wait(timeout):
            return
        LOG.warning("Live migration of %s ran past %.0fs; aborting it", instance.uuid, timeout)
        with contextlib.suppress(libvirt.libvirtError):
            guest.domain.abortJob()

    watcher = threading.Thread(target=watch, name=f"lm-timeout-{instance.uuid}", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def _thaw(guest: Guest, instance: Instance, attempts: int = 3) -> None:
    """Thaw the guest's file systems; a guest left frozen hangs its
    writers, so a failed thaw is retried, then reported."""
    last: agent.AgentError | None = None
    for attempt in range(attempts):
        try:
            agent.command(guest.domain, "guest-fsfreeze-thaw",
                          timeout=CONF.libvirt.agent_timeout)
            return
        except agent.AgentError as e:
            last = e
            LOG.warning("Thawing the file systems of %s failed (attempt %d of %d): %s",
                        instance.uuid, attempt + 1, attempts, e)
            time.sleep(1)
    raise exception.NovaliteException(
        f"the file systems of instance {instance.uuid} could not be thawed after its "
        f"snapshot: {last}")


def _declares_agent(image_meta: dict[str, Any] | None) -> bool:
    props = (image_meta or {}).get("properties") or {}
    value = props.get("hw_qemu_guest_agent", (image_meta or {}).get("hw_qemu_guest_agent"))
    return str(value or "no").lower() in ("yes", "true", "1")


def _agent_connected(guest: Guest) -> bool:
    """Whether a guest agent is listening on the domain's agent channel
    (libvirt tracks the virtio-serial port's state)."""
    try:
        live = ET.fromstring(guest.xml_desc())
    except (libvirt.libvirtError, ET.ParseError):
        return False
    for target in live.findall("devices/channel/target"):
        if target.get("name") == config.GUEST_AGENT_CHANNEL:
            return target.get("state") == "connected"
    return False
