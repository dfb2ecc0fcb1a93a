"""createImage, createBackup, shelve / shelveOffload / unshelve and rebuild
through the HTTP API on the in-process FakeDriver stack (issue 12 items 2-3)."""

from __future__ import annotations

import time

import pytest

from novalite.conf import CONF
from tests.functional.stack import Stack


def _with_image_api(stack: Stack) -> Stack:
    """Computes upload snapshots to the Image API over HTTP: point them at this stack's."""
    CONF.set_override("api_url", f"{stack.base_url}/image", group="image")
    stack._set.append(("api_url", "image"))
    return stack


@pytest.fixture
def images_stack(tmp_path):
    s = _with_image_api(Stack(str(tmp_path)).start())
    try:
        yield s
    finally:
        s.stop()


def _act(stack: Stack, server_id: str, body: dict, version: str | None = None,
         **kw: object):
    headers = {"OpenStack-API-Version": f"compute {version}"} if version else None
    return stack.compute("POST", f"/servers/{server_id}/action", body, headers=headers, **kw)


def _image(stack: Stack, image_id: str) -> dict:
    resp = stack.request("GET", f"/image/v2/images/{image_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()


def _wait_image(stack: Stack, image_id: str, status: str = "active",
                timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        resp = stack.request("GET", f"/image/v2/images/{image_id}")
        last = resp.json() if resp.status_code == 200 else {"status": str(resp.status_code)}
        if last.get("status") == status:
            return last
        time.sleep(0.05)
    raise AssertionError(f"image {image_id} never became {status}: {last}")


def _events(stack: Stack, server_id: str, action: str) -> list[dict]:
    resp = stack.compute("GET", f"/servers/{server_id}/os-instance-actions",
                         headers={"OpenStack-API-Version": "compute 2.51"})
    acts = [a for a in resp.json()["instanceActions"] if a["action"] == action]
    assert acts, resp.json()
    detail = stack.compute("GET", f"/servers/{server_id}/os-instance-actions/"
                                  f"{acts[0]['request_id']}",
                           headers={"OpenStack-API-Version": "compute 2.51"})
    return list(detail.json()["instanceAction"]["events"])


def test_create_image_location_before_245_and_nova_properties(images_stack):
    stack = images_stack
    server = stack.boot("snap-me", metadata={"k": "v"})
    stack.wait_status(server["id"], "ACTIVE")
    resp = _act(stack, server["id"], {"createImage": {"name": "snap1",
                                                      "metadata": {"purpose": "test"}}})
    assert resp.status_code == 202, resp.text
    location = resp.headers["Location"]
    image_id = location.rsplit("/", 1)[1]
    assert location.endswith(f"/image/images/{image_id}")
    image = _wait_image(stack, image_id)
    assert image["name"] == "snap1"
    assert image["image_type"] == "snapshot"
    assert image["instance_uuid"] == server["id"]
    assert image["base_image_ref"] == stack.image_id
    assert image["user_id"] == "admin"
    assert image["owner"] == "admin"
    assert image["purpose"] == "test"
    assert image["visibility"] == "private"
    assert image["disk_format"] == "qcow2" and image["size"] > 0
    done = stack.wait_status(server["id"], "ACTIVE")
    assert done["OS-EXT-STS:task_state"] is None
    events = _events(stack, server["id"], "createImage")
    assert [e["event"] for e in events] == ["compute_snapshot"]
    assert events[0]["result"] == "Success"


def test_create_image_245_body_stopped_server_and_boot_from_it(images_stack):
    stack = images_stack
    server = stack.boot("stopped")
    stack.wait_status(server["id"], "ACTIVE")
    assert _act(stack, server["id"], {"os-stop": None}).status_code == 202
    stack.wait_status(server["id"], "SHUTOFF")
    resp = _act(stack, server["id"], {"createImage": {"name": "snap2"}}, "2.45")
    assert resp.status_code == 202, resp.text
    assert "Location" not in resp.headers
    image_id = resp.json()["image_id"]
    _wait_image(stack, image_id)
    stack.wait_status(server["id"], "SHUTOFF")
    again = stack.boot("from-snap", image=image_id)
    assert stack.wait_status(again["id"], "ACTIVE")["image"]["id"] == image_id


def test_create_image_errors_as_nova(images_stack):
    stack = images_stack
    server = stack.boot("errs")
    stack.wait_status(server["id"], "ACTIVE")
    # missing name: 400 naming it
    resp = _act(stack, server["id"], {"createImage": {}})
    assert resp.status_code == 400 and "name" in resp.text
    # metadata over the project's metadata_items quota: 403 before 2.39, accepted from 2.39
    too_many = {f"k{i}": "v" for i in range(129)}
    resp = _act(stack, server["id"], {"createImage": {"name": "x", "metadata": too_many}},
                "2.38")
    assert resp.status_code == 403 and "metadata_items" in resp.text
    # a server in a task state: 409
    assert _act(stack, server["id"], {"os-stop": None}).status_code == 202
    resp = _act(stack, server["id"], {"createImage": {"name": "busy"}})
    assert resp.status_code in (202, 409)
    stack.wait_status(server["id"], "SHUTOFF")
    resp = stack.compute("POST", "/servers/00000000-0000-0000-0000-000000000000/action",
                         {"createImage": {"name": "nobody"}})
    assert resp.status_code == 404


def test_create_image_on_a_shelved_server_is_409(images_stack):
    stack = images_stack
    server = stack.boot("shelved")
    stack.wait_status(server["id"], "ACTIVE")
    assert _act(stack, server["id"], {"shelve": None}).status_code == 202
    stack.wait_status(server["id"], "SHELVED_OFFLOADED")
    resp = _act(stack, server["id"], {"createImage": {"name": "nope"}})
    assert resp.status_code == 409
    assert "vm_state shelved_offloaded" in resp.text


def test_create_backup_rotation(images_stack):
    stack = images_stack
    server = stack.boot("backed-up")
    stack.wait_status(server["id"], "ACTIVE")
    ids = []
    for n in range(3):
        resp = _act(stack, server["id"], {"createBackup": {
            "name": f"daily-{n}", "backup_type": "daily", "rotation": 2}}, "2.45")
        assert resp.status_code == 202, resp.text
        ids.append(resp.json()["image_id"])
        stack.wait_status(server["id"], "ACTIVE")
    weekly = _act(stack, server["id"], {"createBackup": {
        "name": "weekly", "backup_type": "weekly", "rotation": "1"}})
    assert weekly.status_code == 202 and "/v2.1/images/" in weekly.headers["Location"]
    stack.wait_status(server["id"], "ACTIVE")
    # the oldest daily backup is gone, the two newest and the weekly one stay
    assert stack.request("GET", f"/image/v2/images/{ids[0]}").status_code == 404
    for image_id in ids[1:]:
        image = _image(stack, image_id)
        assert image["image_type"] == "backup" and image["backup_type"] == "daily"
    weekly_id = weekly.headers["Location"].rsplit("/", 1)[1]
    assert _image(stack, weekly_id)["backup_type"] == "weekly"
    resp = _act(stack, server["id"], {"createBackup": {
        "name": "bad", "backup_type": "daily", "rotation": -1}})
    assert resp.status_code == 400 and "rotation" in resp.text
