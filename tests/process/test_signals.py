"""Real signals to real service processes (oslo.service threading backend)."""

import signal
import time

from novalite.compute import api as compute_api
from novalite.compute import task_states, vm_states
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from tests.procs import wait_until


def _start_core(cluster, compute_extra=None):
    cluster.start("novalite-conductor", "conductor")
    cluster.start("novalite-scheduler", "scheduler")
    comp = cluster.start("novalite-compute", "compute-a", compute_extra)
    cluster.wait_services_up(["conductor", "scheduler", "compute-a"])
    comp.wait_log("is consuming compute, compute.compute-a")
    return comp


def _boot(cluster, n=1):
    ctxt = cluster.context()
    insts, _ = compute_api.API().create(ctxt, flavor=Flavor.get_by_flavor_id(ctxt, "1"),
                                        image_id=cluster.image_id, display_name="sig",
                                        max_count=n)
    return ctxt, insts


def _state(ctxt, uuid):
    inst = Instance.get_by_uuid(ctxt, uuid)
    return inst.vm_state, inst.task_state


def test_sigterm_lets_builds_in_flight_finish(cluster):
    comp = _start_core(cluster, {"fake_driver": {"spawn_delay": 3}})
    ctxt, insts = _boot(cluster)
    wait_until(lambda: _state(ctxt, insts[0].uuid)[1] == task_states.SPAWNING, 30, "spawning")
    comp.signal(signal.SIGTERM)
    assert comp.popen.wait(60) == 0
    assert _state(ctxt, insts[0].uuid) == (vm_states.ACTIVE, None)
    log = comp.read_log()
    assert "Waiting up to 10s for 1 build(s) in flight" in log


def test_sigterm_fails_builds_that_cannot_finish(cluster):
    comp = _start_core(cluster, {"DEFAULT": {"compute_driver": "fake.HangingSpawnDriver"},
                                 "compute": {"build_drain_timeout": 1}})
    ctxt, insts = _boot(cluster)
    wait_until(lambda: _state(ctxt, insts[0].uuid)[1] == task_states.SPAWNING, 30, "spawning")
    comp.signal(signal.SIGTERM)
    comp.popen.wait(60)
    inst = Instance.get_by_uuid(ctxt, insts[0].uuid)
    assert (inst.vm_state, inst.task_state) == (vm_states.ERROR, None)
    assert "stopped during the build" in inst.fault.message


def test_sigint_is_graceful_too(cluster):
    comp = _start_core(cluster)
    comp.signal(signal.SIGINT)
    assert comp.popen.wait(60) is not None
    assert "Stopping novalite-compute on compute-a" in comp.read_log()


def test_sighup_reloads_config_and_restarts_the_worker(cluster):
    comp = _start_core(cluster)
    comp.wait_log("Loading compute driver 'fake.FakeDriver'")
    old_workers = set(comp.workers())
    with open(comp.conf) as f:
        text = f.read()
    with open(comp.conf, "w") as f:
        f.write(text.replace("[DEFAULT]\n",
                             "[DEFAULT]\ncompute_driver = fake.FailingFirstSpawnDriver\n", 1))
    comp.signal(signal.SIGHUP)
    comp.wait_log("Loading compute driver 'fake.FailingFirstSpawnDriver'", timeout=60)
    new_workers = wait_until(lambda: set(comp.workers()) - old_workers, 30, "a new worker")
    assert new_workers
    assert comp.popen.poll() is None


def test_a_crashed_worker_is_restarted(cluster):
    comp = _start_core(cluster)
    workers = wait_until(comp.workers, 30, "a worker")
    import os

    os.kill(workers[0], signal.SIGKILL)
    wait_until(lambda: set(comp.workers()) - set(workers), 30, "a respawned worker")
    comp.wait_log("Starting novalite-compute on host compute-a", count=2, timeout=60)
    # the restarted worker serves builds
    ctxt, insts = _boot(cluster)
    wait_until(lambda: _state(ctxt, insts[0].uuid) == (vm_states.ACTIVE, None), 60, "active")


def test_conductor_with_two_workers(cluster):
    cond = cluster.start("novalite-conductor", "conductor",
                         {"conductor": {"workers": 2}})
    cluster.start("novalite-scheduler", "scheduler")
    cluster.start("novalite-compute", "compute-a")
    cluster.wait_services_up(["conductor", "scheduler", "compute-a"])
    wait_until(lambda: len(cond.workers()) == 2, 30, "two conductor workers")
    ctxt, insts = _boot(cluster, n=6)
    for inst in insts:
        wait_until(lambda i=inst: _state(ctxt, i.uuid) == (vm_states.ACTIVE, None), 60,
                   "active")
    cond.signal(signal.SIGTERM)
    assert cond.popen.wait(60) == 0
    time.sleep(0.1)


def test_backdoor_is_off_by_default_and_a_0600_socket_when_enabled(cluster, tmp_path):
    import os
    import socket
    import stat

    from novalite import baserpc

    comp = _start_core(cluster)
    ctxt = cluster.context()
    api = baserpc.BaseAPI("compute")
    assert api.get_backdoor_port(ctxt, "compute-a") is None
    comp.stop()

    path = str(tmp_path / "backdoor-{pid}.sock")
    comp = cluster.start("novalite-compute", "compute-b",
                         {"backdoor": {"socket_path": path}})
    comp.wait_log("Debug backdoor listening on unix socket")
    comp.wait_log("is consuming compute, compute.compute-b")
    reported = api.get_backdoor_port(ctxt, "compute-b")
    assert reported.startswith(str(tmp_path)) and "{pid}" not in reported
    mode = stat.S_IMODE(os.stat(reported).st_mode)
    assert mode == 0o600, oct(mode)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(reported)
        s.sendall(b"print('host=' + service.host)\n")
        seen = b""
        for _ in range(50):
            seen += s.recv(4096)
            if b"host=compute-b" in seen:
                break
    assert b"host=compute-b" in seen, seen
