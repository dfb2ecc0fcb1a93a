"""Resize of a REAL guest through the HTTP API (issue 12 item 3): HTTP API →
conductor → scheduler → compute (prep_resize, resize_instance,
finish_resize) → LibvirtDriver → libvirtd + QEMU, on one host with
``allow_resize_to_same_host`` (as the all-in-one runs).

First, at the driver level, a real qcow2 disk moves through the
authenticated per-migration channel (novalite/compute/disk_transfer.py) the
computes use between hosts: a sender with a wrong token is refused and the
guest is put back running; with the migration's token the disk arrives
(checksum checked), the guest boots from it and a block written before is
there.

Then one guest booted from the tiny guest's qcow2 disk (guest agent, a NIC on a
real bridge) is shared by the module's tests, in order:

- resize to a flavor with 2 vCPUs, more RAM and a 2 GiB disk, then revert:
  in VERIFY_RESIZE the guest answers HTTP with its uuid and sees 2 vCPUs,
  the RAM and a 2 GiB disk; after the revert 1 vCPU and 1 GiB again, the
  files kept aside gone;
- resize again and confirm: the guest keeps the new sizes, nothing kept aside.

The claims follow (os-hypervisors), the migration records end reverted and
confirmed. Everything is removed at the end, also on failure; nothing skips.

A cold migration and an evacuation between two compute services on this
libvirtd are in tests/integration/test_real_cold_migration.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from oslo_utils import uuidutils

from novalite.compute.disk_transfer import ChannelSender, DiskReceiver
from novalite.conf import CONF
from novalite.virt import driver as virt_driver
from tests.integration import realguest
from tests.integration.realstack import RealStackError, libvirt_connection
from tests.integration.test_libvirt_driver import libvirt_env
from tests.integration.test_libvirt_lifecycle import (
    CTXT,
    PATTERN_OFFSET,
    PATTERN_SIZE,
    Lifecycle,
)
from tests.integration.test_networking import NetStack

pytestmark = pytest.mark.integration

GiB = 1024 ** 3
BIG: dict[str, Any] = {"name": "mv.big", "ram": 768, "vcpus": 2, "disk": 2, "id": "mvbig"}


class Guest(realguest.Guest):
    def sizes(self) -> tuple[int, int, int]:
        """What the guest sees: disk bytes, vCPUs, RAM (MiB, as the kernel counts it)."""
        disk = int(self.run("cat", "/sys/block/vda/size")) * 512
        cpus = int(self.run("nproc"))
        mem_kb = next(int(line.split()[1]) for line in self.run("cat", "/proc/meminfo")
                      .splitlines() if line.startswith("MemTotal:"))
        return disk, cpus, mem_kb // 1024

    def used_ram(self) -> int:
        hypervisors = self.stack.compute("GET", "/os-hypervisors/detail").json()
        return int(hypervisors["hypervisors"][0]["memory_mb_used"])

    def kept_aside(self) -> bool:
        return os.path.exists(self.ns.rs.instance_dir(self.id) + "_resize")


@pytest.fixture(scope="module")
def guest() -> Iterator[Guest]:
    try:
        libvirt_connection().close()
    except RealStackError as e:
        pytest.fail(str(e))
    ns = NetStack()
    ns.rs.stack.overrides[(None, "allow_resize_to_same_host")] = True
    problems: list[str] = []
    try:
        ns.start()
        resp = ns.rs.stack.compute("POST", "/flavors", {"flavor": BIG})
        assert resp.status_code == 200, resp.text
        with realguest.booted(Guest(ns), "rmv-1") as g:
            yield g
    finally:
        problems = ns.stop()
    assert not problems, "the stack was not left clean:\n" + "\n".join(problems)


@pytest.fixture
def lone_guest() -> Iterator[Lifecycle]:
    """A guest of the LibvirtDriver alone (no services), gone before the
    module's shared guest is booted."""
    with libvirt_env() as env:
        env.override("auth_strategy", "noauth")
        life = Lifecycle(env)
        try:
            life.start()
            yield life
        finally:
            life.stop()


def test_a_real_disk_moves_through_the_authenticated_channel(lone_guest: Lifecycle) -> None:
    lc = lone_guest
    inst = lc.instance
    inst_dir = os.path.join(CONF.libvirt.instances_path, inst.uuid)
    lc.write_block("/dev/vda", PATTERN_OFFSET, lc.pattern, fsync=True)
    migration = {"source_compute": CONF.host, "dest_compute": CONF.host}
    receiver = DiskReceiver(uuidutils.generate_uuid(), inst.uuid, address="127.0.0.1")
    try:
        forged = ChannelSender({**receiver.endpoint(), "token": "f" * 64})
        with pytest.raises(virt_driver.MigrationError, match="wrong token"):
            lc.drv.migrate_disk_and_power_off(CTXT, inst, "rmv-elsewhere", inst.flavor,
                                              [lc.vif], timeout=20, disk_transfer=forged)
        assert not os.path.exists(inst_dir + "_resize")
        lc.wait_booted()
        lc.wait_http()
        disk_info = lc.drv.migrate_disk_and_power_off(
            CTXT, inst, "rmv-elsewhere", inst.flavor, [lc.vif], timeout=20,
            disk_transfer=ChannelSender(receiver.endpoint()))
        assert [e["name"] for e in disk_info if e["name"] == "disk"] == ["disk"]
        lc.drv.finish_migration(CTXT, migration, inst, disk_info, [lc.vif], lc.image_meta,
                                False, power_on=True, disk_transfer=receiver.transfer())
    finally:
        receiver.close()
    lc.boots = 0
    lc.wait_booted()
    lc.wait_http()
    assert lc.read_block(None, "/dev/vda", PATTERN_OFFSET, PATTERN_SIZE) == lc.pattern
    lc.drv.confirm_migration(CTXT, migration, inst, [lc.vif])
    assert not os.path.exists(inst_dir + "_resize")


def _wait_ram(g: Guest, expected: int) -> None:
    deadline = time.monotonic() + 30
    while g.used_ram() != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert g.used_ram() == expected


def test_resize_then_revert_on_a_real_guest(guest: Guest) -> None:
    disk, cpus, ram = guest.sizes()
    assert (disk, cpus) == (GiB, 1)
    small_ram = ram
    guest.act({"resize": {"flavorRef": BIG["id"]}})
    resized = guest.wait("VERIFY_RESIZE")
    assert resized["flavor"]["id"] == BIG["id"]
    guest.wait_up()
    disk, cpus, ram = guest.sizes()
    assert (disk, cpus) == (2 * GiB, 2) and ram > small_ram
    assert guest.kept_aside()
    # NOTE: both flavors are claimed until the resize is confirmed or reverted.
    _wait_ram(guest, 512 + BIG["ram"])

    guest.act({"revertResize": None})
    reverted = guest.wait("ACTIVE")
    assert reverted["flavor"]["id"] == "1"
    guest.wait_up()
    assert guest.sizes()[:2] == (GiB, 1)
    assert not guest.kept_aside()
    _wait_ram(guest, 512)
    assert guest.migrations()[0]["status"] == "reverted"


def test_resize_then_confirm_on_a_real_guest(guest: Guest) -> None:
    guest.act({"resize": {"flavorRef": BIG["id"]}})
    guest.wait("VERIFY_RESIZE")
    guest.act({"confirmResize": None}, status=204)
    confirmed = guest.wait("ACTIVE")
    assert confirmed["flavor"]["id"] == BIG["id"]
    guest.wait_up()
    assert guest.sizes()[:2] == (2 * GiB, 2)
    assert not guest.kept_aside()
    _wait_ram(guest, BIG["ram"])
    statuses = [m["status"] for m in guest.migrations()]
    assert statuses == ["confirmed", "reverted"]
