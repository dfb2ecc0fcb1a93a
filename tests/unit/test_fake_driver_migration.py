"""FakeDriver cold migration between two hosts (the libvirt driver's
same-host steps are in the driver contract suite): the guest, its
accounting and its record move, a revert puts it back, a confirm removes
the source's copy, and a restart of either host finds the same state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from oslo_utils import uuidutils

from novalite import context as nl_context
from novalite.compute import power_state
from novalite.conf import CONF
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from novalite.virt import driver as virt_driver
from novalite.virt.fake import FakeDriver
from tests.unit.test_libvirt_config import NullVirtAPI

CTXT = nl_context.get_admin_context()
VIF = {"id": "port-1", "address": "fa:16:3e:00:00:01", "network": {"bridge": "br-fake"}}


@pytest.fixture
def hosts(tmp_path: Any) -> Iterator[tuple[FakeDriver, FakeDriver]]:
    CONF.set_override("state_path", str(tmp_path))
    FakeDriver.forget_all_hosts()
    a, b = FakeDriver(NullVirtAPI()), FakeDriver(NullVirtAPI())
    a.init_host("fake-a")
    b.init_host("fake-b")
    try:
        yield a, b
    finally:
        FakeDriver.forget_all_hosts()
        CONF.clear_override("state_path")


def _flavor(name: str, root_gb: int, vcpus: int, memory_mb: int) -> Flavor:
    return Flavor(id=1, flavorid=name, name=name, memory_mb=memory_mb, vcpus=vcpus,
                  root_gb=root_gb, ephemeral_gb=0, swap=0, extra_specs={})


def _spawned(drv: FakeDriver) -> Instance:
    inst = Instance(id=1, uuid=uuidutils.generate_uuid(), display_name="m", hostname="m",
                    project_id="p", user_id="u", image_ref="img",
                    flavor=_flavor("small", 1, 1, 64), metadata={}, system_metadata={})
    drv.spawn(CTXT, inst, {"id": "img"}, [VIF])
    return inst


def _move(a: FakeDriver, b: FakeDriver, inst: Instance) -> dict[str, str]:
    migration = {"source_compute": "fake-a", "dest_compute": "fake-b"}
    disk_info = a.migrate_disk_and_power_off(CTXT, inst, "fake-b", _flavor("big", 2, 2, 128),
                                             [VIF])
    assert a.get_info(inst).state == power_state.SHUTDOWN
    inst.flavor = _flavor("big", 2, 2, 128)
    b.finish_migration(CTXT, migration, inst, disk_info, [VIF], {"id": "img"}, True)
    return migration


def test_cold_migration_confirmed_leaves_the_guest_on_the_destination_only(
        hosts: tuple[FakeDriver, FakeDriver]) -> None:
    a, b = hosts
    inst = _spawned(a)
    migration = _move(a, b, inst)
    assert b.get_info(inst).state == power_state.RUNNING
    res = b.get_available_resource("fake-b")
    assert (res.vcpus_used, res.memory_mb_used, res.local_gb_used) == (2, 128, 2)
    assert ("plug", "port-1", "br-fake") in b.plugged
    # Until the confirm, the source keeps its (stopped) guest and its resources.
    assert a.get_available_resource("fake-a").memory_mb_used == 64
    a.confirm_migration(CTXT, migration, inst, [VIF])
    assert inst.uuid not in a.list_instance_uuids()
    assert a.get_available_resource("fake-a").memory_mb_used == 0
    assert ("unplug", "port-1", "br-fake") in a.plugged
    # A compute restarted on each host finds the same.
    FakeDriver._hypervisors.clear()
    a2, b2 = FakeDriver(NullVirtAPI()), FakeDriver(NullVirtAPI())
    a2.init_host("fake-a")
    b2.init_host("fake-b")
    assert a2.list_instance_uuids() == [] and b2.list_instance_uuids() == [inst.uuid]


def test_cold_migration_reverted_puts_the_guest_back_on_the_source(
        hosts: tuple[FakeDriver, FakeDriver]) -> None:
    a, b = hosts
    inst = _spawned(a)
    migration = _move(a, b, inst)
    b.destroy(CTXT, inst, [VIF])
    inst.flavor = _flavor("small", 1, 1, 64)
    a.finish_revert_migration(CTXT, inst, [VIF], migration)
    assert a.get_info(inst).state == power_state.RUNNING
    res = a.get_available_resource("fake-a")
    assert (res.vcpus_used, res.memory_mb_used, res.local_gb_used) == (1, 64, 1)
    assert b.list_instance_uuids() == []


def test_finish_on_a_host_that_already_has_the_guest_is_refused(
        hosts: tuple[FakeDriver, FakeDriver]) -> None:
    a, b = hosts
    inst = _spawned(a)
    _move(a, b, inst)
    with pytest.raises(virt_driver.MigrationError, match="already has a guest on host fake-b"):
        b.finish_migration(CTXT, {}, inst, [], [], {"id": "img"}, True)


def test_a_pending_move_and_a_suspended_guest_outlive_a_compute_restart(
        hosts: tuple[FakeDriver, FakeDriver]) -> None:
    a, _b = hosts
    moving, sleeping = _spawned(a), _spawned(a)
    a.migrate_disk_and_power_off(CTXT, moving, "fake-a", _flavor("big", 2, 2, 128), [VIF])
    a.suspend(CTXT, sleeping)
    FakeDriver._hypervisors.clear()
    again = FakeDriver(NullVirtAPI())
    again.init_host("fake-a")
    assert again.get_info(sleeping).state == power_state.SUSPENDED
    again.resume(CTXT, sleeping, [VIF])
    assert again.get_info(sleeping).state == power_state.RUNNING
    again.finish_revert_migration(CTXT, moving, [VIF])
    assert again.get_info(moving).state == power_state.RUNNING
    res = again.get_available_resource("fake-a")
    assert (res.vcpus_used, res.memory_mb_used) == (2, 128)
