"""Issue 10 items 3 and 4 on the libvirt path (real libvirtd, no guest ever
runs): what users see of a build the host refused, and a 0 GB root disk
bounded by the image's virtual size.

The stack's instances and image cache live under a 0700 directory, so QEMU
(libvirt-qemu) cannot open a disk there: a domain start fails at once with
libvirt's message naming the disk's host path. The stack's domains carry a
prefix of their own and are removed at the end, also on failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from novalite.conf import CONF
from tests.functional.stack import Stack
from tests.integration import realstack, services

MEMBER = {"X-User-Id": "alice", "X-Project-Id": "proj-a", "X-Roles": "member,reader"}
ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin,member,reader"}
OCTET = {"Content-Type": "application/octet-stream"}
GiB = 1024 ** 3


@pytest.fixture(scope="module")
def lv(tmp_path_factory) -> Iterator[tuple[Stack, Path]]:
    realstack.libvirt_connection().close()
    base = tmp_path_factory.mktemp("refused-images")
    private = base / "host"
    private.mkdir(mode=0o700)
    os.chmod(private, 0o700)
    prefix = f"nlri{uuid.uuid4().hex[:6]}-"
    stack = Stack(str(base), computes=[("lvhost", realstack.DRIVER)], overrides={
        ("libvirt", "instances_path"): str(private / "instances"),
        ("libvirt", "image_cache_path"): str(private / "_base"),
        ("libvirt", "instance_name_template"): prefix + "%08x",
    })
    try:
        stack.start()
        CONF.set_override("api_url", f"{stack.base_url}/image", group="image")
        yield stack, private
    finally:
        try:
            servers = stack.compute("GET", "/servers?all_tenants=1", headers=ADMIN)
            for s in servers.json().get("servers", []):
                stack.compute("DELETE", f"/servers/{s['id']}", headers=ADMIN)
                stack.wait_gone(s["id"])
        finally:
            CONF.clear_override("api_url", group="image")
            stack.stop()
            conn = realstack.libvirt_connection()
            try:
                services.purge_domains(conn, prefix)
            finally:
                conn.close()
            shutil.rmtree(base, ignore_errors=True)


def _upload(stack: Stack, headers: dict, name: str, disk_format: str, data: bytes) -> str:
    resp = stack.request("POST", "/image/v2/images", {
        "name": name, "disk_format": disk_format, "container_format": "bare"},
        headers=headers)
    assert resp.status_code == 201, resp.text
    image_id = str(resp.json()["id"])
    resp = stack.request("PUT", f"/image/v2/images/{image_id}/file", raw=data,
                         headers={**OCTET, **headers})
    assert resp.status_code == 204, resp.text
    return image_id


def _boot_to_error(stack: Stack, headers: dict, image: str, flavor: str = "1") -> str:
    body = {"server": {"name": "refused", "flavorRef": flavor, "imageRef": image}}
    resp = stack.compute("POST", "/servers", body, headers=headers)
    assert resp.status_code == 202, resp.text
    server_id = str(resp.json()["server"]["id"])
    stack.wait_status(server_id, "ERROR", timeout=60)
    return server_id


def _fault(stack: Stack, server_id: str, headers: dict) -> dict:
    resp = stack.compute("GET", f"/servers/{server_id}", headers=headers)
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["server"]["fault"])


def test_refused_image_fault_shows_users_no_command_or_host_path(lv):
    stack, private = lv
    # 64 KiB of zeros declared qcow2: qemu-img refuses to read it as qcow2
    image = _upload(stack, MEMBER, "not-qcow2", "qcow2", b"\0" * 65536)
    server = _boot_to_error(stack, MEMBER, image)

    admin = _fault(stack, server, ADMIN)
    assert admin["code"] == 400
    assert "qemu-img info" in admin["details"], admin["details"]
    assert str(private / "_base") in admin["details"]
    user = _fault(stack, server, MEMBER)
    # NOTE: the fault names the build's step that failed (the timeline's).
    assert user == {"code": 400, "created": admin["created"], "message": (
        "Build failed while fetching the image (step image_fetch): "
        f"Image {image} is unacceptable: qemu-img cannot read it as qcow2 "
        "(Image is not in qcow2 format)")}
    assert admin["message"] == user["message"]


def test_spawn_failure_message_shows_users_no_host_path(lv):
    stack, private = lv
    server = _boot_to_error(stack, MEMBER, stack.image_id)
    admin = _fault(stack, server, ADMIN)
    # libvirt's own message names the disk QEMU could not open
    assert str(private / "instances") in admin["message"], admin
    user = _fault(stack, server, MEMBER)
    assert set(user) == {"code", "created", "message"}
    assert str(private) not in json.dumps(user) and "<path>" in user["message"], user
    assert user["message"].split("<path>")[0] == admin["message"].split(str(private))[0]


def test_zero_disk_root_larger_than_the_host_disk_is_refused_before_any_download(lv, tmp_path):
    stack, private = lv
    resp = stack.compute("POST", "/flavors", {"flavor": {
        "name": "zero.disk", "ram": 128, "vcpus": 1, "disk": 0}}, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    flavor = resp.json()["flavor"]["id"]
    fs = os.statvfs(private)
    host_gb = fs.f_frsize * fs.f_blocks // GiB
    qcow2 = tmp_path / "huge.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(qcow2), f"{4 * host_gb}G"],
                   check=True, capture_output=True)
    image = _upload(stack, ADMIN, "huge", "qcow2", qcow2.read_bytes())
    cached = set(os.listdir(private / "_base"))

    server = _boot_to_error(stack, ADMIN, image, flavor=flavor)
    message = _fault(stack, server, ADMIN)["message"]
    assert f"{4 * host_gb} GiB disk" in message and "DiskFilter removed 1 of 1" in message, \
        message
    assert set(os.listdir(private / "_base")) == cached
