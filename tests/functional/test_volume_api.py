"""The Block Storage API v3 (issue 14) through HTTP on a fake-driver stack
with a volume service (its file backend in the test's directory): version
documents and microversions, the volume status machine, filters and
paging, isolation between projects (404 on every verb), readers, quotas
(413 with Cinder's messages), snapshots, attachments (3.27/3.44) and the
volume service's RPC contract compute uses."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from tests.functional.stack import Stack

V3 = "/volume/v3"
MV = {"OpenStack-API-Version": "volume 3.67"}
ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin", **MV}
A = {"X-User-Id": "alice", "X-Project-Id": "proj-a", "X-Roles": "member,reader", **MV}
A_READER = {"X-User-Id": "ann", "X-Project-Id": "proj-a", "X-Roles": "reader", **MV}
B = {"X-User-Id": "bob", "X-Project-Id": "proj-b", "X-Roles": "member,reader", **MV}
SERVER = "6f1c0f4e-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from novalite.cmd import volume as volume_cmd

    state = str(tmp_path_factory.mktemp("volumes"))
    s = Stack(state, overrides={("volume", "storage_dir"): os.path.join(state, "vols"),
                                ("volume", "capacity_gb"): 40,
                                ("volume", "max_over_subscription_ratio"): 1.0}).start()
    svc = volume_cmd.create_service(host="host1")
    svc.start()
    s.volume_service = svc
    try:
        yield s
    finally:
        svc.stop()
        s.stop()


def call(stack, method, path, who, body=None, status=200):
    resp = stack.request(method, V3 + path, body, headers=who)
    assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


def wait_volume(stack, volume_id, who=ADMIN, until=("available", "error"), timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        vol = call(stack, "GET", f"/volumes/{volume_id}", who)["volume"]
        if vol["status"] in until or time.monotonic() > deadline:
            assert vol["status"] in until, vol
            return vol
        time.sleep(0.1)


def wait_gone(stack, path, who=ADMIN, timeout=20.0):
    deadline = time.monotonic() + timeout
    while stack.request("GET", V3 + path, headers=who).status_code != 404:
        assert time.monotonic() < deadline, f"{path} still exists"
        time.sleep(0.1)


def make_volume(stack, who, size=1, status="available", **extra):
    body = {"volume": {**({"size": size} if size else {}), **extra}}
    vol = call(stack, "POST", "/volumes", who, body, 202)["volume"]
    assert vol["status"] == "creating"
    return wait_volume(stack, vol["id"], who, until=(status,))


def volume_file(stack, volume_id):
    from novalite.conf import CONF

    return os.path.join(CONF.volume.storage_dir, f"volume-{volume_id}")


def test_version_documents_and_microversion_negotiation(stack):
    # As Cinder's: the root is 300 Multiple Choices, the version's 200.
    for path, status in (("/volume/", 300), ("/volume", 300), ("/volume/v3/", 200)):
        resp = stack.request("GET", path, headers={"X-Auth-Token": "none"})
        assert resp.status_code == status, resp.text
        (version,) = resp.json()["versions"]
        assert (version["id"], version["min_version"], version["version"]) == \
            ("v3.0", "3.0", "3.67")
    resp = stack.request("GET", V3 + "/types", headers={**A, "OpenStack-API-Version":
                                                        "volume 3.50"})
    assert resp.headers["OpenStack-API-Version"] == "volume 3.50"
    resp = stack.request("GET", V3 + "/types", headers={**A, "OpenStack-API-Version":
                                                        "volume latest"})
    assert resp.headers["OpenStack-API-Version"] == "volume 3.67"
    resp = stack.request("GET", V3 + "/types", headers={**A, "OpenStack-API-Version":
                                                        "volume 3.99"})
    assert resp.status_code == 406
    assert "maximum is 3.67" in resp.json()["computeFault"]["message"] or \
        "maximum is 3.67" in resp.text
    # Without a header: 3.0, where the attachments API does not exist.
    plain = {k: v for k, v in A.items() if k != "OpenStack-API-Version"}
    resp = stack.request("GET", V3 + "/attachments", headers=plain)
    assert resp.status_code == 404 and "3.27" in resp.text
    # The project may be in the path; another project's is refused.
    assert call(stack, "GET", "/proj-a/types", A)["volume_types"][0]["name"] == "__DEFAULT__"
    assert "Malformed request url" in call(stack, "GET", "/proj-b/volumes", A, status=400)[
        "badRequest"]["message"]


def test_volume_lifecycle_follows_cinders_status_machine(stack):
    vol = make_volume(stack, A, size=1, name="life", description="d", metadata={"k": "v"})
    assert (vol["name"], vol["size"], vol["bootable"], vol["multiattach"],
            vol["volume_type"], vol["metadata"]) == ("life", 1, "false", False,
                                                     "__DEFAULT__", {"k": "v"})
    assert "os-vol-host-attr:host" not in vol
    assert call(stack, "GET", f"/volumes/{vol['id']}", ADMIN)["volume"][
        "os-vol-host-attr:host"] == "host1@file#file"  # Cinder's host@backend#pool
    path = volume_file(stack, vol["id"])
    st = os.stat(path)
    assert (st.st_mode & 0o777, st.st_size, st.st_blocks) == (0o600, 1024 ** 3, 0)
    # update, metadata
    upd = call(stack, "PUT", f"/volumes/{vol['id']}", A, {"volume": {"name": "life2"}})
    assert upd["volume"]["name"] == "life2"
    # The tenant, host and migration attributes are GET's (Cinder's API
    # extensions of show/detail), never in a create's or update's answer.
    assert call(stack, "GET", f"/volumes/{vol['id']}", A)["volume"][
        "os-vol-tenant-attr:tenant_id"] == "proj-a"
    made = call(stack, "POST", "/volumes", ADMIN, {"volume": {"size": 1}}, 202)["volume"]
    for answer in (upd["volume"], made):
        assert not [k for k in answer if k.startswith("os-vol-")], answer
    wait_volume(stack, made["id"])
    call(stack, "DELETE", f"/volumes/{made['id']}", ADMIN, status=202)
    call(stack, "POST", f"/volumes/{vol['id']}/metadata", A, {"metadata": {"x": "1"}})
    assert call(stack, "GET", f"/volumes/{vol['id']}/metadata", A)["metadata"] == \
        {"k": "v", "x": "1"}
    call(stack, "DELETE", f"/volumes/{vol['id']}/metadata/k", A)
    assert call(stack, "GET", f"/volumes/{vol['id']}/metadata/x", A)["meta"] == {"x": "1"}
    # extend: bigger only; the file grows
    err = call(stack, "POST", f"/volumes/{vol['id']}/action", A,
               {"os-extend": {"new_size": 1}}, 400)
    assert "must be greater than current size" in err["badRequest"]["message"]
    call(stack, "POST", f"/volumes/{vol['id']}/action", A, {"os-extend": {"new_size": 2}}, 202)
    deadline = time.monotonic() + 20
    while call(stack, "GET", f"/volumes/{vol['id']}", A)["volume"]["size"] != 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert wait_volume(stack, vol["id"], A)["status"] == "available"
    assert os.path.getsize(path) == 2 * 1024 ** 3
    # bootable flag
    call(stack, "POST", f"/volumes/{vol['id']}/action", A,
         {"os-set_bootable": {"bootable": True}})
    assert call(stack, "GET", f"/volumes/{vol['id']}", A)["volume"]["bootable"] == "true"
    # snapshot -> a volume from it has its data; a volume with snapshots stays
    with open(path, "r+b") as f:
        f.write(b"snapshot me")
    # As Cinder: a null volume_id is a volume not found, none at all a 400.
    assert "could not be found" in call(stack, "POST", "/snapshots", A, {"snapshot": {
        "volume_id": None}}, 404)["itemNotFound"]["message"]
    call(stack, "POST", "/snapshots", A, {"snapshot": {"name": "s0"}}, 400)
    snap = call(stack, "POST", "/snapshots", A, {"snapshot": {"volume_id": vol["id"],
                                                              "name": "s1"}}, 202)["snapshot"]
    # Cinder's extended snapshot attributes: in show and detail for the
    # owner, never in the create's answer.
    assert not [k for k in snap if k.startswith("os-extended")], snap
    shown = call(stack, "GET", f"/snapshots/{snap['id']}", A)["snapshot"]
    assert shown["os-extended-snapshot-attributes:project_id"] == "proj-a"
    assert "os-extended-snapshot-attributes:progress" in shown
    deadline = time.monotonic() + 20
    while call(stack, "GET", f"/snapshots/{snap['id']}", A)["snapshot"]["status"] != \
            "available":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    child = make_volume(stack, A, size=2, snapshot_id=snap["id"])
    with open(volume_file(stack, child["id"]), "rb") as f:
        assert f.read(11) == b"snapshot me"
    err = call(stack, "DELETE", f"/volumes/{vol['id']}", A, status=400)
    assert "Volume has snapshots" in err["badRequest"]["message"]
    # a snapshot cannot make a smaller volume
    err = call(stack, "POST", "/volumes", A, {"volume": {"size": 1, "snapshot_id": snap["id"]}},
               400)
    assert "cannot be smaller" in err["badRequest"]["message"]
    # The list's summary has updated_at; display_name sorts (Cinder's column).
    (listed,) = call(stack, "GET", "/snapshots?sort_key=display_name&sort_dir=asc",
                     A)["snapshots"]
    assert listed["id"] == snap["id"] and "updated_at" in listed
    call(stack, "DELETE", f"/snapshots/{snap['id']}", A, status=202)
    wait_gone(stack, f"/snapshots/{snap['id']}", A)
    # clone
    clone = make_volume(stack, A, size=None, source_volid=vol["id"])
    assert clone["size"] == 2 and clone["source_volid"] == vol["id"]
    with open(volume_file(stack, clone["id"]), "rb") as f:
        assert f.read(11) == b"snapshot me"
    for v in (vol, child, clone):
        call(stack, "DELETE", f"/volumes/{v['id']}", A, status=202)
    for v in (vol, child, clone):
        wait_gone(stack, f"/volumes/{v['id']}", A)
        assert not os.path.exists(volume_file(stack, v["id"]))


def test_a_new_volume_reads_zeros_after_a_deleted_ones_data(stack):
    first = make_volume(stack, A)
    with open(volume_file(stack, first["id"]), "r+b") as f:
        for offset in range(0, 1024 ** 3, 64 * 1024 ** 2):
            f.seek(offset)
            f.write(b"SECRET" * 1000)
    call(stack, "DELETE", f"/volumes/{first['id']}", A, status=202)
    wait_gone(stack, f"/volumes/{first['id']}", A)
    second = make_volume(stack, B)
    with open(volume_file(stack, second["id"]), "rb") as f:
        for offset in range(0, 1024 ** 3, 64 * 1024 ** 2):
            f.seek(offset)
            assert f.read(6000) == b"\0" * 6000
    call(stack, "DELETE", f"/volumes/{second['id']}", B, status=202)
    wait_gone(stack, f"/volumes/{second['id']}", B)


def test_filters_sorting_and_paging(stack):
    who = {**A, "X-Project-Id": "proj-list"}
    made = [make_volume(stack, who, name=f"page-{n}", metadata={"n": str(n % 2)})
            for n in range(3)]
    ids = [v["id"] for v in made]
    listed = call(stack, "GET", "/volumes", who)["volumes"]
    assert [v["id"] for v in listed] == ids[::-1]          # created_at desc
    assert set(listed[0]) == {"id", "name", "links"}
    assert [v["name"] for v in call(stack, "GET", "/volumes/detail?sort=name:asc",
                                    who)["volumes"]] == ["page-0", "page-1", "page-2"]
    assert [v["id"] for v in call(stack, "GET", "/volumes/detail?name=page-1", who)[
        "volumes"]] == [ids[1]]
    assert {v["id"] for v in call(stack, "GET", '/volumes/detail?metadata={"n":"0"}', who)[
        "volumes"]} == {ids[0], ids[2]}
    assert call(stack, "GET", "/volumes?status=error", who)["volumes"] == []
    assert len(call(stack, "GET", "/volumes?bootable=false", who)["volumes"]) == 3
    assert [v["id"] for v in call(stack, "GET", "/volumes?name~=ge-2", who)["volumes"]] == \
        [ids[2]]
    page = call(stack, "GET", "/volumes?limit=2&with_count=true&sort=name:asc", who)
    assert [v["name"] for v in page["volumes"]] == ["page-0", "page-1"] and page["count"] == 3
    href = page["volumes_links"][0]["href"]
    rest = stack.session.get(href, headers=who).json()
    assert [v["name"] for v in rest["volumes"]] == ["page-2"] and "volumes_links" not in rest
    assert "Invalid filter keys" in call(stack, "GET", "/volumes?colour=red", who,
                                         status=400)["badRequest"]["message"]
    assert call(stack, "GET", "/volumes?marker=nope", who, status=404)
    summary = call(stack, "GET", "/volumes/summary", who)["volume-summary"]
    assert (summary["total_count"], summary["total_size"]) == (3, 3)
    for v in made:
        call(stack, "DELETE", f"/volumes/{v['id']}", who, status=202)


def test_another_projects_volume_is_404_on_every_verb(stack):
    vol = make_volume(stack, A, name="private")
    vid = vol["id"]
    for method, path, body in [
            ("GET", f"/volumes/{vid}", None),
            ("PUT", f"/volumes/{vid}", {"volume": {"name": "x"}}),
            ("DELETE", f"/volumes/{vid}", None),
            ("POST", f"/volumes/{vid}/action", {"os-extend": {"new_size": 5}}),
            ("POST", f"/volumes/{vid}/action", {"os-set_bootable": {"bootable": True}}),
            ("GET", f"/volumes/{vid}/metadata", None),
            ("POST", f"/volumes/{vid}/metadata", {"metadata": {"a": "b"}}),
            ("POST", "/snapshots", {"snapshot": {"volume_id": vid}}),
            ("POST", "/volumes", {"volume": {"size": 1, "source_volid": vid}}),
            ("POST", "/attachments", {"attachment": {"volume_uuid": vid,
                                                     "instance_uuid": SERVER}})]:
        resp = stack.request(method, V3 + path, body, headers=B)
        assert resp.status_code == 404, f"{method} {path}: {resp.status_code} {resp.text}"
        assert vid in resp.json()["itemNotFound"]["message"]
    assert vid not in [v["id"] for v in call(stack, "GET", "/volumes/detail", B)["volumes"]]
    assert vid not in [v["id"] for v in call(stack, "GET", "/volumes/detail?all_tenants=1",
                                             B)["volumes"]]
    assert vid in [v["id"] for v in call(stack, "GET", "/volumes/detail?all_tenants=1",
                                         ADMIN)["volumes"]]
    # the owner's attachment and snapshot are hidden too
    att = call(stack, "POST", "/attachments", A, {"attachment": {
        "volume_uuid": vid, "instance_uuid": SERVER}})["attachment"]
    for method, path in (("GET", f"/attachments/{att['id']}"),
                         ("DELETE", f"/attachments/{att['id']}")):
        assert stack.request(method, V3 + path, headers=B).status_code == 404
    assert call(stack, "GET", "/attachments", B)["attachments"] == []
    call(stack, "DELETE", f"/attachments/{att['id']}", A)
    # a reader reads but changes nothing
    assert call(stack, "GET", f"/volumes/{vid}", A_READER)["volume"]["name"] == "private"
    for method, path, body in [("DELETE", f"/volumes/{vid}", None),
                               ("PUT", f"/volumes/{vid}", {"volume": {"name": "x"}}),
                               ("POST", "/volumes", {"volume": {"size": 1}})]:
        assert stack.request(method, V3 + path, body, headers=A_READER).status_code == 403
    # reset_status is an admin's
    assert stack.request("POST", V3 + f"/volumes/{vid}/action",
                         {"os-reset_status": {"status": "error"}},
                         headers=A).status_code == 403
    call(stack, "POST", f"/volumes/{vid}/action", ADMIN,
         {"os-reset_status": {"status": "error"}}, 202)
    assert call(stack, "GET", f"/volumes/{vid}", A)["volume"]["status"] == "error"
    call(stack, "DELETE", f"/volumes/{vid}", A, status=202)
    wait_gone(stack, f"/volumes/{vid}", A)


def test_over_quota_is_413_with_cinders_messages(stack):
    who = {**A, "X-Project-Id": "proj-quota"}
    call(stack, "PUT", "/os-quota-sets/proj-quota", ADMIN,
         {"quota_set": {"volumes": 2, "gigabytes": 3, "snapshots": 1}})
    shown = call(stack, "GET", "/os-quota-sets/proj-quota?usage=true", who)["quota_set"]
    assert shown["volumes"] == {"limit": 2, "in_use": 0, "reserved": 0, "allocated": 0}
    assert call(stack, "PUT", "/os-quota-sets/proj-quota", who,
                {"quota_set": {"volumes": 9}}, 403)
    assert call(stack, "GET", "/os-quota-sets/proj-b", who, status=403)
    first = make_volume(stack, who, size=2)
    err = call(stack, "POST", "/volumes", who, {"volume": {"size": 2}}, 413)["overLimit"]
    assert err["message"] == ("VolumeSizeExceedsAvailableQuota: Requested volume or snapshot "
                              "exceeds allowed gigabytes quota. Requested 2G, quota is 3G and "
                              "2G has been consumed.")
    second = make_volume(stack, who, size=1)
    err = call(stack, "POST", "/volumes", who, {"volume": {"size": 1}}, 413)["overLimit"]
    assert err["message"] == ("VolumeLimitExceeded: Maximum number of volumes allowed (2) "
                              "exceeded for quota 'volumes'.")
    limits = call(stack, "GET", "/limits", who)["limits"]["absolute"]
    assert (limits["maxTotalVolumes"], limits["totalVolumesUsed"],
            limits["maxTotalVolumeGigabytes"], limits["totalGigabytesUsed"]) == (2, 2, 3, 3)
    # snapshots count in gigabytes too
    err = call(stack, "POST", "/snapshots", who, {"snapshot": {"volume_id": second["id"]}},
               413)["overLimit"]
    assert err["message"].startswith("VolumeSizeExceedsAvailableQuota:")
    assert call(stack, "GET", "/os-quota-sets/proj-quota/defaults", who)["quota_set"][
        "volumes"] == 10
    call(stack, "PUT", "/os-quota-sets/proj-quota", ADMIN,
         {"quota_set": {"per_volume_gigabytes": 1, "volumes": 5}})
    err = call(stack, "POST", "/volumes", who, {"volume": {"size": 2}}, 413)["overLimit"]
    assert err["message"] == ("VolumeSizeExceedsLimit: Requested volume size 2G is larger "
                              "than maximum allowed limit 1G.")
    # The set read back as shown restores it (as tempest's quota tests do):
    # the fixed backups/groups at their values are accepted, others not.
    before = call(stack, "GET", "/os-quota-sets/proj-quota", ADMIN)["quota_set"]
    call(stack, "PUT", "/os-quota-sets/proj-quota", ADMIN, {"quota_set": {"volumes": 1}})
    call(stack, "PUT", "/os-quota-sets/proj-quota", ADMIN,
         {"quota_set": {k: v for k, v in before.items() if k != "id"}})
    assert call(stack, "GET", "/os-quota-sets/proj-quota", ADMIN)["quota_set"] == before
    assert "no backups" in call(stack, "PUT", "/os-quota-sets/proj-quota", ADMIN, {
        "quota_set": {"backups": before["backups"] + 1}}, 400)["badRequest"]["message"]
    call(stack, "DELETE", "/os-quota-sets/proj-quota", ADMIN)
    assert call(stack, "GET", "/os-quota-sets/proj-quota", who)["quota_set"]["volumes"] == 10
    for v in (first, second):
        call(stack, "DELETE", f"/volumes/{v['id']}", who, status=202)


def test_capacity_exceeded_leaves_the_volume_in_error_with_a_reason(stack):
    who = {**A, "X-Project-Id": "proj-big"}
    vol = call(stack, "POST", "/volumes", who, {"volume": {"size": 41}}, 202)["volume"]
    vol = wait_volume(stack, vol["id"], who, until=("error",))
    messages = call(stack, "GET", "/messages", who)["messages"]
    (msg,) = [m for m in messages if m["resource_uuid"] == vol["id"]]
    assert "Insufficient free virtual space" in msg["user_message"]
    assert msg["resource_type"] == "VOLUME" and msg["message_level"] == "ERROR"
    call(stack, "DELETE", f"/volumes/{vol['id']}", who, status=202)
    wait_gone(stack, f"/volumes/{vol['id']}", who)


def test_attachment_flow_as_nova_drives_it(stack):
    vol = make_volume(stack, A)
    vid = vol["id"]
    att = call(stack, "POST", "/attachments", A, {"attachment": {
        "volume_uuid": vid, "instance_uuid": SERVER}})["attachment"]
    assert (att["status"], att["instance"], att["volume_id"]) == ("reserved", SERVER, vid)
    assert call(stack, "GET", f"/volumes/{vid}", A)["volume"]["status"] == "reserved"
    # a second server cannot have it (not multiattach)
    other = call(stack, "POST", "/attachments", A, {"attachment": {
        "volume_uuid": vid, "instance_uuid": str(uuid.uuid4())}}, 400)
    assert "Invalid volume" in other["badRequest"]["message"]
    connector = {"host": "host1", "ip": "127.0.0.1", "multipath": False,
                 "platform": "x86_64", "os_type": "linux", "initiator": None}
    att = call(stack, "PUT", f"/attachments/{att['id']}", A,
               {"attachment": {"connector": connector}})["attachment"]
    info = att["connection_info"]
    assert info == {"driver_volume_type": "local", "serial": vid,
                    "data": {"device_path": volume_file(stack, vid), "format": "raw",
                             "volume_id": vid, "access_mode": "rw"}}
    assert call(stack, "GET", f"/volumes/{vid}", A)["volume"]["status"] == "attaching"
    assert call(stack, "DELETE", f"/volumes/{vid}", A, status=400)
    call(stack, "POST", f"/attachments/{att['id']}/action", A, {"os-complete": None}, 204)
    shown = call(stack, "GET", f"/volumes/{vid}", A)["volume"]
    assert shown["status"] == "in-use"
    assert [(a["server_id"], a["attachment_id"], a["host_name"]) for a in
            shown["attachments"]] == [(SERVER, att["id"], "host1")]
    assert [a["id"] for a in call(stack, "GET", f"/attachments?volume_id={vid}", A)[
        "attachments"]] == [att["id"]]
    # the same server moving: a second attachment while in-use, then the old goes
    moved = call(stack, "POST", "/attachments", A, {"attachment": {
        "volume_uuid": vid, "instance_uuid": SERVER}})["attachment"]
    assert call(stack, "GET", f"/volumes/{vid}", A)["volume"]["status"] == "in-use"
    call(stack, "PUT", f"/attachments/{moved['id']}", A,
         {"attachment": {"connector": {**connector, "host": "host1"}}})
    call(stack, "POST", f"/attachments/{moved['id']}/action", A, {"os-complete": None}, 204)
    left = call(stack, "DELETE", f"/attachments/{att['id']}", A)["attachments"]
    assert [a["id"] for a in left] == [moved["id"]]
    shown = call(stack, "GET", f"/volumes/{vid}", A)["volume"]
    assert shown["status"] == "in-use"
    assert [a["attachment_id"] for a in shown["attachments"]] == [moved["id"]]
    att = moved
    # extend while attached needs 3.42
    old = {**A, "OpenStack-API-Version": "volume 3.41"}
    assert call(stack, "POST", f"/volumes/{vid}/action", old,
                {"os-extend": {"new_size": 2}}, 400)
    # snapshot of an in-use volume: at 3.66 without force
    snap = call(stack, "POST", "/snapshots", A, {"snapshot": {"volume_id": vid}},
                202)["snapshot"]
    remaining = call(stack, "DELETE", f"/attachments/{att['id']}", A)
    assert remaining == {"attachments": []}
    vol = call(stack, "GET", f"/volumes/{vid}", A)["volume"]
    assert (vol["status"], vol["attachments"]) == ("available", [])
    deadline = time.monotonic() + 20
    while call(stack, "GET", f"/snapshots/{snap['id']}", A)["snapshot"]["status"] == \
            "creating":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    call(stack, "DELETE", f"/snapshots/{snap['id']}", A, status=202)
    wait_gone(stack, f"/snapshots/{snap['id']}", A)
    call(stack, "DELETE", f"/volumes/{vid}", A, status=202)


def test_the_rpc_contract_compute_uses(stack):
    from novalite import context as nl_context
    from novalite.volume import exceptions as v_exc
    from novalite.volume import rpcapi

    ctxt = nl_context.RequestContext(user_id="carol", project_id="proj-rpc",
                                     roles=["member", "reader"])
    client = rpcapi.VolumeAPI()
    vol = client.create(ctxt, 1, name="boot", description="for a server")
    assert (vol["status"], vol["size"], vol["name"]) == ("available", 1, "boot")
    assert client.get(ctxt, vol["id"])["id"] == vol["id"]
    att = client.attachment_create(ctxt, vol["id"], SERVER)
    answer = client.attachment_update(ctxt, att["id"], {"host": "host1", "ip": "127.0.0.1"})
    assert answer["connection_info"]["driver_volume_type"] == "local"
    client.attachment_complete(ctxt, att["id"])
    assert client.get(ctxt, vol["id"])["status"] == "in-use"
    client.attachment_delete(ctxt, att["id"])
    assert client.get(ctxt, vol["id"])["status"] == "available"
    other = nl_context.RequestContext(user_id="dave", project_id="proj-other",
                                      roles=["member", "reader"])
    with pytest.raises(v_exc.VolumeNotFound):
        client.get(other, vol["id"])
    with pytest.raises(v_exc.VolumeLimitExceeded):
        from novalite.volume import quotas

        quotas.set_limits("proj-rpc", {"volumes": 1})
        client.create(ctxt, 1)
    client.delete(ctxt, vol["id"])
    deadline = time.monotonic() + 20
    while True:
        try:
            client.get(ctxt, vol["id"])
        except v_exc.VolumeNotFound:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_failed_connect_leaves_the_volume_reserved_until_the_attachment_goes(stack):
    vol = make_volume(stack, A)
    att = call(stack, "POST", "/attachments", A, {"attachment": {
        "volume_uuid": vol["id"], "instance_uuid": SERVER}})["attachment"]
    # another host without an address: no NBD export can be made for it
    err = call(stack, "PUT", f"/attachments/{att['id']}", A,
               {"attachment": {"connector": {"host": "elsewhere"}}}, 400)
    assert "no 'ip'" in err["badRequest"]["message"]
    assert call(stack, "GET", f"/attachments/{att['id']}", A)["attachment"]["status"] == \
        "error_attaching"
    assert call(stack, "GET", f"/volumes/{vol['id']}", A)["volume"]["status"] == "reserved"
    assert call(stack, "POST", f"/attachments/{att['id']}/action", A,
                {"os-complete": None}, 400)
    call(stack, "DELETE", f"/attachments/{att['id']}", A)
    assert call(stack, "GET", f"/volumes/{vol['id']}", A)["volume"]["status"] == "available"
    call(stack, "DELETE", f"/volumes/{vol['id']}", A, status=202)
    wait_gone(stack, f"/volumes/{vol['id']}", A)


def wait_snapshot(stack, snapshot_id, who=A, status="available", timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        snap = call(stack, "GET", f"/snapshots/{snapshot_id}", who)["snapshot"]
        if snap["status"] == status or time.monotonic() > deadline:
            assert snap["status"] == status, snap
            return snap
        time.sleep(0.1)


def test_revert_to_the_latest_snapshot(stack):
    vol = make_volume(stack, A)
    path = volume_file(stack, vol["id"])
    with open(path, "r+b") as f:
        f.write(b"first")
    older = call(stack, "POST", "/snapshots", A, {"snapshot": {"volume_id": vol["id"]}},
                 202)["snapshot"]
    wait_snapshot(stack, older["id"])
    with open(path, "r+b") as f:
        f.write(b"SECOND")
        f.seek(512 * 1024 ** 2)
        f.write(b"later data")
    latest = call(stack, "POST", "/snapshots", A, {"snapshot": {"volume_id": vol["id"]}},
                  202)["snapshot"]
    wait_snapshot(stack, latest["id"])
    with open(path, "r+b") as f:
        f.write(b"THIRD!")
    old = {**A, "OpenStack-API-Version": "volume 3.39"}
    assert call(stack, "POST", f"/volumes/{vol['id']}/action", old,
                {"revert": {"snapshot_id": latest["id"]}}, 400)
    err = call(stack, "POST", f"/volumes/{vol['id']}/action", A,
               {"revert": {"snapshot_id": older["id"]}}, 400)
    assert "not the volume's latest snapshot" in err["badRequest"]["message"]
    assert call(stack, "POST", f"/volumes/{vol['id']}/action", B,
                {"revert": {"snapshot_id": latest["id"]}}, 404)
    call(stack, "POST", f"/volumes/{vol['id']}/action", A,
         {"revert": {"snapshot_id": latest["id"]}}, 202)
    wait_volume(stack, vol["id"], A, until=("available",))
    wait_snapshot(stack, latest["id"])
    with open(path, "rb") as f:
        assert f.read(6) == b"SECOND"
        f.seek(512 * 1024 ** 2)
        assert f.read(10) == b"later data"
    for snap in (latest, older):
        call(stack, "DELETE", f"/snapshots/{snap['id']}", A, status=202)
        wait_gone(stack, f"/snapshots/{snap['id']}", A)
    with open(path, "r+b") as f:
        f.seek(512 * 1024 ** 2)
        assert f.read(10) == b"later data"
    call(stack, "DELETE", f"/volumes/{vol['id']}", A, status=202)
    wait_gone(stack, f"/volumes/{vol['id']}", A)


def test_the_compute_api_lists_no_volume_service(stack):
    """Nova's os-services, os-hosts and availability zones show Nova's
    services only; the volume service is the Block Storage API's
    (os-services there)."""
    cadmin = {k: v for k, v in ADMIN.items() if k != "OpenStack-API-Version"}
    services = stack.request("GET", "/compute/v2.1/os-services", headers=cadmin).json()
    binaries = {s["binary"] for s in services["services"]}
    assert "nova-compute" in binaries and not any("volume" in b for b in binaries), binaries
    hosts = stack.request("GET", "/compute/v2.1/os-hosts", headers=cadmin).json()["hosts"]
    assert all(h["service"] != "volume" for h in hosts), hosts
    zones = stack.request("GET", "/compute/v2.1/os-availability-zone/detail",
                          headers=cadmin).json()["availabilityZoneInfo"]
    listed = {svc for z in zones for host in (z["hosts"] or {}).values() for svc in host}
    assert listed and not any("volume" in s for s in listed), listed
    volume_services = call(stack, "GET", "/os-services", ADMIN)["services"]
    # The cluster is 3.7's (Cinder's): not in a 3.0 answer.
    plain = {k: v for k, v in ADMIN.items() if k != "OpenStack-API-Version"}
    assert all("cluster" in s for s in volume_services)
    assert not any("cluster" in s for s in call(stack, "GET", "/os-services",
                                                 plain)["services"])
    assert any(s["binary"] == "cinder-volume" or "volume" in s["binary"]
               for s in volume_services), volume_services
