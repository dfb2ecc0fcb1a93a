"""Lifecycle gaps closed as Nova behaves (issue 12 H3), through the HTTP
API on the in-process FakeDriver stack: a snapshot of a suspended server,
Nova's check_instance_lock on every action it guards (server metadata
included), rebuild's preserve_ephemeral, a compute restart with a server
caught mid-task, unshelve onto another host re-binding the ports."""

from __future__ import annotations

from typing import Any

import pytest

from novalite import context as nl_context
from novalite.conf import CONF
from novalite.objects.instance import Instance
from tests.functional.stack import Stack

ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin,member,reader"}
OWNER = {"X-User-Id": "u1", "X-Project-Id": "p1", "X-Roles": "member,reader"}


def _v(version: str, headers: dict | None = None) -> dict:
    return {**(headers or {}), "OpenStack-API-Version": f"compute {version}"}


def _with_image_api(stack: Stack) -> Stack:
    CONF.set_override("api_url", f"{stack.base_url}/image", group="image")
    stack._set.append(("api_url", "image"))
    return stack


@pytest.fixture
def images_stack(tmp_path: Any) -> Any:
    s = _with_image_api(Stack(str(tmp_path)).start())
    try:
        yield s
    finally:
        s.stop()


def act(stack: Stack, sid: str, body: dict, headers: dict | None = None,
        version: str = "2.1") -> Any:
    return stack.compute("POST", f"/servers/{sid}/action", body, headers=_v(version, headers))


def boot(stack: Stack, headers: dict | None = None, **extra: Any) -> str:
    body = {"server": {"name": "vm", "flavorRef": "1", "imageRef": stack.image_id, **extra}}
    resp = stack.compute("POST", "/servers", body, headers=headers)
    assert resp.status_code == 202, resp.text
    sid = str(resp.json()["server"]["id"])
    stack.wait_status(sid, "ACTIVE")
    return sid


def _instance(sid: str) -> Instance:
    return Instance.get_by_uuid(nl_context.get_admin_context(), sid)


def _wait_image(stack: Stack, image_id: str) -> dict:
    import time

    deadline = time.monotonic() + 20
    last: dict = {}
    while time.monotonic() < deadline:
        resp = stack.request("GET", f"/image/v2/images/{image_id}")
        last = resp.json() if resp.status_code == 200 else {"status": resp.status_code}
        if last.get("status") == "active":
            return last
        time.sleep(0.05)
    raise AssertionError(f"image {image_id} never became active: {last}")


# -- 1. createImage / createBackup of a SUSPENDED server ---------------------------


def test_snapshot_and_backup_of_a_suspended_server_keep_it_suspended(images_stack):
    stack = images_stack
    sid = boot(stack)
    assert act(stack, sid, {"suspend": None}).status_code == 202
    stack.wait_status(sid, "SUSPENDED")
    resp = act(stack, sid, {"createImage": {"name": "while-suspended"}}, version="2.45")
    assert resp.status_code == 202, resp.text
    image = _wait_image(stack, resp.json()["image_id"])
    assert image["image_type"] == "snapshot" and image["instance_uuid"] == sid
    after = stack.wait_for(sid, lambda s: s["OS-EXT-STS:task_state"] is None,
                           what="snapshot done")
    assert after["status"] == "SUSPENDED" and "fault" not in after
    resp = act(stack, sid, {"createBackup": {"name": "b", "backup_type": "daily",
                                             "rotation": 1}}, version="2.45")
    assert resp.status_code == 202, resp.text
    _wait_image(stack, resp.json()["image_id"])
    after = stack.wait_for(sid, lambda s: s["OS-EXT-STS:task_state"] is None,
                           what="backup done")
    assert after["status"] == "SUSPENDED"
    # it resumes as it was
    assert act(stack, sid, {"resume": None}).status_code == 202
    stack.wait_status(sid, "ACTIVE")


def test_snapshot_of_a_shelved_server_is_refused(images_stack):
    # NOTE: Nova's snapshot states are ACTIVE, STOPPED, PAUSED, SUSPENDED only.
    stack = images_stack
    sid = boot(stack)
    assert act(stack, sid, {"shelve": None}).status_code == 202
    stack.wait_status(sid, "SHELVED_OFFLOADED")
    resp = act(stack, sid, {"createImage": {"name": "no"}})
    assert resp.status_code == 409, resp.text
    assert "vm_state shelved_offloaded" in resp.text


# -- 4. check_instance_lock ---------------------------------------------------------

# NOTE: every action of Nova's compute API decorated with check_instance_lock
# that novalite has, with a body the state would otherwise let through (or
# not: the lock is checked first, as Nova's decorator is the outer one).
LOCKED_ACTIONS: list[dict[str, Any]] = [
    {"os-stop": None}, {"os-start": None}, {"reboot": {"type": "SOFT"}},
    {"reboot": {"type": "HARD"}}, {"pause": None}, {"unpause": None}, {"suspend": None},
    {"resume": None}, {"rescue": None}, {"unrescue": None},
    {"changePassword": {"adminPass": "x"}}, {"trigger_crash_dump": None},
    {"rebuild": {"imageRef": "IMAGE"}}, {"resize": {"flavorRef": "2"}},
    {"confirmResize": None}, {"revertResize": None}, {"shelve": None},
    {"shelveOffload": None}, {"unshelve": None}, {"restore": None},
    {"forceDelete": None},
]


def test_a_locked_server_refuses_every_action_nova_guards_with_the_lock(stack):
    sid = boot(stack, headers=OWNER)
    assert stack.compute("PUT", f"/servers/{sid}/metadata/k", {"meta": {"k": "v"}},
                         headers=OWNER).status_code == 200
    assert act(stack, sid, {"lock": None}, OWNER).status_code == 202
    for body in LOCKED_ACTIONS:
        if "rebuild" in body:
            body = {"rebuild": {"imageRef": stack.image_id}}
        resp = act(stack, sid, body, OWNER, "2.17")
        assert resp.status_code == 409, (body, resp.text)
        assert resp.json()["conflictingRequest"]["message"] == \
            f"Instance {sid} is locked", (body, resp.text)
    # server metadata: every change is refused, reading is not
    for method, path, body in (
            ("POST", "/metadata", {"metadata": {"a": "b"}}),
            ("PUT", "/metadata", {"metadata": {"a": "b"}}),
            ("PUT", "/metadata/k", {"meta": {"k": "w"}}),
            ("DELETE", "/metadata/k", None)):
        resp = stack.compute(method, f"/servers/{sid}{path}", body, headers=OWNER)
        assert resp.status_code == 409, (method, path, resp.text)
        assert f"Instance {sid} is locked" in resp.text
    assert stack.compute("GET", f"/servers/{sid}/metadata", headers=OWNER).json() == \
        {"metadata": {"k": "v"}}
    # NOTE: a missing key is 404 before the lock, as Nova's controller looks first
    assert stack.compute("DELETE", f"/servers/{sid}/metadata/nope",
                         headers=OWNER).status_code == 404
    # snapshots are not guarded (Nova: the lock prevents accidental changes only)
    resp = act(stack, sid, {"createImage": {"name": "locked-snap"}}, OWNER)
    assert resp.status_code == 202, resp.text
    stack.wait_for(sid, lambda s: s["OS-EXT-STS:task_state"] is None, what="snapshot done")
    # an admin is not refused
    resp = stack.compute("PUT", f"/servers/{sid}/metadata/k", {"meta": {"k": "admin"}},
                         headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert stack.compute("DELETE", f"/servers/{sid}/metadata/k",
                         headers=ADMIN).status_code == 204
    # unlocked, the owner may again
    assert act(stack, sid, {"unlock": None}, OWNER).status_code == 202
    assert stack.compute("POST", f"/servers/{sid}/metadata", {"metadata": {"a": "b"}},
                         headers=OWNER).status_code == 200


def test_server_metadata_changes_in_novas_states_only(stack):
    sid = boot(stack)
    # paused and suspended servers take metadata changes (Nova's states)
    for action, status, undo in (("pause", "PAUSED", "unpause"),
                                 ("suspend", "SUSPENDED", "resume")):
        assert act(stack, sid, {action: None}).status_code == 202
        stack.wait_status(sid, status)
        resp = stack.compute("PUT", f"/servers/{sid}/metadata/{action}", {"meta": {action: "1"}})
        assert resp.status_code == 200, resp.text
        assert stack.compute("DELETE", f"/servers/{sid}/metadata/{action}").status_code == 204
        assert act(stack, sid, {undo: None}).status_code == 202
        stack.wait_status(sid, "ACTIVE")
    # not while a task is in flight
    inst = _instance(sid)
    inst.task_state = "rebooting"
    inst.save()
    resp = stack.compute("POST", f"/servers/{sid}/metadata", {"metadata": {"x": "y"}})
    assert resp.status_code == 409, resp.text
    assert "task_state rebooting" in resp.text
    inst.task_state = None
    inst.save()
    # not in a state outside Nova's (rescued)
    assert act(stack, sid, {"rescue": None}).status_code == 200
    stack.wait_status(sid, "RESCUE")
    resp = stack.compute("PUT", f"/servers/{sid}/metadata", {"metadata": {"x": "y"}})
    assert resp.status_code == 409, resp.text
    assert "vm_state rescued" in resp.text


# -- 5. a compute restart with a server caught mid-task (Nova's _init_instance) ----


def _caught_mid_task(stack: Stack, sid: str, task: str, vm_state: str | None = None) -> None:
    inst = _instance(sid)
    inst.task_state = task
    if vm_state is not None:
        inst.vm_state = vm_state
    inst.save()


def test_a_compute_restart_treats_each_interrupted_task_as_nova(stack):
    from novalite.objects import migration as mig

    left = {task: boot(stack) for task in ("rescuing", "unrescuing", "resize_finish",
                                            "shelving_offloading")}
    rebuilding, resize_prep, migrating = boot(stack), boot(stack), boot(stack)
    rescued = boot(stack)
    assert act(stack, rescued, {"rescue": None}).status_code == 200
    stack.wait_status(rescued, "RESCUE")
    for task, sid in left.items():
        _caught_mid_task(stack, sid, task)
    _caught_mid_task(stack, rescued, "unrescuing")
    _caught_mid_task(stack, rebuilding, "rebuild_spawning")
    _caught_mid_task(stack, resize_prep, "resize_prep")
    _caught_mid_task(stack, migrating, "migrating")
    ctxt = nl_context.get_admin_context()
    live = mig.Migration(context=ctxt, instance_uuid=migrating, source_compute="host1",
                         dest_compute="host2", source_node="host1", dest_node="host2",
                         migration_type=mig.LIVE_MIGRATION, status=mig.RUNNING)
    live.create()

    stack.stop_compute("host1")
    stack.start_compute("host1")

    # rebuild: ERROR with a fault, the task cleared (Nova: "failed to rebuild")
    failed = stack.wait_status(rebuilding, "ERROR")
    assert failed["OS-EXT-STS:task_state"] is None
    assert "rebuild_spawning" in failed["fault"]["message"]
    # resize_prep and migrating: the task cleared, the server as it was
    for sid in (resize_prep, migrating):
        after = stack.wait_for(sid, lambda s: s["OS-EXT-STS:task_state"] is None,
                               what="task cleared")
        assert after["status"] == "ACTIVE" and "fault" not in after
    assert mig.Migration.get_by_id(ctxt, live.id).status == mig.ERROR
    # the others: left as Nova leaves them, never ERROR
    for task, sid in left.items():
        after = stack.server(sid)
        assert after["OS-EXT-STS:vm_state"] == "active", (task, after)
        assert after["OS-EXT-STS:task_state"] == task and "fault" not in after
    after = stack.server(rescued)
    assert after["status"] == "RESCUE" and after["OS-EXT-STS:task_state"] == "unrescuing"
    # an admin's os-resetState clears such a task, as in Nova
    resp = act(stack, left["rescuing"], {"os-resetState": {"state": "active"}}, ADMIN)
    assert resp.status_code == 202, resp.text
    assert stack.server(left["rescuing"])["OS-EXT-STS:task_state"] is None
    assert act(stack, left["rescuing"], {"rescue": None}).status_code == 200
    stack.wait_status(left["rescuing"], "RESCUE")


# -- 6. Keystone's manager role and Nova 2025's project manager defaults -----------


def test_a_project_manager_moves_its_servers_without_choosing_the_host(make_stack):
    s = make_stack(computes=[("hosta", "fake.FakeDriver"), ("hostb", "fake.FakeDriver")],
                   auth="novalite")
    user = s.make_user("the-manager", "managed", role="manager")
    manager = s.login("the-manager", user["password"], "managed")
    token = s.token("the-manager", user["password"], "managed").json()["token"]
    assert [r["name"] for r in token["roles"]] == ["manager", "member", "reader"]
    # a manager is a member too: it boots
    resp = s.compute("POST", "/servers", {"server": {"name": "m", "flavorRef": "1",
                                                     "imageRef": s.image_id}}, session=manager)
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    s.wait_status(sid, "ACTIVE")
    # naming the host stays admin's (migrate:host, migrate_live:host)
    for body, version in (({"migrate": {"host": "hostb"}}, "2.56"),
                          ({"os-migrateLive": {"host": "hostb", "block_migration": "auto"}},
                           "2.68")):
        refused = s.compute("POST", f"/servers/{sid}/action", body, session=manager,
                            headers=_v(version))
        assert refused.status_code == 403, (body, refused.text)
    # the scheduler's choice is the manager's to ask for
    resp = s.compute("POST", f"/servers/{sid}/action", {"migrate": None}, session=manager)
    assert resp.status_code == 202, resp.text
    s.wait_status(sid, "VERIFY_RESIZE")
    # its project's migrations, without the hosts; all projects' are admin's
    assert s.compute("GET", "/os-migrations", session=manager).status_code == 403
    mine = s.compute("GET", f"/os-migrations?project_id={user['project_id']}",
                     session=manager)
    assert mine.status_code == 200, mine.text
    [migration] = mine.json()["migrations"]
    assert migration["instance_uuid"] == sid and migration["status"] == "finished"
    assert all(migration[k] is None for k in ("source_compute", "dest_compute",
                                              "source_node", "dest_node", "dest_host"))
    admin_view = s.compute("GET", "/os-migrations").json()["migrations"]
    assert [m["source_compute"] for m in admin_view if m["instance_uuid"] == sid] != [None]
    assert s.compute("POST", f"/servers/{sid}/action", {"confirmResize": None},
                     session=manager).status_code == 204
    # a member of the project is still refused a move
    member = s.make_user("a-member", "managed")
    msession = s.login("a-member", member["password"], "managed")
    assert s.compute("POST", f"/servers/{sid}/action", {"migrate": None},
                     session=msession).status_code == 403


# -- 3. rebuild's preserve_ephemeral -------------------------------------------------


def test_rebuild_preserve_ephemeral_as_novas_libvirt(stack):
    # NOTE: Nova's libvirt has no rebuild of its own: its default rebuild
    # refuses preserve_ephemeral=true (PreserveEphemeralNotSupported, ERROR)
    # before touching the guest; false is an ordinary rebuild.
    from novalite.virt import fake

    sid = boot(stack, headers=OWNER)
    bad = act(stack, sid, {"rebuild": {"imageRef": stack.image_id,
                                       "preserve_ephemeral": "maybe"}}, OWNER)
    assert bad.status_code == 400, bad.text
    resp = act(stack, sid, {"rebuild": {"imageRef": stack.image_id,
                                        "preserve_ephemeral": False}}, OWNER)
    assert resp.status_code == 202, resp.text
    stack.wait_for(sid, lambda s: s["status"] == "ACTIVE" and
                   s["OS-EXT-STS:task_state"] is None, what="rebuilt")
    guest = fake.FakeDriver._hypervisors["host1"][sid]
    resp = act(stack, sid, {"rebuild": {"imageRef": stack.image_id,
                                        "preserve_ephemeral": True}}, OWNER)
    assert resp.status_code == 202, resp.text
    failed = stack.wait_status(sid, "ERROR")
    assert failed["OS-EXT-STS:task_state"] is None
    assert failed["fault"]["message"] == ("The current driver does not support preserving "
                                          "ephemeral partitions.")
    # the guest was never touched
    assert fake.FakeDriver._hypervisors["host1"][sid] is guest


# -- 2. unshelve after offload onto another host re-binds the ports --------------------


def test_unshelve_onto_another_host_binds_the_ports_there(make_stack):
    s = _with_image_api(make_stack(computes=[("hosta", "fake.FakeDriver"),
                                             ("hostb", "fake.FakeDriver")]))

    def ports(sid: str) -> list[dict]:
        resp = s.request("GET", f"/network/v2.0/ports?device_id={sid}", headers=ADMIN)
        assert resp.status_code == 200, resp.text
        return list(resp.json()["ports"])

    net = s.request("POST", "/network/v2.0/networks",
                    {"network": {"name": "h3-unshelve-net"}}, headers=ADMIN)
    assert net.status_code == 201, net.text
    net_id = net.json()["network"]["id"]
    sub = s.request("POST", "/network/v2.0/subnets", {"subnet": {
        "network_id": net_id, "cidr": "10.77.0.0/24", "ip_version": 4}}, headers=ADMIN)
    assert sub.status_code == 201, sub.text
    sid = boot(s, headers=ADMIN, networks=[{"uuid": net_id}])
    source = s.server(sid)["OS-EXT-SRV-ATTR:host"]
    dest = "hostb" if source == "hosta" else "hosta"
    [before] = ports(sid)
    assert (before["binding:host_id"], before["status"]) == (source, "ACTIVE")
    assert act(s, sid, {"shelve": None}).status_code == 202
    s.wait_status(sid, "SHELVED_OFFLOADED")
    # as Nova's shelve offload (unbind_ports): kept, bound to no host
    [offloaded] = ports(sid)
    assert offloaded["id"] == before["id"]
    assert (offloaded["binding:host_id"], offloaded["status"]) == ("", "DOWN")
    assert offloaded["fixed_ips"] == before["fixed_ips"]
    dest_driver = s.computes[dest].manager.driver
    plugged_before = list(dest_driver.plugged)
    resp = act(s, sid, {"unshelve": {"host": dest}}, ADMIN, "2.91")
    assert resp.status_code == 202, resp.text
    after = s.wait_status(sid, "ACTIVE")
    assert after["OS-EXT-SRV-ATTR:host"] == dest
    # as Nova's setup_instance_network_on_host: the port is the new host's,
    # with its address, and the new host plugged it
    [moved] = ports(sid)
    assert (moved["id"], moved["binding:host_id"], moved["status"]) == \
        (before["id"], dest, "ACTIVE")
    assert moved["fixed_ips"] == before["fixed_ips"]
    assert ("plug", before["id"]) in [(op, vif) for op, vif, _ in
                                      dest_driver.plugged[len(plugged_before):]]
    cache = _instance(sid)
    assert cache.host == dest
