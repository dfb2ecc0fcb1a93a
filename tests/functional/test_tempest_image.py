"""Image API v2 behaviours the upstream conformance suite (tempest's
api.image) checks, as Glance answers them, over HTTP on one FakeDriver stack:
image members (offer, accept/reject, who sees what), the member and metadata
definitions schema documents, both JSON-patch dialects, an admin's owner,
deactivation by the owner and protected images."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jsonschema
import pytest

from novalite.api.image import documents
from novalite.api.image.members import MEMBER_RESPONSE
from tests.functional.stack import Stack

OWNER = {"X-User-Id": "olga", "X-Project-Id": "project-owner", "X-Roles": "member,reader"}
GUEST = {"X-User-Id": "gus", "X-Project-Id": "project-guest", "X-Roles": "member,reader"}
OTHER = {"X-User-Id": "otto", "X-Project-Id": "project-other", "X-Roles": "member,reader"}
OCTET = {"Content-Type": "application/octet-stream"}
PATCH_20 = "application/openstack-images-v2.0-json-patch"
PATCH_21 = "application/openstack-images-v2.1-json-patch"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(str(tmp_path_factory.mktemp("tempest-image"))).start()
    try:
        yield s
    finally:
        s.stop()


def req(stack: Stack, method: str, path: str, body=None, headers=None, raw=None):
    return stack.request(method, "/image/v2" + path, body, raw=raw, headers=headers)


def create(stack: Stack, headers=None, **body) -> dict:
    body = {"name": "img", "disk_format": "raw", "container_format": "bare", **body}
    resp = req(stack, "POST", "/images", body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def patch(stack: Stack, image_id: str, ops: list, headers=None, content_type=PATCH_21):
    return req(stack, "PATCH", f"/images/{image_id}", raw=json.dumps(ops).encode(),
               headers={"Content-Type": content_type, **(headers or {})})


def listed(stack: Stack, headers: dict, query: str = "") -> list[str]:
    resp = req(stack, "GET", f"/images{query}", headers=headers)
    assert resp.status_code == 200, resp.text
    return [i["id"] for i in resp.json()["images"]]


def test_member_accepts_an_offered_image_and_then_lists_it(stack):
    image = create(stack, OWNER)["id"]
    members = f"/images/{image}/members"
    resp = req(stack, "POST", members, {"member": "project-guest"}, headers=OWNER)
    assert resp.status_code == 200, resp.text
    member = resp.json()
    jsonschema.validate(member, MEMBER_RESPONSE)
    assert (member["image_id"], member["member_id"], member["status"], member["schema"]) == (
        image, "project-guest", "pending", "/v2/schemas/member")
    # NOTE: offered but not yet accepted: shown on request, not listed.
    assert image not in listed(stack, GUEST)
    assert req(stack, "GET", f"/images/{image}", headers=GUEST).status_code == 200
    assert listed(stack, GUEST, "?visibility=shared&member_status=pending") == [image]
    assert listed(stack, GUEST, "?visibility=shared&member_status=all") == [image]
    assert req(stack, "GET", f"/images/{image}", headers=OTHER).status_code == 404

    resp = req(stack, "PUT", f"{members}/project-guest", {"status": "accepted"}, headers=GUEST)
    assert resp.status_code == 200 and resp.json()["status"] == "accepted", resp.text
    assert image in listed(stack, GUEST)
    assert listed(stack, GUEST, "?visibility=shared&member_status=pending") == []
    answer = req(stack, "GET", members, headers=OWNER).json()
    assert answer["schema"] == "/v2/schemas/members"
    assert [(m["member_id"], m["status"]) for m in answer["members"]] == [
        ("project-guest", "accepted")]
    shown = req(stack, "GET", f"{members}/project-guest", headers=GUEST).json()
    assert shown["status"] == "accepted" and shown["image_id"] == image

    # NOTE: the member fetches the data of an image it accepted.
    assert req(stack, "PUT", f"/images/{image}/file", raw=b"x" * 512,
               headers={**OCTET, **OWNER}).status_code == 204
    data = req(stack, "GET", f"/images/{image}/file", headers=GUEST)
    assert data.status_code == 200 and data.content == b"x" * 512


def test_rejected_and_removed_members_no_longer_list_the_image(stack):
    image = create(stack, OWNER)["id"]
    members = f"/images/{image}/members"
    req(stack, "POST", members, {"member": "project-guest"}, headers=OWNER)
    req(stack, "PUT", f"{members}/project-guest", {"status": "rejected"}, headers=GUEST)
    assert image not in listed(stack, GUEST)
    assert listed(stack, GUEST, "?visibility=shared&member_status=rejected") == [image]

    req(stack, "PUT", f"{members}/project-guest", {"status": "accepted"}, headers=GUEST)
    assert image in listed(stack, GUEST)
    assert req(stack, "DELETE", f"{members}/project-guest", headers=OWNER).status_code == 204
    assert image not in listed(stack, GUEST)
    assert req(stack, "GET", f"/images/{image}", headers=GUEST).status_code == 404
    assert req(stack, "GET", members, headers=OWNER).json()["members"] == []
    resp = req(stack, "DELETE", f"{members}/project-guest", headers=OWNER)
    assert resp.status_code == 404 and resp.json()["message"] == (
        f"project-guest not found in the member list of the image {image}.")


def test_member_errors_as_glance(stack):
    image = create(stack, OWNER)["id"]
    members = f"/images/{image}/members"
    assert req(stack, "POST", members, {"member": "project-guest"},
               headers=OWNER).status_code == 200
    # the owner cannot answer for the member; the member's answer is validated
    resp = req(stack, "PUT", f"{members}/project-guest", {"status": "accepted"}, headers=OWNER)
    assert resp.status_code == 403
    assert resp.json()["message"] == f"Not allowed to update members for image {image}."
    assert image not in listed(stack, GUEST)
    resp = req(stack, "PUT", f"{members}/project-guest", {"status": "notavalidstatus"},
               headers=GUEST)
    assert resp.status_code == 400 and "notavalidstatus" in resp.json()["message"]
    # offered twice: 409; by a member, or to a non-shared image: 403
    resp = req(stack, "POST", members, {"member": "project-guest"}, headers=OWNER)
    assert resp.status_code == 409 and resp.json()["message"] == (
        f"Member project-guest is duplicated for image {image}")
    resp = req(stack, "POST", members, {"member": "project-other"}, headers=GUEST)
    assert resp.status_code == 403
    assert resp.json()["message"] == f"Not allowed to create members for image {image}."
    resp = req(stack, "DELETE", f"{members}/project-guest", headers=GUEST)
    assert resp.status_code == 403
    assert resp.json()["message"] == f"Not allowed to delete members for image {image}."
    private = create(stack, OWNER, visibility="private")["id"]
    resp = req(stack, "POST", f"/images/{private}/members", {"member": "project-guest"},
               headers=OWNER)
    assert resp.status_code == 403
    resp = req(stack, "GET", f"/images/{private}/members", headers=OWNER)
    assert resp.status_code == 403 and resp.json()["message"] == (
        f"Not allowed to list members for image {private}: Only shared images have "
        "members.")
    # a membership of an image that is not shared is not found
    assert req(stack, "GET", f"/images/{private}/members/project-guest",
               headers=OWNER).status_code == 404
    # a stranger does not see the image nor its members; a member only itself
    assert req(stack, "GET", members, headers=OTHER).status_code == 404
    req(stack, "POST", members, {"member": "project-other"}, headers=OWNER)
    assert [m["member_id"] for m in req(stack, "GET", members, headers=GUEST).json()[
        "members"]] == ["project-guest"]
    assert req(stack, "GET", f"{members}/project-other", headers=GUEST).status_code == 404
    assert req(stack, "POST", members, {}, headers=OWNER).status_code == 400
    # a deleted image takes its members with it
    assert req(stack, "DELETE", f"/images/{image}", headers=OWNER).status_code == 204
    assert image not in listed(stack, GUEST, "?visibility=shared&member_status=all")


@pytest.mark.parametrize("name, title", [
    ("member", "member"), ("members", "members"),
    ("metadefs/namespace", "namespace"), ("metadefs/namespaces", "namespaces"),
    ("metadefs/object", "object"), ("metadefs/objects", "objects"),
    ("metadefs/property", "property"), ("metadefs/properties", "properties"),
    ("metadefs/tag", "tag"), ("metadefs/tags", "tags"),
    ("metadefs/resource_type", "resource_type_association"),
    ("metadefs/resource_types", "resource_type_associations")])
def test_schema_documents_name_their_resource(stack, name, title):
    resp = req(stack, "GET", f"/schemas/{name}", headers=GUEST)
    assert resp.status_code == 200, resp.text
    document = resp.json()
    assert document["name"] == title and document["properties"]
    jsonschema.Draft202012Validator.check_schema(document)


def test_schema_documents_describe_real_answers_and_unknown_ones_are_404(stack):
    image = create(stack, OWNER)["id"]
    member = req(stack, "POST", f"/images/{image}/members", {"member": "project-guest"},
                 headers=OWNER).json()
    jsonschema.validate(member, {**documents.MEMBER, "additionalProperties": False})
    resp = req(stack, "GET", "/schemas/metadefs/nothing")
    assert resp.status_code == 404 and "namespace" in resp.json()["message"]


def test_both_patch_dialects_change_an_image(stack):
    image = create(stack, OWNER, name="before")["id"]
    resp = patch(stack, image, [{"replace": "/name", "value": "v20"},
                                {"add": "/color", "value": "red"}], OWNER, PATCH_20)
    assert resp.status_code == 200, resp.text
    assert (resp.json()["name"], resp.json()["color"]) == ("v20", "red")
    resp = patch(stack, image, [{"remove": "/color"}], OWNER, PATCH_20)
    assert resp.status_code == 200 and "color" not in resp.json()
    resp = patch(stack, image, [{"op": "replace", "path": "/name", "value": "v21"}], OWNER)
    assert resp.status_code == 200 and resp.json()["name"] == "v21"
    # each dialect only with its own media type, one operation per object
    resp = patch(stack, image, [{"op": "replace", "path": "/name", "value": "x"}], OWNER,
                 PATCH_20)
    assert resp.status_code == 400 and "exactly one member" in resp.json()["message"]
    resp = patch(stack, image, [{"replace": "/name", "value": "x"}], OWNER, PATCH_21)
    assert resp.status_code == 400 and "'op'" in resp.json()["message"]
    resp = patch(stack, image, [{"replace": "/name", "add": "/name"}], OWNER, PATCH_20)
    assert resp.status_code == 400
    assert req(stack, "GET", f"/images/{image}", headers=OWNER).json()["name"] == "v21"


def test_admin_names_and_changes_the_owner_others_cannot(stack):
    image = create(stack, owner="project-elsewhere")
    assert image["owner"] == "project-elsewhere"
    resp = patch(stack, image["id"], [{"replace": "/owner", "value": "project-guest"}],
                 content_type=PATCH_20)
    assert resp.status_code == 200 and resp.json()["owner"] == "project-guest"
    # the new owner now holds it as its own
    assert req(stack, "GET", f"/images/{image['id']}", headers=GUEST).status_code == 200
    resp = patch(stack, image["id"], [{"op": "replace", "path": "/owner",
                                       "value": "project-owner"}], GUEST)
    assert resp.status_code == 403 and "owner" in resp.json()["message"]
    resp = req(stack, "POST", "/images", {"name": "x", "owner": "project-owner"},
               headers=GUEST)
    assert resp.status_code == 403 and "project-owner" in resp.json()["message"]
    assert create(stack, GUEST, owner="project-guest")["owner"] == "project-guest"


def test_owner_deactivates_and_reactivates_its_image(stack):
    image = create(stack, OWNER, visibility="private")["id"]
    req(stack, "PUT", f"/images/{image}/file", raw=b"y" * 64, headers={**OCTET, **OWNER})
    actions = f"/images/{image}/actions"
    assert req(stack, "POST", f"{actions}/deactivate", headers=OTHER).status_code == 404
    assert req(stack, "POST", f"{actions}/deactivate", headers=OWNER).status_code == 204
    assert req(stack, "GET", f"/images/{image}", headers=OWNER).json()["status"] == \
        "deactivated"
    assert req(stack, "GET", f"/images/{image}/file", headers=OWNER).status_code == 403
    assert req(stack, "POST", f"{actions}/reactivate", headers=OWNER).status_code == 204
    assert req(stack, "GET", f"/images/{image}/file", headers=OWNER).content == b"y" * 64


def test_protected_image_is_kept_until_unprotected(stack):
    image = create(stack, OWNER, protected=True)["id"]
    resp = req(stack, "DELETE", f"/images/{image}", headers=OWNER)
    assert resp.status_code == 403 and "protected" in resp.json()["message"]
    assert patch(stack, image, [{"replace": "/protected", "value": False}], OWNER,
                 PATCH_20).status_code == 200
    assert req(stack, "DELETE", f"/images/{image}", headers=OWNER).status_code == 204
    assert req(stack, "GET", f"/images/{image}", headers=OWNER).status_code == 404


def test_metadefs_namespace_lifecycle_visibility_and_protection(stack):
    ns = "/metadefs/namespaces"
    types = req(stack, "GET", "/metadefs/resource_types", headers=OWNER).json()
    assert "OS::Glance::Image" in [t["name"] for t in types["resource_types"]]
    body = {"namespace": "ns-life", "display_name": "Life", "description": "d",
            "visibility": "public", "protected": True,
            "resource_type_associations": [{"name": "OS::Nova::Flavor", "prefix": "hw:"}]}
    assert req(stack, "POST", ns, body, headers=OWNER).status_code == 403
    resp = req(stack, "POST", ns, body)
    assert resp.status_code == 201, resp.text
    made = resp.json()
    assert (made["namespace"], made["visibility"], made["protected"], made["self"]) == (
        "ns-life", "public", True, "/v2/metadefs/namespaces/ns-life")
    assert req(stack, "POST", ns, body).status_code == 409
    # public: every project reads it, and finds it by resource type
    assert req(stack, "GET", f"{ns}/ns-life", headers=OWNER).json()[
        "resource_type_associations"][0]["prefix"] == "hw:"
    found = req(stack, "GET", f"{ns}?resource_types=OS::Nova::Flavor", headers=OWNER).json()
    assert [n["namespace"] for n in found["namespaces"]] == ["ns-life"]
    resp = req(stack, "DELETE", f"{ns}/ns-life")
    assert resp.status_code == 403 and "protected" in resp.json()["message"]
    update = {"namespace": "ns-life", "visibility": "private", "protected": False}
    assert req(stack, "PUT", f"{ns}/ns-life", update, headers=OWNER).status_code == 403
    resp = req(stack, "PUT", f"{ns}/ns-life", update)
    assert resp.status_code == 200 and resp.json()["visibility"] == "private"
    assert resp.json()["protected"] is False
    # private, owned by the admin's project: other projects no longer see it
    assert req(stack, "GET", f"{ns}/ns-life", headers=OWNER).status_code == 404
    assert "ns-life" not in [n["namespace"] for n in req(
        stack, "GET", ns, headers=OWNER).json()["namespaces"]]
    req(stack, "POST", ns, {"namespace": "ns-other"})
    resp = req(stack, "PUT", f"{ns}/ns-other", {"namespace": "ns-life"})
    assert resp.status_code == 409 and "ns-life" in resp.json()["message"]
    resp = req(stack, "PUT", f"{ns}/ns-other", {"namespace": "ns-renamed"})
    assert resp.status_code == 200 and resp.json()["self"].endswith("/ns-renamed")
    assert req(stack, "DELETE", f"{ns}/ns-renamed").status_code == 204
    assert req(stack, "DELETE", f"{ns}/ns-life").status_code == 204
    assert req(stack, "GET", f"{ns}/ns-life").status_code == 404
    assert req(stack, "POST", ns, {"namespace": "x", "visibility": "hidden"}).status_code == 400


def test_metadefs_objects_properties_tags_and_associations(stack):
    ns = "/metadefs/namespaces/ns-parts"
    assert req(stack, "POST", "/metadefs/namespaces", {"namespace": "ns-parts"}).status_code \
        == 201
    # objects: create, rename, delete
    resp = req(stack, "POST", f"{ns}/objects", {"name": "obj", "description": "o"})
    assert resp.status_code == 201 and resp.json()["self"].endswith("/ns-parts/objects/obj")
    assert req(stack, "POST", f"{ns}/objects", {"name": "obj"}).status_code == 409
    assert req(stack, "GET", f"{ns}/objects/obj").json()["description"] == "o"
    resp = req(stack, "PUT", f"{ns}/objects/obj", {"name": "obj2"})
    assert resp.status_code == 200 and resp.json()["name"] == "obj2"
    assert [o["name"] for o in req(stack, "GET", f"{ns}/objects").json()["objects"]] == [
        "obj2"]
    assert req(stack, "DELETE", f"{ns}/objects/obj2").status_code == 204
    assert req(stack, "GET", f"{ns}/objects/obj2").status_code == 404
    # properties: a JSON-schema definition by name
    prop = {"name": "hypervisor", "title": "Hypervisor", "type": "string",
            "enum": ["qemu", "kvm"]}
    resp = req(stack, "POST", f"{ns}/properties", prop)
    assert resp.status_code == 201 and resp.json()["title"] == "Hypervisor"
    assert req(stack, "GET", f"{ns}/properties/hypervisor").json() == prop
    resp = req(stack, "PUT", f"{ns}/properties/hypervisor", {**prop, "title": "HV"})
    assert resp.status_code == 200 and resp.json()["title"] == "HV"
    assert req(stack, "GET", f"{ns}/properties").json()["properties"]["hypervisor"][
        "title"] == "HV"
    assert req(stack, "POST", f"{ns}/properties", {"name": "p"}).status_code == 400
    assert req(stack, "DELETE", f"{ns}/properties/hypervisor").status_code == 204
    assert req(stack, "GET", f"{ns}/properties").json()["properties"] == {}
    # tags: replaced as a set, one by one, renamed, all removed
    tags = {"tags": [{"name": "a"}, {"name": "b"}]}
    assert req(stack, "POST", f"{ns}/tags", tags).status_code == 201
    assert req(stack, "POST", f"{ns}/tags", {"tags": [{"name": "c"}]}).status_code == 201
    assert [t["name"] for t in req(stack, "GET", f"{ns}/tags").json()["tags"]] == ["c"]
    assert req(stack, "POST", f"{ns}/tags/d").status_code == 201
    assert req(stack, "POST", f"{ns}/tags/d").status_code == 409
    resp = req(stack, "PUT", f"{ns}/tags/d", {"name": "e"})
    assert resp.status_code == 200 and resp.json()["name"] == "e"
    assert req(stack, "GET", f"{ns}/tags/e").json()["name"] == "e"
    assert req(stack, "DELETE", f"{ns}/tags/e").status_code == 204
    assert req(stack, "DELETE", f"{ns}/tags").status_code == 204
    assert req(stack, "GET", f"{ns}/tags").json()["tags"] == []
    # resource type associations; a new type joins the list
    resp = req(stack, "POST", f"{ns}/resource_types", {"name": "OS::Novalite::Thing"})
    assert resp.status_code == 201 and resp.json()["name"] == "OS::Novalite::Thing"
    assert "OS::Novalite::Thing" in [t["name"] for t in req(
        stack, "GET", "/metadefs/resource_types").json()["resource_types"]]
    assert req(stack, "DELETE", f"{ns}/resource_types/OS::Novalite::Thing").status_code == 204
    assert req(stack, "GET", f"{ns}/resource_types").json()[
        "resource_type_associations"] == []
    # members of other projects neither see the private namespace nor change it
    assert req(stack, "POST", f"{ns}/tags/x", headers=OWNER).status_code == 404
    assert req(stack, "DELETE", "/metadefs/namespaces/ns-parts").status_code == 204


def test_import_discovery_offers_no_method_so_clients_upload(stack):
    resp = req(stack, "GET", "/info/import", headers=GUEST)
    assert resp.status_code == 200
    assert resp.json() == {"import-methods": {"description": "Import methods available.",
                                              "type": "array", "value": []}}


def test_members_per_image_are_capped(stack, monkeypatch):
    from novalite.image import api as image_api

    monkeypatch.setattr(image_api, "MEMBER_QUOTA", 2)
    image = create(stack, OWNER)["id"]
    members = f"/images/{image}/members"
    for project in ("project-guest", "project-other"):
        assert req(stack, "POST", members, {"member": project}, headers=OWNER).status_code \
            == 200
    resp = req(stack, "POST", members, {"member": "project-third"}, headers=OWNER)
    assert resp.status_code == 413 and "Maximum: 2" in resp.json()["message"]


def test_member_boots_a_server_from_an_image_it_accepted(stack):
    image = create(stack, OWNER)["id"]
    req(stack, "PUT", f"/images/{image}/file", raw=b"\0" * 4096, headers={**OCTET, **OWNER})
    members = f"/images/{image}/members"
    req(stack, "POST", members, {"member": "project-guest"}, headers=OWNER)
    req(stack, "PUT", f"{members}/project-guest", {"status": "accepted"}, headers=GUEST)
    body = {"server": {"name": "shared", "flavorRef": "1", "imageRef": image}}
    resp = stack.compute("POST", "/servers", body, headers=OTHER)
    assert resp.status_code == 400 and image in resp.text
    resp = stack.compute("POST", "/servers", body, headers=GUEST)
    assert resp.status_code == 202, resp.text
    server = stack.wait_for(resp.json()["server"]["id"], lambda s: s["status"] == "ACTIVE",
                            what="ACTIVE")
    assert server["image"]["id"] == image
    assert stack.compute("DELETE", f"/servers/{server['id']}",
                         headers=GUEST).status_code == 204


def test_compute_image_list_filters_by_server_type_property_and_change_time(stack):
    server = "5a7f3e0c-1111-4222-8333-944455556666"
    snap = create(stack, OWNER, name="snap", instance_uuid=server, image_type="snapshot",
                  color="blue")["id"]
    backup = create(stack, OWNER, name="backup", image_type="backup")["id"]

    def ids(query: str) -> list[str]:
        resp = stack.compute("GET", f"/images/detail?{query}", headers=OWNER)
        assert resp.status_code == 200, resp.text
        return [i["id"] for i in resp.json()["images"]]

    url = f"{stack.base_url}/compute/v2.1/servers/{server}"
    assert ids(f"server={server}") == [snap]
    assert ids(f"server={url}") == [snap]
    assert ids("type=snapshot") == [snap]
    assert ids("type=backup") == [backup]
    assert ids("property-color=blue") == [snap]
    assert ids("property-color=red") == []
    assert set(ids("changes-since=2000-01-01T00:00:00Z")) >= {snap, backup}
    assert ids("changes-since=2999-01-01T00:00:00Z") == []
    resp = stack.compute("GET", "/images?changes-since=yesterday", headers=OWNER)
    assert resp.status_code == 400 and "changes-since" in resp.text


def test_the_os_glance_namespace_is_reserved(stack):
    resp = req(stack, "POST", "/images", {"name": "r", "os_glance_foo": "bar"}, headers=OWNER)
    assert resp.status_code == 403
    assert resp.json()["message"] == "Attribute 'os_glance_foo' is reserved."
    image = create(stack, OWNER)["id"]
    resp = patch(stack, image, [{"add": "/os_glance_import_task", "value": "x"}], OWNER,
                 PATCH_20)
    assert resp.status_code == 403 and "os_glance_import_task" in resp.json()["message"]
    assert "os_glance_import_task" not in req(stack, "GET", f"/images/{image}",
                                              headers=OWNER).json()


def test_list_filters_on_formats_sizes_and_custom_properties(stack):
    LISTER = {"X-User-Id": "liz", "X-Project-Id": "project-lister", "X-Roles": "member"}
    small = create(stack, LISTER, name="small", disk_format="qcow2", flavor_of="tea")["id"]
    big = create(stack, LISTER, name="big", disk_format="raw", container_format="ovf")["id"]
    req(stack, "PUT", f"/images/{small}/file", raw=b"s" * 100, headers={**OCTET, **LISTER})
    req(stack, "PUT", f"/images/{big}/file", raw=b"b" * 5000, headers={**OCTET, **LISTER})
    mine = "&owner=project-lister"
    assert listed(stack, LISTER, f"?disk_format=qcow2{mine}") == [small]
    assert listed(stack, LISTER, f"?container_format=ovf{mine}") == [big]
    assert listed(stack, LISTER, f"?size=100{mine}") == [small]
    assert listed(stack, LISTER, f"?size_min=101{mine}") == [big]
    assert listed(stack, LISTER, f"?size_min=100&size_max=4999{mine}") == [small]
    assert listed(stack, LISTER, f"?flavor_of=tea{mine}") == [small]
    assert listed(stack, LISTER, f"?flavor_of=coffee{mine}") == []
    resp = req(stack, "GET", "/images?size_min=big", headers=LISTER)
    assert resp.status_code == 400 and "size_min" in resp.json()["message"]


def test_an_images_tasks_are_none_and_a_trailing_slash_is_no_image(stack):
    # NOTE: Glance 2.12 lists an image's import tasks; novalite takes image
    # data by upload only, so there are never any.
    image = create(stack, name="tasks")
    resp = req(stack, "GET", f"/images/{image['id']}/tasks")
    assert resp.status_code == 200 and resp.json() == {"tasks": []}, resp.text
    missing = req(stack, "GET", "/images/00000000-0000-0000-0000-000000000000/tasks")
    assert missing.status_code == 404, missing.text
    # an empty image id (a trailing slash) is 404, not the list, as Glance
    assert req(stack, "GET", "/images/").status_code == 404
    assert req(stack, "DELETE", "/images/").status_code == 404
