"""The compute manager's image cache pass, from the instance records of its
host (read through the conductor) to the libvirt driver's cache on disk."""

from __future__ import annotations

import os
import time
import types

from novalite.compute.periodic import ComputePeriodicTasks
from novalite.conf import CONF
from novalite.virt.libvirt import driver as libvirt_driver


def test_the_pass_keeps_the_image_of_a_server_on_the_host_and_removes_the_rest(stack, tmp_path):
    server = stack.boot(name="keeps-its-image")
    stack.wait_for(server["id"], lambda s: s["status"] == "ACTIVE", what="ACTIVE")
    base_dir = tmp_path / "_base"
    base_dir.mkdir()
    unused = "9d3b2f43-1d0c-4f5e-9a39-0f3f4c1d2e7a"
    for name in (stack.image_id, unused):
        (base_dir / name).write_bytes(b"\0" * 4096)
        then = time.time() - 2 * 86400
        os.utime(base_dir / name, (then, then))
    overrides = [("image_cache_path", str(base_dir), "libvirt"),
                 ("instances_path", str(tmp_path / "instances"), "libvirt"),
                 ("connection_uri", "test:///default", "libvirt"),
                 ("virt_type", "qemu", "libvirt")]
    for name, value, group in overrides:
        CONF.set_override(name, value, group=group)
    try:
        compute = types.SimpleNamespace(host="host1",
                                        driver=libvirt_driver.LibvirtDriver(None))
        ComputePeriodicTasks.image_cache_manager_pass(compute)
        assert os.listdir(base_dir) == [stack.image_id]
        # NOTE: once the server is gone its image is unused, and old enough.
        assert stack.compute("DELETE", f"/servers/{server['id']}").status_code == 204
        deadline = time.monotonic() + 20
        while stack.compute("GET", f"/servers/{server['id']}").status_code != 404:
            assert time.monotonic() < deadline, "the server was not deleted"
            time.sleep(0.1)
        CONF.set_override("remove_unused_original_minimum_age_seconds", 0,
                          group="image_cache")
        ComputePeriodicTasks.image_cache_manager_pass(compute)
        assert os.listdir(base_dir) == []
    finally:
        for name, _value, group in overrides:
            CONF.clear_override(name, group=group)
        CONF.clear_override("remove_unused_original_minimum_age_seconds", group="image_cache")
