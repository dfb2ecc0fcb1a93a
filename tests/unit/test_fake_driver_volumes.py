"""The FakeDriver's volume methods (the driver contract's four): it records
each guest's volumes by mountpoint, keeps them across a regenerated
definition and a process restart, and shows them in its diagnostics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from novalite.conf import CONF
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from novalite.virt import driver
from novalite.virt.fake import FakeDriver
from tests.unit.test_libvirt_config import NullVirtAPI

UUID = "44444444-4444-4444-8444-444444444444"
VOL = "55555555-5555-4555-8555-555555555555"


@pytest.fixture
def drv(tmp_path: Any) -> Iterator[FakeDriver]:
    CONF.set_override("state_path", str(tmp_path))
    FakeDriver.forget_all_hosts()
    d = FakeDriver(NullVirtAPI())
    d.init_host("vol-host")
    try:
        yield d
    finally:
        FakeDriver.forget_all_hosts()
        CONF.clear_override("state_path")


def _instance() -> Instance:
    flavor = Flavor(id=1, flavorid="1", name="t", memory_mb=64, vcpus=1, root_gb=1,
                    ephemeral_gb=0, swap=0, extra_specs={})
    return Instance(uuid=UUID, flavor=flavor)


def _info(volume_id: str) -> dict[str, Any]:
    return {"driver_volume_type": "local", "serial": volume_id,
            "data": {"device_path": f"/nonexistent/volume-{volume_id}", "format": "raw",
                     "volume_id": volume_id, "access_mode": "rw"}}


def test_attach_detach_extend_and_diagnostics(drv: FakeDriver) -> None:
    inst = _instance()
    drv.spawn(None, inst, {}, [])
    connector = drv.get_volume_connector(inst)
    assert connector["host"] == "vol-host" and connector["ip"] == CONF.my_ip
    drv.attach_volume(None, _info(VOL), inst, "/dev/vdb")
    with pytest.raises(driver.DeviceBusy):
        drv.attach_volume(None, _info(VOL), inst, "/dev/vdb")
    assert drv.attached_volumes(UUID)["/dev/vdb"]["volume_id"] == VOL
    assert drv.get_instance_diagnostics(inst)["num_disks"] == 2
    assert drv.extend_volume(None, _info(VOL), inst, 2 * 1024 ** 3) == 2 * 1024 ** 3
    with pytest.raises(driver.VolumeNotAttached):
        drv.extend_volume(None, _info("66666666-6666-4666-8666-666666666666"), inst, 1)
    # a new process sees the same volumes (the guests file)
    FakeDriver._hypervisors.clear()
    again = FakeDriver(NullVirtAPI())
    again.init_host("vol-host")
    assert again.attached_volumes(UUID)["/dev/vdb"]["size"] == 2 * 1024 ** 3
    again.detach_volume(None, _info(VOL), inst, "/dev/vdb")
    again.detach_volume(None, _info(VOL), inst, "/dev/vdb")  # idempotent
    assert again.attached_volumes(UUID) == {}
    assert again.get_instance_diagnostics(inst)["num_disks"] == 1


def test_spawn_and_hard_reboot_take_block_device_info(drv: FakeDriver) -> None:
    inst = _instance()
    bdi = {"root_device_name": "/dev/vda", "ephemerals": [], "swap": None,
           "block_device_mapping": [
               {"connection_info": _info(VOL), "mount_device": "/dev/vda", "boot_index": 0,
                "disk_bus": "virtio", "device_type": "disk", "delete_on_termination": True,
                "attachment_id": "a1"}]}
    drv.spawn(None, inst, {}, [], bdi)
    assert list(drv.attached_volumes(UUID)) == ["/dev/vda"]
    # the root is the volume: no local disk in the diagnostics
    assert drv.get_instance_diagnostics(inst)["num_disks"] == 1
    drv.reboot(None, inst, "HARD", block_device_info={"block_device_mapping": []})
    assert drv.attached_volumes(UUID) == {}
    drv.power_off(inst)
    drv.power_on(None, inst, block_device_info=bdi)
    assert list(drv.attached_volumes(UUID)) == ["/dev/vda"]
    drv.destroy(None, inst)
    drv.detach_volume(None, _info(VOL), inst, "/dev/vda")  # no guest: succeeds
