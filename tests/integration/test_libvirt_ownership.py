"""Two compute services on one libvirtd, at the driver level: the domain of
an instance keeps its name and UUID on either, and its novalite metadata
(the instances path it belongs to) decides what each may do with it
(novalite/virt/libvirt/driver.py).

Compute "A" is the LibvirtDriver with the test's instances path, "B" the same
driver with another one (``[libvirt] instances_path`` switched, as a second
compute service's configuration). The guest runs from an empty disk (QEMU
runs; nothing boots): what is checked is libvirt's domains and the files.

- B refuses to finish a move onto A's running guest, to spawn over it, and
  leaves it (and A's files) alone when told to destroy the instance;
- once A moved the guest's files aside (powered off), B takes its domain
  over; A refuses to revert onto B's running guest; A's confirm removes what
  A kept aside and leaves B's domain running;
- an evacuation's spawn on A powers B's running guest off and takes it over;
  B's destroy then removes only B's files.

Everything is removed at the end, also on failure; nothing here skips.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from novalite import context as nl_context
from novalite import exception
from novalite.compute import power_state, task_states
from novalite.conf import CONF
from novalite.virt import driver as virt_driver
from novalite.virt.libvirt.driver import LibvirtDriver
from novalite.virt.libvirt.guest import Guest
from tests.integration.test_libvirt_driver import (
    LibvirtEnv,
    leftover_domains,
    libvirt_env,
    make_instance,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def env() -> Iterator[LibvirtEnv]:
    with libvirt_env() as e:
        yield e


class Computes:
    def __init__(self, env: LibvirtEnv) -> None:
        self.path_a = os.path.realpath(CONF.libvirt.instances_path)
        self.path_b = os.path.realpath(os.path.join(env.base, "instances-b"))
        os.makedirs(self.path_b, mode=0o755)

    @contextlib.contextmanager
    def b(self) -> Iterator[None]:
        """The driver as compute B (its instances path)."""
        CONF.set_override("instances_path", self.path_b, group="libvirt")
        try:
            yield
        finally:
            CONF.set_override("instances_path", self.path_a, group="libvirt")


def _owner(drv: LibvirtDriver, uuid: str) -> tuple[str | None, bool]:
    domain = drv._host.lookup(uuid)
    assert domain is not None, f"no domain of {uuid}"
    guest = Guest(domain)
    return guest.deployment(), guest.is_active()


def test_each_compute_takes_over_or_destroys_only_by_ownership(env: LibvirtEnv) -> None:
    drv = env.driver()
    ctxt = nl_context.get_admin_context()
    image_id = env.register("lvown-empty", env.empty_qcow2(), "qcow2")
    inst = make_instance(image_id)
    c = Computes(env)
    meta = {"id": image_id}
    migration = {"source_compute": CONF.host, "dest_compute": "lvown-b"}
    try:
        drv.spawn(ctxt, inst, meta, [])
        assert _owner(drv, inst.uuid) == (c.path_a, True)
        with c.b():
            with pytest.raises(virt_driver.MigrationError, match="running guest"):
                drv.finish_migration(ctxt, migration, inst, [], [], meta, False)
            with pytest.raises(exception.InstanceSpawnError, match="already exists"):
                drv.spawn(ctxt, inst, meta, [])
            drv.destroy(ctxt, inst, [])
        assert _owner(drv, inst.uuid) == (c.path_a, True)
        assert os.listdir(c.path_a) == [inst.uuid] and os.listdir(c.path_b) == []

        # NOTE: to this host's name: a local copy stands for the channel.
        disk_info = drv.migrate_disk_and_power_off(ctxt, inst, CONF.host, inst.flavor, [])
        assert _owner(drv, inst.uuid) == (c.path_a, False)
        with c.b():
            drv.finish_migration(ctxt, migration, inst, disk_info, [], meta, False)
        assert _owner(drv, inst.uuid) == (c.path_b, True)
        assert os.listdir(c.path_b) == [inst.uuid]
        with pytest.raises(virt_driver.MigrationError, match="running guest"):
            drv.finish_revert_migration(ctxt, inst, [], migration)
        drv.confirm_migration(ctxt, migration, inst, [])
        assert _owner(drv, inst.uuid) == (c.path_b, True)
        assert os.listdir(c.path_a) == [] and os.listdir(c.path_b) == [inst.uuid]

        # NOTE: B is down; A rebuilds the instance (evacuation).
        inst.task_state = task_states.REBUILD_SPAWNING
        drv.spawn(ctxt, inst, meta, [])
        assert _owner(drv, inst.uuid) == (c.path_a, True)
        assert drv.get_info(inst).state == power_state.RUNNING
        with c.b():
            drv.destroy(ctxt, inst, [])
        assert _owner(drv, inst.uuid) == (c.path_a, True)
        assert os.listdir(c.path_a) == [inst.uuid] and os.listdir(c.path_b) == []
        drv.destroy(ctxt, inst, [])
        assert drv._host.lookup(inst.uuid) is None and os.listdir(c.path_a) == []
    finally:
        # NOTE: each compute destroys its own domain only.
        with contextlib.suppress(Exception), c.b():
            drv.destroy(ctxt, inst, [])
        with contextlib.suppress(Exception):
            drv.destroy(ctxt, inst, [])
        drv.cleanup_host(CONF.host)
    assert f"instance-{inst.uuid}" not in leftover_domains()
