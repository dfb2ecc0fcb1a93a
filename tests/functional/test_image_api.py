"""The Image API v2 (Glance's shapes, statuses and errors) over HTTP, and
the unmodified ``openstack image`` commands against it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import jsonschema
import pytest

from novalite import context as nl_context
from novalite import exception
from novalite.api.schemas import images as schemas
from novalite.db import api as db
from novalite.image import api as image_api
from tests.functional.stack import ADMIN_PASSWORD

PATCH_TYPE = "application/openstack-images-v2.1-json-patch"
OCTET = {"Content-Type": "application/octet-stream"}
ALICE = {"X-User-Id": "alice", "X-Project-Id": "project-a", "X-Roles": "member,reader"}
BOB = {"X-User-Id": "bob", "X-Project-Id": "project-b", "X-Roles": "member,reader"}

GLANCE_FIELDS = {"id", "name", "status", "visibility", "protected", "checksum", "os_hash_algo",
                 "os_hash_value", "size", "virtual_size", "min_disk", "min_ram",
                 "disk_format", "container_format", "owner", "tags", "created_at",
                 "updated_at", "self", "file", "schema", "os_hidden"}


def image_req(stack, method: str, path: str, body=None, headers=None, raw=None):
    return stack.request(method, "/image/v2" + path, body, raw=raw, headers=headers)


def create(stack, headers=None, **body) -> dict:
    body = {"name": "img", "disk_format": "qcow2", "container_format": "bare", **body}
    resp = image_req(stack, "POST", "/images", body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def patch(stack, image_id: str, ops: list, headers=None, content_type: str = PATCH_TYPE):
    return image_req(stack, "PATCH", f"/images/{image_id}", raw=json.dumps(ops).encode(),
                     headers={"Content-Type": content_type, **(headers or {})})


def test_create_answers_every_glance_field_and_custom_properties(stack):
    resp = image_req(stack, "POST", "/images",
                     {"name": "cirros", "disk_format": "qcow2", "container_format": "bare",
                      "min_ram": 64, "tags": ["a", "b", "a"], "hw_disk_bus": "virtio"},
                     headers=ALICE)
    assert resp.status_code == 201, resp.text
    image = resp.json()
    assert set(image) == GLANCE_FIELDS | {"hw_disk_bus"}
    jsonschema.validate(image, schemas.image_response)
    assert resp.headers["Location"].endswith(f"/image/v2/images/{image['id']}")
    assert image["status"] == "queued" and image["visibility"] == "shared"
    assert image["owner"] == "project-a" and image["hw_disk_bus"] == "virtio"
    assert image["tags"] == ["a", "b"] and image["min_ram"] == 64 and image["min_disk"] == 0
    assert [image[k] for k in ("checksum", "os_hash_algo", "os_hash_value", "size",
                               "virtual_size")] == [None] * 5
    assert (image["self"], image["file"], image["schema"]) == (
        f"/v2/images/{image['id']}", f"/v2/images/{image['id']}/file", "/v2/schemas/image")
    shown = image_req(stack, "GET", f"/images/{image['id']}", headers=ALICE).json()
    assert shown == image


@pytest.mark.parametrize("body, code, message", [
    ({"status": "active"}, 403, "Attribute 'status' is read-only."),
    ({"size": 1}, 403, "Attribute 'size' is read-only."),
    ({"location": "/etc/passwd"}, 403, "Attribute 'location' is reserved."),
    ({"disk_format": "floppy"}, 400, "floppy"),
    ({"min_ram": -1}, 400, "min_ram"),
    ({"id": "not-a-uuid"}, 400, "id"),
    ({"visibility": "public"}, 403, "publicize_image"),
    ({"custom": 5}, 400, "custom"),
])
def test_create_refuses_with_glance_errors(stack, body, code, message):
    resp = image_req(stack, "POST", "/images", {"name": "x", **body}, headers=ALICE)
    assert resp.status_code == code, resp.text
    error = resp.json()
    assert error["code"] == f"{code} {error['title']}"
    assert message in error["message"]


def test_create_with_a_taken_id_is_a_conflict(stack):
    resp = image_req(stack, "POST", "/images", {"id": stack.image_id})
    assert resp.status_code == 409 and "already exists" in resp.json()["message"]


def test_upload_makes_it_active_with_size_and_hashes_and_once_only(stack):
    image = create(stack, headers=ALICE)
    data = os.urandom(3 * 1024 * 1024 + 17)
    resp = image_req(stack, "PUT", f"/images/{image['id']}/file", raw=data,
                     headers={**OCTET, **ALICE})
    assert resp.status_code == 204 and resp.content == b""
    shown = image_req(stack, "GET", f"/images/{image['id']}", headers=ALICE).json()
    assert shown["status"] == "active" and shown["size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert shown["os_hash_algo"] == "sha512"
    assert shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    # NOTE: the data is no qcow2 image, so its virtual size is not known.
    assert shown["virtual_size"] is None
    got = image_req(stack, "GET", f"/images/{image['id']}/file", headers=ALICE)
    assert got.status_code == 200 and got.content == data
    assert got.headers["Content-MD5"] == shown["checksum"]

    again = image_req(stack, "PUT", f"/images/{image['id']}/file", raw=b"x",
                      headers={**OCTET, **ALICE})
    assert again.status_code == 409
    assert again.json()["message"] == ("Image status transition from active to saving is "
                                       "not allowed")


def test_upload_needs_octet_stream_and_formats(stack):
    image = create(stack)
    resp = image_req(stack, "PUT", f"/images/{image['id']}/file", raw=b"data",
                     headers={"Content-Type": "application/json"})
    assert resp.status_code == 415 and "application/octet-stream" in resp.json()["message"]
    bare = image_req(stack, "POST", "/images", {"name": "no-formats"}).json()
    resp = image_req(stack, "PUT", f"/images/{bare['id']}/file", raw=b"data", headers=OCTET)
    assert resp.status_code == 400 and "disk_format, container_format" in resp.text
    assert image_req(stack, "GET", f"/images/{image['id']}/file").status_code == 204


def test_status_is_saving_while_data_streams_and_killed_when_it_fails(stack):
    ctxt = nl_context.get_admin_context()
    api = image_api.API()
    image = api.create(ctxt, "streamed", "raw", "bare")
    seen = []

    def chunks() -> Iterator[bytes]:
        yield b"a" * 10
        seen.append(db.image_get(image["id"])["status"])
        yield b"b" * 10

    assert api.upload(ctxt, image["id"], chunks())["status"] == "active"
    assert seen == ["saving"]

    broken = api.create(ctxt, "broken", "raw", "bare")

    def failing() -> Iterator[bytes]:
        yield b"a" * 10
        raise OSError("client went away")

    with pytest.raises(OSError):
        api.upload(ctxt, broken["id"], failing())
    shown = image_req(stack, "GET", f"/images/{broken['id']}").json()
    assert shown["status"] == "killed" and shown["size"] is None
    assert not os.listdir(image_api.images_dir()) or all(
        not name.endswith(".part") for name in os.listdir(image_api.images_dir()))
    with pytest.raises(exception.ImageStatusTransition):
        api.upload(ctxt, broken["id"], iter([b"x"]))
    assert image_req(stack, "DELETE", f"/images/{broken['id']}").status_code == 204


def test_list_filters_sorts_and_pages_as_glance(stack):
    ids = {}
    for name in ("c", "a", "b"):
        ids[name] = create(stack, headers=ALICE, name=name, min_ram=ord(name))["id"]
    hidden = create(stack, headers=ALICE, name="hidden", os_hidden=True)["id"]

    def names(query: str, headers=ALICE) -> list[str]:
        resp = image_req(stack, "GET", f"/images?{query}", headers=headers)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        jsonschema.validate(body, schemas.images_response)
        return [i["name"] for i in body["images"]]

    assert names("sort_key=name&sort_dir=asc") == ["a", "b", "c", "test-image"]
    assert names("sort=min_ram:desc,name:asc")[:3] == ["c", "b", "a"]
    assert names("name=b") == ["b"]
    assert names('name=in:a,"c"&sort_key=name&sort_dir=asc') == ["a", "c"]
    assert names(f"id=in:{ids['a']},{ids['c']}&sort_key=name&sort_dir=asc") == ["a", "c"]
    assert names("visibility=public") == ["test-image"]
    assert names("visibility=shared&owner=project-a&sort_key=name&sort_dir=asc") == [
        "a", "b", "c"]
    assert names("os_hidden=true") == ["hidden"]
    assert names("status=queued&sort_key=name&sort_dir=asc") == ["a", "b", "c"]
    assert hidden not in [n for n in names("")]

    first = image_req(stack, "GET", "/images?limit=2&sort_key=name&sort_dir=asc",
                      headers=ALICE).json()
    assert [i["name"] for i in first["images"]] == ["a", "b"]
    assert first["first"] == "/v2/images" and first["schema"] == "/v2/schemas/images"
    assert first["next"].startswith("/v2/images?") and f"marker={ids['b']}" in first["next"]
    rest = image_req(stack, "GET", first["next"][len("/v2"):], headers=ALICE).json()
    assert [i["name"] for i in rest["images"]] == ["c", "test-image"]
    assert "next" not in rest

    for query, name in (("limit=-1", "limit"), ("limit=x", "limit"),
                        ("sort_key=bogus", "sort_key"), ("status=sleeping", "status"),
                        ("visibility=everyone", "visibility"), ("os_hidden=maybe", "os_hidden"),
                        ("marker=nope", "marker")):
        resp = image_req(stack, "GET", f"/images?{query}", headers=ALICE)
        assert resp.status_code == 400, (query, resp.text)
        assert name in resp.json()["message"] or "marker" in resp.json()["message"]


def test_projects_see_public_and_their_own_images_only(stack):
    private = create(stack, headers=ALICE, name="alice-private", visibility="private")
    resp = image_req(stack, "GET", f"/images/{private['id']}", headers=BOB)
    assert resp.status_code == 404
    assert resp.json()["message"] == f"No image found with ID {private['id']}"
    bob_sees = [i["name"] for i in image_req(stack, "GET", "/images", headers=BOB).json()["images"]]
    assert bob_sees == ["test-image"]
    assert image_req(stack, "GET", f"/images/{stack.image_id}", headers=BOB).status_code == 200
    assert image_req(stack, "DELETE", f"/images/{private['id']}", headers=BOB).status_code == 404
    resp = image_req(stack, "DELETE", f"/images/{stack.image_id}", headers=BOB)
    assert resp.status_code == 403 and "not permitted" in resp.json()["message"]
    resp = patch(stack, stack.image_id, [{"op": "replace", "path": "/name", "value": "mine"}],
                 headers=BOB)
    assert resp.status_code == 403
    # NOTE: an admin sees everything.
    assert image_req(stack, "GET", f"/images/{private['id']}").status_code == 200


def test_patch_changes_core_attributes_tags_and_properties(stack):
    image = create(stack, headers=ALICE, color="red", size_hint="big")
    resp = patch(stack, image["id"], [
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "replace", "path": "/min_disk", "value": 2},
        {"op": "add", "path": "/tags", "value": ["x", "y"]},
        {"op": "add", "path": "/flavor", "value": "mint"},
        {"op": "replace", "path": "/color", "value": "blue"},
        {"op": "remove", "path": "/size_hint"},
        {"op": "replace", "path": "/protected", "value": True},
    ], headers=ALICE)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    jsonschema.validate(body, schemas.image_response)
    assert (body["name"], body["min_disk"], body["tags"], body["protected"]) == (
        "renamed", 2, ["x", "y"], True)
    assert body["flavor"] == "mint" and body["color"] == "blue" and "size_hint" not in body
    assert image_req(stack, "GET", f"/images/{image['id']}", headers=ALICE).json() == body

    resp = image_req(stack, "DELETE", f"/images/{image['id']}", headers=ALICE)
    assert resp.status_code == 403
    assert resp.json()["message"] == f"Image {image['id']} is protected and cannot be deleted."
    assert patch(stack, image["id"], [{"op": "replace", "path": "/protected", "value": False}],
                 headers=ALICE).status_code == 200
    assert image_req(stack, "DELETE", f"/images/{image['id']}", headers=ALICE).status_code == 204
    assert image_req(stack, "GET", f"/images/{image['id']}", headers=ALICE).status_code == 404


@pytest.mark.parametrize("ops, code, message", [
    ([{"op": "replace", "path": "/status", "value": "active"}], 403,
     "Attribute 'status' is read-only."),
    ([{"op": "remove", "path": "/name"}], 403, "Property name may not be removed."),
    ([{"op": "remove", "path": "/nothing"}], 409, "Property nothing does not exist."),
    ([{"op": "replace", "path": "/nothing", "value": "x"}], 409,
     "Property nothing does not exist."),
    ([{"op": "replace", "path": "/min_ram", "value": "lots"}], 400, "min_ram"),
    ([{"op": "move", "path": "/name", "from": "/x"}], 400, "move"),
    ([{"op": "replace", "path": "/name"}], 400, "value"),
    ([{"op": "replace", "path": "/visibility", "value": "public"}], 403, "publicize_image"),
])
def test_patch_refuses_with_glance_errors(stack, ops, code, message):
    image = create(stack, headers=ALICE)
    resp = patch(stack, image["id"], ops, headers=ALICE)
    assert resp.status_code == code, resp.text
    assert message in resp.json()["message"]


def test_patch_needs_the_json_patch_media_type(stack):
    image = create(stack)
    resp = patch(stack, image["id"], [{"op": "replace", "path": "/name", "value": "n"}],
                 content_type="application/json")
    assert resp.status_code == 415
    assert PATCH_TYPE in resp.json()["message"]


def test_schemas_are_served(stack):
    image = image_req(stack, "GET", "/schemas/image").json()
    assert image["name"] == "image" and image["properties"]["status"]["readOnly"] is True
    images = image_req(stack, "GET", "/schemas/images").json()
    assert images["name"] == "images" and "images" in images["properties"]


# -- the openstack CLI ---------------------------------------------------------

def _openstack() -> str:
    here = os.path.join(os.path.dirname(sys.executable), "openstack")
    path = here if os.access(here, os.X_OK) else shutil.which("openstack")
    assert path, "the openstack CLI is not installed (pip install -e '.[test]')"
    return path


def _clouds_yaml(stack, path, users: dict[str, tuple[str, str, str]]) -> None:
    """One cloud per user: password auth against the stack's Identity API,
    the other endpoints from the token's catalog, as a real deployment."""
    lines = ["clouds:"]
    for cloud, (username, password, project) in users.items():
        lines += [f"  {cloud}:", "    auth_type: password", "    auth:",
                  f"      auth_url: {stack.base_url}/identity/v3",
                  f"      username: {json.dumps(username)}",
                  f"      password: {json.dumps(password)}",
                  f"      project_name: {json.dumps(project)}",
                  "      user_domain_name: Default", "      project_domain_name: Default",
                  "    identity_api_version: 3", "    region_name: RegionOne",
                  "    interface: public"]
    path.write_text("\n".join(lines) + "\n")


def test_openstack_cli_creates_lists_shows_sets_saves_and_deletes_an_image(make_stack,
                                                                          tmp_path):
    stack = make_stack(auth="novalite")
    alice = stack.make_user("alice", "project-a")
    bob = stack.make_user("bob", "project-b")
    clouds = tmp_path / "clouds.yaml"
    _clouds_yaml(stack, clouds, {
        "admin": ("admin", ADMIN_PASSWORD, "admin"),
        "alice": ("alice", alice["password"], "project-a"),
        "bob": ("bob", bob["password"], "project-b")})
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    data = b"QFI\xfb" + os.urandom(200_000)
    path = tmp_path / "disk.qcow2"
    path.write_bytes(data)

    def openstack(cloud: str, *args: str, ok: bool = True):
        proc = subprocess.run([_openstack(), "--os-cloud", cloud, *args],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env=env, timeout=120, check=False)
        if not ok:
            assert proc.returncode != 0, proc.stdout
            return proc.stderr
        assert proc.returncode == 0, f"{args} failed:\n{proc.stderr[-4000:]}"
        return json.loads(proc.stdout) if "json" in args else proc.stdout

    created = openstack("alice", "image", "create", "--file", str(path), "--disk-format",
                        "qcow2", "--container-format", "bare", "cli-image", "-f", "json")
    assert created["name"] == "cli-image" and created["status"] == "active"
    assert created["size"] == len(data) and created["visibility"] == "shared"
    assert created["owner"] == alice["project_id"]
    assert created["checksum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()

    def names(cloud: str) -> list[tuple[str, str]]:
        return sorted((i["Name"], i["Status"])
                      for i in openstack(cloud, "image", "list", "-f", "json"))

    assert names("alice") == [("cli-image", "active"), ("test-image", "active")]
    assert names("admin") == [("cli-image", "active"), ("test-image", "active")]
    assert names("bob") == [("test-image", "active")]
    assert "No Image found" in openstack("bob", "image", "show", created["id"], ok=False)

    shown = openstack("alice", "image", "show", "cli-image", "-f", "json")
    assert shown["id"] == created["id"] and shown["disk_format"] == "qcow2"
    assert shown["properties"]["os_hash_value"] == hashlib.sha512(data).hexdigest()

    openstack("alice", "image", "set", "--property", "flavor=mint", "--tag", "t1", "--name",
              "cli-image-2", "--protected", "cli-image")
    openstack("alice", "image", "unset", "--property", "flavor", "cli-image-2")
    shown = openstack("alice", "image", "show", "cli-image-2", "-f", "json")
    assert shown["tags"] == ["t1"] and shown["protected"] is True
    assert "flavor" not in shown["properties"]
    saved = tmp_path / "saved"
    openstack("alice", "image", "save", "--file", str(saved), "cli-image-2")
    assert saved.read_bytes() == data
    openstack("alice", "image", "delete", "cli-image-2", ok=False)
    openstack("alice", "image", "set", "--unprotected", "cli-image-2")

    openstack("alice", "image", "delete", "cli-image-2")
    assert names("alice") == [("test-image", "active")]
    resp = image_req(stack, "GET", f"/images/{created['id']}")
    assert resp.status_code == 404


def test_upload_over_the_size_cap_is_413_and_kills_the_image(make_stack):
    # NOTE: the stack's own test image has 64 KiB.
    stack = make_stack(overrides={("image_api", "image_size_cap"): 100_000})
    image = create(stack)
    resp = image_req(stack, "PUT", f"/images/{image['id']}/file", raw=b"x" * 100_001,
                     headers=OCTET)
    assert resp.status_code == 413 and "100000 bytes" in resp.json()["message"]
    # NOTE: refused from its Content-Length: the image stays queued.
    assert image_req(stack, "GET", f"/images/{image['id']}").json()["status"] == "queued"

    def chunks() -> Iterator[bytes]:
        yield b"x" * 60_000
        yield b"x" * 60_000

    ctxt = nl_context.get_admin_context()
    with pytest.raises(exception.ImageSizeLimitExceeded):
        image_api.API().upload(ctxt, image["id"], chunks())
    assert image_req(stack, "GET", f"/images/{image['id']}").json()["status"] == "killed"
    assert not [n for n in os.listdir(image_api.images_dir()) if n.startswith(image["id"])]


def test_property_and_tag_quotas_are_413(make_stack):
    stack = make_stack(overrides={("image_api", "image_property_quota"): 2,
                                  ("image_api", "image_tag_quota"): 1})
    resp = image_req(stack, "POST", "/images", {"name": "x", "a": "1", "b": "2", "c": "3"})
    assert resp.status_code == 413
    assert resp.json()["message"].endswith("image properties. Attempted: 3, Maximum: 2")
    image = create(stack, a="1", tags=["t"])
    resp = patch(stack, image["id"], [{"op": "add", "path": "/tags", "value": ["t", "u"]}])
    assert resp.status_code == 413 and "image tags" in resp.json()["message"]
    resp = patch(stack, image["id"], [{"op": "add", "path": "/b", "value": "2"}])
    assert resp.status_code == 200, resp.text
    resp = patch(stack, image["id"], [{"op": "add", "path": "/c", "value": "3"}])
    assert resp.status_code == 413
    assert image_req(stack, "POST", "/images", {"name": "x", "k" * 256: "v"}).status_code == 400


def test_tags_are_added_and_removed_one_by_one(stack):
    image = create(stack, headers=ALICE, tags=["a"])
    tags = f"/images/{image['id']}/tags"
    assert image_req(stack, "PUT", f"{tags}/b", headers=ALICE).status_code == 204
    assert image_req(stack, "PUT", f"{tags}/b", headers=ALICE).status_code == 204
    assert image_req(stack, "GET", f"/images/{image['id']}", headers=ALICE).json()["tags"] == [
        "a", "b"]
    assert image_req(stack, "DELETE", f"{tags}/a", headers=ALICE).status_code == 204
    resp = image_req(stack, "DELETE", f"{tags}/a", headers=ALICE)
    assert resp.status_code == 404 and resp.json()["message"] == "Tag a not found"
    assert image_req(stack, "GET", f"/images/{image['id']}", headers=ALICE).json()["tags"] == [
        "b"]
    assert image_req(stack, "PUT", f"{tags}/{'x' * 256}", headers=ALICE).status_code == 400
    assert image_req(stack, "PUT", f"{tags}/c", headers=BOB).status_code == 404
    resp = image_req(stack, "PUT", f"/images/{stack.image_id}/tags/c", headers=BOB)
    assert resp.status_code == 403


def test_deactivated_images_are_not_downloaded_nor_booted_by_users(stack):
    image_id = stack.image_id
    actions = f"/images/{image_id}/actions"
    resp = image_req(stack, "POST", f"{actions}/deactivate", headers=ALICE)
    assert resp.status_code == 403 and "deactivate" in resp.json()["message"]
    assert image_req(stack, "POST", f"{actions}/deactivate").status_code == 204
    assert image_req(stack, "POST", f"{actions}/deactivate").status_code == 204
    assert image_req(stack, "GET", f"/images/{image_id}").json()["status"] == "deactivated"
    resp = image_req(stack, "GET", f"/images/{image_id}/file", headers=ALICE)
    assert resp.status_code == 403 and "deactivated" in resp.json()["message"]
    assert image_req(stack, "GET", f"/images/{image_id}/file").status_code == 200
    resp = stack.compute("POST", "/servers", {"server": {
        "name": "vm", "flavorRef": "1", "imageRef": image_id}}, headers=ALICE)
    assert resp.status_code == 400 and "not active" in resp.text

    assert image_req(stack, "POST", f"{actions}/reactivate").status_code == 204
    assert image_req(stack, "GET", f"/images/{image_id}/file", headers=ALICE).status_code == 200
    queued = create(stack)
    resp = image_req(stack, "POST", f"/images/{queued['id']}/actions/deactivate")
    assert resp.status_code == 403
    assert resp.json()["message"] == "Not allowed to deactivate image in status 'queued'"


def test_virtual_size_of_raw_and_qcow2_images(stack, tmp_path):
    raw = create(stack, disk_format="raw")
    image_req(stack, "PUT", f"/images/{raw['id']}/file", raw=b"\0" * 4096, headers=OCTET)
    assert image_req(stack, "GET", f"/images/{raw['id']}").json()["virtual_size"] == 4096
    disk = tmp_path / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(disk), "3G"], check=True,
                   capture_output=True)
    qcow2 = create(stack, disk_format="qcow2")
    image_req(stack, "PUT", f"/images/{qcow2['id']}/file", raw=disk.read_bytes(),
              headers=OCTET)
    shown = image_req(stack, "GET", f"/images/{qcow2['id']}").json()
    assert shown["virtual_size"] == 3 * 1024 ** 3 and shown["size"] == disk.stat().st_size
    assert "virtual_size" not in shown.get("properties", {})
