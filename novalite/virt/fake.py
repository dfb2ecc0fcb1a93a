"""FakeDriver: a real driver whose guests live in memory and in a file.

It accounts vCPU, RAM and disk like a hypervisor would, takes
``[fake_driver] spawn_delay`` seconds to spawn, and its failure modes are
small named subclasses (never patches), so tests and benchmarks exercise the
same code paths a real driver does.

Its guests outlive the compute process, as a hypervisor's do: every change is
written to ``$state_path/fake-hypervisor/<host>.json`` (JSON, replaced
atomically), and a compute that starts on that host finds them again. Without
that a SIGKILLed compute would come back to an empty hypervisor, and fault
tests could not tell a lost build from a lost guest.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socketserver
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

from oslo_concurrency import processutils

from novalite import exception
from novalite.conf import CONF
from novalite.virt import diagnostics, driver, power_state, stats
from novalite.virt.hardware import ConsoleSerial, HostResources, InstanceInfo

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance


class _LiveMigrationJob:
    """A running fake live migration: ``done`` ends the copy early (force
    complete, or abort with ``aborted``)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.aborted = False


class _FakeGuest:
    def __init__(self, uuid: str, vcpus: int, memory_mb: int, disk_gb: int) -> None:
        self.uuid = uuid
        self.vcpus = vcpus
        self.memory_mb = memory_mb
        self.disk_gb = disk_gb
        self.state = power_state.NOSTATE
        self.cancelled = threading.Event()
        self.console = b""
        self.vifs: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        # NOTE: what a config drive would hold: the personality files of the
        # build request (path -> contents), when the instance asked for one.
        self.config_drive: dict[str, bytes] = {}
        # NOTE: lifecycle records (issue 12): whether the image declared a
        # guest agent, the rescue image while rescued, NMIs sent, password
        # changes, and the flavor kept aside during a resize (for a revert).
        self.agent = False
        self.rescue_image: str | None = None
        self.nmis = 0
        self.password_changes = 0
        self.resize_from: dict[str, int] | None = None
        # NOTE: attached volumes (issue 14): mountpoint -> {"volume_id",
        # "connection_info", "size" (bytes the guest sees, None: unknown)}.
        self.volumes: dict[str, dict[str, Any]] = {}

    def to_dict(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "vcpus": self.vcpus, "memory_mb": self.memory_mb,
                "disk_gb": self.disk_gb, "state": self.state,
                "console": base64.b64encode(self.console).decode(), "vifs": self.vifs,
                "files": {p: base64.b64encode(d).decode() for p, d in self.files.items()},
                "config_drive": {p: base64.b64encode(d).decode()
                                 for p, d in self.config_drive.items()},
                "agent": self.agent, "rescue_image": self.rescue_image, "nmis": self.nmis,
                "password_changes": self.password_changes, "resize_from": self.resize_from,
                "volumes": self.volumes}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _FakeGuest:
        guest = cls(d["uuid"], int(d["vcpus"]), int(d["memory_mb"]), int(d["disk_gb"]))
        guest.state = int(d.get("state", power_state.NOSTATE))
        guest.console = base64.b64decode(d.get("console", ""))
        guest.vifs = list(d.get("vifs") or [])
        guest.files = {p: base64.b64decode(v) for p, v in (d.get("files") or {}).items()}
        guest.config_drive = {p: base64.b64decode(v)
                              for p, v in (d.get("config_drive") or {}).items()}
        guest.agent = bool(d.get("agent", False))
        guest.rescue_image = d.get("rescue_image")
        guest.nmis = int(d.get("nmis", 0))
        guest.password_changes = int(d.get("password_changes", 0))
        guest.resize_from = d.get("resize_from")
        guest.volumes = dict(d.get("volumes") or {})
        return guest

    def set_volumes(self, block_device_info: dict[str, Any] | None) -> None:
        """The volumes of ``block_device_info`` (a spawn's, or a regenerated
        definition's: hard reboot, power on) become the guest's."""
        if block_device_info is None:
            return
        self.volumes = {}
        for bdm in block_device_info.get("block_device_mapping") or []:
            info = bdm.get("connection_info") or {}
            self.volumes[str(bdm.get("mount_device"))] = {
                "volume_id": info.get("serial") or (info.get("data") or {}).get("volume_id"),
                "connection_info": info, "size": None}


def _declares_agent(image_meta: dict[str, Any] | None) -> bool:
    props = (image_meta or {}).get("properties") or {}
    return str(props.get("hw_qemu_guest_agent") or "no").lower() in ("yes", "true", "1")


def _config_drive(instance: Instance) -> bool:
    return bool(instance.obj_attr_is_set("config_drive") and instance.config_drive)


def guests_file(host: str) -> str:
    """Where the fake hypervisor ``host`` keeps its guests."""
    return os.path.join(CONF.state_path, "fake-hypervisor", f"{host}.json")


def _load_guests(path: str) -> dict[str, _FakeGuest]:
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    return {d["uuid"]: _FakeGuest.from_dict(d) for d in data.get("guests", [])}


def _write_atomically(path: str, data: dict[str, Any]) -> None:
    # NOTE: a temporary file in the same directory, then rename: a reader (or
    # a compute started after a SIGKILL) sees the old file or the new one,
    # never half of one. No fsync: it outlives the process, not the machine.
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".guests-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _SerialEcho(socketserver.ThreadingTCPServer):
    """A fake guest's serial port on 127.0.0.1: what a client types comes
    back (as a terminal echoes) and goes to the guest's console log."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, guest: _FakeGuest) -> None:
        self.guest = guest
        super().__init__(("127.0.0.1", 0), _SerialHandler)
        threading.Thread(target=self.serve_forever, daemon=True,
                         name=f"fake-serial-{guest.uuid}").start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _SerialHandler(socketserver.StreamRequestHandler):
    server: _SerialEcho

    def handle(self) -> None:
        for line in self.rfile:
            self.server.guest.console += line
            self.wfile.write(line)


class FakeDriver(driver.ComputeDriver):
    """Guests live in a per-host table that outlives the driver object and in
    a file that outlives the process, as guests outlive a compute service
    restart (or a SIGKILL) on a real hypervisor."""

    _hypervisors: dict[str, dict[str, _FakeGuest]] = {}
    _hypervisors_lock = threading.Lock()
    # NOTE: one writer per guests file at a time, across the driver objects
    # of one process (a test's compute restarted in the same process).
    _file_locks: dict[str, threading.Lock] = {}

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
    }
    # NOTE: serial ports live as long as the process (not persisted).
    _serials: dict[str, _SerialEcho] = {}

    def __init__(self, virtapi: Any) -> None:
        super().__init__(virtapi)
        # NOTE: what plug/unplug were asked, in order: ("plug"|"unplug", port id,
        # bridge); plugging touches nothing on the host.
        self.plugged: list[tuple[str, str, str]] = []
        self._guests: dict[str, _FakeGuest] = {}
        self._lock = threading.Lock()
        self._host = CONF.host
        # NOTE: set by init_host: a driver nobody started persists nothing.
        self._path: str | None = None
        self._file_lock = threading.Lock()
        # NOTE: when get_instance_stats first saw each guest (its CPU clock).
        self._stats_since: dict[str, float] = {}

    def init_host(self, host: str) -> None:
        self._host = host
        path = guests_file(host)
        with self._hypervisors_lock:
            if host not in self._hypervisors:
                self._hypervisors[host] = _load_guests(path)
            self._guests = self._hypervisors[host]
            self._file_lock = self._file_locks.setdefault(path, threading.Lock())
        self._path = path

    @classmethod
    def forget_all_hosts(cls) -> None:
        """Tests: start from empty hypervisors (in memory and on disk)."""
        with cls._hypervisors_lock:
            for host in cls._hypervisors:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(guests_file(host))
            cls._hypervisors.clear()
            open_serials = list(cls._serials)
        for uuid in open_serials:
            cls._close_serial(uuid)

    def _persist(self) -> None:
        """Write this host's guests out; called after every change."""
        path = self._path
        if path is None:
            return
        with self._file_lock:
            with self._lock:
                data = {"host": self._host,
                        "guests": [g.to_dict() for g in self._guests.values()]}
            if data["guests"]:
                _write_atomically(path, data)
                return
            # NOTE: a hypervisor without guests leaves no file behind.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(path))

    def get_available_nodes(self) -> list[str]:
        return [self._host]

    def get_available_resource(self, nodename: str) -> HostResources:
        with self._lock:
            guests = list(self._guests.values())
        return HostResources(
            hypervisor_hostname=nodename, hypervisor_type="fake", hypervisor_version=1000,
            vcpus=CONF.fake_driver.vcpus, memory_mb=CONF.fake_driver.memory_mb,
            local_gb=CONF.fake_driver.local_gb,
            vcpus_used=sum(g.vcpus for g in guests),
            memory_mb_used=sum(g.memory_mb for g in guests),
            local_gb_used=sum(g.disk_gb for g in guests),
            running_vms=len(guests), hypervisor_description="fake (in memory)")

    def spawn(self, context: RequestContext, instance: Instance, image_meta: dict[str, Any], network_info: list[Any],
              block_device_info: dict[str, Any] | None = None, *,
              injected_files: list[dict[str, str]] | None = None) -> None:
        flavor = instance.flavor
        guest = _FakeGuest(instance.uuid, flavor.vcpus, flavor.memory_mb,
                           flavor.root_gb + flavor.ephemeral_gb)
        guest.agent = _declares_agent(image_meta)
        guest.set_volumes(block_device_info)
        with self._lock:
            if instance.uuid in self._guests:
                raise exception.InstanceSpawnError(instance_uuid=instance.uuid,
                                                   reason="a guest with this uuid already exists")
            self._guests[instance.uuid] = guest
        for vif in network_info or []:
            self.plugged.append(("plug", vif["id"], vif["network"]["bridge"]))
            guest.vifs.append(vif)
        if instance.obj_attr_is_set("config_drive") and instance.config_drive:
            with driver.step("config_drive") as step:
                guest.config_drive = {str(f["path"]): base64.b64decode(f.get("contents") or "")
                                      for f in injected_files or []}
                step.details = f"{len(guest.config_drive)} file(s) (in memory)"
        # NOTE: defined (NOSTATE) before it boots, as a libvirt domain is: a
        # compute killed mid-spawn finds it at restart and cleans it up.
        with driver.step("domain_define") as step:
            self._persist()
            step.details = "fake guest recorded"
        try:
            with driver.step("domain_start"):
                self._boot(instance, guest)
        except BaseException:
            with self._lock:
                if self._guests.get(instance.uuid) is guest:
                    del self._guests[instance.uuid]
            self._persist()
            raise
        guest.state = power_state.RUNNING
        # NOTE: a few lines, as a real boot log has (clients ask for the
        # last N lines and expect N).
        guest.console += (f"fake guest {instance.uuid}: firmware\n"
                          f"fake guest {instance.uuid}: kernel\n"
                          f"fake guest {instance.uuid} booted\n").encode()
        self._persist()

    def _boot(self, instance: Instance, guest: _FakeGuest) -> None:
        delay = CONF.fake_driver.spawn_delay
        if delay and guest.cancelled.wait(delay) or guest.cancelled.is_set():
            raise exception.InstanceSpawnError(instance_uuid=instance.uuid,
                                               reason="guest destroyed while spawning")

    def destroy(self, context: RequestContext, instance: Instance, network_info: list[Any] | None = None,
                block_device_info: dict[str, Any] | None = None) -> None:
        with self._lock:
            guest = self._guests.pop(instance.uuid, None)
        if guest is not None:
            self._close_serial(instance.uuid)
            guest.cancelled.set()
            guest.state = power_state.SHUTDOWN
            for vif in guest.vifs:
                self.plugged.append(("unplug", vif["id"], vif["network"]["bridge"]))
            self._persist()

    def inject_files(self, context: RequestContext, instance: Instance, files: list[dict[str, Any]],
                     timeout: float) -> None:
        guest = self._guest(instance)
        for f in files:
            guest.files[f["path"]] = base64.b64decode(f.get("contents", ""))
        self._persist()

    def _guest(self, instance: Instance) -> _FakeGuest:
        with self._lock:
            guest = self._guests.get(instance.uuid)
        if guest is None:
            raise exception.InstanceNotFound(instance_id=instance.uuid)
        return guest

    def power_off(self, instance: Instance, timeout: int = 0) -> None:
        guest = self._guest(instance)
        # NOTE: as libvirt: a suspended guest is not running, so it stays so.
        if guest.state != power_state.SUSPENDED:
            guest.state = power_state.SHUTDOWN
        self._persist()

    def power_on(self, context: RequestContext, instance: Instance, *,
                 network_info: list[dict[str, Any]] | None = None,
                 block_device_info: dict[str, Any] | None = None) -> None:
        guest = self._guest(instance)
        if guest.state != power_state.RUNNING:
            # NOTE: as the libvirt driver: ports plugged again before a start,
            # the guest defined again with its volumes.
            for vif in network_info or []:
                self.plugged.append(("plug", vif["id"], vif["network"]["bridge"]))
            guest.set_volumes(block_device_info)
        guest.state = power_state.RUNNING
        self._persist()

    def reboot(self, context: RequestContext, instance: Instance, reboot_type: str, *,
               network_info: list[dict[str, Any]] | None = None,
               block_device_info: dict[str, Any] | None = None) -> None:
        guest = self._guest(instance)
        guest.state = power_state.RUNNING
        if reboot_type != "SOFT":
            guest.set_volumes(block_device_info)
            # NOTE: as libvirt's: a hard reboot boots the guest's own disk
            # (a rescued guest leaves rescue) afresh (a suspended one's saved
            # memory is dropped).
            guest.rescue_image = None
        guest.console += f"fake guest {instance.uuid} rebooted ({reboot_type})\n".encode()
        self._persist()

    def get_info(self, instance: Instance) -> InstanceInfo:
        return InstanceInfo(state=self._guest(instance).state, internal_id=instance.uuid)

    # -- lifecycle actions: the same state rules as the libvirt driver -----

    def _transition(self, instance: Instance, action: str, allowed: tuple[int, ...],
                    noop: int, to: int) -> _FakeGuest:
        guest = self._guest(instance)
        with self._lock:
            if guest.state == noop:
                return guest
            if guest.state not in allowed:
                raise exception.InstanceInvalidState(
                    action=action, instance_uuid=instance.uuid, attr="power_state",
                    state=power_state.STATE_MAP.get(guest.state, str(guest.state)))
            guest.state = to
        self._persist()
        return guest

    def pause(self, instance: Instance) -> None:
        self._transition(instance, "pause", (power_state.RUNNING,), power_state.PAUSED,
                         power_state.PAUSED)

    def unpause(self, instance: Instance) -> None:
        self._transition(instance, "unpause", (power_state.PAUSED,), power_state.RUNNING,
                         power_state.RUNNING)

    def suspend(self, context: RequestContext, instance: Instance) -> None:
        self._transition(instance, "suspend", (power_state.RUNNING, power_state.PAUSED),
                         power_state.SUSPENDED, power_state.SUSPENDED)

    def resume(self, context: RequestContext, instance: Instance,
               network_info: list[dict[str, Any]] | None = None,
               block_device_info: dict[str, Any] | None = None) -> None:
        guest = self._guest(instance)
        was = guest.state
        self._transition(instance, "resume", (power_state.SUSPENDED,), power_state.RUNNING,
                         power_state.RUNNING)
        if was == power_state.SUSPENDED:
            for vif in network_info or []:
                self.plugged.append(("plug", vif["id"], vif["network"]["bridge"]))

    def list_instance_uuids(self) -> list[str]:
        with self._lock:
            return list(self._guests)

    def get_instance_stats(self, uuids: list[str]) -> dict[str, stats.InstanceStats]:
        """Plausible counters for an in-memory guest: its flavor's RAM, and
        CPU time growing at 1 % of its vCPUs from when this driver first
        reported it; no disk or network counters (it has no I/O)."""
        now = time.monotonic()
        out: dict[str, stats.InstanceStats] = {}
        with self._lock:
            for uuid in uuids:
                guest = self._guests.get(uuid)
                if guest is None:
                    continue
                first = self._stats_since.setdefault(uuid, now)
                out[uuid] = stats.InstanceStats(cpu_seconds=0.01 * guest.vcpus * (now - first),
                                                memory_bytes=guest.memory_mb * 1024 * 1024)
        return out

    def get_instance_diagnostics(self, instance: Instance) -> dict[str, Any]:
        guest = self._guest(instance)
        # NOTE: an in-memory guest has sizes but no counters: those are None.
        return diagnostics.diagnostics(
            state=guest.state, hypervisor="fake", uptime=None,
            config_drive=bool(guest.config_drive) or _config_drive(instance),
            memory_max_mb=guest.memory_mb, memory_used_mb=None,
            cpus=[diagnostics.cpu(i) for i in range(guest.vcpus)],
            nics=[diagnostics.nic(vif.get("address")) for vif in guest.vifs],
            # NOTE: the local root disk (none when the root is a volume),
            # then one per attached volume.
            disks=[diagnostics.disk()
                   for _ in range(int("/dev/vda" not in guest.volumes) + len(guest.volumes))])

    def get_console_output(self, context: RequestContext, instance: Instance) -> bytes:
        return self._guest(instance).console

    # -- volumes: recorded per guest (mountpoint -> volume), persisted -------

    def get_volume_connector(self, instance: Instance) -> dict[str, Any]:
        return {"ip": CONF.my_ip, "host": self._host, "multipath": False,
                "platform": "x86_64", "os_type": "linux", "initiator": None}

    def attach_volume(self, context: RequestContext, connection_info: dict[str, Any],
                      instance: Instance, mountpoint: str, disk_bus: str | None = None,
                      device_type: str | None = None,
                      encryption: dict[str, Any] | None = None) -> None:
        guest = self._guest(instance)
        with self._lock:
            if mountpoint in guest.volumes:
                raise driver.DeviceBusy(instance_uuid=instance.uuid, mountpoint=mountpoint)
            guest.volumes[mountpoint] = {
                "volume_id": connection_info.get("serial")
                or (connection_info.get("data") or {}).get("volume_id"),
                "connection_info": connection_info, "size": None}
        self._persist()

    def detach_volume(self, context: RequestContext, connection_info: dict[str, Any],
                      instance: Instance, mountpoint: str,
                      encryption: dict[str, Any] | None = None) -> None:
        with self._lock:
            guest = self._guests.get(instance.uuid)
            if guest is None or guest.volumes.pop(mountpoint, None) is None:
                return
        self._persist()

    def extend_volume(self, context: RequestContext, connection_info: dict[str, Any],
                      instance: Instance, requested_size: int) -> int:
        guest = self._guest(instance)
        volume_id = connection_info.get("serial")
        with self._lock:
            found = [v for v in guest.volumes.values() if v.get("volume_id") == volume_id]
            if not found:
                raise driver.VolumeNotAttached(volume_id=volume_id, instance_uuid=instance.uuid)
            found[0]["size"] = int(requested_size)
        self._persist()
        return int(requested_size)

    def attached_volumes(self, instance_uuid: str) -> dict[str, dict[str, Any]]:
        """Tests: mountpoint -> {"volume_id", "connection_info", "size"} of
        the guest ({} when there is no guest)."""
        with self._lock:
            guest = self._guests.get(instance_uuid)
            return {m: dict(v) for m, v in (guest.volumes if guest else {}).items()}

    def snapshot(self, context: RequestContext, instance: Instance,
                 image_meta: dict[str, Any] | None = None) -> str:
        # NOTE: a suspended guest's disk is consistent (as libvirt's
        # managed save): snapshotted as it is, and it stays suspended.
        guest = self._guest(instance)
        out_dir = os.path.join(CONF.state_path, "fake-hypervisor", "snapshots")
        os.makedirs(out_dir, exist_ok=True)
        fd, out = tempfile.mkstemp(dir=out_dir, prefix=f"{instance.uuid}-", suffix=".qcow2")
        os.close(fd)
        try:
            # NOTE: an empty qcow2 of the guest's disk size: the fake has no
            # disk content, but the caller's upload path sees a real image.
            processutils.execute("qemu-img", "create", "-q", "-f", "qcow2", out,
                                 f"{max(guest.disk_gb, 1)}G")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(out)
            raise
        return out

    def rescue(self, context: RequestContext, instance: Instance,
               rescue_image_meta: dict[str, Any], network_info: list[dict[str, Any]] | None = None,
               rescue_password: str | None = None,
               block_device_info: dict[str, Any] | None = None) -> None:
        guest = self._guest(instance)
        if guest.rescue_image is not None:
            raise exception.InstanceInvalidState(
                action="rescue", instance_uuid=instance.uuid, attr="state", state="rescued")
        if guest.state == power_state.SUSPENDED:
            raise self._invalid(instance, "rescue", guest.state)
        guest.rescue_image = str(rescue_image_meta.get("id") or "")
        guest.state = power_state.RUNNING
        guest.console += f"fake guest {instance.uuid} booted rescue image\n".encode()
        self._persist()

    def unrescue(self, context: RequestContext, instance: Instance,
                 network_info: list[dict[str, Any]] | None = None) -> None:
        guest = self._guest(instance)
        if guest.rescue_image is None:
            raise exception.InstanceInvalidState(
                action="unrescue", instance_uuid=instance.uuid, attr="state",
                state="not rescued")
        guest.rescue_image = None
        guest.state = power_state.RUNNING
        self._persist()

    def is_rescued(self, instance: Instance) -> bool:
        """Tests: whether the guest runs its rescue image."""
        return self._guest(instance).rescue_image is not None

    def attach_interface(self, context: RequestContext, instance: Instance,
                         image_meta: dict[str, Any], vif: dict[str, Any]) -> None:
        guest = self._guest(instance)
        with self._lock:
            if any(v.get("id") == vif["id"] for v in guest.vifs):
                return
            guest.vifs.append(dict(vif))
        self.plugged.append(("plug", vif["id"], vif["network"]["bridge"]))
        self._persist()

    def detach_interface(self, context: RequestContext, instance: Instance,
                         vif: dict[str, Any]) -> None:
        guest = self._guest(instance)
        with self._lock:
            before = len(guest.vifs)
            guest.vifs = [v for v in guest.vifs if v.get("id") != vif["id"]]
            if len(guest.vifs) == before:
                return
        self.plugged.append(("unplug", vif["id"], vif["network"]["bridge"]))
        self._persist()

    def trigger_crash_dump(self, instance: Instance) -> None:
        guest = self._guest(instance)
        if guest.state != power_state.RUNNING:
            raise self._invalid(instance, "trigger_crash_dump", guest.state)
        guest.nmis += 1
        guest.console += b"fake guest: NMI received\n"
        self._persist()

    def get_serial_console(self, context: RequestContext, instance: Instance) -> ConsoleSerial:
        guest = self._guest(instance)
        if guest.state not in (power_state.RUNNING, power_state.PAUSED):
            raise self._invalid(instance, "get_serial_console", guest.state)
        with self._hypervisors_lock:
            server = self._serials.get(instance.uuid)
            if server is None or server.guest is not guest:
                server = self._serials[instance.uuid] = _SerialEcho(guest)
        return ConsoleSerial(host="127.0.0.1", port=server.port)

    @classmethod
    def _close_serial(cls, uuid: str) -> None:
        with cls._hypervisors_lock:
            server = cls._serials.pop(uuid, None)
        if server is not None:
            server.shutdown()
            server.server_close()

    def set_admin_password(self, instance: Instance, new_pass: str) -> None:
        guest = self._guest(instance)
        if guest.state != power_state.RUNNING:
            raise self._invalid(instance, "set_admin_password", guest.state)
        if not guest.agent:
            raise driver.AgentUnavailable(
                action="set_admin_password", instance_uuid=instance.uuid,
                reason="the image declares no guest agent (hw_qemu_guest_agent)")
        guest.password_changes += 1
        self._persist()

    # -- resize and cold migration: the libvirt driver's steps, in memory.
    # NOTE: the fake has no files: ``disk_transfer`` (when given) is offered
    # and asked for fake:// paths; what a libvirt host keeps in <dir>_resize
    # the fake keeps in ``resize_from``.

    def migrate_disk_and_power_off(self, context: RequestContext, instance: Instance, dest: str,
                                   flavor: Any, network_info: list[dict[str, Any]] | None = None,
                                   block_device_info: dict[str, Any] | None = None,
                                   timeout: int = 0, retry_interval: int = 0, *,
                                   disk_transfer: driver.DiskTransfer | None = None
                                   ) -> list[dict[str, Any]]:
        guest = self._guest(instance)
        if guest.state == power_state.SUSPENDED:
            raise self._invalid(instance, "migrate_disk_and_power_off", guest.state)
        if guest.rescue_image is not None:
            raise exception.InstanceInvalidState(
                action="migrate_disk_and_power_off", instance_uuid=instance.uuid,
                attr="state", state="rescued")
        if guest.resize_from is not None:
            raise driver.MigrationError(reason=(
                f"instance {instance.uuid} has files kept aside by an earlier move that was "
                "neither confirmed nor reverted"))
        current = instance.flavor.root_gb
        if flavor.root_gb and flavor.root_gb < current:
            raise driver.ResizeError(reason=(
                f"unable to resize the root disk of instance {instance.uuid} down: flavor "
                f"{flavor.name} has {flavor.root_gb} GiB, the disk is {current:.2f} GiB"))
        disk_info = [{"name": "disk", "path": f"fake://{self._host}/{instance.uuid}/disk",
                      "type": "qcow2", "virt_disk_size": current * 1024 ** 3}]
        # NOTE: offered before anything changes: a failed offer leaves the
        # guest as it was, as the libvirt driver's undo does.
        if disk_transfer is not None:
            for entry in disk_info:
                disk_transfer.send(instance.uuid, str(entry["name"]), str(entry["path"]))
        guest.resize_from = {"vcpus": guest.vcpus, "memory_mb": guest.memory_mb,
                             "disk_gb": guest.disk_gb, "state": guest.state}
        guest.state = power_state.SHUTDOWN
        self._persist()
        return disk_info

    def finish_migration(self, context: RequestContext, migration: Any, instance: Instance,
                         disk_info: list[dict[str, Any]], network_info: list[dict[str, Any]] | None,
                         image_meta: dict[str, Any], resize_instance: bool,
                         block_device_info: dict[str, Any] | None = None,
                         power_on: bool = True, *,
                         disk_transfer: driver.DiskTransfer | None = None) -> None:
        flavor = instance.flavor
        if disk_transfer is not None:
            for entry in disk_info:
                disk_transfer.receive(instance.uuid, str(entry["name"]), str(entry["path"]),
                                      f"fake://{self._host}/{instance.uuid}/{entry['name']}")
        with self._lock:
            guest = self._guests.get(instance.uuid)
            if guest is not None and guest.resize_from is None:
                raise driver.MigrationError(reason=(
                    f"instance {instance.uuid} already has a guest on host {self._host}"))
            if guest is None:
                guest = _FakeGuest(instance.uuid, flavor.vcpus, flavor.memory_mb,
                                   flavor.root_gb + flavor.ephemeral_gb)
                guest.agent = _declares_agent(image_meta)
                self._guests[instance.uuid] = guest
            old_disk = int(disk_info[0].get("virt_disk_size", 0)) // 1024 ** 3 if disk_info else 0
            guest.vcpus, guest.memory_mb = flavor.vcpus, flavor.memory_mb
            guest.disk_gb = (max(flavor.root_gb, old_disk) if resize_instance
                             else old_disk) + flavor.ephemeral_gb
            guest.state = power_state.RUNNING if power_on else power_state.SHUTDOWN
            guest.set_volumes(block_device_info)
        for vif in network_info or []:
            self.plugged.append(("plug", vif["id"], vif["network"]["bridge"]))
        self._persist()

    def finish_revert_migration(self, context: RequestContext, instance: Instance,
                                network_info: list[dict[str, Any]] | None,
                                migration: Any = None,
                                block_device_info: dict[str, Any] | None = None,
                                power_on: bool = True) -> None:
        with self._lock:
            guest = self._guests.get(instance.uuid)
            kept = guest.resize_from if guest is not None else None
            if guest is None or kept is None:
                raise driver.MigrationError(reason=(
                    f"instance {instance.uuid} has no files kept aside on host {self._host} "
                    "to revert to"))
            guest.vcpus, guest.memory_mb = int(kept["vcpus"]), int(kept["memory_mb"])
            guest.disk_gb = int(kept["disk_gb"])
            guest.resize_from = None
            guest.state = power_state.RUNNING if power_on else power_state.SHUTDOWN
            guest.set_volumes(block_device_info)
        for vif in network_info or []:
            self.plugged.append(("plug", vif["id"], vif["network"]["bridge"]))
        self._persist()

    def confirm_migration(self, context: RequestContext, migration: Any, instance: Instance,
                          network_info: list[dict[str, Any]] | None = None) -> None:
        dest = (migration.get("dest_compute") if isinstance(migration, dict)
                else getattr(migration, "dest_compute", None))
        with self._lock:
            guest = self._guests.get(instance.uuid)
            if guest is None or guest.resize_from is None:
                return
            if dest and dest != self._host:
                del self._guests[instance.uuid]
                for vif in guest.vifs:
                    self.plugged.append(("unplug", vif["id"], vif["network"]["bridge"]))
            else:
                guest.resize_from = None
        self._persist()

    # -- live migration (the fake's): the running guest's state travels from
    # the source to the destination as a dict (a libvirt host streams memory).

    def live_migration(self, context: RequestContext, instance: Instance, dest: str,
                       network_info: list[dict[str, Any]] | None = None, *,
                       migrate_data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Source side: the guest leaves this host; returns its state for
        ``post_live_migration_at_destination``. Running or paused guests
        only; nothing changes on failure."""
        guest = self._guest(instance)
        if guest.state not in (power_state.RUNNING, power_state.PAUSED):
            raise self._invalid(instance, "live_migration", guest.state)
        if guest.resize_from is not None or guest.rescue_image is not None:
            raise driver.MigrationError(reason=(
                f"instance {instance.uuid} is in the middle of a resize or rescued"))
        self._run_live_migration_job(instance)
        with self._lock:
            del self._guests[instance.uuid]
        self._close_serial(instance.uuid)
        for vif in guest.vifs:
            self.plugged.append(("unplug", vif["id"], vif["network"]["bridge"]))
        self._persist()
        return guest.to_dict()

    def _live_migration_jobs(self) -> dict[str, _LiveMigrationJob]:
        jobs: dict[str, _LiveMigrationJob] = self.__dict__.setdefault("_lm_jobs", {})
        return jobs

    def _run_live_migration_job(self, instance: Instance) -> None:
        """The copy: [fake_driver] live_migration_delay seconds, cut short by
        ``live_migration_force_complete``; LiveMigrationAborted (the guest
        untouched) after ``live_migration_abort``."""
        job = _LiveMigrationJob()
        with self._lock:
            self._live_migration_jobs()[instance.uuid] = job
        try:
            job.done.wait(CONF.fake_driver.live_migration_delay)
        finally:
            with self._lock:
                self._live_migration_jobs().pop(instance.uuid, None)
        if job.aborted:
            raise driver.LiveMigrationAborted(instance_uuid=instance.uuid)

    def _job(self, instance: Instance, what: str) -> _LiveMigrationJob:
        with self._lock:
            job = self._live_migration_jobs().get(instance.uuid)
        if job is None:
            raise driver.MigrationError(reason=(
                f"cannot {what}: no live migration of instance {instance.uuid} is running "
                f"on host {self._host}"))
        return job

    def live_migration_force_complete(self, instance: Instance) -> None:
        self._job(instance, "force complete").done.set()

    def live_migration_abort(self, instance: Instance) -> None:
        job = self._job(instance, "abort")
        job.aborted = True
        job.done.set()

    def post_live_migration_at_destination(self, context: RequestContext, instance: Instance,
                                           network_info: list[dict[str, Any]] | None,
                                           guest_state: dict[str, Any]) -> None:
        """Destination side: the guest arrives, in the state it had."""
        guest = _FakeGuest.from_dict(guest_state)
        with self._lock:
            if instance.uuid in self._guests:
                raise driver.MigrationError(reason=(
                    f"instance {instance.uuid} already has a guest on host {self._host}"))
            self._guests[instance.uuid] = guest
        for vif in guest.vifs:
            self.plugged.append(("plug", vif["id"], vif["network"]["bridge"]))
        self._persist()

    def _invalid(self, instance: Instance, action: str, state: int) -> exception.InstanceInvalidState:
        return exception.InstanceInvalidState(
            action=action, instance_uuid=instance.uuid, attr="power_state",
            state=power_state.STATE_MAP.get(state, str(state)))

    # -- for tests: things a hypervisor does behind the service's back -----

    def simulate_guest_shutdown(self, instance_uuid: str) -> None:
        """The guest powered itself off (power-state sync must notice)."""
        with self._lock:
            guest = self._guests.get(instance_uuid)
        if guest is not None:
            guest.state = power_state.SHUTDOWN
        self._persist()

    def simulate_guest_vanished(self, instance_uuid: str) -> None:
        with self._lock:
            self._guests.pop(instance_uuid, None)
        self._persist()

    def simulate_foreign_guest(self, instance_uuid: str) -> None:
        """A guest someone made behind the service's back."""
        guest = _FakeGuest(instance_uuid, 1, 64, 1)
        guest.state = power_state.RUNNING
        with self._lock:
            self._guests[instance_uuid] = guest
        self._persist()


class FailingFirstSpawnDriver(FakeDriver):
    """Fails the first spawn on this host with a retryable error (so the
    conductor reschedules), then behaves."""

    def __init__(self, virtapi: Any) -> None:
        super().__init__(virtapi)
        self._failed_once = False

    def _boot(self, instance: Instance, guest: _FakeGuest) -> None:
        with self._lock:
            first, self._failed_once = not self._failed_once, True
        if first:
            raise exception.ComputeResourcesUnavailable(
                reason=f"injected failure: first spawn on {self._host} fails")
        super()._boot(instance, guest)


class AlwaysFailingSpawnDriver(FakeDriver):
    """Every spawn fails with a non-retryable error."""

    def _boot(self, instance: Instance, guest: _FakeGuest) -> None:
        raise exception.InstanceSpawnError(instance_uuid=instance.uuid,
                                           reason="injected failure: this host cannot spawn")


class HangingSpawnDriver(FakeDriver):
    """spawn() hangs for ``[fake_driver] hang_seconds`` unless destroyed."""

    def _boot(self, instance: Instance, guest: _FakeGuest) -> None:
        if guest.cancelled.wait(CONF.fake_driver.hang_seconds):
            raise exception.InstanceSpawnError(instance_uuid=instance.uuid,
                                               reason="guest destroyed while spawning")
        raise exception.InstanceSpawnError(instance_uuid=instance.uuid,
                                           reason="injected failure: spawn hung")
