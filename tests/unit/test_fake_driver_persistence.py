"""The FakeDriver's guests outlive the compute process, as a hypervisor's do:
a process SIGKILLed after spawning leaves its guests (and a guest it was
still booting, defined but not running) for the next compute on that host."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from novalite.compute import power_state
from novalite.conf import CONF
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from novalite.virt import fake
from novalite.virt.fake import FakeDriver
from tests.unit.test_libvirt_config import NullVirtAPI

_CHILD = r"""
import os, signal, sys, threading
from novalite import config, objects
from novalite.conf import CONF
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from novalite.virt.fake import FakeDriver

config.register_base_opts()
objects.register_all()
CONF([], project="novalite")
CONF.set_override("state_path", sys.argv[1])
drv = FakeDriver(None)
drv.init_host("killed-host")
flavor = Flavor(id=1, flavorid="1", name="t", memory_mb=64, vcpus=1, root_gb=1,
                ephemeral_gb=0, swap=0, extra_specs={})
for uuid in sys.argv[2:4]:
    drv.spawn(None, Instance(uuid=uuid, flavor=flavor), {}, [])
drv.power_off(Instance(uuid=sys.argv[3], flavor=flavor))
CONF.set_override("spawn_delay", 3600, group="fake_driver")
t = threading.Thread(target=drv.spawn,
                     args=(None, Instance(uuid=sys.argv[4], flavor=flavor), {}, []),
                     daemon=True)
t.start()
from novalite.virt.fake import guests_file
while sys.argv[4] not in open(guests_file("killed-host")).read():
    pass
print("spawning", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""

RUNNING, STOPPED, SPAWNING = ("11111111-1111-4111-8111-111111111111",
                              "22222222-2222-4222-8222-222222222222",
                              "33333333-3333-4333-8333-333333333333")


@pytest.fixture
def state_path(tmp_path: Any) -> Iterator[str]:
    CONF.set_override("state_path", str(tmp_path))
    FakeDriver.forget_all_hosts()
    try:
        yield str(tmp_path)
    finally:
        FakeDriver.forget_all_hosts()
        CONF.clear_override("state_path")


def _instance(uuid: str) -> Instance:
    flavor = Flavor(id=1, flavorid="1", name="t", memory_mb=64, vcpus=1, root_gb=1,
                    ephemeral_gb=0, swap=0, extra_specs={})
    return Instance(uuid=uuid, flavor=flavor)


def test_guests_survive_a_sigkilled_compute_process(state_path: str) -> None:
    out = subprocess.run([sys.executable, "-c", _CHILD, state_path, RUNNING, STOPPED,
                          SPAWNING], capture_output=True, text=True, timeout=60)
    assert out.returncode == -signal.SIGKILL, out.stderr
    assert "spawning" in out.stdout
    drv = FakeDriver(NullVirtAPI())
    drv.init_host("killed-host")
    assert sorted(drv.list_instance_uuids()) == [RUNNING, STOPPED, SPAWNING]
    assert drv.get_info(_instance(RUNNING)).state == power_state.RUNNING
    assert drv.get_info(_instance(STOPPED)).state == power_state.SHUTDOWN
    # defined but never booted: what recovery must clean up
    assert drv.get_info(_instance(SPAWNING)).state == power_state.NOSTATE
    assert drv.get_available_resource("killed-host").memory_mb_used == 3 * 64
    drv.destroy(None, _instance(SPAWNING))
    with open(fake.guests_file("killed-host")) as f:
        assert {g["uuid"] for g in json.load(f)["guests"]} == {RUNNING, STOPPED}


def test_other_hosts_files_are_their_own(state_path: str) -> None:
    a, b = FakeDriver(NullVirtAPI()), FakeDriver(NullVirtAPI())
    a.init_host("host-a")
    b.init_host("host-b")
    a.spawn(None, _instance(RUNNING), {}, [])
    FakeDriver._hypervisors.clear()  # a new process: only the files remain
    again = FakeDriver(NullVirtAPI())
    again.init_host("host-b")
    assert again.list_instance_uuids() == []
    again.init_host("host-a")
    assert again.list_instance_uuids() == [RUNNING]


def test_the_file_is_always_whole_while_guests_change(state_path: str) -> None:
    drv = FakeDriver(NullVirtAPI())
    drv.init_host("busy-host")
    uuids = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(60)]
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                with open(fake.guests_file("busy-host")) as f:
                    seen.append(len(json.load(f)["guests"]))
            except FileNotFoundError:
                continue
            except BaseException as exc:  # a torn file would be a JSONDecodeError
                errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        workers = [threading.Thread(target=drv.spawn, args=(None, _instance(u), {}, []))
                   for u in uuids]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    finally:
        stop.set()
        reader.join()
    assert not errors, errors[:3]
    assert seen and max(seen) <= len(uuids)
    with open(fake.guests_file("busy-host")) as f:
        assert len(json.load(f)["guests"]) == len(uuids)
    leftovers = [n for n in os.listdir(os.path.dirname(fake.guests_file("busy-host")))
                 if n.endswith(".tmp")]
    assert leftovers == []


def test_a_hypervisor_without_guests_leaves_no_file(state_path: str) -> None:
    drv = FakeDriver(NullVirtAPI())
    drv.init_host("empty-host")
    drv.spawn(None, _instance(RUNNING), {}, [])
    assert os.path.exists(fake.guests_file("empty-host"))
    drv.destroy(None, _instance(RUNNING))
    assert not os.path.exists(os.path.dirname(fake.guests_file("empty-host")))
