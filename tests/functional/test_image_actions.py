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
                         headers={"OpenStack-API-Version": "compute 2.84"})
    acts = [a for a in resp.json()["instanceActions"] if a["action"] == action]
    assert acts, resp.json()
    detail = stack.compute("GET", f"/servers/{server_id}/os-instance-actions/"
                                  f"{acts[0]['request_id']}",
                           headers={"OpenStack-API-Version": "compute 2.84"})
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
    assert [e["event"] for e in events] == ["compute_snapshot_instance"]
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
    events = _events(stack, server["id"], "createBackup")
    assert [(e["event"], e["result"]) for e in events] == [("compute_backup_instance",
                                                            "Success")]
    assert _image(stack, weekly_id)["backup_type"] == "weekly"
    resp = _act(stack, server["id"], {"createBackup": {
        "name": "bad", "backup_type": "daily", "rotation": -1}})
    assert resp.status_code == 400 and "rotation" in resp.text


def _addresses(server: dict) -> list[str]:
    return sorted(a["addr"] for net in server["addresses"].values() for a in net)


def test_shelve_offloads_at_once_by_default_and_unshelves_on_another_host(make_stack):
    stack = _with_image_api(make_stack(computes=[("host1", "fake.FakeDriver"),
                                                 ("host2", "fake.FakeDriver")]))
    server = stack.boot("shelf")
    before = stack.wait_status(server["id"], "ACTIVE")
    first = before["OS-EXT-SRV-ATTR:host"]
    other = "host2" if first == "host1" else "host1"
    assert _act(stack, server["id"], {"shelve": None}).status_code == 202
    shelved = stack.wait_status(server["id"], "SHELVED_OFFLOADED")
    assert shelved["OS-EXT-SRV-ATTR:host"] is None
    assert _addresses(shelved) == _addresses(before)
    images = stack.request("GET", "/image/v2/images?name=shelf-shelved").json()["images"]
    assert len(images) == 1 and images[0]["image_type"] == "snapshot"
    assert images[0]["instance_uuid"] == server["id"]
    shelved_image = images[0]["id"]
    events = _events(stack, server["id"], "shelve")
    assert sorted(e["event"] for e in events) == ["compute_shelve_instance",
                                                  "compute_shelve_offload_instance"]
    from novalite import context as nl_context
    from novalite.objects.instance import Instance

    sysmeta = Instance.get_by_uuid(nl_context.get_admin_context(),
                                   server["id"]).system_metadata
    assert sysmeta["shelved_image_id"] == shelved_image
    assert sysmeta["shelved_host"] == first and sysmeta["shelved_at"]
    # its first host is gone: the scheduler places it anew, on the other
    stack.stop_compute(first)
    resp = _act(stack, server["id"], {"unshelve": None})
    assert resp.status_code == 202, resp.text
    back = stack.wait_status(server["id"], "ACTIVE")
    assert back["OS-EXT-SRV-ATTR:host"] == other
    assert _addresses(back) == _addresses(before)
    # the shelved image is deleted once the server is back
    assert stack.request("GET", f"/image/v2/images/{shelved_image}").status_code == 404
    events = _events(stack, server["id"], "unshelve")
    assert [e["event"] for e in events] == ["compute_unshelve_instance"]
    assert events[0]["result"] == "Success"


def test_shelve_keeps_the_host_with_offload_time_minus_one(make_stack):
    stack = _with_image_api(make_stack(overrides={(None, "shelved_offload_time"): -1}))
    server = stack.boot("keep")
    stack.wait_status(server["id"], "ACTIVE")
    assert _act(stack, server["id"], {"shelve": None}).status_code == 202
    shelved = stack.wait_status(server["id"], "SHELVED")
    assert shelved["OS-EXT-SRV-ATTR:host"] == "host1"
    assert shelved["OS-EXT-STS:power_state"] == 4  # SHUTDOWN
    # unshelve of a SHELVED server starts it again on its host
    assert _act(stack, server["id"], {"unshelve": None}).status_code == 202
    assert stack.wait_status(server["id"], "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "host1"
    assert _act(stack, server["id"], {"shelve": None}).status_code == 202
    stack.wait_status(server["id"], "SHELVED")
    # an availability zone is only for an offloaded server (2.77), 409 otherwise
    resp = _act(stack, server["id"], {"unshelve": {"availability_zone": "nova"}}, "2.77")
    assert resp.status_code == 409, resp.text
    # before 2.77 the body must be null
    resp = _act(stack, server["id"], {"unshelve": {"availability_zone": "nova"}}, "2.76")
    assert resp.status_code == 400
    assert _act(stack, server["id"], {"shelveOffload": None}).status_code == 202
    off = stack.wait_status(server["id"], "SHELVED_OFFLOADED")
    assert off["OS-EXT-SRV-ATTR:host"] is None
    events = _events(stack, server["id"], "shelveOffload")
    assert [e["event"] for e in events] == ["compute_shelve_offload_instance"]
    # 2.77: an unknown availability zone is 400 naming it
    resp = _act(stack, server["id"], {"unshelve": {"availability_zone": "nowhere-az"}},
                "2.77")
    assert resp.status_code == 400 and "nowhere-az" in resp.text
    # 2.91: an unknown host is 400; a known one (admin) is used
    resp = _act(stack, server["id"], {"unshelve": {"host": "nowhere"}}, "2.91")
    assert resp.status_code == 400 and "nowhere" in resp.text
    resp = _act(stack, server["id"], {"unshelve": {"host": "host1",
                                                   "availability_zone": None}}, "2.91")
    assert resp.status_code == 202, resp.text
    assert stack.wait_status(server["id"], "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "host1"
    # shelveOffload of a server that is not shelved: 409
    resp = _act(stack, server["id"], {"shelveOffload": None})
    assert resp.status_code == 409


def test_shelved_server_is_offloaded_by_the_periodic_task(make_stack):
    stack = _with_image_api(make_stack(overrides={(None, "shelved_offload_time"): 1}))
    server = stack.boot("later")
    stack.wait_status(server["id"], "ACTIVE")
    assert _act(stack, server["id"], {"shelve": None}).status_code == 202
    stack.wait_status(server["id"], "SHELVED")
    time.sleep(1.1)
    stack.computes["host1"].manager.offload_shelved_instances()
    assert stack.wait_status(server["id"], "SHELVED_OFFLOADED")["OS-EXT-SRV-ATTR:host"] is None


def test_rebuild_with_a_new_image_keeps_uuid_addresses_and_flavor(images_stack):
    stack = images_stack
    server = stack.boot("rebuild-me", metadata={"old": "1"})
    before = stack.wait_status(server["id"], "ACTIVE")
    snap = _act(stack, server["id"], {"createImage": {"name": "new-base"}}, "2.45")
    new_image = snap.json()["image_id"]
    _wait_image(stack, new_image)
    stack.wait_status(server["id"], "ACTIVE")
    resp = _act(stack, server["id"], {"rebuild": {
        "imageRef": new_image, "name": "rebuilt", "metadata": {"new": "2"},
        "adminPass": "s3cret-pass", "description": "again"}}, "2.19")
    assert resp.status_code == 202, resp.text
    body = resp.json()["server"]
    assert body["adminPass"] == "s3cret-pass"
    assert body["id"] == server["id"] and body["name"] == "rebuilt"
    assert body["status"] == "REBUILD"
    after = stack.wait_status(server["id"], "ACTIVE")
    assert after["image"]["id"] == new_image
    assert after["metadata"] == {"new": "2"}
    assert after["flavor"] == before["flavor"]
    assert _addresses(after) == _addresses(before)
    events = _events(stack, server["id"], "rebuild")
    assert [e["event"] for e in events] == ["compute_rebuild_instance"]
    # a generated password when none is given; description is 400 before 2.19
    resp = _act(stack, server["id"], {"rebuild": {"imageRef": stack.image_id}})
    assert resp.status_code == 202 and len(resp.json()["server"]["adminPass"]) >= 8
    stack.wait_status(server["id"], "ACTIVE")
    resp = _act(stack, server["id"], {"rebuild": {"imageRef": stack.image_id,
                                                  "description": "x"}}, "2.18")
    assert resp.status_code == 400 and "description" in resp.text


def test_rebuild_errors_as_nova(images_stack):
    stack = images_stack
    server = stack.boot("rb-errors")
    stack.wait_status(server["id"], "ACTIVE")
    missing = "11111111-2222-3333-4444-555555555555"
    resp = _act(stack, server["id"], {"rebuild": {"imageRef": missing}})
    assert resp.status_code == 400 and "Cannot find image for rebuild" in resp.text
    resp = _act(stack, server["id"], {"rebuild": {}})
    assert resp.status_code == 400 and "imageRef" in resp.text
    # personality until 2.56, user_data and key_name from 2.57 / 2.54
    resp = _act(stack, server["id"], {"rebuild": {"imageRef": stack.image_id,
                                                  "personality": []}}, "2.57")
    assert resp.status_code == 400
    resp = _act(stack, server["id"], {"rebuild": {"imageRef": stack.image_id,
                                                  "user_data": "!!notbase64"}}, "2.57")
    assert resp.status_code == 400 and "user_data" in resp.text
    resp = _act(stack, server["id"], {"rebuild": {"imageRef": stack.image_id,
                                                  "key_name": "nokey"}}, "2.54")
    assert resp.status_code == 400 and "key_name" in resp.text
    resp = _act(stack, server["id"], {"rebuild": {"imageRef": stack.image_id,
                                                  "user_data": "aGVsbG8="}}, "2.57")
    assert resp.status_code == 202 and resp.json()["server"]["user_data"] == "aGVsbG8="
    stack.wait_status(server["id"], "ACTIVE")
    # a locked server refuses rebuild to its (non-admin) owner: 409
    from novalite import context as nl_context
    from novalite.objects.instance import Instance

    inst = Instance.get_by_uuid(nl_context.get_admin_context(), server["id"])
    inst.locked = True
    inst.save()
    resp = stack.compute("POST", f"/servers/{server['id']}/action",
                         {"rebuild": {"imageRef": stack.image_id}},
                         headers={"X-Roles": "member"})
    assert resp.status_code == 409 and "locked" in resp.text


def test_a_compute_restart_gives_up_an_interrupted_snapshot(images_stack):
    stack = images_stack
    server = stack.boot("interrupted")
    stack.wait_status(server["id"], "ACTIVE")
    from novalite import context as nl_context
    from novalite.objects.instance import Instance

    inst = Instance.get_by_uuid(nl_context.get_admin_context(), server["id"])
    inst.task_state = "image_uploading"
    inst.save()
    stack.stop_compute("host1")
    stack.start_compute("host1")
    after = stack.wait_status(server["id"], "ACTIVE")
    assert after["OS-EXT-STS:vm_state"] == "active" and "fault" not in after


def test_image_quotas_as_nova(make_stack):
    stack = _with_image_api(make_stack(overrides={("image_api", "image_count_total"): 1}))
    server = stack.boot("quota")
    stack.wait_status(server["id"], "ACTIVE")
    # the admin project's one image
    resp = stack.request("POST", "/image/v2/images", {"name": "mine", "disk_format": "raw",
                                                      "container_format": "bare"})
    assert resp.status_code == 201, resp.text
    resp = _act(stack, server["id"], {"createImage": {"name": "one-too-many"}})
    assert resp.status_code == 403, resp.text
    assert "image_count_total" in resp.text
    assert stack.server(server["id"])["OS-EXT-STS:task_state"] is None


def test_a_snapshot_over_the_size_quota_is_deleted_and_the_server_stays_active(make_stack):
    stack = _with_image_api(make_stack())
    # after the stack's own image was registered: no room for another byte
    CONF.set_override("image_size_total", 0, group="image_api")
    stack._set.append(("image_size_total", "image_api"))
    server = stack.boot("too-big")
    stack.wait_status(server["id"], "ACTIVE")
    resp = _act(stack, server["id"], {"createImage": {"name": "big"}}, "2.45")
    assert resp.status_code == 202, resp.text
    image_id = resp.json()["image_id"]

    def failed(s: dict) -> bool:
        return s["status"] == "ACTIVE" and s["OS-EXT-STS:task_state"] is None and \
            stack.request("GET", f"/image/v2/images/{image_id}").status_code == 404
    after = stack.wait_for(server["id"], failed, what="snapshot given up")
    assert "fault" not in after
    events = _events(stack, server["id"], "createImage")
    assert events[0]["result"] == "Error"


def test_deleting_a_shelved_server_deletes_its_shelved_image(images_stack):
    stack = images_stack
    server = stack.boot("gone")
    stack.wait_status(server["id"], "ACTIVE")
    assert _act(stack, server["id"], {"shelve": None}).status_code == 202
    stack.wait_status(server["id"], "SHELVED_OFFLOADED")
    images = stack.request("GET", "/image/v2/images?name=gone-shelved").json()["images"]
    assert len(images) == 1
    assert stack.compute("DELETE", f"/servers/{server['id']}").status_code == 204
    stack.wait_gone(server["id"])
    assert stack.request("GET", f"/image/v2/images/{images[0]['id']}").status_code == 404


def test_failed_unshelve_and_rebuild_leave_the_server_where_nova_would(make_stack):
    stack = _with_image_api(make_stack())
    server = stack.boot("fails")
    stack.wait_status(server["id"], "ACTIVE")
    assert _act(stack, server["id"], {"shelve": None}).status_code == 202
    stack.wait_status(server["id"], "SHELVED_OFFLOADED")
    # the only host left cannot spawn: the unshelve fails there
    stack.stop_compute("host1")
    stack.start_compute("host1", "fake.AlwaysFailingSpawnDriver")
    assert _act(stack, server["id"], {"unshelve": None}).status_code == 202

    def unshelve_failed(s: dict) -> bool:
        events = _events(stack, server["id"], "unshelve")
        return s["status"] == "SHELVED_OFFLOADED" and s["OS-EXT-STS:task_state"] is None \
            and bool(events) and events[0]["result"] == "Error"
    after = stack.wait_for(server["id"], unshelve_failed, what="unshelve failed")
    assert after["OS-EXT-SRV-ATTR:host"] is None
    events = _events(stack, server["id"], "unshelve")
    assert [e["event"] for e in events] == ["compute_unshelve_instance"]
    assert "injected failure" in (events[0].get("details") or "")
    # the shelved image stays for another try
    images = stack.request("GET", "/image/v2/images?name=fails-shelved").json()["images"]
    assert len(images) == 1

    # rebuild on a host whose spawns fail: ERROR with a fault, as Nova
    stack.stop_compute("host1")
    stack.start_compute("host1", "fake.FakeDriver")
    assert _act(stack, server["id"], {"unshelve": None}).status_code == 202
    stack.wait_status(server["id"], "ACTIVE")
    stack.stop_compute("host1")
    stack.start_compute("host1", "fake.AlwaysFailingSpawnDriver")
    assert _act(stack, server["id"], {"rebuild": {"imageRef": stack.image_id}}).status_code \
        == 202
    failed = stack.wait_status(server["id"], "ERROR")
    assert "injected failure" in failed["fault"]["message"]
    events = _events(stack, server["id"], "rebuild")
    assert events[0]["result"] == "Error"


def test_an_unshelve_no_host_took_ends_at_its_deadline(images_stack):
    stack = images_stack
    server = stack.boot("lost")
    stack.wait_status(server["id"], "ACTIVE")
    assert _act(stack, server["id"], {"shelve": None}).status_code == 202
    stack.wait_status(server["id"], "SHELVED_OFFLOADED")
    from novalite import context as nl_context
    from novalite.objects.instance import Instance

    ctxt = nl_context.get_admin_context()
    inst = Instance.get_by_uuid(ctxt, server["id"])
    inst.task_state = "unshelving"     # as if the conductor never got the cast
    inst.save()
    CONF.set_override("task_timeout", 1, group="compute")
    stack._set.append(("task_timeout", "compute"))
    time.sleep(1.2)
    conductor = next(s for s in stack.services if s.binary == "novalite-conductor")
    conductor.manager.check_unshelving()
    after = stack.server(server["id"])
    assert after["status"] == "SHELVED_OFFLOADED" and after["OS-EXT-STS:task_state"] is None
    fault = Instance.get_by_uuid(ctxt, server["id"]).fault
    assert fault is not None and "not scheduled within 1 seconds" in fault.message


def test_an_admins_snapshot_of_another_projects_server_is_shared_with_it(images_stack):
    stack = images_stack
    p2 = {"X-Project-Id": "p2", "X-User-Id": "u2", "X-Roles": "member"}
    resp = stack.compute("POST", "/servers", {"server": {
        "name": "theirs", "flavorRef": "1", "imageRef": stack.image_id}}, headers=p2)
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    stack.wait_status(sid, "ACTIVE")
    resp = _act(stack, sid, {"createImage": {"name": "admins-copy"}}, "2.45")
    assert resp.status_code == 202, resp.text
    image = _wait_image(stack, resp.json()["image_id"])
    assert image["visibility"] == "shared" and image["owner"] == "admin"
    assert image["instance_owner"] == "p2" and image["user_id"] == "admin"
    stack.wait_status(sid, "ACTIVE")
    # the server's project is a member: it sees the image
    seen = stack.request("GET", f"/image/v2/images/{image['id']}", headers=p2)
    assert seen.status_code == 200, seen.text
    stack.compute("DELETE", f"/servers/{sid}", headers=p2)
    stack.wait_gone(sid)
