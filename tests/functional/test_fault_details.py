"""Issue 10 item 4, through the API: a fault's ``details`` (traceback, host
paths, commands) and the instance action events' tracebacks are for admins
only, whatever the fault's code; users get code, created and a message."""

from __future__ import annotations

import json

from novalite.network import manage as network_manage

MEMBER_A = {"X-User-Id": "alice", "X-Project-Id": "proj-a", "X-Roles": "member,reader"}
READER_A = {"X-User-Id": "rita", "X-Project-Id": "proj-a", "X-Roles": "reader"}
ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin,member,reader"}
SOURCE_DIR = "/novalite/"


def _boot(stack, name: str) -> str:
    body = {"server": {"name": name, "flavorRef": "1", "imageRef": stack.image_id}}
    resp = stack.compute("POST", "/servers", body, headers=MEMBER_A)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["server"]["id"])


def _get(stack, path: str, headers: dict) -> dict:
    resp = stack.compute("GET", path, headers=headers)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def test_member_sees_no_fault_details_of_a_fault_that_is_not_a_500(stack):
    # A /30 has one guest address: the second build fails with a 409 fault
    # whose details are a traceback through the host's source files.
    network_manage.create_network("fd-tiny", "10.9.7.0/30", bridge="nlfd0")
    stack.wait_status(_boot(stack, "first"), "ACTIVE")
    failed = _boot(stack, "second")
    stack.wait_status(failed, "ERROR")

    admin_view = _get(stack, f"/servers/{failed}", ADMIN)["server"]["fault"]
    assert admin_view["code"] == 409
    # NOTE: the fault names the build step that failed (the timeline's).
    message = ("Build failed while allocating the network (step network_allocate): "
               "No fixed IP addresses available for network fd-tiny.")
    assert admin_view["message"] == message
    assert "Traceback" in admin_view["details"] and SOURCE_DIR in admin_view["details"]

    user_view = {"code": 409, "created": admin_view["created"], "message": message}
    for headers in (MEMBER_A, READER_A):
        assert _get(stack, f"/servers/{failed}", headers)["server"]["fault"] == user_view
        listed = _get(stack, "/servers/detail", headers)["servers"]
        assert [s.get("fault") for s in listed if s["id"] == failed] == [user_view]
        assert SOURCE_DIR not in json.dumps(listed) and "Traceback" not in json.dumps(listed)
    admin_listed = _get(stack, "/servers/detail?all_tenants=1", ADMIN)["servers"]
    assert [s["fault"]["details"] for s in admin_listed if s["id"] == failed] == [
        admin_view["details"]]

    # the create action's events, with their tracebacks, are the admin's too
    (action,) = _get(stack, f"/servers/{failed}/os-instance-actions", MEMBER_A)[
        "instanceActions"]
    assert action["action"] == "create" and action["message"] == "Error"
    path = f"/servers/{failed}/os-instance-actions/{action['request_id']}"
    admin_action = _get(stack, path, ADMIN)["instanceAction"]
    errors = [e for e in admin_action["events"] if e["result"] == "Error"]
    assert errors and "NoMoreFixedIps" in errors[0]["traceback"]
    for headers in (MEMBER_A, READER_A):
        shown = _get(stack, path, headers)["instanceAction"]
        assert shown == {k: v for k, v in admin_action.items() if k != "events"}
        assert "Traceback" not in json.dumps(shown)
