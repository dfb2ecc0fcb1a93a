"""Volumes in REAL guests through LibvirtDriver (issue 14, the compute host's
part), at the driver level as test_real_live_migration.py's first half.

Two libvirt "hosts": A is the root namespace's libvirtd, B a second libvirtd
in a network namespace of its own (tests/integration/libvirt_host.py),
joined by a veth pair. The volume host's NBD exports (novalite/volume/
exports.py, qemu-storage-daemon) listen on A's end of the veth: A's QEMU
reaches them from that address, B's QEMU across the veth from the
namespace's. One tiny guest (disk boot, guest agent) per libvirtd, shared by
the tests; a third one on A boots from a volume.

- a raw volume exported to A is hot-plugged into guest A at /dev/vdb; the
  guest writes a block with dd (guest agent); detach takes it out of the
  guest and of the definition; exported again to B (another client
  address), attached to guest B, the guest reads the same block;
- extended: the export grows (Exports.resize) and extend_volume makes the
  guest see it in /sys/block/vdb/size; a hard reboot keeps the disk;
- a local (file) volume attached, extended (QEMU grows the file), detached;
- a guest whose root is a volume (a raw copy of the tiny qcow2 disk over
  NBD) boots with no local root disk;
- guest A live-migrates to B with a volume attached: B's definition names
  B's own attachment (export), the volume is not copied, the guest reads
  what it wrote on A and writes on B after A's export closed.

Everything (guests, exports, the namespace, the second daemon, files) is
removed at the end, also on failure; nothing skips.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest
from oslo_utils import uuidutils

from novalite import context as nl_context
from novalite import exception, tinyguest
from novalite.conf import CONF
from novalite.objects.instance import Instance
from novalite.virt.libvirt import agent
from novalite.virt.libvirt import volume as libvirt_volume
from novalite.virt.libvirt.driver import LibvirtDriver
from novalite.volume.exports import Exports
from tests.integration.libvirt_host import SecondLibvirtHost
from tests.integration.test_libvirt_driver import (
    LibvirtEnv,
    RecordingVirtAPI,
    _tiny_guest,
    libvirt_env,
    make_instance,
)
from tests.procs import wait_until

pytestmark = pytest.mark.integration

CTXT = nl_context.get_admin_context()
MiB = 1024 * 1024
BOOT_TIMEOUT = 240
AGENT_TIMEOUT = 120
DEVICE_TIMEOUT = 60
BLOCK = 4096
BLOCK_SEEK = 100  # blocks of BLOCK


class Rig:
    """Hosts A and B, each a LibvirtDriver with its own paths, and the NBD
    exports on A's end of the veth."""

    def __init__(self, env: LibvirtEnv, second: SecondLibvirtHost) -> None:
        self.env = env
        self.second = second
        self.paths = {
            "a": {"connection_uri": "qemu:///system",
                  "instances_path": os.path.join(env.base, "a-instances"),
                  "image_cache_path": os.path.join(env.base, "a-base")},
            "b": {"connection_uri": second.uri,
                  "instances_path": os.path.join(env.base, "b-instances"),
                  "image_cache_path": os.path.join(env.base, "b-base")},
        }
        self.volumes = os.path.join(env.base, "volumes")
        os.makedirs(self.volumes, mode=0o711)
        self.exports = Exports(os.path.join(env.base, "exports"), second.root_addr,
                               (12100 + os.getpid() % 300 * 10, 12109 + os.getpid() % 300 * 10),
                               nft_prefix=f"tv{uuidutils.generate_uuid()[:8]}")
        self.drivers: dict[str, LibvirtDriver] = {}
        self.made: list[Instance] = []
        self.image_id = ""

    @contextlib.contextmanager
    def on(self, name: str) -> Iterator[LibvirtDriver]:
        for opt, value in self.paths[name].items():
            CONF.set_override(opt, value, group="libvirt")
        CONF.set_override("my_ip", self.second.address if name == "b"
                          else self.second.root_addr)
        CONF.set_override("live_migration_inbound_addr",
                          self.second.address if name == "b" else None, group="libvirt")
        try:
            if name not in self.drivers:
                drv = LibvirtDriver(RecordingVirtAPI())
                drv.init_host(f"vol-{name}")
                self.drivers[name] = drv
            yield self.drivers[name]
        finally:
            for opt in self.paths[name]:
                CONF.clear_override(opt, group="libvirt")
            CONF.clear_override("my_ip")
            CONF.clear_override("live_migration_inbound_addr", group="libvirt")

    def connect(self, name: str) -> libvirt.virConnect:
        return libvirt.open(self.paths[name]["connection_uri"])

    def domain(self, name: str, inst: Instance) -> libvirt.virDomain:
        return self.connect(name).lookupByUUIDString(inst.uuid)

    def console(self, name: str, inst: Instance) -> str:
        path = os.path.join(self.paths[name]["instances_path"], inst.uuid, "console.log")
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def boot(self, name: str, label: str,
             block_device_info: dict[str, Any] | None = None) -> Instance:
        if not self.image_id:
            built = _tiny_guest()
            self.image_id = self.env.register("vol-tiny", built.disk, "qcow2",
                                              hw_qemu_guest_agent="yes")
        image_meta = {"id": self.image_id, "properties": {"hw_qemu_guest_agent": "yes"}}
        inst = make_instance(self.image_id, hostname=f"vol{label}")
        if block_device_info:
            inst.image_ref = ""
            image_meta = {"properties": {"hw_qemu_guest_agent": "yes"}}
        self.made.append(inst)
        with self.on(name) as drv:
            drv.spawn(CTXT, inst, image_meta, [], block_device_info)
        self.wait_booted(name, inst, 1)
        return inst

    def wait_booted(self, name: str, inst: Instance, boots: int) -> None:
        wait_until(lambda: self.console(name, inst).count(tinyguest.MARKER) >= boots,
                   BOOT_TIMEOUT, f"boot {boots} of guest {inst.uuid} on {name}", interval=0.5)
        agent.wait_ready(self.domain(name, inst), time.monotonic() + AGENT_TIMEOUT)

    def stop(self) -> None:
        for inst in self.made:
            for name in ("a", "b"):
                with contextlib.suppress(Exception), self.on(name) as drv:
                    drv.destroy(CTXT, inst, [])
        for name in list(self.drivers):
            with contextlib.suppress(Exception), self.on(name) as drv:
                drv.cleanup_host(f"vol-{name}")
        self.exports.ensure({})


def run(dom: libvirt.virDomain, *argv: str) -> str:
    status = agent.execute(dom, "/bin/busybox", list(argv), time.monotonic() + 60, capture=True)
    assert status.get("exitcode") == 0, (argv, status)
    return base64.b64decode(status.get("out-data", "")).decode()


def guest_disk(dom: libvirt.virDomain, serial: str) -> tuple[str, int] | None:
    """(the guest's name for the disk with ``serial``, its size in bytes).

    NOTE: the guest names its disks in the order it finds them, not after
    libvirt's target (the config drive, vdz to libvirt, is the guest's vdb),
    so the volume is found by the serial libvirt gives it (virtio-blk keeps
    20 bytes of it)."""
    script = ("for d in /sys/block/vd*; do echo $(basename $d) $(cat $d/serial 2>/dev/null) "
              "$(cat $d/size); done")
    out = run(dom, "sh", "-c", script)
    for line in out.splitlines():
        words = line.split()
        if len(words) == 3 and words[1] == serial[:20]:
            return words[0], int(words[2]) * 512
    return None


def wait_disk(dom: libvirt.virDomain, serial: str, size: int | None) -> str:
    """The guest's device of the volume once it has ``size`` bytes (None:
    once the guest has no disk with that serial)."""
    def seen() -> str | None:
        disk = guest_disk(dom, serial)
        if size is None:
            return "gone" if disk is None else None
        return disk[0] if disk is not None and disk[1] == size else None
    return str(wait_until(seen, DEVICE_TIMEOUT, f"the guest's disk {serial} with {size} bytes",
                          interval=0.5))


def write_block(dom: libvirt.virDomain, dev: str, data: bytes) -> None:
    agent.write_file(dom, "/run/vol-block", data)
    run(dom, "dd", "if=/run/vol-block", f"of=/dev/{dev}", f"bs={BLOCK}", f"seek={BLOCK_SEEK}",
        "count=1", "conv=notrunc,fsync")


def read_block(dom: libvirt.virDomain, dev: str) -> bytes:
    run(dom, "dd", f"if=/dev/{dev}", "of=/run/vol-read", f"bs={BLOCK}", f"skip={BLOCK_SEEK}",
        "count=1", "iflag=direct")
    return agent.read_file(dom, "/run/vol-read")


def raw_volume(rig: Rig, name: str, size: int) -> str:
    path = os.path.join(rig.volumes, name)
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", path, str(size)], check=True)
    return path


def nbd_info(rig: Rig, export: dict, volume_id: str) -> dict[str, Any]:
    return {"driver_volume_type": "nbd", "serial": volume_id,
            "data": {"host": export["host"], "port": export["port"], "name": export["name"],
                     "format": "raw", "volume_id": volume_id, "access_mode": "rw"}}


def disks(dom: libvirt.virDomain, inactive: bool = False) -> dict[str, str]:
    """target dev -> disk type, of the live or persistent XML."""
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0)
    out = {}
    for dev in ("vda", "vdb", "vdc"):
        disk = libvirt_volume.find_disk(xml, target=dev)
        if disk is not None:
            out[dev] = str(disk.get("type"))
    return out


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with libvirt_env() as env:
        # NOTE: the module's guests boot before the function-scoped noauth default.
        env.override("auth_strategy", "noauth")
        second = SecondLibvirtHost(label="vol")
        r: Rig | None = None
        try:
            second.start()
            r = Rig(env, second)
            yield r
        finally:
            if r is not None:
                r.stop()
            problems = second.stop()
            assert not problems, problems


@pytest.fixture(scope="module")
def guest_a(rig: Rig) -> Instance:
    return rig.boot("a", "a")


@pytest.fixture(scope="module")
def guest_b(rig: Rig) -> Instance:
    return rig.boot("b", "b")


def test_nbd_volume_written_on_a_read_on_b_extended_and_kept_by_hard_reboot(
        rig: Rig, guest_a: Instance, guest_b: Instance) -> None:
    volume_id = uuidutils.generate_uuid()
    path = raw_volume(rig, "vol-nbd", 64 * MiB)
    pattern = os.urandom(BLOCK)

    # Host A: the export admits A's address; hot-plugged live and persistent.
    with rig.on("a") as drv_a:
        connector = drv_a.get_volume_connector(guest_a)
    assert connector["ip"] == rig.second.root_addr and connector["host"] == "vol-a"
    ci_a = nbd_info(rig, rig.exports.export("att-a", path, "raw", connector["ip"]), volume_id)
    with rig.on("a") as drv_a:
        drv_a.attach_volume(CTXT, ci_a, guest_a, "/dev/vdb")
        drv_a.attach_volume(CTXT, ci_a, guest_a, "/dev/vdb")  # idempotent
    dom_a = rig.domain("a", guest_a)
    assert disks(dom_a) == {"vda": "file", "vdb": "network"}
    assert disks(dom_a, inactive=True) == {"vda": "file", "vdb": "network"}
    dev = wait_disk(dom_a, volume_id, 64 * MiB)
    write_block(dom_a, dev, pattern)

    with rig.on("a") as drv_a:
        drv_a.detach_volume(CTXT, ci_a, guest_a, "/dev/vdb")
        drv_a.detach_volume(CTXT, ci_a, guest_a, "/dev/vdb")  # idempotent
    assert disks(dom_a) == {"vda": "file"} and disks(dom_a, inactive=True) == {"vda": "file"}
    wait_disk(dom_a, volume_id, None)
    rig.exports.unexport("att-a")
    with open(path, "rb") as f:
        f.seek(BLOCK_SEEK * BLOCK)
        assert f.read(BLOCK) == pattern

    # Host B (the namespace): the same volume, exported to B's address, over the veth.
    with rig.on("b") as drv_b:
        connector_b = drv_b.get_volume_connector(guest_b)
    assert connector_b["ip"] == rig.second.address
    ci_b = nbd_info(rig, rig.exports.export("att-b", path, "raw", connector_b["ip"]),
                    volume_id)
    with rig.on("b") as drv_b:
        drv_b.attach_volume(CTXT, ci_b, guest_b, "/dev/vdb")
    dom_b = rig.domain("b", guest_b)
    dev = wait_disk(dom_b, volume_id, 64 * MiB)
    assert read_block(dom_b, dev) == pattern

    # Extend: the export grows, then the driver makes QEMU and the guest see it.
    rig.exports.resize("att-b", 96 * MiB)
    with rig.on("b") as drv_b:
        seen = drv_b.extend_volume(CTXT, ci_b, guest_b, 96 * MiB)
    assert seen == 96 * MiB
    dev = wait_disk(dom_b, volume_id, 96 * MiB)
    assert read_block(dom_b, dev) == pattern

    # Hard reboot: the guest boots again with the volume.
    bdi = {"root_device_name": "/dev/vda", "ephemerals": [], "swap": None,
           "block_device_mapping": [{"connection_info": ci_b, "mount_device": "/dev/vdb",
                                     "boot_index": None, "disk_bus": "virtio",
                                     "device_type": "disk", "delete_on_termination": False,
                                     "attachment_id": "att-b"}]}
    boots = rig.console("b", guest_b).count(tinyguest.MARKER)
    with rig.on("b") as drv_b:
        drv_b.reboot(CTXT, guest_b, "HARD", block_device_info=bdi)
    rig.wait_booted("b", guest_b, boots + 1)
    dom_b = rig.domain("b", guest_b)
    dev = wait_disk(dom_b, volume_id, 96 * MiB)
    assert read_block(dom_b, dev) == pattern

    with rig.on("b") as drv_b:
        drv_b.detach_volume(CTXT, ci_b, guest_b, "/dev/vdb")
    wait_disk(dom_b, volume_id, None)
    assert disks(dom_b, inactive=True) == {"vda": "file"}
    rig.exports.unexport("att-b")


def test_local_volume_attach_extend_detach(rig: Rig, guest_a: Instance) -> None:
    volume_id = uuidutils.generate_uuid()
    path = raw_volume(rig, "vol-local", 32 * MiB)
    ci = {"driver_volume_type": "local", "serial": volume_id,
          "data": {"device_path": path, "format": "raw", "volume_id": volume_id,
                   "access_mode": "rw"}}
    with rig.on("a") as drv_a:
        drv_a.attach_volume(CTXT, ci, guest_a, "/dev/vdc")
    dom = rig.domain("a", guest_a)
    assert disks(dom).get("vdc") == "file"
    dev = wait_disk(dom, volume_id, 32 * MiB)
    pattern = os.urandom(BLOCK)
    write_block(dom, dev, pattern)
    with rig.on("a") as drv_a:
        assert drv_a.extend_volume(CTXT, ci, guest_a, 48 * MiB) == 48 * MiB
    wait_disk(dom, volume_id, 48 * MiB)
    assert os.path.getsize(path) == 48 * MiB
    with rig.on("a") as drv_a:
        drv_a.detach_volume(CTXT, ci, guest_a, "/dev/vdc")
    wait_disk(dom, volume_id, None)
    assert "vdc" not in disks(dom, inactive=True)
    with open(path, "rb") as f:
        f.seek(BLOCK_SEEK * BLOCK)
        assert f.read(BLOCK) == pattern


def test_attach_refusals(rig: Rig, guest_a: Instance) -> None:
    path = raw_volume(rig, "vol-refused", MiB)
    ci = {"driver_volume_type": "local", "serial": "v1",
          "data": {"device_path": path, "format": "raw"}}
    with rig.on("a") as drv_a:
        with pytest.raises(libvirt_volume.VolumeDriverError, match="is in use by another disk"):
            drv_a.attach_volume(CTXT, ci, guest_a, "/dev/vda")
        with pytest.raises(libvirt_volume.VolumeDriverError, match="mount point"):
            drv_a.attach_volume(CTXT, ci, guest_a, "/dev/../etc")
        with pytest.raises(libvirt_volume.VolumeDriverError, match="connection type 'iscsi'"):
            drv_a.attach_volume(CTXT, {**ci, "driver_volume_type": "iscsi"}, guest_a,
                                "/dev/vdd")
        with pytest.raises(libvirt_volume.VolumeDriverError, match="has no disk of it"):
            drv_a.extend_volume(CTXT, ci, guest_a, 2 * MiB)
    assert "vdd" not in disks(rig.domain("a", guest_a), inactive=True)


def test_boot_from_nbd_volume(rig: Rig) -> None:
    volume_id = uuidutils.generate_uuid()
    built = _tiny_guest()
    path = os.path.join(rig.volumes, "vol-root")
    subprocess.run(["qemu-img", "convert", "-q", "-f", "qcow2", "-O", "raw", built.disk, path],
                   check=True)
    ci = nbd_info(rig, rig.exports.export("att-root", path, "raw", rig.second.root_addr),
                  volume_id)
    bdi = {"root_device_name": "/dev/vda", "ephemerals": [], "swap": None,
           "block_device_mapping": [{"connection_info": ci, "mount_device": "/dev/vda",
                                     "boot_index": 0, "disk_bus": "virtio",
                                     "device_type": "disk", "delete_on_termination": False,
                                     "attachment_id": "att-root"}]}
    inst = rig.boot("a", "bfv", block_device_info=bdi)
    dom = rig.domain("a", inst)
    assert disks(dom) == {"vda": "network"}
    inst_dir = os.path.join(rig.paths["a"]["instances_path"], inst.uuid)
    assert "disk" not in os.listdir(inst_dir)
    disk = guest_disk(dom, volume_id)
    assert disk is not None and disk[0] == "vda", disk
    with rig.on("a") as drv_a:
        with pytest.raises(exception.InstanceInvalidState, match="its root disk is a volume"):
            drv_a.rescue(CTXT, inst, {"id": rig.image_id})
        drv_a.destroy(CTXT, inst, [])
    rig.exports.unexport("att-root")


def test_live_migration_switches_the_volume_to_the_destinations_attachment(
        rig: Rig, guest_a: Instance) -> None:
    volume_id = uuidutils.generate_uuid()
    path = raw_volume(rig, "vol-lm", 32 * MiB)
    pattern, after = os.urandom(BLOCK), os.urandom(BLOCK)
    ci_a = nbd_info(rig, rig.exports.export("lm-a", path, "raw", rig.second.root_addr),
                    volume_id)
    with rig.on("a") as drv_a:
        drv_a.attach_volume(CTXT, ci_a, guest_a, "/dev/vdb")
    dom_a = rig.domain("a", guest_a)
    write_block(dom_a, wait_disk(dom_a, volume_id, 32 * MiB), pattern)

    image_meta = {"id": rig.image_id, "properties": {"hw_qemu_guest_agent": "yes"}}
    with rig.on("a") as drv_a:
        source_data = drv_a.live_migration_source_data(guest_a)
    with rig.on("b") as drv_b:
        migrate_data = drv_b.pre_live_migration(CTXT, guest_a, image_meta, [], source_data)
    # What the compute manager adds: the destination's own attachment.
    ci_b = nbd_info(rig, rig.exports.export("lm-b", path, "raw", rig.second.address),
                    volume_id)
    migrate_data["volumes"] = {volume_id: {"old": "lm-a", "new": "lm-b",
                                           "connection_info": ci_b}}
    with rig.on("a") as drv_a:
        state = drv_a.live_migration(CTXT, guest_a, "vol-b", [], migrate_data=migrate_data)
    with rig.on("b") as drv_b:
        drv_b.post_live_migration_at_destination(CTXT, guest_a, [], state)
    rig.exports.unexport("lm-a")

    dom_b = rig.domain("b", guest_a)
    for inactive in (False, True):
        xml = dom_b.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0)
        disk = libvirt_volume.find_disk(xml, serial=volume_id)
        assert disk is not None
        source = disk.find("source")
        assert source is not None and source.get("name") == ci_b["data"]["name"], xml
    agent.wait_ready(dom_b, time.monotonic() + AGENT_TIMEOUT)
    dev = wait_disk(dom_b, volume_id, 32 * MiB)
    assert read_block(dom_b, dev) == pattern
    write_block(dom_b, dev, after)
    with open(path, "rb") as f:
        f.seek(BLOCK_SEEK * BLOCK)
        assert f.read(BLOCK) == after
    with rig.on("b") as drv_b:
        drv_b.detach_volume(CTXT, ci_b, guest_a, "/dev/vdb")
    wait_disk(dom_b, volume_id, None)
    rig.exports.unexport("lm-b")
