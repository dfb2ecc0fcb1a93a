"""Availability zones, os-services, os-hypervisors and the images proxy
through the whole stack, exact at Nova 2.1 (fields, codes, messages)."""

from __future__ import annotations

import os
import urllib.parse

import pytest

from novalite import context as nl_context
from novalite.image import api as image_api
from tests.functional.stack import Stack

ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin"}
MEMBER = {"X-User-Id": "u1", "X-Project-Id": "p1", "X-Roles": "member,reader"}
SERVICE_KEYS = {"id", "binary", "host", "zone", "status", "state", "updated_at",
                "disabled_reason"}
HYPERVISOR_KEYS = {"id", "hypervisor_hostname", "state", "status"}
HYPERVISOR_DETAIL_KEYS = HYPERVISOR_KEYS | {
    "vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used",
    "free_ram_mb", "free_disk_gb", "running_vms", "current_workload", "disk_available_least",
    "hypervisor_type", "hypervisor_version", "host_ip", "cpu_info", "service"}
IMAGE_DETAIL_KEYS = {"id", "name", "status", "progress", "minRam", "minDisk", "metadata",
                     "created", "updated", "OS-EXT-IMG-SIZE:size", "links"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(str(tmp_path_factory.mktemp("misc")),
              computes=[("host1", "fake.FakeDriver"), ("host2", "fake.FakeDriver")]).start()
    try:
        yield s
    finally:
        s.stop()


def _ok(resp) -> dict:
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_services_list_and_enable_disable(stack):
    services = _ok(stack.compute("GET", "/os-services", headers=ADMIN))["services"]
    assert {s["binary"] for s in services} >= {"nova-compute", "nova-conductor",
                                                 "nova-scheduler"}
    for s in services:
        assert set(s) == SERVICE_KEYS and isinstance(s["id"], int)
        assert s["zone"] == ("nova" if s["binary"] == "nova-compute" else "internal")
        assert s["state"] == "up" and s["status"] == "enabled"
    computes = _ok(stack.compute("GET", "/os-services?binary=nova-compute&host=host2",
                                 headers=ADMIN))["services"]
    assert [(s["host"], s["binary"]) for s in computes] == [("host2", "nova-compute")]
    # Nova's names are what the API shows; the internal ones still filter
    internal = _ok(stack.compute("GET", "/os-services?binary=novalite-compute&host=host2",
                                 headers=ADMIN))["services"]
    assert [(s["host"], s["binary"]) for s in internal] == [("host2", "nova-compute")]
    assert [s["binary"] for s in _ok(stack.compute(
        "GET", "/os-services?binary=nova-scheduler", headers=ADMIN))["services"]] \
        == ["nova-scheduler"]
    assert stack.compute("GET", "/os-services", headers=MEMBER).status_code == 403

    body = {"host": "host2", "binary": "nova-compute", "disabled_reason": "maintenance"}
    resp = stack.compute("PUT", "/os-services/disable-log-reason", body, headers=ADMIN)
    assert _ok(resp) == {"service": {"host": "host2", "binary": "nova-compute",
                                     "status": "disabled", "disabled_reason": "maintenance"}}
    shown = _ok(stack.compute("GET", "/os-services?host=host2", headers=ADMIN))["services"][0]
    assert shown["status"] == "disabled" and shown["disabled_reason"] == "maintenance"
    resp = stack.compute("PUT", "/os-services/enable",
                         {"host": "host2", "binary": "nova-compute"}, headers=ADMIN)
    assert _ok(resp) == {"service": {"host": "host2", "binary": "nova-compute",
                                     "status": "enabled"}}
    shown = _ok(stack.compute("GET", "/os-services?host=host2", headers=ADMIN))["services"][0]
    assert shown["status"] == "enabled" and shown["disabled_reason"] is None

    for path, payload, code, message in (
            ("/os-services/disable", {"host": "nowhere", "binary": "nova-compute"}, 404,
             "Could not find binary nova-compute on host nowhere."),
            ("/os-services/disable", {"host": "host1", "binary": "nova-conductor"}, 400,
             "Updating a nova-conductor service is not supported. Only nova-compute "
             "services can be updated."),
            ("/os-services/disable-log-reason", {"host": "host1",
                                                 "binary": "nova-compute"}, 400,
             "'disabled_reason' is a required property"),
            ("/os-services/enable", {"host": "host1"}, 400,
             "'binary' is a required property")):
        resp = stack.compute("PUT", path, payload, headers=ADMIN)
        assert resp.status_code == code, resp.text
        assert message in next(iter(resp.json().values()))["message"]
    assert stack.compute("PUT", "/os-services/disable",
                         {"host": "host1", "binary": "nova-compute"},
                         headers=MEMBER).status_code == 403
    resp = stack.compute("DELETE", "/os-services/99999", headers=ADMIN)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == "Service 99999 not found."
    # an id beyond the database's integers was a 500 (schemathesis)
    assert stack.compute("DELETE", "/os-services/999999999999999999999999999999",
                         headers=ADMIN).status_code == 404
    assert stack.compute("DELETE", "/os-services/abc", headers=ADMIN).status_code == 404


def test_availability_zones(stack):
    zones = _ok(stack.compute("GET", "/os-availability-zone", headers=MEMBER))
    assert zones == {"availabilityZoneInfo": [
        {"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]}
    assert stack.compute("GET", "/os-availability-zone/detail",
                         headers=MEMBER).status_code == 403
    detail = _ok(stack.compute("GET", "/os-availability-zone/detail", headers=ADMIN))
    by_zone = {z["zoneName"]: z for z in detail["availabilityZoneInfo"]}
    assert set(by_zone) == {"nova", "internal"}
    assert set(by_zone["nova"]["hosts"]) == {"host1", "host2"}
    compute = by_zone["nova"]["hosts"]["host1"]["nova-compute"]
    assert compute["available"] is True and compute["active"] is True
    assert compute["updated_at"]
    assert "nova-conductor" in next(iter(by_zone["internal"]["hosts"].values()))

    # a zone whose every compute service is disabled is shown as not available
    for host in ("host1", "host2"):
        stack.compute("PUT", "/os-services/disable",
                      {"host": host, "binary": "nova-compute"}, headers=ADMIN)
    try:
        zones = _ok(stack.compute("GET", "/os-availability-zone", headers=MEMBER))
        assert zones == {"availabilityZoneInfo": [
            {"zoneName": "nova", "zoneState": {"available": False}, "hosts": None}]}
    finally:
        for host in ("host1", "host2"):
            stack.compute("PUT", "/os-services/enable",
                          {"host": host, "binary": "nova-compute"}, headers=ADMIN)


def test_hypervisors(stack):
    listed = _ok(stack.compute("GET", "/os-hypervisors", headers=ADMIN))["hypervisors"]
    assert len(listed) == 2
    for h in listed:
        assert set(h) == HYPERVISOR_KEYS and isinstance(h["id"], int)
        assert h["state"] == "up" and h["status"] == "enabled"
    detail = _ok(stack.compute("GET", "/os-hypervisors/detail", headers=ADMIN))["hypervisors"]
    for h in detail:
        assert set(h) == HYPERVISOR_DETAIL_KEYS
        assert set(h["service"]) == {"id", "host", "disabled_reason"}
        assert h["free_ram_mb"] == h["memory_mb"] - h["memory_mb_used"]
    first = detail[0]
    assert _ok(stack.compute("GET", f"/os-hypervisors/{first['id']}",
                             headers=ADMIN)) == {"hypervisor": first}
    for bad in ("abc", "99999"):
        resp = stack.compute("GET", f"/os-hypervisors/{bad}", headers=ADMIN)
        assert resp.status_code == 404
        assert resp.json()["itemNotFound"]["message"] == (
            f"Hypervisor with ID '{bad}' could not be found.")

    stats = _ok(stack.compute("GET", "/os-hypervisors/statistics",
                              headers=ADMIN))["hypervisor_statistics"]
    assert set(stats) == {"count", "vcpus", "memory_mb", "local_gb", "vcpus_used",
                          "memory_mb_used", "local_gb_used", "free_ram_mb", "free_disk_gb",
                          "current_workload", "running_vms", "disk_available_least"}
    assert stats["count"] == 2
    assert stats["vcpus"] == sum(h["vcpus"] for h in detail)
    assert stats["memory_mb"] == sum(h["memory_mb"] for h in detail)

    name = first["hypervisor_hostname"]
    found = _ok(stack.compute("GET", f"/os-hypervisors/{name}/search", headers=ADMIN))
    assert [h["hypervisor_hostname"] for h in found["hypervisors"]] == [name]
    resp = stack.compute("GET", "/os-hypervisors/nomatch/search", headers=ADMIN)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == (
        "No hypervisor matching 'nomatch' could be found.")

    server = stack.boot("on-a-host")
    active = stack.wait_status(server["id"], "ACTIVE")
    host = active["OS-EXT-SRV-ATTR:host"]
    node = next(h for h in detail if h["service"]["host"] == host)
    with_servers = _ok(stack.compute("GET", f"/os-hypervisors/{node['hypervisor_hostname']}"
                                            "/servers", headers=ADMIN))["hypervisors"]
    assert with_servers[0]["servers"] == [{"name": "on-a-host", "uuid": server["id"]}]
    assert stack.compute("DELETE", f"/servers/{server['id']}").status_code == 204
    stack.wait_gone(server["id"])

    # NOTE: the host's uptime line (test_tempest_compute.py checks it further)
    resp = stack.compute("GET", f"/os-hypervisors/{first['id']}/uptime", headers=ADMIN)
    assert resp.status_code == 200 and "load average" in resp.json()["hypervisor"]["uptime"]
    assert stack.compute("GET", "/os-hypervisors/99999/uptime",
                         headers=ADMIN).status_code == 404
    # novalite has no host aggregates; clients listing them get none
    assert _ok(stack.compute("GET", "/os-aggregates", headers=ADMIN)) == {"aggregates": []}
    assert stack.compute("GET", "/os-aggregates/1", headers=ADMIN).status_code == 404
    assert stack.compute("GET", "/os-aggregates", headers=MEMBER).status_code == 403

    for path in ("/os-hypervisors", "/os-hypervisors/detail", "/os-hypervisors/statistics",
                 f"/os-hypervisors/{first['id']}", f"/os-hypervisors/{name}/search"):
        assert stack.compute("GET", path, headers=MEMBER).status_code == 403, path


def _register(stack, name: str, **kw) -> str:
    path = os.path.join(stack.state_dir, f"{name}.raw")
    with open(path, "wb") as f:
        f.write(b"\0" * 4096)
    ctx = nl_context.RequestContext(user_id="u1", project_id="p1", roles=["member"])
    return image_api.API().register(ctx, name, path, **kw)["id"]


def test_images_proxy(stack):
    extra = [_register(stack, f"img-{i}", min_ram=128 * i, properties={"os_distro": "x"})
             for i in range(3)]
    listed = _ok(stack.compute("GET", "/images", headers=MEMBER))["images"]
    assert {i["id"] for i in listed} == {stack.image_id, *extra}
    for image in listed:
        assert set(image) == {"id", "name", "links"}
        assert [link["rel"] for link in image["links"]] == ["self", "bookmark", "alternate"]
        assert image["links"][2]["type"] == "application/vnd.openstack.image"
    detail = _ok(stack.compute("GET", f"/images/{extra[1]}", headers=MEMBER))["image"]
    assert set(detail) == IMAGE_DETAIL_KEYS
    assert detail["status"] == "ACTIVE" and detail["progress"] == 100
    assert detail["minRam"] == 128 and detail["minDisk"] == 0
    assert detail["metadata"] == {"os_distro": "x"}
    assert detail["OS-EXT-IMG-SIZE:size"] == 4096
    assert detail["created"].endswith("Z") and detail["updated"].endswith("Z")

    named = _ok(stack.compute("GET", "/images/detail?name=img-2", headers=MEMBER))["images"]
    assert [i["id"] for i in named] == [extra[2]]
    assert _ok(stack.compute("GET", "/images?status=SAVING", headers=MEMBER))["images"] == []
    big = _ok(stack.compute("GET", "/images?minRam=200", headers=MEMBER))["images"]
    assert [i["id"] for i in big] == [extra[2]]

    seen: list[str] = []
    url = "/compute/v2.1/images?limit=3"
    while url:
        body = _ok(stack.request("GET", url, headers=MEMBER))
        seen += [i["id"] for i in body["images"]]
        links = body.get("images_links")
        url = ""
        if links:
            parsed = urllib.parse.urlsplit(links[0]["href"])
            url = f"{parsed.path}?{parsed.query}"
    assert sorted(seen) == sorted(i["id"] for i in listed) and len(seen) == len(set(seen))

    for query, message in (("marker=nope", "marker [nope] not found"),
                           ("limit=-1", "limit"), ("minRam=lots", "minRam")):
        resp = stack.compute("GET", f"/images?{query}", headers=MEMBER)
        assert resp.status_code == 400, query
        assert message in resp.json()["badRequest"]["message"]
    resp = stack.compute("GET", "/images/does-not-exist", headers=MEMBER)
    assert resp.status_code == 404
    assert resp.json() == {"itemNotFound": {"code": 404, "message": "Image not found."}}

    other = {"X-User-Id": "u2", "X-Project-Id": "p2", "X-Roles": "member,reader"}
    assert stack.compute("DELETE", f"/images/{extra[0]}", headers=other).status_code == 403
    resp = stack.compute("DELETE", f"/images/{extra[0]}", headers=MEMBER)
    assert resp.status_code == 204
    assert stack.compute("GET", f"/images/{extra[0]}", headers=MEMBER).status_code == 404


def test_image_metadata_proxy(stack):
    image = _register(stack, "meta-img", properties={"os_distro": "debian"})
    base = f"/images/{image}/metadata"
    assert _ok(stack.compute("GET", base, headers=MEMBER)) == {
        "metadata": {"os_distro": "debian"}}
    resp = stack.compute("POST", base, {"metadata": {"hw_rng": "yes"}}, headers=MEMBER)
    assert _ok(resp) == {"metadata": {"os_distro": "debian", "hw_rng": "yes"}}
    assert _ok(stack.compute("GET", f"{base}/hw_rng", headers=MEMBER)) == {
        "meta": {"hw_rng": "yes"}}
    resp = stack.compute("PUT", f"{base}/hw_rng", {"meta": {"hw_rng": "no"}}, headers=MEMBER)
    assert _ok(resp) == {"meta": {"hw_rng": "no"}}
    resp = stack.compute("PUT", f"{base}/hw_rng", {"meta": {"other": "no"}}, headers=MEMBER)
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == "Request body and URI mismatch"
    # the Compute API's metadata is the image's own properties
    shown = _ok(stack.compute("GET", f"/images/{image}", headers=MEMBER))["image"]
    assert shown["metadata"] == {"os_distro": "debian", "hw_rng": "no"}

    resp = stack.compute("PUT", base, {"metadata": {"only": "this"}}, headers=MEMBER)
    assert _ok(resp) == {"metadata": {"only": "this"}}
    assert stack.compute("DELETE", f"{base}/only", headers=MEMBER).status_code == 204
    assert _ok(stack.compute("GET", base, headers=MEMBER)) == {"metadata": {}}
    resp = stack.compute("DELETE", f"{base}/only", headers=MEMBER)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == "Invalid metadata key"
    assert stack.compute("GET", f"{base}/only", headers=MEMBER).status_code == 404

    for bad in ({"metadata": {"bad/key": "v"}}, {"metadata": {"k": 1}},
                {"metadata": {"k": "v" * 256}}, {"meta": {"k": "v"}}):
        assert stack.compute("POST", base, bad, headers=MEMBER).status_code == 400, bad
    too_many = {"metadata": {f"k{i}": "v" for i in range(129)}}
    resp = stack.compute("POST", base, too_many, headers=MEMBER)
    assert resp.status_code == 403
    assert resp.json()["forbidden"]["message"] == "Image metadata limit exceeded"
    other = {"X-User-Id": "u2", "X-Project-Id": "p2", "X-Roles": "member,reader"}
    assert stack.compute("POST", base, {"metadata": {"a": "b"}},
                         headers=other).status_code == 403
    resp = stack.compute("GET", "/images/nope/metadata", headers=MEMBER)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == "Image not found."
