"""Pause/unpause, suspend/resume, rescue/unrescue, lock/unlock,
changePassword and trigger_crash_dump through the HTTP API on the
FakeDriver stack: states, instance actions and their events, and Nova's
errors (400/403/404/409/501)."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from novalite import context as nl_context
from novalite.virt import fake

ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin,member,reader"}
OWNER = {"X-User-Id": "u1", "X-Project-Id": "p1", "X-Roles": "member,reader"}
OTHER = {"X-User-Id": "u2", "X-Project-Id": "p2", "X-Roles": "member,reader"}
READER = {"X-User-Id": "u3", "X-Project-Id": "p1", "X-Roles": "reader"}


def _v(version: str, headers: dict | None = None) -> dict:
    return {**(headers or {}), "OpenStack-API-Version": f"compute {version}"}


def act(stack: Any, server_id: str, body: dict, headers: dict | None = None,
        version: str = "2.1") -> Any:
    return stack.compute("POST", f"/servers/{server_id}/action", body,
                         headers=_v(version, headers))


def boot(stack: Any, headers: dict | None = None, **extra: Any) -> str:
    body = {"server": {"name": "vm", "flavorRef": "1", "imageRef": stack.image_id, **extra}}
    resp = stack.compute("POST", "/servers", body, headers=headers)
    assert resp.status_code == 202, resp.text
    sid = str(resp.json()["server"]["id"])
    stack.wait_status(sid, "ACTIVE")
    return sid


def events(stack: Any, server_id: str) -> dict[str, list[tuple[str, str | None]]]:
    """Each action's name → its events (name, result), newest action first."""
    resp = stack.compute("GET", f"/servers/{server_id}/os-instance-actions",
                         headers=_v("2.51"))
    assert resp.status_code == 200, resp.text
    out: dict[str, list[tuple[str, str | None]]] = {}
    for a in resp.json()["instanceActions"]:
        detail = stack.compute("GET", f"/servers/{server_id}/os-instance-actions/"
                                      f"{a['request_id']}", headers=_v("2.51")).json()
        out.setdefault(a["action"], [(e["event"], e["result"]) for e in
                                     detail["instanceAction"].get("events", [])])
    return out


def wait_event(stack: Any, server_id: str, action: str, timeout: float = 10) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events(stack, server_id).get(action)
        if found and all(result is not None for _, result in found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"no finished event of {action} on {server_id}")


def guest(stack: Any, server_id: str) -> Any:
    return fake.FakeDriver._hypervisors["host1"][server_id]


def test_pause_unpause_suspend_resume_states_and_events(stack):
    sid = boot(stack)
    assert act(stack, sid, {"pause": None}).status_code == 202
    server = stack.wait_status(sid, "PAUSED")
    assert server["OS-EXT-STS:vm_state"] == "paused"
    assert server["OS-EXT-STS:power_state"] == 3
    # NOTE: Nova's allowed states: a paused server cannot be paused or suspended.
    again = act(stack, sid, {"pause": None})
    assert again.status_code == 409, again.text
    assert "Cannot 'pause' instance" in again.json()["conflictingRequest"]["message"]
    assert act(stack, sid, {"suspend": None}).status_code == 409
    assert act(stack, sid, {"resume": None}).status_code == 409
    assert act(stack, sid, {"unpause": None}).status_code == 202
    stack.wait_status(sid, "ACTIVE")
    assert act(stack, sid, {"unpause": None}).status_code == 409
    assert act(stack, sid, {"suspend": None}).status_code == 202
    server = stack.wait_status(sid, "SUSPENDED")
    assert server["OS-EXT-STS:power_state"] == 7
    assert act(stack, sid, {"resume": None}).status_code == 202
    server = stack.wait_status(sid, "ACTIVE")
    assert server["OS-EXT-STS:power_state"] == 1
    for name in ("pause", "unpause", "suspend", "resume"):
        assert wait_event(stack, sid, name) == [(f"compute_{name}_instance", "Success")]
    # NOTE: a body that is not null: 400 naming the action.
    bad = act(stack, sid, {"pause": {"x": 1}})
    assert bad.status_code == 400, bad.text


def test_power_sync_leaves_paused_and_suspended_alone_and_hard_reboot_from_them(stack):
    sid = boot(stack)
    compute = stack.computes["host1"].manager
    act(stack, sid, {"pause": None})
    stack.wait_status(sid, "PAUSED")
    compute.sync_power_states()
    assert stack.server(sid)["status"] == "PAUSED"
    # NOTE: as Nova: HARD reboot from PAUSED and SUSPENDED; SOFT not; none
    # from RESCUED (409: unrescue first).
    assert act(stack, sid, {"reboot": {"type": "SOFT"}}).status_code == 409
    assert act(stack, sid, {"reboot": {"type": "HARD"}}).status_code == 202
    assert stack.wait_status(sid, "ACTIVE")["OS-EXT-STS:power_state"] == 1
    act(stack, sid, {"suspend": None})
    stack.wait_status(sid, "SUSPENDED")
    compute.sync_power_states()
    assert stack.server(sid)["status"] == "SUSPENDED"
    assert act(stack, sid, {"reboot": {"type": "HARD"}}).status_code == 202
    stack.wait_status(sid, "ACTIVE")
    act(stack, sid, {"rescue": None})
    stack.wait_status(sid, "RESCUE")
    assert act(stack, sid, {"reboot": {"type": "HARD"}}).status_code == 409
    assert act(stack, sid, {"reboot": {"type": "SOFT"}}).status_code == 409
    assert stack.server(sid)["status"] == "RESCUE"
    assert act(stack, sid, {"unrescue": None}).status_code == 202
    stack.wait_status(sid, "ACTIVE")
    assert guest(stack, sid).rescue_image is None


def test_failed_pause_goes_back_with_fault_and_error_event(stack):
    sid = boot(stack)
    # NOTE: the guest stopped behind novalite's back: the driver refuses.
    guest(stack, sid).state = 4
    assert act(stack, sid, {"pause": None}).status_code == 202
    found = wait_event(stack, sid, "pause")
    assert found == [("compute_pause_instance", "Error")]
    server = stack.wait_for(sid, lambda s: s["OS-EXT-STS:task_state"] is None)
    assert server["OS-EXT-STS:vm_state"] == "active"
    assert server["OS-EXT-STS:task_state"] is None
    # NOTE: the fault is recorded; as Nova's view, shown in ERROR only.
    assert "fault" not in server
    assert server["OS-EXT-STS:power_state"] == 4
    detail = stack.compute("GET", f"/servers/{sid}/os-instance-actions",
                           headers=_v("2.84")).json()["instanceActions"]
    pause = next(a for a in detail if a["action"] == "pause")
    event = stack.compute("GET", f"/servers/{sid}/os-instance-actions/{pause['request_id']}",
                          headers=_v("2.84")).json()["instanceAction"]["events"][0]
    assert "Cannot 'pause'" in event["details"]


def test_rescue_unrescue(stack, make_stack):
    sid = boot(stack)
    resp = act(stack, sid, {"rescue": {"adminPass": "s3cret-pw"}})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"adminPass": "s3cret-pw"}
    server = stack.wait_status(sid, "RESCUE")
    assert server["OS-EXT-STS:vm_state"] == "rescued"
    assert guest(stack, sid).rescue_image == stack.image_id
    assert act(stack, sid, {"rescue": None}).status_code == 409
    assert act(stack, sid, {"pause": None}).status_code == 409
    assert act(stack, sid, {"unrescue": None}).status_code == 202
    stack.wait_status(sid, "ACTIVE")
    assert guest(stack, sid).rescue_image is None
    assert act(stack, sid, {"unrescue": None}).status_code == 409
    # NOTE: a generated password without adminPass; rescue from STOPPED too.
    act(stack, sid, {"os-stop": None})
    stack.wait_status(sid, "SHUTOFF")
    resp = act(stack, sid, {"rescue": None})
    assert resp.status_code == 200, resp.text
    assert len(resp.json()["adminPass"]) >= 8
    stack.wait_status(sid, "RESCUE")
    act(stack, sid, {"unrescue": None})
    stack.wait_status(sid, "ACTIVE")
    assert wait_event(stack, sid, "rescue") == [("compute_rescue_instance", "Success")]
    # NOTE: an image nobody has, a malformed ref, an unknown key: 400.
    missing = act(stack, sid, {"rescue": {
        "rescue_image_ref": "11111111-2222-3333-4444-555555555555"}})
    assert missing.status_code == 400, missing.text
    assert "could not be found" in missing.json()["badRequest"]["message"]
    assert act(stack, sid, {"rescue": {"rescue_image_ref": "nope"}}).status_code == 400
    assert act(stack, sid, {"rescue": {"foo": 1}}).status_code == 400
    assert stack.server(sid)["status"] == "ACTIVE"


def test_rescue_without_instance_password(make_stack, tmp_path):
    stack = make_stack(overrides={("api", "enable_instance_password"): False})
    sid = boot(stack)
    resp = act(stack, sid, {"rescue": None})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {}
    stack.wait_status(sid, "RESCUE")


def _agent_image(stack: Any) -> str:
    from novalite.image import api as image_api

    path = os.path.join(stack.state_dir, "agent.raw")
    with open(path, "wb") as f:
        f.write(b"\0" * 4096)
    return str(image_api.API().register(
        nl_context.get_admin_context(), "agent-image", path,
        properties={"hw_qemu_guest_agent": "yes"})["id"])


def test_change_password(stack):
    sid = boot(stack, imageRef=_agent_image(stack))
    resp = act(stack, sid, {"changePassword": {"adminPass": "new-pw"}})
    assert resp.status_code == 202, resp.text
    assert guest(stack, sid).password_changes == 1
    server = stack.server(sid)
    assert server["status"] == "ACTIVE" and server["OS-EXT-STS:task_state"] is None
    assert wait_event(stack, sid, "changePassword") == [
        ("compute_set_admin_password", "Success")]
    assert act(stack, sid, {"changePassword": {}}).status_code == 400
    assert act(stack, sid, {"changePassword": {"adminPass": 1}}).status_code == 400
    # NOTE: no guest agent in the image: 409, the server ACTIVE again.
    plain = boot(stack)
    resp = act(stack, plain, {"changePassword": {"adminPass": "pw"}})
    assert resp.status_code == 409, resp.text
    assert "guest agent" in resp.json()["conflictingRequest"]["message"]
    server = stack.server(plain)
    assert server["status"] == "ACTIVE" and server["OS-EXT-STS:task_state"] is None
    # NOTE: not ACTIVE: 409.
    act(stack, sid, {"pause": None})
    stack.wait_status(sid, "PAUSED")
    assert act(stack, sid, {"changePassword": {"adminPass": "x"}}).status_code == 409


def test_change_password_driver_without_it_is_501(stack, monkeypatch):
    sid = boot(stack, imageRef=_agent_image(stack))

    def not_implemented(self: Any, instance: Any, new_pass: str) -> None:
        raise NotImplementedError()

    monkeypatch.setattr(fake.FakeDriver, "set_admin_password", not_implemented)
    resp = act(stack, sid, {"changePassword": {"adminPass": "pw"}})
    assert resp.status_code == 501, resp.text
    assert stack.server(sid)["OS-EXT-STS:task_state"] is None


def test_trigger_crash_dump(stack):
    sid = boot(stack)
    # NOTE: 2.17+: before it the action does not exist (404).
    assert act(stack, sid, {"trigger_crash_dump": None}, version="2.16").status_code == 404
    resp = act(stack, sid, {"trigger_crash_dump": None}, version="2.17")
    assert resp.status_code == 202, resp.text
    assert wait_event(stack, sid, "trigger_crash_dump") == [
        ("compute_trigger_crash_dump", "Success")]
    assert guest(stack, sid).nmis == 1
    assert act(stack, sid, {"trigger_crash_dump": {}}, version="2.17").status_code == 400
    act(stack, sid, {"os-stop": None})
    stack.wait_status(sid, "SHUTOFF")
    assert act(stack, sid, {"trigger_crash_dump": None}, version="2.17").status_code == 409


def test_lock_unlock_owner_and_admin(stack):
    sid = boot(stack, headers=OWNER)
    resp = act(stack, sid, {"lock": {"locked_reason": "maintenance"}}, OWNER, "2.73")
    assert resp.status_code == 202, resp.text
    server = stack.compute("GET", f"/servers/{sid}", headers=_v("2.73", OWNER)).json()["server"]
    assert server["locked"] is True and server["locked_reason"] == "maintenance"
    # NOTE: locked: the owner's actions and delete are 409, an admin's are not.
    for body in ({"pause": None}, {"os-stop": None}, {"reboot": {"type": "HARD"}},
                 {"suspend": None}, {"rescue": None}):
        resp = act(stack, sid, body, OWNER)
        assert resp.status_code == 409, (body, resp.text)
        assert "is locked" in resp.json()["conflictingRequest"]["message"]
    delete = stack.compute("DELETE", f"/servers/{sid}", headers=OWNER)
    assert delete.status_code == 409, delete.text
    assert act(stack, sid, {"pause": None}, ADMIN).status_code == 202
    stack.wait_status(sid, "PAUSED")
    assert act(stack, sid, {"unpause": None}, ADMIN).status_code == 202
    stack.wait_status(sid, "ACTIVE")
    # NOTE: a reader may not unlock; another project does not see it.
    assert act(stack, sid, {"unlock": None}, READER).status_code == 403
    assert act(stack, sid, {"unlock": None}, OTHER).status_code == 404
    assert act(stack, sid, {"unlock": None}, OWNER).status_code == 202
    server = stack.compute("GET", f"/servers/{sid}", headers=_v("2.73", OWNER)).json()["server"]
    assert server["locked"] is False and server["locked_reason"] is None
    assert act(stack, sid, {"pause": None}, OWNER).status_code == 202
    stack.wait_status(sid, "PAUSED")
    acts = events(stack, sid)
    assert "lock" in acts and "unlock" in acts


def test_admin_lock_needs_admin_to_unlock(stack):
    sid = boot(stack, headers=OWNER)
    assert act(stack, sid, {"lock": None}, ADMIN).status_code == 202
    server = stack.compute("GET", f"/servers/{sid}", headers=_v("2.9", OWNER)).json()["server"]
    assert server["locked"] is True
    resp = act(stack, sid, {"unlock": None}, OWNER)
    assert resp.status_code == 403, resp.text
    assert act(stack, sid, {"unlock": None}, ADMIN).status_code == 202
    # NOTE: the owner's own lock, unlocked by an admin (overrides anything).
    assert act(stack, sid, {"lock": None}, OWNER).status_code == 202
    assert act(stack, sid, {"unlock": None}, ADMIN).status_code == 202
    assert stack.compute("DELETE", f"/servers/{sid}", headers=OWNER).status_code == 204
    stack.wait_gone(sid)


def test_lock_body_per_microversion(stack):
    sid = boot(stack)
    # NOTE: before 2.73 the body is null only; from 2.73 an object with an
    # optional locked_reason (1..255 characters).
    assert act(stack, sid, {"lock": {"locked_reason": "x"}}, version="2.72").status_code == 400
    assert act(stack, sid, {"lock": {"locked_reason": ""}}, version="2.73").status_code == 400
    assert act(stack, sid, {"lock": {"other": "x"}}, version="2.73").status_code == 400
    assert act(stack, sid, {"lock": {}}, version="2.73").status_code == 202
    server = stack.compute("GET", f"/servers/{sid}", headers=_v("2.73")).json()["server"]
    assert server["locked"] is True and server["locked_reason"] is None
    listed = stack.compute("GET", "/servers/detail?locked=true",
                           headers=_v("2.73")).json()["servers"]
    assert [s["id"] for s in listed] == [sid]


@pytest.mark.parametrize("body", [{"pause": None}, {"lock": None}, {"rescue": None},
                                  {"changePassword": {"adminPass": "x"}}])
def test_another_projects_server_is_404(stack, body):
    sid = boot(stack, headers=OWNER)
    resp = act(stack, sid, body, OTHER)
    assert resp.status_code == 404, resp.text


def test_compute_restart_settles_an_interrupted_pause_and_resume(stack):
    from novalite.objects.instance import Instance

    ctxt = nl_context.get_admin_context()
    paused, resumed = boot(stack), boot(stack)
    stack.stop_compute("host1")
    # NOTE: the pause reached the hypervisor, the resume did not.
    guest(stack, paused).state = 3
    for sid, task in ((paused, "pausing"), (resumed, "resuming")):
        inst = Instance.get_by_uuid(ctxt, sid)
        inst.task_state = task
        inst.save()
    resumed_inst = Instance.get_by_uuid(ctxt, resumed)
    resumed_inst.vm_state = "suspended"
    resumed_inst.save()
    stack.start_compute("host1")
    assert stack.wait_status(paused, "PAUSED")["OS-EXT-STS:power_state"] == 3
    # NOTE: the guest runs: the server is ACTIVE, not left SUSPENDED.
    assert stack.wait_status(resumed, "ACTIVE")["OS-EXT-STS:power_state"] == 1


def test_computes_pinned_below_6_3_refuse_before_any_state_changes(stack):
    from novalite.conf import CONF

    sid = boot(stack)
    CONF.set_override("compute", "6.2", group="upgrade_levels")
    try:
        from novalite.compute import api as compute_api

        api = compute_api.API()
        from novalite.objects.instance import Instance

        ctxt = nl_context.get_admin_context()
        for call in (api.pause, api.suspend, api.trigger_crash_dump):
            with pytest.raises(Exception) as refused:
                call(ctxt, Instance.get_by_uuid(ctxt, sid))
            assert "needs compute RPC 6.3" in str(refused.value)
        with pytest.raises(Exception) as refused:
            api.rescue(ctxt, Instance.get_by_uuid(ctxt, sid), "pw")
        assert "needs compute RPC 6.3" in str(refused.value)
    finally:
        CONF.clear_override("compute", group="upgrade_levels")
    server = stack.server(sid)
    assert server["status"] == "ACTIVE" and server["OS-EXT-STS:task_state"] is None
