"""One contract, every driver: the failure semantics written in
``novalite/virt/driver.py``, run against FakeDriver and against
LibvirtDriver on the real libvirtd."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from novalite import context as nl_context
from novalite import exception
from novalite.compute import power_state
from novalite.conf import CONF
from novalite.objects.flavor import Flavor
from novalite.virt import driver as virt_driver
from novalite.virt.fake import FakeDriver
from tests.integration.test_libvirt_driver import (
    LibvirtEnv,
    RecordingVirtAPI,
    libvirt_env,
    make_instance,
)

pytestmark = pytest.mark.integration


class DriverCase:
    def __init__(self, driver: virt_driver.ComputeDriver, image_id: str) -> None:
        self.driver = driver
        self.image_id = image_id
        self.ctxt = nl_context.get_admin_context()
        self.made: list[Any] = []

    def instance(self, root_gb: int = 1) -> Any:
        inst = make_instance(self.image_id, root_gb=root_gb)
        self.made.append(inst)
        return inst

    def spawn(self, root_gb: int = 1) -> Any:
        inst = self.instance(root_gb)
        self.driver.spawn(self.ctxt, inst, {"id": self.image_id}, [])
        return inst

    def cleanup(self) -> None:
        for inst in self.made:
            with contextlib.suppress(Exception):
                self.driver.destroy(self.ctxt, inst)


@pytest.fixture(scope="module")
def lv_env() -> Iterator[LibvirtEnv]:
    with libvirt_env() as env:
        yield env


@pytest.fixture(params=["fake.FakeDriver", "libvirt.LibvirtDriver"])
def case(request: Any) -> Iterator[DriverCase]:
    if request.param == "fake.FakeDriver":
        c = DriverCase(FakeDriver(RecordingVirtAPI()), "11111111-2222-3333-4444-555555555555")
    else:
        env: LibvirtEnv = request.getfixturevalue("lv_env")
        image_id = getattr(env, "contract_image", None)
        if image_id is None:
            image_id = env.contract_image = env.register(  # type: ignore[attr-defined]
                "lvtest-contract", env.empty_qcow2(), "qcow2")
        drv = virt_driver.load_compute_driver(RecordingVirtAPI(), request.param)
        c = DriverCase(drv, image_id)
    c.driver.init_host(CONF.host)
    try:
        yield c
    finally:
        c.cleanup()
        c.driver.cleanup_host(CONF.host)


def test_loaded_by_entry_point_name(case: DriverCase) -> None:
    assert isinstance(case.driver, virt_driver.ComputeDriver)
    assert case.driver.get_available_nodes() == [CONF.host]


def test_spawn_returns_a_running_guest(case: DriverCase) -> None:
    inst = case.spawn()
    assert case.driver.get_info(inst).state == power_state.RUNNING
    assert inst.uuid in case.driver.list_instance_uuids()
    assert isinstance(case.driver.get_console_output(case.ctxt, inst), bytes)


def test_power_off_and_on_are_idempotent(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.power_off(inst, timeout=0)
    assert case.driver.get_info(inst).state == power_state.SHUTDOWN
    case.driver.power_off(inst, timeout=0)
    assert case.driver.get_info(inst).state == power_state.SHUTDOWN
    assert inst.uuid in case.driver.list_instance_uuids()
    case.driver.power_on(case.ctxt, inst)
    assert case.driver.get_info(inst).state == power_state.RUNNING
    case.driver.power_on(case.ctxt, inst)
    assert case.driver.get_info(inst).state == power_state.RUNNING


@pytest.mark.parametrize("reboot_type", ["SOFT", "HARD"])
def test_reboot_leaves_the_guest_running(case: DriverCase, reboot_type: str) -> None:
    inst = case.spawn()
    case.driver.reboot(case.ctxt, inst, reboot_type)
    assert case.driver.get_info(inst).state == power_state.RUNNING


def test_reboot_starts_a_stopped_guest(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.power_off(inst, timeout=0)
    case.driver.reboot(case.ctxt, inst, "SOFT")
    assert case.driver.get_info(inst).state == power_state.RUNNING


def test_destroy_is_idempotent_and_final(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.destroy(case.ctxt, inst)
    case.driver.destroy(case.ctxt, inst)
    assert inst.uuid not in case.driver.list_instance_uuids()
    with pytest.raises(exception.InstanceNotFound):
        case.driver.get_info(inst)
    with pytest.raises(exception.InstanceNotFound):
        case.driver.power_off(inst, timeout=0)
    with pytest.raises(exception.InstanceNotFound):
        case.driver.power_on(case.ctxt, inst)
    with pytest.raises(exception.InstanceNotFound):
        case.driver.reboot(case.ctxt, inst, "HARD")


def test_destroy_of_a_never_spawned_instance_succeeds(case: DriverCase) -> None:
    case.driver.destroy(case.ctxt, case.instance())


def test_operations_on_a_missing_guest_raise_instance_not_found(case: DriverCase) -> None:
    inst = case.instance()
    with pytest.raises(exception.InstanceNotFound):
        case.driver.get_info(inst)
    with pytest.raises(exception.InstanceNotFound):
        case.driver.power_off(inst, timeout=0)
    with pytest.raises(exception.InstanceNotFound):
        case.driver.power_on(case.ctxt, inst)
    with pytest.raises(exception.InstanceNotFound):
        case.driver.reboot(case.ctxt, inst, "SOFT")


def test_available_resource_counts_guests(case: DriverCase) -> None:
    node = case.driver.get_available_nodes()[0]
    before = case.driver.get_available_resource(node)
    assert before.hypervisor_hostname == node
    assert before.vcpus > 0 and before.memory_mb > 0 and before.local_gb > 0
    inst = case.spawn()
    after = case.driver.get_available_resource(node)
    # NOTE: ">=": other guests may come and go on a shared libvirtd.
    assert after.running_vms >= 1
    assert after.vcpus_used >= inst.flavor.vcpus
    assert after.memory_mb_used >= inst.flavor.memory_mb


# -- lifecycle actions (issue 12) ------------------------------------------------

def test_pause_and_unpause_are_idempotent(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.pause(inst)
    assert case.driver.get_info(inst).state == power_state.PAUSED
    case.driver.pause(inst)
    assert case.driver.get_info(inst).state == power_state.PAUSED
    case.driver.unpause(inst)
    assert case.driver.get_info(inst).state == power_state.RUNNING
    # NOTE: as Nova's libvirt driver (domain resume accepts a running guest).
    case.driver.unpause(inst)
    assert case.driver.get_info(inst).state == power_state.RUNNING


def test_pause_of_a_stopped_guest_is_refused_naming_the_state(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.power_off(inst, timeout=0)
    with pytest.raises(exception.InstanceInvalidState, match="'pause' .* power_state shutdown"):
        case.driver.pause(inst)
    with pytest.raises(exception.InstanceInvalidState, match="'unpause'"):
        case.driver.unpause(inst)
    with pytest.raises(exception.InstanceInvalidState, match="'suspend'"):
        case.driver.suspend(case.ctxt, inst)
    with pytest.raises(exception.InstanceInvalidState, match="'resume'"):
        case.driver.resume(case.ctxt, inst)
    assert case.driver.get_info(inst).state == power_state.SHUTDOWN


def test_suspend_and_resume(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.suspend(case.ctxt, inst)
    assert case.driver.get_info(inst).state == power_state.SUSPENDED
    case.driver.suspend(case.ctxt, inst)
    assert case.driver.get_info(inst).state == power_state.SUSPENDED
    assert inst.uuid in case.driver.list_instance_uuids()
    with pytest.raises(exception.InstanceInvalidState, match="'pause' .* suspended"):
        case.driver.pause(inst)
    # Stopping a suspended guest keeps it suspended (it is not running).
    case.driver.power_off(inst, timeout=0)
    assert case.driver.get_info(inst).state == power_state.SUSPENDED
    case.driver.resume(case.ctxt, inst, [])
    assert case.driver.get_info(inst).state == power_state.RUNNING
    case.driver.resume(case.ctxt, inst, [])
    assert case.driver.get_info(inst).state == power_state.RUNNING


def test_a_paused_guest_suspends_and_resumes_running(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.pause(inst)
    case.driver.suspend(case.ctxt, inst)
    assert case.driver.get_info(inst).state == power_state.SUSPENDED
    case.driver.resume(case.ctxt, inst)
    assert case.driver.get_info(inst).state == power_state.RUNNING


def test_destroy_removes_a_suspended_guest(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.suspend(case.ctxt, inst)
    case.driver.destroy(case.ctxt, inst)
    assert inst.uuid not in case.driver.list_instance_uuids()
    with pytest.raises(exception.InstanceNotFound):
        case.driver.get_info(inst)


def test_lifecycle_actions_on_a_missing_guest_raise_instance_not_found(case: DriverCase) -> None:
    inst = case.instance()
    for call in (lambda: case.driver.pause(inst), lambda: case.driver.unpause(inst),
                 lambda: case.driver.suspend(case.ctxt, inst),
                 lambda: case.driver.resume(case.ctxt, inst)):
        with pytest.raises(exception.InstanceNotFound):
            call()


def _qemu_img_info(path: str) -> dict[str, Any]:
    out = subprocess.run(["qemu-img", "info", "--output=json", "-f", "qcow2", path],
                         check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out))


@pytest.mark.parametrize("stopped", [False, True], ids=["running", "stopped"])
def test_snapshot_is_a_qcow2_of_the_root_disk_and_keeps_the_power_state(
        case: DriverCase, stopped: bool) -> None:
    inst = case.spawn()
    if stopped:
        case.driver.power_off(inst, timeout=0)
    before = case.driver.get_info(inst).state
    path = case.driver.snapshot(case.ctxt, inst, {"id": case.image_id, "properties": {}})
    try:
        info = _qemu_img_info(path)
        assert info["format"] == "qcow2"
        assert info["virtual-size"] == inst.flavor.root_gb * 1024 ** 3
        assert "backing-filename" not in info
        assert case.driver.get_info(inst).state == before
    finally:
        os.unlink(path)


def test_snapshot_of_a_suspended_guest_keeps_it_suspended(case: DriverCase) -> None:
    # NOTE: as Nova: a suspended (managed-saved) guest's disk is consistent,
    # snapshotted cold without resuming it; it resumes afterwards as before.
    inst = case.spawn()
    case.driver.suspend(case.ctxt, inst)
    path = case.driver.snapshot(case.ctxt, inst, {"id": case.image_id, "properties": {}})
    try:
        info = _qemu_img_info(path)
        assert info["format"] == "qcow2"
        assert info["virtual-size"] == inst.flavor.root_gb * 1024 ** 3
        assert case.driver.get_info(inst).state == power_state.SUSPENDED
    finally:
        os.unlink(path)
    case.driver.resume(case.ctxt, inst, [])
    assert case.driver.get_info(inst).state == power_state.RUNNING


def test_rescue_and_unrescue(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.rescue(case.ctxt, inst, {"id": case.image_id}, [])
    assert case.driver.get_info(inst).state == power_state.RUNNING
    with pytest.raises(exception.InstanceInvalidState, match="'rescue' .* rescued"):
        case.driver.rescue(case.ctxt, inst, {"id": case.image_id}, [])
    case.driver.unrescue(case.ctxt, inst, [])
    assert case.driver.get_info(inst).state == power_state.RUNNING
    with pytest.raises(exception.InstanceInvalidState, match="'unrescue' .* not rescued"):
        case.driver.unrescue(case.ctxt, inst, [])
    assert inst.uuid in case.driver.list_instance_uuids()


def test_rescue_of_a_stopped_guest_boots_the_rescue_image(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.power_off(inst, timeout=0)
    case.driver.rescue(case.ctxt, inst, {"id": case.image_id}, [])
    assert case.driver.get_info(inst).state == power_state.RUNNING
    case.driver.destroy(case.ctxt, inst)
    assert inst.uuid not in case.driver.list_instance_uuids()


def test_trigger_crash_dump_needs_a_running_guest(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.trigger_crash_dump(inst)
    assert case.driver.get_info(inst).state == power_state.RUNNING
    case.driver.power_off(inst, timeout=0)
    with pytest.raises(exception.InstanceInvalidState, match="'trigger_crash_dump'"):
        case.driver.trigger_crash_dump(inst)


def test_set_admin_password_without_an_agent_says_so(case: DriverCase) -> None:
    inst = case.spawn()
    with pytest.raises(virt_driver.AgentUnavailable, match="needs the guest agent"):
        case.driver.set_admin_password(inst, "s3cret")
    case.driver.power_off(inst, timeout=0)
    with pytest.raises(exception.InstanceInvalidState, match="'set_admin_password'"):
        case.driver.set_admin_password(inst, "s3cret")


def test_guest_actions_on_a_missing_guest_raise_instance_not_found(case: DriverCase) -> None:
    inst = case.instance()
    for call in (lambda: case.driver.snapshot(case.ctxt, inst),
                 lambda: case.driver.rescue(case.ctxt, inst, {"id": case.image_id}),
                 lambda: case.driver.unrescue(case.ctxt, inst),
                 lambda: case.driver.trigger_crash_dump(inst),
                 lambda: case.driver.set_admin_password(inst, "x")):
        with pytest.raises(exception.InstanceNotFound):
            call()


# -- resize and cold migration on one host ------------------------------------------

def _flavor(name: str, root_gb: int, vcpus: int, memory_mb: int) -> Flavor:
    return Flavor(id=2, flavorid=name, name=name, memory_mb=memory_mb, vcpus=vcpus,
                  root_gb=root_gb, ephemeral_gb=0, swap=0, extra_specs={})


def _migration() -> dict[str, str]:
    return {"source_compute": CONF.host, "dest_compute": CONF.host}


def _resize(case: DriverCase, inst: Any, new: Flavor) -> list[dict[str, Any]]:
    disk_info = case.driver.migrate_disk_and_power_off(case.ctxt, inst, CONF.host, new, [])
    assert json.loads(json.dumps(disk_info)) == disk_info
    assert [d["name"] for d in disk_info if d["name"] == "disk"] == ["disk"]
    assert case.driver.get_info(inst).state == power_state.SHUTDOWN
    inst.flavor = new
    case.driver.finish_migration(case.ctxt, _migration(), inst, disk_info, [],
                                 {"id": case.image_id}, True, power_on=True)
    assert case.driver.get_info(inst).state == power_state.RUNNING
    return disk_info


def test_resize_on_one_host_then_revert(case: DriverCase) -> None:
    inst = case.spawn()
    old = inst.flavor
    _resize(case, inst, _flavor("lvtest.bigger", 2, 2, 192))
    inst.flavor = old
    case.driver.finish_revert_migration(case.ctxt, inst, [], _migration(), power_on=True)
    assert case.driver.get_info(inst).state == power_state.RUNNING
    with pytest.raises(virt_driver.MigrationError, match="no files kept aside"):
        case.driver.finish_revert_migration(case.ctxt, inst, [], _migration())
    # Nothing is left of the move: another one starts cleanly.
    _resize(case, inst, _flavor("lvtest.bigger", 2, 2, 192))


def test_resize_on_one_host_then_confirm(case: DriverCase) -> None:
    inst = case.spawn()
    _resize(case, inst, _flavor("lvtest.bigger", 2, 2, 192))
    case.driver.confirm_migration(case.ctxt, _migration(), inst, [])
    case.driver.confirm_migration(case.ctxt, _migration(), inst, [])
    assert inst.uuid in case.driver.list_instance_uuids()
    assert case.driver.get_info(inst).state == power_state.RUNNING
    with pytest.raises(virt_driver.MigrationError, match="no files kept aside"):
        case.driver.finish_revert_migration(case.ctxt, inst, [], _migration())
    case.driver.destroy(case.ctxt, inst)
    assert inst.uuid not in case.driver.list_instance_uuids()


def test_resize_of_a_stopped_guest_can_stay_stopped(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.power_off(inst, timeout=0)
    new = _flavor("lvtest.bigger", 2, 1, 128)
    disk_info = case.driver.migrate_disk_and_power_off(case.ctxt, inst, CONF.host, new, [])
    inst.flavor = new
    case.driver.finish_migration(case.ctxt, _migration(), inst, disk_info, [],
                                 {"id": case.image_id}, True, power_on=False)
    assert case.driver.get_info(inst).state == power_state.SHUTDOWN


def test_resize_down_is_refused_and_changes_nothing(case: DriverCase) -> None:
    inst = case.spawn(root_gb=2)
    with pytest.raises(virt_driver.ResizeError, match="unable to resize the root disk .* down"):
        case.driver.migrate_disk_and_power_off(case.ctxt, inst, CONF.host,
                                               _flavor("lvtest.smaller", 1, 1, 128), [])
    assert case.driver.get_info(inst).state == power_state.RUNNING
    _resize(case, inst, _flavor("lvtest.bigger", 3, 1, 128))


def test_migrate_of_a_suspended_guest_is_refused(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.suspend(case.ctxt, inst)
    with pytest.raises(exception.InstanceInvalidState, match="'migrate_disk_and_power_off'"):
        case.driver.migrate_disk_and_power_off(case.ctxt, inst, CONF.host,
                                               _flavor("lvtest.bigger", 2, 1, 128), [])
    assert case.driver.get_info(inst).state == power_state.SUSPENDED


def test_serial_console_needs_a_running_guest(case: DriverCase) -> None:
    inst = case.spawn()
    case.driver.power_off(inst, timeout=0)
    with pytest.raises(exception.InstanceInvalidState, match="'get_serial_console'"):
        case.driver.get_serial_console(case.ctxt, inst)
    with pytest.raises(exception.InstanceNotFound):
        case.driver.get_serial_console(case.ctxt, case.instance())


def test_fake_serial_console_echoes_into_the_console_log() -> None:
    import socket

    drv = FakeDriver(RecordingVirtAPI())
    drv.init_host("fake-serial-host")
    inst = make_instance("11111111-2222-3333-4444-555555555555")
    ctxt = nl_context.get_admin_context()
    drv.spawn(ctxt, inst, {"id": inst.image_ref}, [])
    try:
        console = drv.get_serial_console(ctxt, inst)
        assert drv.get_serial_console(ctxt, inst) == console
        with socket.create_connection((console.host, console.port), timeout=5) as sock:
            sock.sendall(b"hello serial\n")
            assert sock.makefile("rb").readline() == b"hello serial\n"
        assert b"hello serial\n" in drv.get_console_output(ctxt, inst)
    finally:
        drv.destroy(ctxt, inst)
    with pytest.raises(OSError):
        socket.create_connection((console.host, console.port), timeout=2).close()


# -- a move to another host, through a disk transfer channel --------------------------

class StagingTransfer(virt_driver.DiskTransfer):
    """A channel that holds each file it is sent in a directory (the bytes
    cross it, as over a network); fake:// paths (FakeDriver) are names only."""

    def __init__(self, staging: str) -> None:
        self.staging = staging
        self.sent: list[str] = []
        self.received: list[str] = []

    def send(self, instance_uuid: str, name: str, path: str) -> None:
        self.sent.append(name)
        if os.path.isfile(path):
            shutil.copyfile(path, os.path.join(self.staging, name))

    def receive(self, instance_uuid: str, name: str, source_path: str, dest_path: str) -> None:
        self.received.append(name)
        staged = os.path.join(self.staging, name)
        if os.path.isfile(staged):
            shutil.copyfile(staged, dest_path)


def test_move_to_another_host_through_a_disk_transfer(case: DriverCase, tmp_path: Any) -> None:
    inst = case.spawn()
    transfer = StagingTransfer(str(tmp_path))
    new = _flavor("lvtest.bigger", 2, 2, 192)
    migration = {"source_compute": CONF.host, "dest_compute": "lvtest-other"}
    disk_info = case.driver.migrate_disk_and_power_off(case.ctxt, inst, "lvtest-other", new,
                                                       [], disk_transfer=transfer)
    assert "disk" in transfer.sent
    assert case.driver.get_info(inst).state == power_state.SHUTDOWN
    # NOTE: one hypervisor plays both hosts here, so the source confirms
    # (removes its guest) before the destination finishes.
    case.driver.confirm_migration(case.ctxt, migration, inst, [])
    assert inst.uuid not in case.driver.list_instance_uuids()
    inst.flavor = new
    case.driver.finish_migration(case.ctxt, migration, inst, disk_info, [],
                                 {"id": case.image_id}, True, disk_transfer=transfer)
    assert transfer.received == transfer.sent
    assert case.driver.get_info(inst).state == power_state.RUNNING


def test_move_to_another_host_reverted_on_the_source(case: DriverCase, tmp_path: Any) -> None:
    inst = case.spawn()
    migration = {"source_compute": CONF.host, "dest_compute": "lvtest-other"}
    case.driver.migrate_disk_and_power_off(case.ctxt, inst, "lvtest-other",
                                           _flavor("lvtest.bigger", 2, 1, 128), [],
                                           disk_transfer=StagingTransfer(str(tmp_path)))
    case.driver.finish_revert_migration(case.ctxt, inst, [], migration, power_on=True)
    assert case.driver.get_info(inst).state == power_state.RUNNING
    # A confirm after the revert (nothing kept aside) leaves the guest alone.
    case.driver.confirm_migration(case.ctxt, migration, inst, [])
    assert case.driver.get_info(inst).state == power_state.RUNNING


class BrokenTransfer(StagingTransfer):
    """A channel that fails: on send, or on receive."""

    def __init__(self, staging: str, fail_on: str) -> None:
        super().__init__(staging)
        self.fail_on = fail_on

    def send(self, instance_uuid: str, name: str, path: str) -> None:
        if self.fail_on == "send":
            raise virt_driver.MigrationError(reason=f"channel broke sending {name}")
        super().send(instance_uuid, name, path)

    def receive(self, instance_uuid: str, name: str, source_path: str, dest_path: str) -> None:
        if self.fail_on == "receive":
            raise virt_driver.MigrationError(reason=f"channel broke receiving {name}")
        super().receive(instance_uuid, name, source_path, dest_path)


def test_a_failed_send_leaves_the_guest_as_it_was(case: DriverCase, tmp_path: Any) -> None:
    inst = case.spawn()
    with pytest.raises(virt_driver.MigrationError, match="channel broke sending disk"):
        case.driver.migrate_disk_and_power_off(
            case.ctxt, inst, "lvtest-other", _flavor("lvtest.bigger", 2, 1, 128), [],
            disk_transfer=BrokenTransfer(str(tmp_path), "send"))
    assert case.driver.get_info(inst).state == power_state.RUNNING
    # Nothing is kept aside: a new move starts cleanly.
    _resize(case, inst, _flavor("lvtest.bigger", 2, 1, 128))


def test_a_failed_receive_leaves_nothing_on_the_destination(case: DriverCase,
                                                            tmp_path: Any) -> None:
    inst = case.spawn()
    migration = {"source_compute": CONF.host, "dest_compute": "lvtest-other"}
    disk_info = case.driver.migrate_disk_and_power_off(
        case.ctxt, inst, "lvtest-other", _flavor("lvtest.bigger", 2, 1, 128), [],
        disk_transfer=StagingTransfer(str(tmp_path)))
    case.driver.confirm_migration(case.ctxt, migration, inst, [])
    with pytest.raises(virt_driver.MigrationError, match="channel broke receiving disk"):
        case.driver.finish_migration(case.ctxt, migration, inst, disk_info, [],
                                     {"id": case.image_id}, True,
                                     disk_transfer=BrokenTransfer(str(tmp_path), "receive"))
    assert inst.uuid not in case.driver.list_instance_uuids()
    with pytest.raises(exception.InstanceNotFound):
        case.driver.get_info(inst)
