"""Issue 10 item 3, through the API: ``POST /servers`` applies flavor access
as ``GET /flavors/{id}`` does, follows Nova's ``create:zero_disk_flavor``
rule, and a 0 GB root disk is placed and claimed at the image's virtual
size, so a small qcow2 with a huge virtual size cannot fill a host."""

from __future__ import annotations

import subprocess
from pathlib import Path

from novalite import policy
from novalite.conf import CONF

MEMBER_A = {"X-User-Id": "alice", "X-Project-Id": "proj-a", "X-Roles": "member,reader"}
MEMBER_B = {"X-User-Id": "bob", "X-Project-Id": "proj-b", "X-Roles": "member,reader"}
ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin,member,reader"}
OCTET = {"Content-Type": "application/octet-stream"}
GiB = 1024 ** 3
ZERO_DISK_REFUSAL = "Only volume-backed servers are allowed for flavors with zero disk."


def _flavor(stack, name: str, disk: int, public: bool = True) -> str:
    body = {"flavor": {"name": name, "ram": 64, "vcpus": 1, "disk": disk,
                       "os-flavor-access:is_public": public}}
    resp = stack.compute("POST", "/flavors", body, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["flavor"]["id"])


def _create(stack, headers: dict, flavor: str, image: str | None = None,
            name: str = "vm") -> dict:
    body = {"server": {"name": name, "flavorRef": flavor, "imageRef": image or stack.image_id}}
    return stack.compute("POST", "/servers", body, headers=headers)


def _all_servers(stack) -> list[dict]:
    resp = stack.compute("GET", "/servers/detail?all_tenants=1", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["servers"])


def _qcow2_image(stack, tmp_path: Path, name: str, virtual_size: str, headers: dict) -> dict:
    """A real qcow2 (made by qemu-img, a few hundred KiB) of ``virtual_size``,
    uploaded through the Image API by ``headers``' project."""
    path = tmp_path / f"{name}.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(path), virtual_size],
                   check=True, capture_output=True)
    resp = stack.request("POST", "/image/v2/images", {
        "name": name, "disk_format": "qcow2", "container_format": "bare"}, headers=headers)
    assert resp.status_code == 201, resp.text
    image = resp.json()
    resp = stack.request("PUT", f"/image/v2/images/{image['id']}/file",
                         raw=path.read_bytes(), headers={**OCTET, **headers})
    assert resp.status_code == 204, resp.text
    shown = stack.request("GET", f"/image/v2/images/{image['id']}", headers=headers).json()
    assert shown["status"] == "active" and shown["size"] < 1024 * 1024
    return dict(shown)


def _disk_used_gb(stack) -> int:
    resp = stack.compute("GET", "/os-hypervisors/detail", headers=ADMIN)
    assert resp.status_code == 200, resp.text
    (hypervisor,) = resp.json()["hypervisors"]
    return int(hypervisor["local_gb_used"])


def test_member_cannot_boot_another_projects_private_flavor(stack):
    private = _flavor(stack, "a.private", disk=1, public=False)
    resp = stack.compute("POST", f"/flavors/{private}/action",
                         {"addTenantAccess": {"tenant": "proj-a"}}, headers=ADMIN)
    assert resp.status_code == 200, resp.text

    # bob's project is not on the access list: as for a flavor that does
    # not exist (400 on create, 404 on show), and nothing is recorded
    refused = _create(stack, MEMBER_B, private)
    missing = _create(stack, MEMBER_B, "no-such-flavor")
    assert refused.status_code == missing.status_code == 400, refused.text
    assert refused.json() == {"badRequest": {
        "code": 400, "message": f"Flavor {private} could not be found."}}
    assert missing.json()["badRequest"]["message"] == "Flavor no-such-flavor could not be found."
    assert stack.compute("GET", f"/flavors/{private}", headers=MEMBER_B).status_code == 404
    assert _all_servers(stack) == []

    # alice's project is on it, and admins may use any flavor
    for headers, name in ((MEMBER_A, "alice-vm"), (ADMIN, "admin-vm")):
        resp = _create(stack, headers, private, name=name)
        assert resp.status_code == 202, resp.text
        stack.wait_status(resp.json()["server"]["id"], "ACTIVE")
    servers = _all_servers(stack)
    assert sorted((s["name"], s["tenant_id"], s["flavor"]["id"]) for s in servers) == [
        ("admin-vm", "admin", private), ("alice-vm", "proj-a", private)]


def test_member_cannot_boot_a_zero_disk_flavor(stack, tmp_path):
    zero = _flavor(stack, "zero.disk", disk=0)
    resp = _create(stack, MEMBER_A, zero)
    assert resp.status_code == 403, resp.text
    assert resp.json() == {"forbidden": {"code": 403, "message": ZERO_DISK_REFUSAL}}
    assert _all_servers(stack) == []

    # the operator's policy file decides, under Nova's rule name
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"os_compute_api:servers:create:zero_disk_flavor": '
                           '"rule:project_member_api"\n')
    CONF.set_override("policy_file", str(policy_file), group="oslo_policy")
    policy.reset()
    try:
        resp = _create(stack, MEMBER_A, zero, name="allowed")
        assert resp.status_code == 202, resp.text
    finally:
        CONF.clear_override("policy_file", group="oslo_policy")
        policy.reset()
    stack.wait_status(resp.json()["server"]["id"], "ACTIVE")
    assert _create(stack, MEMBER_A, zero).status_code == 403


def test_zero_disk_root_is_placed_and_claimed_at_the_image_virtual_size(make_stack, tmp_path):
    stack = make_stack(overrides={("fake_driver", "local_gb"): 50})
    zero = _flavor(stack, "zero.disk", disk=0)
    assert _disk_used_gb(stack) == 0

    # an admin's 0 GB root takes the image's 20 GiB: the host claims 20
    small = _qcow2_image(stack, tmp_path, "small", "20G", ADMIN)
    assert small["virtual_size"] == 20 * GiB
    resp = _create(stack, ADMIN, zero, image=small["id"], name="fits")
    assert resp.status_code == 202, resp.text
    fits = resp.json()["server"]["id"]
    stack.wait_status(fits, "ACTIVE")
    assert _disk_used_gb(stack) == 20

    # a few hundred KiB of qcow2 that claims 10 TiB finds no host, and the
    # fault says why; the host's disk is untouched
    huge = _qcow2_image(stack, tmp_path, "huge", "10T", ADMIN)
    assert huge["virtual_size"] == 10 * 1024 * GiB
    resp = _create(stack, ADMIN, zero, image=huge["id"], name="huge")
    assert resp.status_code == 202, resp.text
    failed = stack.wait_status(resp.json()["server"]["id"], "ERROR")
    message = failed["fault"]["message"]
    assert "No valid host was found." in message, message
    assert "10240 GiB disk" in message and "DiskFilter removed 1 of 1" in message, message
    assert _disk_used_gb(stack) == 20

    # a compute restart claims the running server at its image's size again
    stack.stop_compute("host1")
    stack.start_compute("host1")
    assert _disk_used_gb(stack) == 20
    assert stack.server(fits)["status"] == "ACTIVE"


def test_zero_disk_boot_of_an_image_without_a_virtual_size_is_refused(stack):
    zero = _flavor(stack, "zero.disk", disk=0)
    resp = stack.request("POST", "/image/v2/images", {
        "name": "opaque", "disk_format": "vdi", "container_format": "bare",
        "visibility": "public"}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    image = resp.json()["id"]
    resp = stack.request("PUT", f"/image/v2/images/{image}/file", raw=b"\1" * 4096,
                         headers={**OCTET, **ADMIN})
    assert resp.status_code == 204, resp.text
    resp = _create(stack, ADMIN, zero, image=image)
    assert resp.status_code == 400, resp.text
    assert resp.json()["badRequest"]["message"] == (
        f"Flavor zero.disk has a zero disk, so the root disk takes the virtual size of image "
        f"{image}, which is not known (disk_format vdi). Use a flavor with a root disk size.")
    assert _all_servers(stack) == []
