"""Volumes on servers (issue 14), the whole stack in one process with the
FakeDriver and a real volume service (file backend in the test's
directory): os-volume_attachments with Nova's microversions, boot from a
volume (block_device_mapping_v2), and a server's volumes through its life
(stop/start, reboot, rebuild, resize, migration, shelve, delete)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from novalite import context as nl_context
from novalite.virt.fake import FakeDriver
from tests.functional.stack import Stack

P1 = {"X-Project-Id": "proj-a", "X-User-Id": "alice", "X-Roles": "member,reader"}
P2 = {"X-Project-Id": "proj-b", "X-User-Id": "bob", "X-Roles": "member,reader"}
ADMIN = {"X-Project-Id": "proj-a", "X-User-Id": "adm", "X-Roles": "admin,member,reader"}


def _mv(version: str, headers: dict | None = None) -> dict:
    return {**(headers or P1), "OpenStack-API-Version": f"compute {version}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: Any) -> Iterator[Stack]:
    from novalite.cmd import volume as volume_cmd

    s = Stack(str(tmp_path_factory.mktemp("volumes")),
              computes=[("host1", "fake.FakeDriver"), ("host2", "fake.FakeDriver")],
              overrides={(None, "allow_resize_to_same_host"): True}).start()
    from novalite.conf import CONF

    # NOTE: shelve uploads its snapshot through the stack's own Image API.
    CONF.set_override("api_url", f"{s.base_url}/image", group="image")
    vol_svc = volume_cmd.create_service("volhost")
    vol_svc.start()
    s.services.append(vol_svc)
    try:
        yield s
    finally:
        try:
            _stop_exports(vol_svc)
        finally:
            s.stop()
            CONF.clear_override("api_url", group="image")


def _stop_exports(volume_service: Any) -> None:
    """The NBD exports outlive the volume service (as a guest's disk must):
    whatever the tests left attached, its export is stopped here."""
    exports = volume_service.manager.exports()
    if exports is not None:
        exports.ensure({})
        assert exports.exported() == {}


@pytest.fixture(autouse=True)
def fresh_projects() -> Iterator[None]:
    """Each test its own projects (the Block Storage quotas count per
    project: 10 volumes by default)."""
    import uuid

    suffix = uuid.uuid4().hex[:8]
    for headers, name in ((P1, "proj-a"), (P2, "proj-b"), (ADMIN, "proj-a")):
        headers["X-Project-Id"] = f"{name}-{suffix}"
    yield


def _ctx(headers: dict) -> nl_context.RequestContext:
    return nl_context.RequestContext(user_id=headers["X-User-Id"],
                                     project_id=headers["X-Project-Id"],
                                     roles=headers["X-Roles"].split(","))


def _volumes() -> Any:
    from novalite.volume import api as volume_api

    return volume_api.API()


def make_volume(headers: dict = P1, size: int = 1, **kw: Any) -> dict:
    vol = _volumes().create(_ctx(headers), size, name=kw.pop("name", "v"), **kw)
    return wait_volume(vol["id"], "available")


def volume(volume_id: str) -> dict:
    from novalite.db import volumes as db

    return db.volume_get(volume_id)


def wait_volume(volume_id: str, status: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    vol: dict = {}
    while time.monotonic() < deadline:
        try:
            vol = volume(volume_id)
        except Exception:
            vol = {"status": "deleted"}
        if vol["status"] == status:
            return vol
        time.sleep(0.05)
    raise AssertionError(f"volume {volume_id} never became {status}: {vol.get('status')} "
                         f"{vol.get('fault')}")


def boot(stack: Stack, headers: dict = P1, **server: Any) -> dict:
    body = {"server": {"name": "vm", "flavorRef": "1", "networks": "none", **server}}
    if "imageRef" not in server and "block_device_mapping_v2" not in server:
        body["server"]["imageRef"] = stack.image_id
    resp = stack.compute("POST", "/servers", body, headers=_mv("2.79", headers))
    assert resp.status_code == 202, resp.text
    return resp.json()["server"]


def wait_status(stack: Stack, server_id: str, status: str, headers: dict = P1,
                timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        resp = stack.compute("GET", f"/servers/{server_id}", headers=_mv("2.79", headers))
        last = resp.json().get("server", {"status": resp.status_code})
        if last.get("status") == status and last.get("OS-EXT-STS:task_state") is None:
            return last
        time.sleep(0.05)
    raise AssertionError(f"server {server_id} never {status}: {last.get('status')} "
                         f"{last.get('OS-EXT-STS:task_state')} {last.get('fault')}")


def attachments(stack: Stack, server_id: str, version: str = "2.89",
                headers: dict = P1) -> list[dict]:
    resp = stack.compute("GET", f"/servers/{server_id}/os-volume_attachments",
                         headers=_mv(version, headers))
    assert resp.status_code == 200, resp.text
    return list(resp.json()["volumeAttachments"])


def attach(stack: Stack, server_id: str, volume_id: str, version: str = "2.79",
           headers: dict = P1, **extra: Any) -> Any:
    return stack.compute("POST", f"/servers/{server_id}/os-volume_attachments",
                         {"volumeAttachment": {"volumeId": volume_id, **extra}},
                         headers=_mv(version, headers))


def guest_volumes(stack: Stack, server_id: str) -> dict[str, dict]:
    for svc in stack.computes.values():
        found = svc.manager.driver.attached_volumes(server_id)
        if found:
            return dict(found)
    return {}


def wait_guest(stack: Stack, server_id: str, pred: Any, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = guest_volumes(stack, server_id)
        if pred(found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"guest {server_id} volumes: {guest_volumes(stack, server_id)}")


def delete_server(stack: Stack, server_id: str, headers: dict = P1) -> None:
    resp = stack.compute("DELETE", f"/servers/{server_id}", headers=headers)
    assert resp.status_code == 204, resp.text
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if stack.compute("GET", f"/servers/{server_id}", headers=headers).status_code == 404:
            return
        time.sleep(0.05)
    raise AssertionError(f"server {server_id} not deleted")


# -- os-volume_attachments --------------------------------------------------------


def test_attach_list_show_detach_with_microversions(stack: Stack) -> None:
    server = boot(stack)
    wait_status(stack, server["id"], "ACTIVE")
    vol = make_volume()
    resp = attach(stack, server["id"], vol["id"], tag="data", delete_on_termination=True)
    assert resp.status_code == 200, resp.text
    created = resp.json()["volumeAttachment"]
    assert created == {"id": vol["id"], "serverId": server["id"], "volumeId": vol["id"],
                       "device": "/dev/vdb", "tag": "data", "delete_on_termination": True}
    wait_volume(vol["id"], "in-use")
    found = wait_guest(stack, server["id"], lambda v: "/dev/vdb" in v)
    assert found["/dev/vdb"]["volume_id"] == vol["id"]
    # the host connected it with its connector: the same host as the volume
    # service? no (volhost): an NBD export, or local when on the same host
    assert found["/dev/vdb"]["connection_info"]["driver_volume_type"] in ("nbd", "local")

    listed = attachments(stack, server["id"], "2.89")
    assert len(listed) == 1 and "id" not in listed[0]
    assert listed[0]["attachment_id"] and listed[0]["bdm_uuid"]
    assert listed[0]["tag"] == "data" and listed[0]["delete_on_termination"] is True
    old = attachments(stack, server["id"], "2.1")
    assert old == [{"id": vol["id"], "serverId": server["id"], "volumeId": vol["id"],
                    "device": "/dev/vdb"}]
    assert attachments(stack, server["id"], "2.70")[0]["tag"] == "data"
    assert "delete_on_termination" not in attachments(stack, server["id"], "2.70")[0]
    shown = stack.compute("GET", f"/servers/{server['id']}/os-volume_attachments/{vol['id']}",
                          headers=_mv("2.79"))
    assert shown.status_code == 200 and shown.json()["volumeAttachment"]["device"] == "/dev/vdb"
    view = stack.compute("GET", f"/servers/{server['id']}", headers=_mv("2.79")).json()["server"]
    assert view["os-extended-volumes:volumes_attached"] == [
        {"id": vol["id"], "delete_on_termination": True}]
    view = stack.compute("GET", f"/servers/{server['id']}", headers=_mv("2.1")).json()["server"]
    assert view["os-extended-volumes:volumes_attached"] == [{"id": vol["id"]}]

    # the same volume again: 400; a second volume takes the next device
    again = attach(stack, server["id"], vol["id"])
    assert again.status_code == 400, again.text
    vol2 = make_volume()
    second = attach(stack, server["id"], vol2["id"], version="2.1")
    assert second.status_code == 200 and second.json()["volumeAttachment"]["device"] == \
        "/dev/vdc"
    wait_guest(stack, server["id"], lambda v: "/dev/vdc" in v)

    resp = stack.compute("DELETE",
                         f"/servers/{server['id']}/os-volume_attachments/{vol2['id']}",
                         headers=P1)
    assert resp.status_code == 202, resp.text
    wait_volume(vol2["id"], "available")
    wait_guest(stack, server["id"], lambda v: "/dev/vdc" not in v and "/dev/vdb" in v)
    assert [a["volumeId"] for a in attachments(stack, server["id"])] == [vol["id"]]
    # deleting the server detaches vol2's sibling and deletes it (delete_on_termination)
    delete_server(stack, server["id"])
    wait_volume(vol["id"], "deleted")
    assert volume(vol2["id"])["status"] == "available"


def test_attach_errors_and_isolation(stack: Stack) -> None:
    server = boot(stack)
    wait_status(stack, server["id"], "ACTIVE")
    theirs = make_volume(P2)
    # another project's volume is not visible: 404
    resp = attach(stack, server["id"], theirs["id"])
    assert resp.status_code == 404, resp.text
    # another project's server is 404 on every verb
    mine = make_volume()
    assert attach(stack, server["id"], mine["id"], headers=P2).status_code == 404
    assert stack.compute("GET", f"/servers/{server['id']}/os-volume_attachments",
                         headers=P2).status_code == 404
    # a volume that does not exist: 404; a malformed id: 400
    assert attach(stack, server["id"], "8a4b0a5e-0d5d-4c44-9c5c-3a57c7c4b2b1").status_code \
        == 404
    assert attach(stack, server["id"], "not-a-uuid").status_code == 400
    # delete_on_termination before 2.79: 400 (schema)
    assert attach(stack, server["id"], mine["id"], version="2.78",
                  delete_on_termination=True).status_code == 400
    # a reader may list but not attach
    reader = {**P1, "X-Roles": "reader"}
    assert attach(stack, server["id"], mine["id"], headers=reader).status_code == 403
    assert stack.compute("GET", f"/servers/{server['id']}/os-volume_attachments",
                         headers=reader).status_code == 200
    # a volume attached elsewhere is not available: 400
    other = boot(stack)
    wait_status(stack, other["id"], "ACTIVE")
    assert attach(stack, other["id"], mine["id"]).status_code == 200
    wait_volume(mine["id"], "in-use")
    resp = attach(stack, server["id"], mine["id"])
    assert resp.status_code == 400 and "in-use" in resp.text, resp.text
    # detach of a volume that is not attached: 404
    resp = stack.compute("DELETE",
                         f"/servers/{server['id']}/os-volume_attachments/{mine['id']}",
                         headers=P1)
    assert resp.status_code == 404, resp.text
    # a server in a task (here: being stopped) refuses with 409
    stop = stack.compute("POST", f"/servers/{server['id']}/action", {"os-stop": None},
                         headers=P1)
    assert stop.status_code == 202
    vol3 = make_volume()
    resp = attach(stack, server["id"], vol3["id"])
    assert resp.status_code in (200, 409), resp.text
    if resp.status_code == 200:  # the stop was already done
        wait_volume(vol3["id"], "in-use")
    swap = stack.compute("PUT", f"/servers/{other['id']}/os-volume_attachments/{mine['id']}",
                         {"volumeAttachment": {"volumeId": vol3["id"]}}, headers=_mv("2.1"))
    assert swap.status_code in (403, 409), swap.text
    delete_server(stack, other["id"])
    wait_volume(mine["id"], "available")
    delete_server(stack, server["id"])


def test_update_delete_on_termination_at_285(stack: Stack) -> None:
    server = boot(stack)
    wait_status(stack, server["id"], "ACTIVE")
    vol = make_volume()
    assert attach(stack, server["id"], vol["id"]).status_code == 200
    wait_volume(vol["id"], "in-use")
    url = f"/servers/{server['id']}/os-volume_attachments/{vol['id']}"
    body = {"volumeAttachment": {"volumeId": vol["id"], "delete_on_termination": True}}
    assert stack.compute("PUT", url, body, headers=_mv("2.84")).status_code == 400
    resp = stack.compute("PUT", url, body, headers=_mv("2.85"))
    assert resp.status_code == 202, resp.text
    assert attachments(stack, server["id"])[0]["delete_on_termination"] is True
    delete_server(stack, server["id"])
    wait_volume(vol["id"], "deleted")


def test_shelved_offloaded_attach_needs_220_and_unshelve_connects(stack: Stack) -> None:
    server = boot(stack)
    wait_status(stack, server["id"], "ACTIVE")
    vol = make_volume()
    assert attach(stack, server["id"], vol["id"]).status_code == 200
    wait_volume(vol["id"], "in-use")
    # NOTE: [DEFAULT] shelved_offload_time 0 (Nova's default): offloaded at once.
    resp = stack.compute("POST", f"/servers/{server['id']}/action", {"shelve": None},
                         headers=P1)
    assert resp.status_code == 202, resp.text
    wait_status(stack, server["id"], "SHELVED_OFFLOADED", timeout=30)
    # offloaded: the volume is still the server's (reserved), no host connected
    assert volume(vol["id"])["status"] == "reserved"
    vol2 = make_volume()
    assert attach(stack, server["id"], vol2["id"], version="2.19").status_code == 409
    resp = attach(stack, server["id"], vol2["id"], version="2.20")
    assert resp.status_code == 200, resp.text
    assert volume(vol2["id"])["status"] == "reserved"
    resp = stack.compute("POST", f"/servers/{server['id']}/action", {"unshelve": None},
                         headers=P1)
    assert resp.status_code == 202, resp.text
    wait_status(stack, server["id"], "ACTIVE", timeout=30)
    found = wait_guest(stack, server["id"], lambda v: len(v) == 2)
    assert {v["volume_id"] for v in found.values()} == {vol["id"], vol2["id"]}
    wait_volume(vol["id"], "in-use")
    wait_volume(vol2["id"], "in-use")
    delete_server(stack, server["id"])
    wait_volume(vol["id"], "available")
    wait_volume(vol2["id"], "available")


# -- boot from volume -------------------------------------------------------------


def other_image(stack: Stack) -> str:
    """A second public image (registered once per stack)."""
    import os

    from novalite.image import api as image_api

    found = getattr(stack, "other_image_id", None)
    if found:
        return str(found)
    path = os.path.join(stack.state_dir, "other-image.raw")
    with open(path, "wb") as f:
        f.write(b"\1" * 65536)
    image = image_api.API().register(nl_context.get_admin_context(), "other-image", path)
    stack.other_image_id = image["id"]  # type: ignore[attr-defined]
    return str(image["id"])



def test_boot_from_new_volume_and_delete_on_termination(stack: Stack) -> None:
    for keep in (True, False):
        server = boot(stack, block_device_mapping_v2=[{
            "uuid": stack.image_id, "source_type": "image", "destination_type": "volume",
            "boot_index": 0, "volume_size": 1, "delete_on_termination": not keep}])
        view = wait_status(stack, server["id"], "ACTIVE", timeout=60)
        assert view["image"] == ""
        vols = view["os-extended-volumes:volumes_attached"]
        assert len(vols) == 1 and vols[0]["delete_on_termination"] is (not keep)
        root = wait_volume(vols[0]["id"], "in-use")
        assert root["bootable"] and root["size"] == 1
        found = guest_volumes(stack, server["id"])
        assert list(found) == ["/dev/vda"] and found["/dev/vda"]["volume_id"] == root["id"]
        # its root disk is not on the host: the host claims no disk for it
        hypervisors = stack.compute("GET", "/os-hypervisors/detail",
                                    headers=_mv("2.87", ADMIN)).json()["hypervisors"]
        assert sum(h["local_gb_used"] for h in hypervisors) == 0, hypervisors
        # rebuilt with its own image (the root volume's): the same root
        # volume; with another image: 400 (no reimage before 2.93)
        url = f"/servers/{server['id']}/action"
        other = stack.compute("POST", url, {"rebuild": {"imageRef": other_image(stack)}},
                              headers=P1)
        assert other.status_code == 400 and "different image" in other.text, other.text
        resp = stack.compute("POST", url, {"rebuild": {"imageRef": stack.image_id}},
                             headers=P1)
        assert resp.status_code == 202, resp.text
        time.sleep(0.1)
        assert wait_status(stack, server["id"], "ACTIVE")["image"] == ""
        assert guest_volumes(stack, server["id"])["/dev/vda"]["volume_id"] == root["id"]
        # the root volume cannot be detached
        resp = stack.compute("DELETE",
                             f"/servers/{server['id']}/os-volume_attachments/{root['id']}",
                             headers=P1)
        assert resp.status_code == 400, resp.text
        delete_server(stack, server["id"])
        wait_volume(root["id"], "available" if keep else "deleted")
        if keep:
            # boot again from the volume that stayed
            again = boot(stack, block_device_mapping_v2=[{
                "uuid": root["id"], "source_type": "volume", "destination_type": "volume",
                "boot_index": 0}])
            wait_status(stack, again["id"], "ACTIVE")
            assert volume(root["id"])["status"] == "in-use"
            delete_server(stack, again["id"])
            wait_volume(root["id"], "available")


def test_shelve_a_volume_backed_server_without_an_image(stack: Stack) -> None:
    """As Nova's: a volume-backed server is shelved without a snapshot image
    (its root volume keeps the disk), offloaded (the volume reserved for
    it, no host connected) and unshelved from its root volume."""
    server = boot(stack, block_device_mapping_v2=[{
        "uuid": stack.image_id, "source_type": "image", "destination_type": "volume",
        "boot_index": 0, "volume_size": 1, "delete_on_termination": True}])
    sid = server["id"]
    view = wait_status(stack, sid, "ACTIVE", timeout=60)
    root_id = view["os-extended-volumes:volumes_attached"][0]["id"]
    images_before = stack.request("GET", "/image/v2/images").json()["images"]
    resp = stack.compute("POST", f"/servers/{sid}/action", {"shelve": None}, headers=P1)
    assert resp.status_code == 202, resp.text
    wait_status(stack, sid, "SHELVED_OFFLOADED", timeout=30)
    assert stack.request("GET", "/image/v2/images").json()["images"] == images_before
    assert volume(root_id)["status"] == "reserved"
    assert guest_volumes(stack, sid) == {}
    resp = stack.compute("POST", f"/servers/{sid}/action", {"unshelve": None}, headers=P1)
    assert resp.status_code == 202, resp.text
    wait_status(stack, sid, "ACTIVE", timeout=30)
    found = wait_guest(stack, sid, lambda v: "/dev/vda" in v)
    assert found["/dev/vda"]["volume_id"] == root_id
    wait_volume(root_id, "in-use")
    delete_server(stack, sid)
    wait_volume(root_id, "deleted")


def test_boot_with_data_volumes_and_validation(stack: Stack) -> None:
    data = make_volume()
    server = boot(stack, block_device_mapping_v2=[
        {"uuid": stack.image_id, "source_type": "image", "destination_type": "local",
         "boot_index": 0, "delete_on_termination": True},
        {"uuid": data["id"], "source_type": "volume", "destination_type": "volume",
         "boot_index": -1},
        {"source_type": "blank", "destination_type": "volume", "volume_size": 1,
         "delete_on_termination": True}])
    view = wait_status(stack, server["id"], "ACTIVE", timeout=60)
    assert len(view["os-extended-volumes:volumes_attached"]) == 2
    found = guest_volumes(stack, server["id"])
    assert sorted(found) == ["/dev/vdb", "/dev/vdc"]
    assert found["/dev/vdb"]["volume_id"] == data["id"]
    blank = found["/dev/vdc"]["volume_id"]
    delete_server(stack, server["id"])
    wait_volume(data["id"], "available")
    wait_volume(blank, "deleted")

    # a volume made from a snapshot (the CLI's --snapshot): its data, on the host
    snap = _volumes().create_snapshot(_ctx(P1), data["id"], name="s")
    deadline = time.monotonic() + 20
    while _volumes().get_snapshot(_ctx(P1), snap["id"])["status"] != "available":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    from_snap = boot(stack, imageRef=stack.image_id, block_device_mapping_v2=[
        {"uuid": snap["id"], "source_type": "snapshot", "destination_type": "volume",
         "delete_on_termination": True}])
    view = wait_status(stack, from_snap["id"], "ACTIVE", timeout=60)
    (made,) = view["os-extended-volumes:volumes_attached"]
    assert volume(made["id"])["snapshot_id"] == snap["id"]
    delete_server(stack, from_snap["id"])
    wait_volume(made["id"], "deleted")
    _volumes().delete_snapshot(_ctx(P1), snap["id"])

    def refused(bdms: list[dict], version: str = "2.79", **extra: Any) -> str:
        body = {"server": {"name": "bad", "flavorRef": "1", "networks": "none",
                           "block_device_mapping_v2": bdms, **extra}}
        resp = stack.compute("POST", "/servers", body, headers=_mv(version))
        assert resp.status_code == 400, resp.text
        return resp.text

    image_volume = {"uuid": stack.image_id, "source_type": "image",
                    "destination_type": "volume", "boot_index": 0}
    assert "non-zero size" in refused([image_volume])
    assert "Boot sequence" in refused([{**image_volume, "volume_size": 1, "boot_index": 1}])
    assert "volume_type" in refused([{**image_volume, "volume_size": 1,
                                      "volume_type": "x"}], version="2.66")
    assert "existing volume" in refused([{"uuid": data["id"], "source_type": "volume",
                                          "destination_type": "volume", "boot_index": 0,
                                          "volume_type": "__DEFAULT__"}], version="2.67")
    assert "could not be found" in refused([{**image_volume, "volume_size": 1,
                                             "volume_type": "no-such-type"}],
                                           version="2.67")
    assert "failed to get volume" in refused([{
        "uuid": "8a4b0a5e-0d5d-4c44-9c5c-3a57c7c4b2b1", "source_type": "volume",
        "destination_type": "volume", "boot_index": 0}])
    assert "multiple instances" in refused([{"uuid": data["id"], "source_type": "volume",
                                             "destination_type": "volume",
                                             "boot_index": 0}], min_count=2)
    # another project's volume is not there for this one
    theirs = make_volume(P2)
    assert "failed to get volume" in refused([{"uuid": theirs["id"], "source_type": "volume",
                                               "destination_type": "volume",
                                               "boot_index": 0}])
    # nothing was left reserved by the refusals
    assert volume(data["id"])["status"] == "available"


def test_create_refused_by_quota_unreserves_the_volume(stack: Stack) -> None:
    """The quota recheck that refuses the servers after the volumes were
    reserved gives them back (regression: the image root's mapping has no
    attachment and the undo failed with a 500)."""
    data = make_volume()
    project = P1["X-Project-Id"]
    resp = stack.compute("PUT", f"/os-quota-sets/{project}", {"quota_set": {"instances": 0}},
                         headers=ADMIN)
    assert resp.status_code == 200, resp.text
    body = {"server": {"name": "over", "flavorRef": "1", "networks": "none",
                       "imageRef": stack.image_id, "block_device_mapping_v2": [
                           {"uuid": data["id"], "source_type": "volume",
                            "destination_type": "volume"}]}}
    resp = stack.compute("POST", "/servers", body, headers=_mv("2.79"))
    assert resp.status_code == 403, resp.text
    assert volume(data["id"])["status"] == "available"
    assert volume(data["id"])["attachments"] == []


# -- a server's volumes through its life ------------------------------------------


def test_volumes_follow_the_server_through_its_life(stack: Stack) -> None:
    server = boot(stack, availability_zone="nova")
    sid = server["id"]
    view = wait_status(stack, sid, "ACTIVE")
    vol = make_volume()
    assert attach(stack, sid, vol["id"]).status_code == 200
    wait_guest(stack, sid, lambda v: "/dev/vdb" in v)
    wait_volume(vol["id"], "in-use")

    def act(body: dict, status: str = "ACTIVE", version: str = "2.79") -> dict:
        resp = stack.compute("POST", f"/servers/{sid}/action", body,
                             headers=_mv(version, ADMIN))
        assert resp.status_code in (200, 202, 204), resp.text
        time.sleep(0.1)
        return wait_status(stack, sid, status, timeout=30)

    def still_there() -> None:
        found = wait_guest(stack, sid, lambda v: "/dev/vdb" in v)
        assert found["/dev/vdb"]["volume_id"] == vol["id"]
        assert volume(vol["id"])["status"] == "in-use"
        assert [a["volumeId"] for a in attachments(stack, sid)] == [vol["id"]]

    act({"os-stop": None}, "SHUTOFF")
    act({"os-start": None})
    still_there()
    act({"reboot": {"type": "HARD"}})
    still_there()
    act({"reboot": {"type": "SOFT"}})
    still_there()
    act({"rebuild": {"imageRef": stack.image_id}})
    still_there()
    # cold migration to the other host, confirmed
    host_before = stack.compute("GET", f"/servers/{sid}").json()["server"][
        "OS-EXT-SRV-ATTR:host"]
    attachment_before = attachments(stack, sid)[0]["attachment_id"]
    act({"migrate": None}, "VERIFY_RESIZE")
    act({"confirmResize": None})
    view = stack.compute("GET", f"/servers/{sid}").json()["server"]
    assert view["OS-EXT-SRV-ATTR:host"] != host_before
    still_there()
    assert attachments(stack, sid)[0]["attachment_id"] != attachment_before
    # the old attachment is gone: the volume has one
    assert len(volume(vol["id"])["attachments"]) == 1
    # resize then revert: back where it was, the volume still attached
    act({"resize": {"flavorRef": "2"}}, "VERIFY_RESIZE")
    act({"revertResize": None})
    still_there()
    delete_server(stack, sid)
    wait_volume(vol["id"], "available")
    assert volume(vol["id"])["attachments"] == []


def test_live_migration_moves_the_attachment(stack: Stack) -> None:
    """The destination connects its own attachment while the source still
    has its own (Cinder lets one server hold two attachments of a volume
    that is not multiattach: its move); the source's goes once the guest
    moved."""
    server = boot(stack)
    sid = server["id"]
    wait_status(stack, sid, "ACTIVE")
    vol = make_volume()
    assert attach(stack, sid, vol["id"]).status_code == 200
    wait_guest(stack, sid, lambda v: "/dev/vdb" in v)
    wait_volume(vol["id"], "in-use")
    before = stack.compute("GET", f"/servers/{sid}").json()["server"]
    attachment_before = attachments(stack, sid)[0]["attachment_id"]
    resp = stack.compute("POST", f"/servers/{sid}/action",
                         {"os-migrateLive": {"host": None, "block_migration": "auto"}},
                         headers=_mv("2.25", ADMIN))
    assert resp.status_code == 202, resp.text
    time.sleep(0.1)
    view = wait_status(stack, sid, "ACTIVE", timeout=30)
    view = stack.compute("GET", f"/servers/{sid}").json()["server"]
    assert view["OS-EXT-SRV-ATTR:host"] != before["OS-EXT-SRV-ATTR:host"], view.get("fault")
    found = wait_guest(stack, sid, lambda v: "/dev/vdb" in v)
    assert found["/dev/vdb"]["volume_id"] == vol["id"]
    assert attachments(stack, sid)[0]["attachment_id"] != attachment_before
    vol_now = volume(vol["id"])
    assert vol_now["status"] == "in-use" and len(vol_now["attachments"]) == 1
    delete_server(stack, sid)
    wait_volume(vol["id"], "available")


def test_evacuate_connects_the_volumes_on_the_new_host(stack: Stack) -> None:
    """The server's host goes down: evacuate (admins) rebuilds it elsewhere
    with its volume (a new attachment connected there, the old one deleted);
    the old host, back, removes its guest and leaves the volume alone."""
    server = boot(stack)
    sid = server["id"]
    view = wait_status(stack, sid, "ACTIVE")
    vol = make_volume()
    assert attach(stack, sid, vol["id"]).status_code == 200
    wait_guest(stack, sid, lambda v: "/dev/vdb" in v)
    wait_volume(vol["id"], "in-use")
    view = stack.compute("GET", f"/servers/{sid}", headers=ADMIN).json()["server"]
    source = view["OS-EXT-SRV-ATTR:host"]
    services = stack.compute("GET", f"/os-services?host={source}&binary=novalite-compute",
                             headers=_mv("2.53", ADMIN)).json()["services"]
    stack.stop_compute(source)
    try:
        resp = stack.compute("PUT", f"/os-services/{services[0]['id']}",
                             {"forced_down": True}, headers=_mv("2.53", ADMIN))
        assert resp.status_code == 200, resp.text
        resp = stack.compute("POST", f"/servers/{sid}/action", {"evacuate": {}},
                             headers=_mv("2.68", ADMIN))
        assert resp.status_code == 200, resp.text
        view = wait_status(stack, sid, "ACTIVE", timeout=30)
        view = stack.compute("GET", f"/servers/{sid}", headers=ADMIN).json()["server"]
        assert view["OS-EXT-SRV-ATTR:host"] != source
        dest = stack.computes[view["OS-EXT-SRV-ATTR:host"]].manager.driver
        deadline = time.monotonic() + 20
        while "/dev/vdb" not in dest.attached_volumes(sid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert dest.attached_volumes(sid)["/dev/vdb"]["volume_id"] == vol["id"]
        now = volume(vol["id"])
        assert now["status"] == "in-use" and len(now["attachments"]) == 1
    finally:
        stack.start_compute(source)
        stack.compute("PUT", f"/os-services/{services[0]['id']}", {"forced_down": False},
                      headers=_mv("2.53", ADMIN))
    deadline = time.monotonic() + 20
    while stack.computes[source].manager.driver.attached_volumes(sid) and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.computes[source].manager.driver.attached_volumes(sid) == {}
    assert len(volume(vol["id"])["attachments"]) == 1
    delete_server(stack, sid)
    wait_volume(vol["id"], "available")


def test_volume_extended_event_reaches_the_driver(stack: Stack) -> None:
    server = boot(stack)
    wait_status(stack, server["id"], "ACTIVE")
    vol = make_volume()
    assert attach(stack, server["id"], vol["id"]).status_code == 200
    wait_volume(vol["id"], "in-use")
    wait_guest(stack, server["id"], lambda v: "/dev/vdb" in v)
    _volumes().extend(_ctx(P1), vol["id"], 2)
    found = wait_guest(stack, server["id"],
                       lambda v: v.get("/dev/vdb", {}).get("size") == 2 * 1024 ** 3)
    assert found["/dev/vdb"]["volume_id"] == vol["id"]
    delete_server(stack, server["id"])
    wait_volume(vol["id"], "available")


def test_external_event_volume_extended(stack: Stack) -> None:
    """POST /os-server-external-events (2.51, admins): volume-extended makes
    the server's host show the guest the volume's size; a server that does
    not exist is 404 (the whole answer 404 when no event was accepted, 207
    when some were)."""
    server = boot(stack)
    wait_status(stack, server["id"], "ACTIVE")
    vol = make_volume()
    assert attach(stack, server["id"], vol["id"]).status_code == 200
    wait_guest(stack, server["id"], lambda v: "/dev/vdb" in v)
    from novalite.db import volumes as db

    db.volume_update(vol["id"], {"size": 3})
    event = {"name": "volume-extended", "server_uuid": server["id"], "tag": vol["id"]}
    missing = {**event, "server_uuid": "8a4b0a5e-0d5d-4c44-9c5c-3a57c7c4b2b1"}
    url = "/os-server-external-events"
    assert stack.compute("POST", url, {"events": [event]}, headers=_mv("2.50", ADMIN)) \
        .status_code == 400
    assert stack.compute("POST", url, {"events": [event]}, headers=_mv("2.51", P1)) \
        .status_code == 403
    resp = stack.compute("POST", url, {"events": [missing]}, headers=_mv("2.51", ADMIN))
    assert resp.status_code == 404, resp.text
    assert resp.json() == {"itemNotFound": {
        "code": 404, "message": "No instances found for any event"}}, resp.text
    resp = stack.compute("POST", url, {"events": [event, missing]},
                         headers=_mv("2.51", ADMIN))
    assert resp.status_code == 207, resp.text
    assert [(e["code"], e["status"]) for e in resp.json()["events"]] == [
        (200, "completed"), (404, "failed")]
    wait_guest(stack, server["id"],
               lambda v: v.get("/dev/vdb", {}).get("size") == 3 * 1024 ** 3)
    delete_server(stack, server["id"])
    wait_volume(vol["id"], "available")


def test_fake_driver_shows_volumes_in_diagnostics(stack: Stack) -> None:
    server = boot(stack)
    wait_status(stack, server["id"], "ACTIVE")
    vol = make_volume()
    assert attach(stack, server["id"], vol["id"]).status_code == 200
    wait_guest(stack, server["id"], lambda v: "/dev/vdb" in v)
    diag = stack.compute("GET", f"/servers/{server['id']}/diagnostics",
                         headers=_mv("2.48", ADMIN))
    assert diag.status_code == 200, diag.text
    assert diag.json()["num_disks"] == 2
    delete_server(stack, server["id"])
    assert FakeDriver  # the driver the stack runs


def test_a_failed_boot_from_volume_leaves_its_volume_unconnected(stack: Stack) -> None:
    """A host whose spawn fails: the root volume it made stays the server's
    (reserved, as Nova keeps a failed server's volumes) but no longer
    connected to that host (its NBD export closed); deleting the server
    deletes it (delete_on_termination). (Last in the module: it adds a
    compute host whose spawns fail, disabled at the end.)"""
    stack.start_compute("failhost", "fake.AlwaysFailingSpawnDriver", settle=True)
    try:
        server = boot(stack, ADMIN, host="failhost", block_device_mapping_v2=[{
            "uuid": stack.image_id, "source_type": "image", "destination_type": "volume",
            "boot_index": 0, "volume_size": 1, "delete_on_termination": True}])
        view = wait_status(stack, server["id"], "ERROR", headers=ADMIN, timeout=60)
        (root,) = view["os-extended-volumes:volumes_attached"]
        vol = wait_volume(root["id"], "reserved")
        assert [a["attach_status"] for a in vol["attachments"]] == ["reserved"]
        assert not [a for a in vol["attachments"] if a.get("connection_info")]
        delete_server(stack, server["id"], ADMIN)
        wait_volume(root["id"], "deleted")
    finally:
        services = stack.compute("GET", "/os-services?host=failhost",
                                 headers=_mv("2.53", ADMIN)).json()["services"]
        for svc in services:
            stack.compute("PUT", f"/os-services/{svc['id']}", {"status": "disabled"},
                          headers=_mv("2.53", ADMIN))
        stack.stop_compute("failhost")
