"""Reliability on the whole in-process stack: a delete while the host looks
down, what a compute does at restart with what it finds (and with messages
queued for it meanwhile), os-resetState, and the races that used to lose
writes (deadline vs delete, power-state sync vs delete, metadata writers)."""

from __future__ import annotations

import concurrent.futures
import logging
import time
from typing import Any

from oslo_concurrency import lockutils

from novalite import context as nl_context
from novalite.compute import power_state, rpcapi, task_states, vm_states
from novalite.db import api as db
from novalite.db import network as network_db
from novalite.network import manage as network_manage
from novalite.objects.instance import Instance
from novalite.objects.service import Service
from tests.functional.stack import Stack

ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin"}
MEMBER = {"X-User-Id": "alice", "X-Project-Id": "admin", "X-Roles": "member"}


def _ctxt() -> Any:
    return nl_context.get_admin_context()


def _faults(uuid: str) -> list[dict]:
    return db.instance_fault_get_by_instance_uuids([uuid], latest=False).get(uuid, [])


def _instances_used(stack: Stack) -> int:
    limits = stack.compute("GET", "/limits").json()["limits"]["absolute"]
    return int(limits["totalInstancesUsed"])


def _force_down(host: str, down: bool) -> None:
    svc = Service.get_by_host_and_binary(_ctxt(), host, "novalite-compute")
    svc.forced_down = down
    svc.save()


def _record(stack: Stack, name: str, **fields: Any) -> Instance:
    """An instance as the API and conductor leave it, without a message."""
    inst = Instance(context=_ctxt(), display_name=name, project_id="admin", user_id="admin",
                    image_ref=stack.image_id, power_state=power_state.NOSTATE,
                    **fields)
    inst.flavor = _flavor()
    inst.create()
    return inst


def _flavor() -> Any:
    from novalite.objects.flavor import Flavor

    return Flavor.get_by_flavor_id(_ctxt(), "1")


# -- delete on a host that looks down (issue 10, item 9) -------------------


def test_delete_on_a_down_host_frees_addresses_and_quota_at_once_and_the_host_reaps_the_guest(
        make_stack, caplog) -> None:
    stack = make_stack()
    network_manage.create_network("net", "10.7.7.0/24", bridge="nlt7")
    server = stack.wait_status(stack.boot("on-down-host")["id"], "ACTIVE")
    assert server["addresses"]["net"]
    driver = stack.computes["host1"].manager.driver
    assert _instances_used(stack) == 1
    stack.stop_compute("host1")

    assert stack.compute("DELETE", f"/servers/{server['id']}").status_code == 204
    stack.wait_gone(server["id"], timeout=5)
    assert network_db.fixed_ip_get_by_instance(server["id"]) == []
    assert _instances_used(stack) == 0
    # the guest is still on the hypervisor, with the tenant's data
    assert server["id"] in driver.list_instance_uuids()

    caplog.set_level(logging.WARNING)
    stack.start_compute("host1")
    assert server["id"] not in stack.computes["host1"].manager.driver.list_instance_uuids()
    assert any(server["id"] in r.getMessage() and "deleted instance" in r.getMessage()
               and "reap" in r.getMessage() for r in caplog.records)


def test_a_compute_that_only_looked_down_reaps_the_guest_on_its_periodic_check(
        make_stack, caplog) -> None:
    stack = make_stack()
    manager = stack.computes["host1"].manager
    keep = stack.wait_status(stack.boot("keep")["id"], "ACTIVE")
    gone = stack.wait_status(stack.boot("gone")["id"], "ACTIVE")
    _force_down("host1", True)
    try:
        assert stack.compute("DELETE", f"/servers/{gone['id']}").status_code == 204
        stack.wait_gone(gone["id"], timeout=5)
    finally:
        _force_down("host1", False)
    assert gone["id"] in manager.driver.list_instance_uuids()
    caplog.set_level(logging.WARNING)
    manager.cleanup_running_deleted_instances()
    assert manager.driver.list_instance_uuids() == [keep["id"]]
    assert stack.server(keep["id"])["status"] == "ACTIVE"
    assert any(gone["id"] in r.getMessage() and "Destroying the guest of deleted instance"
               in r.getMessage() for r in caplog.records)


def test_running_deleted_instance_action_log_only_reports(make_stack, caplog) -> None:
    stack = make_stack(overrides={("compute", "running_deleted_instance_action"): "log"})
    manager = stack.computes["host1"].manager
    gone = stack.wait_status(stack.boot("gone")["id"], "ACTIVE")
    Instance.get_by_uuid(_ctxt(), gone["id"]).destroy()  # as the API's local delete
    caplog.set_level(logging.WARNING)
    manager.cleanup_running_deleted_instances()
    assert manager.driver.list_instance_uuids() == [gone["id"]]
    assert any(gone["id"] in r.getMessage() and "running_deleted_instance_action = log"
               in r.getMessage() for r in caplog.records)


# -- compute restart (issue 10, item 10) -------------------------------------


def test_a_build_queued_while_compute_was_down_is_built_after_restart(make_stack) -> None:
    """The bug: recovery ran before the RPC server consumed and put the
    build in ERROR; then its queued run_instance failed its state check."""
    stack = make_stack()
    stack.stop_compute("host1")
    inst = _record(stack, "queued", host="host1", node="host1", vm_state=vm_states.BUILDING,
                   task_state=task_states.SCHEDULING)
    rpcapi.ComputeAPI().run_instance(_ctxt(), inst, "host1", {})
    stack.start_compute("host1")
    s = stack.wait_status(inst.uuid, "ACTIVE", timeout=15)
    assert _faults(inst.uuid) == [], s


def test_a_build_whose_request_was_lost_ends_in_error_after_the_grace(make_stack) -> None:
    stack = make_stack(overrides={("compute", "queued_build_grace"): 1})
    stack.stop_compute("host1")
    inst = _record(stack, "lost", host="host1", node="host1", vm_state=vm_states.BUILDING,
                   task_state=task_states.SCHEDULING)
    stack.start_compute("host1")
    assert stack.server(inst.uuid)["status"] == "BUILD"  # its message may yet come
    s = stack.wait_status(inst.uuid, "ERROR", timeout=15)
    assert "build request was lost when the compute service on host1 restarted" in \
        s["fault"]["message"]


def test_restart_finishes_deletes_and_settles_interrupted_builds(make_stack) -> None:
    stack = make_stack()
    manager = stack.computes["host1"].manager
    deleting = stack.wait_status(stack.boot("deleting")["id"], "ACTIVE")
    spawned = stack.wait_status(stack.boot("spawned")["id"], "ACTIVE")
    stack.stop_compute("host1")
    # what a SIGKILL leaves: a delete half done, a spawn that reached the
    # hypervisor but not the database, a build that never did
    Instance.get_by_uuid(_ctxt(), deleting["id"])
    for uuid, fields in ((deleting["id"], {"task_state": task_states.DELETING}),
                         (spawned["id"], {"vm_state": vm_states.BUILDING,
                                          "task_state": task_states.SPAWNING})):
        inst = Instance.get_by_uuid(_ctxt(), uuid)
        for k, v in fields.items():
            setattr(inst, k, v)
        inst.save()
    never = _record(stack, "never", host="host1", node="host1",
                    vm_state=vm_states.BUILDING, task_state=task_states.NETWORKING)
    assert spawned["id"] in manager.driver.list_instance_uuids()

    stack.start_compute("host1")
    stack.wait_gone(deleting["id"], timeout=10)
    assert stack.server(spawned["id"])["status"] == "ACTIVE"
    s = stack.wait_status(never.uuid, "ERROR", timeout=10)
    assert "stopped during the build (networking)" in s["fault"]["message"]
    assert "never reached the hypervisor" in s["fault"]["message"]
    assert sorted(stack.computes["host1"].manager.driver.list_instance_uuids()) == \
        [spawned["id"]]


def test_a_stop_interrupted_by_a_restart_is_done_once_and_its_queued_copy_ignored(
        make_stack) -> None:
    stack = make_stack()
    server = stack.wait_status(stack.boot("stop-me")["id"], "ACTIVE")
    stack.stop_compute("host1")
    assert stack.compute("POST", f"/servers/{server['id']}/action",
                         {"os-stop": None}).status_code == 202
    stack.start_compute("host1")
    s = stack.wait_status(server["id"], "SHUTOFF", timeout=15)
    assert s["OS-EXT-STS:power_state"] == power_state.SHUTDOWN
    time.sleep(0.5)  # the queued stop has been delivered by now
    assert stack.server(server["id"])["status"] == "SHUTOFF"
    assert _faults(server["id"]) == []


def test_a_repeated_run_instance_for_an_active_server_changes_nothing(stack) -> None:
    server = stack.wait_status(stack.boot("once")["id"], "ACTIVE")
    inst = Instance.get_by_uuid(_ctxt(), server["id"])
    rpcapi.ComputeAPI().run_instance(_ctxt(), inst, "host1", {})
    time.sleep(0.5)
    again = stack.server(server["id"])
    assert again["status"] == "ACTIVE" and _faults(server["id"]) == []
    assert stack.computes["host1"].manager.driver.list_instance_uuids() == [server["id"]]


# -- os-resetState ---------------------------------------------------------


def test_reset_state_clears_a_stuck_task_and_is_admin_only(stack) -> None:
    server = stack.wait_status(stack.boot("stuck")["id"], "ACTIVE")
    inst = Instance.get_by_uuid(_ctxt(), server["id"])
    inst.task_state = task_states.REBOOTING
    inst.save()
    path = f"/servers/{server['id']}/action"

    resp = stack.compute("POST", path, {"os-resetState": {"state": "error"}}, headers=MEMBER)
    assert resp.status_code == 403, resp.text
    assert "os_compute_api:os-admin-actions:reset_state" in resp.text

    resp = stack.compute("POST", path, {"os-resetState": {"state": "stopped"}},
                         headers=ADMIN)
    assert resp.status_code == 400, resp.text
    assert "stopped" in resp.text

    resp = stack.compute("POST", path, {"os-resetState": {"state": "error"}}, headers=ADMIN)
    assert resp.status_code == 202, resp.text
    s = stack.server(server["id"])
    assert (s["status"], s["OS-EXT-STS:task_state"]) == ("ERROR", None)

    resp = stack.compute("POST", path, {"os-resetState": {"state": "active"}}, headers=ADMIN)
    assert resp.status_code == 202, resp.text
    s = stack.server(server["id"])
    assert (s["status"], s["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    # and it is usable again
    assert stack.compute("POST", path, {"os-stop": None}).status_code == 202
    stack.wait_status(server["id"], "SHUTOFF")


# -- races (issue 10, item 12) -------------------------------------------------


def test_deadline_check_leaves_a_delete_that_holds_the_lock_alone(make_stack) -> None:
    """The deadline task used to delete without the instance lock, behind
    the back of the delete (or any action) holding it."""
    stack = make_stack(overrides={("compute", "task_timeout"): 1})
    manager = stack.computes["host1"].manager
    server = stack.wait_status(stack.boot("slow-delete")["id"], "ACTIVE")
    with lockutils.lock(f"instance-{server['id']}"):
        # the delete is cast and waits on the lock the test holds
        assert stack.compute("DELETE", f"/servers/{server['id']}").status_code == 204
        time.sleep(1.5)  # past task_timeout
        manager.check_deadlines()
        s = stack.server(server["id"])
        assert s["OS-EXT-STS:task_state"] == "deleting", s
        assert server["id"] in manager.driver.list_instance_uuids()
    stack.wait_gone(server["id"], timeout=10)
    assert _faults(server["id"]) == []


def test_deadline_check_finishes_a_delete_nobody_is_running(make_stack) -> None:
    stack = make_stack(overrides={("compute", "task_timeout"): 1})
    manager = stack.computes["host1"].manager
    server = stack.wait_status(stack.boot("abandoned")["id"], "ACTIVE")
    inst = Instance.get_by_uuid(_ctxt(), server["id"])
    inst.task_state = task_states.DELETING  # as a delete whose cast was lost
    inst.save()
    time.sleep(1.5)
    manager.check_deadlines()
    stack.wait_gone(server["id"], timeout=5)
    assert manager.driver.list_instance_uuids() == []


def test_power_state_sync_never_overwrites_a_delete_in_progress(stack) -> None:
    """The sync read its list, a delete began and removed the guest, and the
    sync then recorded "guest disappeared": ERROR with a fault over DELETING."""
    manager = stack.computes["host1"].manager
    server = stack.wait_status(stack.boot("racing")["id"], "ACTIVE")
    stale = Instance.get_by_uuid(_ctxt(), server["id"])  # what the sync listed
    # the delete has begun: DELETING recorded, the guest already destroyed
    current = Instance.get_by_uuid(_ctxt(), server["id"])
    current.task_state = task_states.DELETING
    current.save()
    manager.driver.destroy(_ctxt(), current)
    manager._sync_instance_power_state(_ctxt(), stale)
    with lockutils.lock(f"instance-{server['id']}"):  # and while it holds the lock
        manager._sync_instance_power_state(_ctxt(), Instance.get_by_uuid(_ctxt(),
                                                                          server["id"]))
    s = stack.server(server["id"])
    assert (s["status"], s["OS-EXT-STS:task_state"]) != ("ERROR", None), s
    assert s["OS-EXT-STS:task_state"] == "deleting"
    assert _faults(server["id"]) == []


def test_concurrent_metadata_writers_all_land(stack) -> None:
    server = stack.wait_status(stack.boot("meta")["id"], "ACTIVE")
    path = f"/servers/{server['id']}/metadata"

    def write(i: int) -> int:
        if i % 2:
            return stack.compute("PUT", f"{path}/k{i}", {"meta": {f"k{i}": str(i)}}).status_code
        return stack.compute("POST", path, {"metadata": {f"k{i}": str(i)}}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(write, range(24)))
    assert set(codes) == {200}, codes
    got = stack.compute("GET", path).json()["metadata"]
    assert got == {f"k{i}": str(i) for i in range(24)}

    def delete(i: int) -> int:
        return stack.compute("DELETE", f"{path}/k{i}").status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert set(pool.map(delete, range(0, 24, 2))) == {204}
    got = stack.compute("GET", path).json()["metadata"]
    assert got == {f"k{i}": str(i) for i in range(1, 24, 2)}
