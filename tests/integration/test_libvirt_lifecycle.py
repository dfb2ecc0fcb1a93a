"""The lifecycle primitives of the LibvirtDriver on a real tiny guest
(libvirtd + QEMU TCG here): pause/unpause, suspend/resume (managed save),
snapshot (agent freeze or pause; a second guest boots from it), rescue,
NMI, set_admin_password, resize/revert/confirm on one host.

ONE guest (module-scoped) serves every test that allows it, on a bridge of
its own with an address the host reaches over HTTP (the tiny guest answers
``GET /`` with its uuid). Before the first snapshot the guest writes a
random pattern at a fixed offset of its own disk (/dev/vda) through its
agent; the pattern is what proves a disk (snapshot, rescued disk, resized
disk) is the guest's. The guest, the second guest, the bridge, the files:
all removed at the end, also on failure. Nothing here skips.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest
from oslo_utils import uuidutils

from novalite import context as nl_context
from novalite import tinyguest
from novalite.compute import power_state
from novalite.conf import CONF
from novalite.network import linux_net
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from novalite.virt import driver as virt_driver
from novalite.virt.libvirt import agent
from novalite.virt.libvirt.driver import LibvirtDriver
from tests.integration.test_libvirt_driver import (
    LibvirtEnv,
    _tiny_guest,
    libvirt_connection,
    libvirt_env,
    make_instance,
)
from tests.integration.test_networking import _free_cidr
from tests.procs import wait_until

pytestmark = pytest.mark.integration

BOOT_TIMEOUT = 120
AGENT_TIMEOUT = 60
HTTP_TIMEOUT = 60
GiB = 1024 ** 3
PATTERN_OFFSET = 600 * 1024 * 1024   # inside the 1 GiB overlay, past the 40 MiB image
PATTERN_SIZE = 4096
CTXT = nl_context.get_admin_context()


class Lifecycle:
    """The shared guest and what the tests need to reach it."""

    def __init__(self, env: LibvirtEnv) -> None:
        self.env = env
        self.drv: LibvirtDriver = env.driver()
        self.image_id = ""
        self.image_meta: dict[str, Any] = {}
        cidr = _free_cidr()
        prefix = cidr.rsplit(".", 1)[0]
        self.bridge = f"lvlc{uuidutils.generate_uuid()[:8]}"
        self.address = f"{prefix}.10"
        port = uuidutils.generate_uuid()
        self.vif = {"id": port, "address": "fa:16:3e:7e:57:10", "type": "bridge",
                    "devname": f"tap{port}"[:14],
                    "network": {"id": uuidutils.generate_uuid(), "label": "lvlc",
                                "bridge": self.bridge,
                                "subnets": [{"cidr": cidr, "gateway": f"{prefix}.1",
                                             "ips": [{"address": self.address, "type": "fixed",
                                                      "version": 4}]}]}}
        self.inst: Instance | None = None
        self.pattern = os.urandom(PATTERN_SIZE)
        self.boots = 0
        self.made: list[Instance] = []

    @property
    def instance(self) -> Instance:
        assert self.inst is not None
        return self.inst

    def start(self) -> None:
        built = _tiny_guest()
        self.image_id = self.env.register("lvlc-tiny-disk", built.disk, "qcow2",
                                          hw_qemu_guest_agent="yes")
        self.image_meta = {"id": self.image_id, "properties": {"hw_qemu_guest_agent": "yes"}}
        inst = make_instance(self.image_id, hostname="lvlc")
        inst.config_drive = True
        self.inst = inst
        self.made.append(inst)
        self.drv.spawn(CTXT, inst, self.image_meta, [self.vif])
        self.wait_booted()
        self.wait_http()

    def stop(self) -> None:
        for inst in self.made:
            with contextlib.suppress(Exception):
                self.drv.destroy(CTXT, inst, [self.vif])
        with contextlib.suppress(Exception):
            linux_net.delete_device(self.bridge)
        self.drv.cleanup_host(CONF.host)

    # -- reaching the guest ------------------------------------------------------

    def domain(self, inst: Instance | None = None) -> libvirt.virDomain:
        conn = libvirt_connection()
        return conn.lookupByUUIDString((inst or self.instance).uuid)

    def xml(self, inst: Instance | None = None) -> ET.Element:
        return ET.fromstring(self.domain(inst).XMLDesc(0))

    def markers(self, inst: Instance | None = None) -> int:
        out = self.drv.get_console_output(CTXT, inst or self.instance)
        return out.decode("utf-8", "replace").count(tinyguest.MARKER)

    def wait_booted(self, inst: Instance | None = None, count: int | None = None) -> None:
        """The next boot's marker on the console, then its agent."""
        if inst is None:
            self.boots += 1
            count = self.boots
        wait_until(lambda: self.markers(inst) >= (count or 1), BOOT_TIMEOUT,
                   "the tiny guest's boot marker")
        dom = self.domain(inst)
        agent.wait_ready(dom, time.monotonic() + AGENT_TIMEOUT)

    def http(self, timeout: float = 2) -> str | None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"http://{self.address}/", timeout=timeout) as resp:
                return str(resp.read().decode())
        except (OSError, urllib.error.URLError):
            return None

    def wait_http(self) -> str:
        body = wait_until(self.http, HTTP_TIMEOUT, f"HTTP answer from {self.address}",
                          interval=0.5)
        assert f"uuid={self.instance.uuid}" in str(body).splitlines()
        return str(body)

    def uptime(self) -> float:
        return float(agent.read_file(self.domain(), "/proc/uptime").split()[0])

    def run(self, inst: Instance | None, *args: str) -> str:
        status = agent.execute(self.domain(inst), "/bin/busybox", list(args),
                               time.monotonic() + 30, capture=True)
        assert status.get("exitcode") == 0, status
        return base64.b64decode(status.get("out-data", "")).decode()

    def write_block(self, device: str, offset: int, data: bytes, fsync: bool) -> None:
        """``data`` at ``offset`` of ``device`` in the guest. ``fsync``: as a
        careful program writes (busybox dd conv=fsync: the guest flushes the
        disk); else written and synced to the device, never flushed (QEMU
        may still hold the disk's metadata in its cache)."""
        dom = self.domain()
        if fsync:
            agent.write_file(dom, "/run/lvlc-block", data)
            self.run(None, "dd", "if=/run/lvlc-block", f"of={device}", f"bs={len(data)}",
                     f"seek={offset // len(data)}", "count=1", "conv=notrunc,fsync")
            return
        handle = agent.command(dom, "guest-file-open", {"path": device, "mode": "r+"})
        try:
            agent.command(dom, "guest-file-seek", {"handle": handle, "offset": offset,
                                                   "whence": "set"})
            agent.command(dom, "guest-file-write",
                          {"handle": handle, "buf-b64": base64.b64encode(data).decode()})
        finally:
            agent.command(dom, "guest-file-close", {"handle": handle})
        self.run(None, "sync")

    def read_block(self, inst: Instance | None, device: str, offset: int, size: int) -> bytes:
        dom = self.domain(inst)
        handle = agent.command(dom, "guest-file-open", {"path": device, "mode": "r"})
        try:
            agent.command(dom, "guest-file-seek", {"handle": handle, "offset": offset,
                                                   "whence": "set"})
            res = agent.command(dom, "guest-file-read", {"handle": handle, "count": size})
        finally:
            agent.command(dom, "guest-file-close", {"handle": handle})
        return base64.b64decode(res["buf-b64"])

    def state_reason(self) -> tuple[int, int]:
        state, reason = self.domain().state()
        return int(state), int(reason)


@pytest.fixture(scope="module")
def lc() -> Iterator[Lifecycle]:
    with libvirt_env() as env:
        # NOTE: the guest boots before the function-scoped noauth default of
        # tests/conftest.py applies; the Image API must serve its images.
        env.override("auth_strategy", "noauth")
        # NOTE: the shared guest's serial port is a TCP socket; every test
        # also proves the console log (get_console_output) still works.
        env.override("serial_console", True, group="libvirt")
        env.override("serial_port_range", "17300:17399", group="libvirt")
        life = Lifecycle(env)
        try:
            life.start()
            yield life
        finally:
            life.stop()
        left = [d.name() for d in libvirt_connection().listAllDomains(0)
                if any(d.UUIDString() == i.uuid for i in life.made)]
        assert not left, f"domains left: {left}"
        assert not os.path.exists(os.path.join(CONF.libvirt.instances_path,
                                               life.instance.uuid))
        assert not linux_net.device_exists(life.bridge)


def _qemu_img_info(path: str) -> dict[str, Any]:
    import json

    out = subprocess.run(["qemu-img", "info", "--output=json", "-f", "qcow2", path],
                         check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out))


def _region_of(path: str, offset: int, size: int, work: str) -> bytes:
    raw = os.path.join(work, "region.raw")
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", path, raw],
                   check=True, capture_output=True)
    try:
        with open(raw, "rb") as f:
            f.seek(offset)
            return f.read(size)
    finally:
        os.unlink(raw)


# -- pause, suspend -----------------------------------------------------------------

def test_pause_and_unpause_keep_the_guest_and_its_uptime(lc: Lifecycle) -> None:
    before = lc.uptime()
    lc.drv.pause(lc.instance)
    assert lc.state_reason()[0] == libvirt.VIR_DOMAIN_PAUSED
    assert lc.drv.get_info(lc.instance).state == power_state.PAUSED
    assert lc.http(timeout=1) is None, "a paused guest answered HTTP"
    lc.drv.unpause(lc.instance)
    assert lc.state_reason()[0] == libvirt.VIR_DOMAIN_RUNNING
    lc.wait_http()
    assert lc.uptime() >= before
    assert lc.markers() == lc.boots, "the guest rebooted"


def test_suspend_saves_memory_to_disk_and_resume_restores_it(lc: Lifecycle) -> None:
    before = lc.uptime()
    started = time.monotonic()
    lc.drv.suspend(CTXT, lc.instance)
    print(f"\nsuspend (managed save) {time.monotonic() - started:.2f}s")
    dom = lc.domain()
    assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF and not dom.isActive()
    assert dom.hasManagedSaveImage(0)
    save_file = f"/var/lib/libvirt/qemu/save/{dom.name()}.save"
    assert os.path.getsize(save_file) > 1024 * 1024
    assert lc.drv.get_info(lc.instance).state == power_state.SUSPENDED
    started = time.monotonic()
    lc.drv.resume(CTXT, lc.instance, [lc.vif])
    print(f"resume {time.monotonic() - started:.2f}s")
    assert lc.state_reason() == (libvirt.VIR_DOMAIN_RUNNING,
                                 libvirt.VIR_DOMAIN_RUNNING_RESTORED)
    assert not os.path.exists(save_file)
    lc.wait_http()
    assert lc.uptime() >= before
    assert lc.markers() == lc.boots, "the guest rebooted instead of resuming"


# -- snapshot -----------------------------------------------------------------------

def test_snapshot_holds_what_the_guest_wrote_and_boots(lc: Lifecycle) -> None:
    lc.write_block("/dev/vda", PATTERN_OFFSET, lc.pattern, fsync=True)
    reason_before = lc.state_reason()
    started = time.monotonic()
    path = lc.drv.snapshot(CTXT, lc.instance, lc.image_meta)
    print(f"\nsnapshot (agent freeze) {time.monotonic() - started:.2f}s")
    try:
        # Frozen through the agent, not paused: the domain's running reason
        # did not change, and the file systems are thawed again.
        assert lc.state_reason() == reason_before
        assert agent.command(lc.domain(), "guest-fsfreeze-status") == "thawed"
        info = _qemu_img_info(path)
        assert info["format"] == "qcow2" and "backing-filename" not in info
        assert info["virtual-size"] == GiB
        assert _region_of(path, PATTERN_OFFSET, PATTERN_SIZE, lc.env.base) == lc.pattern

        # A second guest boots from the snapshot and sees the pattern.
        snap_id = lc.env.register("lvlc-snapshot", path, "qcow2", hw_qemu_guest_agent="yes")
        second = make_instance(snap_id, hostname="lvlc-snap")
        lc.made.append(second)
        lc.drv.spawn(CTXT, second, {"id": snap_id}, [])
        try:
            lc.wait_booted(second, 1)
            assert lc.read_block(second, "/dev/vda", PATTERN_OFFSET, PATTERN_SIZE) == \
                lc.pattern
        finally:
            lc.drv.destroy(CTXT, second)
    finally:
        os.unlink(path)
    lc.wait_http()


def test_snapshot_without_an_agent_pauses_the_guest_around_the_copy(lc: Lifecycle) -> None:
    # NOTE: never flushed by the guest: only QEMU's own flush when the guest
    # is paused puts it in the disk file the copy reads.
    unflushed = os.urandom(PATTERN_SIZE)
    lc.write_block("/dev/vda", PATTERN_OFFSET + 2 * PATTERN_SIZE, unflushed, fsync=False)
    path = lc.drv.snapshot(CTXT, lc.instance, {"id": lc.image_id, "properties": {}})
    try:
        # NOTE: running again, and libvirt says why: it was unpaused.
        assert lc.state_reason() == (libvirt.VIR_DOMAIN_RUNNING,
                                     libvirt.VIR_DOMAIN_RUNNING_UNPAUSED)
        assert _region_of(path, PATTERN_OFFSET + 2 * PATTERN_SIZE, PATTERN_SIZE,
                          lc.env.base) == unflushed
    finally:
        os.unlink(path)
    assert not os.listdir(CONF.libvirt.snapshots_directory)
    lc.wait_http()


# -- rescue -------------------------------------------------------------------------

def test_rescue_boots_the_rescue_image_with_the_own_disk_second(lc: Lifecycle) -> None:
    inst_dir = os.path.join(CONF.libvirt.instances_path, lc.instance.uuid)
    lc.write_block("/dev/vda", PATTERN_OFFSET, lc.pattern, fsync=True)
    lc.drv.rescue(CTXT, lc.instance, {"id": lc.image_id}, [lc.vif])
    disks = [(d.find("source").get("file"), d.find("target").get("dev"))  # type: ignore[union-attr]
             for d in lc.xml().findall("devices/disk")]
    assert disks[:2] == [(os.path.join(inst_dir, "disk.rescue"), "vda"),
                         (os.path.join(inst_dir, "disk"), "vdb")]
    lc.wait_booted()
    # The guest's own disk, unchanged, is the second disk of the rescue guest.
    assert lc.read_block(None, "/dev/vdb", PATTERN_OFFSET, PATTERN_SIZE) == lc.pattern
    # The first disk is the rescue image at its own size (not the 1 GiB root).
    assert int(lc.run(None, "cat", "/sys/block/vda/size")) * 512 < PATTERN_OFFSET
    assert int(lc.run(None, "cat", "/sys/block/vdb/size")) * 512 == GiB

    lc.drv.unrescue(CTXT, lc.instance, [lc.vif])
    disks = [d.find("source").get("file")  # type: ignore[union-attr]
             for d in lc.xml().findall("devices/disk")]
    assert disks[0] == os.path.join(inst_dir, "disk")
    assert os.path.join(inst_dir, "disk.rescue") not in disks
    assert not os.path.exists(os.path.join(inst_dir, "disk.rescue"))
    assert not os.path.exists(os.path.join(inst_dir, "unrescue.xml"))
    lc.wait_booted()
    assert lc.read_block(None, "/dev/vda", PATTERN_OFFSET, PATTERN_SIZE) == lc.pattern
    lc.wait_http()


# -- through the guest --------------------------------------------------------------

def test_trigger_crash_dump_sends_the_guest_an_nmi(lc: Lifecycle) -> None:
    lc.drv.trigger_crash_dump(lc.instance)
    wait_until(lambda: b"NMI" in lc.drv.get_console_output(CTXT, lc.instance), 30,
               "the guest kernel's NMI message on the console")
    assert lc.drv.get_info(lc.instance).state == power_state.RUNNING


def test_set_admin_password_through_the_agent(lc: Lifecycle) -> None:
    # NOTE: qemu-ga runs chpasswd, which Debian's busybox-static lacks; a
    # real image ships one (shadow's). This one does what it does.
    agent.write_file(lc.domain(), "/usr/sbin/chpasswd", CHPASSWD.encode())
    lc.run(None, "chmod", "755", "/usr/sbin/chpasswd")
    lc.drv.set_admin_password(lc.instance, "n3w'pass\"word")
    files = {p: agent.read_file(lc.domain(), p).decode() for p in ("/etc/passwd",)}
    with contextlib.suppress(agent.AgentError):
        files["/etc/shadow"] = agent.read_file(lc.domain(), "/etc/shadow").decode()
    hashes = [line.split(":")[1] for text in files.values() for line in text.splitlines()
              if line.startswith("root:")]
    hashed = [h for h in hashes if h.startswith("$")]
    assert hashed, f"no password hash for root in {files}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # NOTE: deprecated (gone in 3.13); nothing else checks a crypt(3) hash
    assert crypt.crypt("n3w'pass\"word", hashed[-1]) == hashed[-1]


CHPASSWD = r"""#!/bin/sh
# chpasswd for the tiny guest: "user:password" lines on stdin.
while IFS= read -r line; do
    user=${line%%:*}
    hash=$(mkpasswd -m sha512 "${line#*:}") || exit 1
    sed -i "s|^$user:[^:]*:|$user:$hash:|" /etc/passwd || exit 1
done
"""


# -- resize and cold migration on this host ------------------------------------------

def _flavor(name: str, root_gb: int, vcpus: int, memory_mb: int) -> Flavor:
    return Flavor(id=3, flavorid=name, name=name, memory_mb=memory_mb, vcpus=vcpus,
                  root_gb=root_gb, ephemeral_gb=0, swap=0, extra_specs={})


def _sizes(lc: Lifecycle) -> tuple[int, int, int]:
    """(vda capacity in bytes, vCPUs, max memory MiB) as libvirt reports them."""
    dom = lc.domain()
    _state, max_kib, _mem, vcpus, _cpu = dom.info()
    return int(dom.blockInfo("vda", 0)[0]), int(vcpus), int(max_kib) // 1024


def test_move_to_another_host_without_a_channel_is_refused_and_undone(lc: Lifecycle) -> None:
    inst_dir = os.path.join(CONF.libvirt.instances_path, lc.instance.uuid)
    with pytest.raises(virt_driver.MigrationError, match="no disk transfer channel to host "
                                                         "lvlc-elsewhere"):
        lc.drv.migrate_disk_and_power_off(CTXT, lc.instance, "lvlc-elsewhere",
                                          lc.instance.flavor, [lc.vif])
    assert os.path.exists(os.path.join(inst_dir, "disk"))
    assert not os.path.exists(inst_dir + "_resize")
    assert lc.drv.get_info(lc.instance).state == power_state.RUNNING
    lc.wait_booted()
    lc.wait_http()


def test_resize_grows_the_disk_and_changes_vcpus_and_ram_then_revert_and_confirm(
        lc: Lifecycle) -> None:
    inst = lc.instance
    inst_dir = os.path.join(CONF.libvirt.instances_path, inst.uuid)
    old, new = inst.flavor, _flavor("lvlc.bigger", 2, 2, 192)
    assert _sizes(lc) == (GiB, 1, 128)
    lc.write_block("/dev/vda", PATTERN_OFFSET, lc.pattern, fsync=True)
    migration = {"source_compute": CONF.host, "dest_compute": CONF.host}
    boots_before = lc.boots

    def resize() -> None:
        started = time.monotonic()
        disk_info = lc.drv.migrate_disk_and_power_off(CTXT, inst, CONF.host, new, [lc.vif],
                                                      timeout=20)
        assert os.path.isdir(inst_dir + "_resize")
        inst.flavor = new
        lc.drv.finish_migration(CTXT, migration, inst, disk_info, [lc.vif], lc.image_meta,
                                True, power_on=True)
        print(f"\nresize (power off, copy, grow, start) {time.monotonic() - started:.2f}s")
        assert _sizes(lc) == (2 * GiB, 2, 192)
        # NOTE: the resized guest writes a new console log (the old one
        # stays with the files kept aside).
        lc.boots = 0
        lc.wait_booted()
        assert lc.run(None, "cat", "/sys/block/vda/size").strip() == str(2 * GiB // 512)
        assert lc.run(None, "nproc").strip() == "2"
        assert lc.read_block(None, "/dev/vda", PATTERN_OFFSET, PATTERN_SIZE) == lc.pattern

    resize()
    inst.flavor = old
    lc.drv.finish_revert_migration(CTXT, inst, [lc.vif], migration, power_on=True)
    assert _sizes(lc) == (GiB, 1, 128)
    assert not os.path.exists(inst_dir + "_resize")
    lc.boots = boots_before
    lc.wait_booted()
    assert lc.read_block(None, "/dev/vda", PATTERN_OFFSET, PATTERN_SIZE) == lc.pattern

    resize()
    lc.drv.confirm_migration(CTXT, migration, inst, [lc.vif])
    assert not os.path.exists(inst_dir + "_resize")
    assert _sizes(lc) == (2 * GiB, 2, 192)
    lc.wait_http()


# -- serial console -------------------------------------------------------------------

def _read_until(sock: socket.socket, needle: bytes, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    data = b""
    while needle not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} not read from the serial console; got "
                                 f"{data[-300:]!r}")
        sock.settimeout(left)
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"the serial console closed; got {data[-300:]!r}")
        data += chunk
    return data


def test_serial_console_is_an_interactive_tcp_socket_and_the_log_stays(lc: Lifecycle) -> None:
    console = lc.drv.get_serial_console(CTXT, lc.instance)
    assert console.host == "127.0.0.1" and 17300 <= console.port <= 17399
    source = lc.xml().find("devices/serial/source")
    assert source is not None and source.get("service") == str(console.port)
    with socket.create_connection((console.host, console.port), timeout=10) as sock:
        sock.sendall(b"\n")
        sock.sendall(b"echo lvlc-serial-$((6*7))\n")
        _read_until(sock, b"lvlc-serial-42", 30)
    # What went over the socket is in the console log too.
    wait_until(lambda: b"lvlc-serial-42" in lc.drv.get_console_output(CTXT, lc.instance), 10,
               "the serial session in the console log")


def test_serial_console_of_a_stopped_guest_or_without_tcp_is_refused(lc: Lifecycle) -> None:
    from novalite import exception

    inst = make_instance(lc.image_id, hostname="lvlc-pty")
    lc.made.append(inst)
    CONF.set_override("serial_console", False, group="libvirt")
    try:
        lc.drv.spawn(CTXT, inst, {"id": lc.image_id}, [])
    finally:
        CONF.set_override("serial_console", True, group="libvirt")
    try:
        with pytest.raises(virt_driver.ConsoleTypeUnavailable, match="serial"):
            lc.drv.get_serial_console(CTXT, inst)
        lc.drv.power_off(inst, timeout=0)
        with pytest.raises(exception.InstanceInvalidState, match="'get_serial_console'"):
            lc.drv.get_serial_console(CTXT, inst)
    finally:
        lc.drv.destroy(CTXT, inst)
