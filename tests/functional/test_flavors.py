"""/flavors and their extra specs through the whole stack, exact at Nova 2.1:
fields, filters, sorting, paging, flavor management and its errors."""

from __future__ import annotations

import urllib.parse

import jsonschema
import pytest

from novalite.api.schemas import flavors as schemas
from novalite.db import api as db_api
from tests.functional.stack import Stack

ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin"}
MEMBER = {"X-User-Id": "u1", "X-Project-Id": "p1", "X-Roles": "member,reader"}
DEFAULT_IDS = ["1", "2", "3", "4", "5"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(str(tmp_path_factory.mktemp("flavors"))).start()
    try:
        yield s
    finally:
        s.stop()


def _ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [f["id"] for f in resp.json()["flavors"]]


def _create(stack, headers=ADMIN, **flavor) -> dict:
    resp = stack.compute("POST", "/flavors", {"flavor": flavor}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["flavor"]


def test_list_and_detail_are_novas_2_1_views(stack):
    resp = stack.compute("GET", "/flavors", headers=MEMBER)
    jsonschema.validate(resp.json(), schemas.index_response)
    assert _ids(resp) == DEFAULT_IDS
    tiny = resp.json()["flavors"][0]
    assert tiny == {"id": "1", "name": "m1.tiny", "links": [
        {"rel": "self", "href": f"{stack.base_url}/compute/v2.1/flavors/1"},
        {"rel": "bookmark", "href": f"{stack.base_url}/compute/flavors/1"}]}
    detail = stack.compute("GET", "/flavors/detail", headers=MEMBER).json()
    jsonschema.validate(detail, schemas.detail_response)
    assert detail["flavors"][0] == {
        "id": "1", "name": "m1.tiny", "ram": 512, "disk": 1, "vcpus": 1, "swap": "",
        "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": False,
        "os-flavor-access:is_public": True, "rxtx_factor": 1.0, "links": tiny["links"]}
    shown = stack.compute("GET", "/flavors/2", headers=MEMBER).json()
    jsonschema.validate(shown, schemas.show_response)
    assert shown["flavor"]["name"] == "m1.small" and shown["flavor"]["ram"] == 2048
    resp = stack.compute("GET", "/flavors/nope", headers=MEMBER)
    assert resp.status_code == 404
    assert resp.json() == {"itemNotFound": {"code": 404,
                                            "message": "Flavor nope could not be found."}}


def test_filters_and_their_errors(stack):
    assert _ids(stack.compute("GET", "/flavors?minRam=4096", headers=MEMBER)) == ["3", "4", "5"]
    assert _ids(stack.compute("GET", "/flavors/detail?minDisk=80&minRam=1",
                              headers=MEMBER)) == ["4", "5"]
    # unknown parameters are ignored, as the CLI sends some
    assert _ids(stack.compute("GET", "/flavors?deleted=False&foo=1",
                              headers=MEMBER)) == DEFAULT_IDS
    for query, message in (("minRam=big", "Invalid minRam filter [big]"),
                           ("minDisk=1.5", "Invalid minDisk filter [1.5]"),
                           ("limit=-1", "limit"), ("limit=x", "limit"),
                           ("sort_key=ram", "sort_key"), ("sort_dir=up", "sort_dir"),
                           ("marker=nope", "marker [nope] not found")):
        resp = stack.compute("GET", f"/flavors?{query}", headers=MEMBER)
        assert resp.status_code == 400, (query, resp.text)
        assert message in resp.json()["badRequest"]["message"]


def test_sorting_and_paging_with_next_links(stack):
    assert _ids(stack.compute("GET", "/flavors?sort_key=memory_mb&sort_dir=desc",
                              headers=MEMBER)) == ["5", "4", "3", "2", "1"]
    assert _ids(stack.compute("GET", "/flavors?sort_key=name",
                              headers=MEMBER)) == ["4", "3", "2", "1", "5"]
    seen: list[str] = []
    url = "/compute/v2.1/flavors/detail?limit=2&sort_key=vcpus"
    pages = 0
    while url:
        body = stack.request("GET", url, headers=MEMBER).json()
        jsonschema.validate(body, schemas.detail_response)
        seen += [f["id"] for f in body["flavors"]]
        pages += 1
        links = body.get("flavors_links")
        if not links:
            break
        assert links[0]["rel"] == "next"
        parsed = urllib.parse.urlsplit(links[0]["href"])
        assert parsed.path == "/compute/v2.1/flavors/detail"
        query = urllib.parse.parse_qs(parsed.query)
        assert query["limit"] == ["2"] and query["sort_key"] == ["vcpus"]
        url = f"{parsed.path}?{parsed.query}"
    # vcpus 1,1,2,4,8: ties broken by id, every flavor once
    assert seen == ["1", "2", "3", "4", "5"] and pages == 3


def test_private_and_disabled_flavors(stack):
    private = _create(stack, name="private.one", ram=256, vcpus=1, disk=0,
                      **{"os-flavor-access:is_public": False})
    assert private["os-flavor-access:is_public"] is False
    pid = private["id"]
    assert pid not in _ids(stack.compute("GET", "/flavors", headers=MEMBER))
    assert stack.compute("GET", f"/flavors/{pid}", headers=MEMBER).status_code == 404
    assert pid not in _ids(stack.compute("GET", "/flavors", headers=ADMIN))
    assert pid in _ids(stack.compute("GET", "/flavors?is_public=None", headers=ADMIN))
    assert _ids(stack.compute("GET", "/flavors?is_public=false", headers=ADMIN)) == [pid]
    # others cannot widen their view
    assert pid not in _ids(stack.compute("GET", "/flavors?is_public=None", headers=MEMBER))
    resp = stack.compute("GET", "/flavors?is_public=maybe", headers=ADMIN)
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == "Invalid is_public filter [maybe]"

    gone = _create(stack, name="retired", ram=256, vcpus=1, disk=0, id="retired")
    with db_api._session() as s:
        s.execute(db_api.sa.update(db_api.models.Flavor).filter_by(flavorid="retired")
                  .values(disabled=True))
    assert "retired" not in _ids(stack.compute("GET", "/flavors", headers=MEMBER))
    listed = stack.compute("GET", "/flavors/detail", headers=ADMIN).json()["flavors"]
    assert [f["OS-FLV-DISABLED:disabled"] for f in listed if f["id"] == gone["id"]] == [True]
    for fid in (pid, "retired"):
        assert stack.compute("DELETE", f"/flavors/{fid}", headers=ADMIN).status_code == 202


def test_create_and_delete(stack):
    created = _create(stack, name="m1.custom", ram="1024", vcpus=2, disk=10, swap=512,
                      rxtx_factor="2.5", **{"OS-FLV-EXT-DATA:ephemeral": 5})
    assert created == {
        "id": created["id"], "name": "m1.custom", "ram": 1024, "disk": 10, "vcpus": 2,
        "swap": 512, "OS-FLV-EXT-DATA:ephemeral": 5, "OS-FLV-DISABLED:disabled": False,
        "os-flavor-access:is_public": True, "rxtx_factor": 2.5, "links": [
            {"rel": "self", "href": f"{stack.base_url}/compute/v2.1/flavors/{created['id']}"},
            {"rel": "bookmark", "href": f"{stack.base_url}/compute/flavors/{created['id']}"}]}
    assert len(created["id"]) == 36  # a generated UUID
    numbered = _create(stack, name="m1.numbered", ram=64, vcpus=1, disk=0, id=42)
    assert numbered["id"] == "42"
    assert stack.compute("GET", "/flavors/42", headers=MEMBER).status_code == 200

    resp = stack.compute("POST", "/flavors", {"flavor": {
        "name": "m1.custom", "ram": 64, "vcpus": 1, "disk": 0}}, headers=ADMIN)
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == (
        "Flavor with name m1.custom already exists.")
    resp = stack.compute("POST", "/flavors", {"flavor": {
        "name": "other", "ram": 64, "vcpus": 1, "disk": 0, "id": "42"}}, headers=ADMIN)
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == "Flavor with ID 42 already exists."

    resp = stack.compute("POST", "/flavors", {"flavor": {
        "name": "mine", "ram": 64, "vcpus": 1, "disk": 0}}, headers=MEMBER)
    assert resp.status_code == 403
    assert stack.compute("DELETE", "/flavors/42", headers=MEMBER).status_code == 403

    for fid in (created["id"], "42"):
        resp = stack.compute("DELETE", f"/flavors/{fid}", headers=ADMIN)
        assert resp.status_code == 202 and resp.content == b""
        assert stack.compute("GET", f"/flavors/{fid}", headers=ADMIN).status_code == 404
    assert stack.compute("DELETE", "/flavors/42", headers=ADMIN).status_code == 404


@pytest.mark.parametrize(("flavor", "field"), [
    ({"name": "x", "ram": 0, "vcpus": 1, "disk": 0}, "ram"),
    ({"name": "x", "ram": "", "vcpus": 1, "disk": 0}, "ram"),  # was a 500 (schemathesis)
    ({"name": "x", "ram": 64, "vcpus": 1, "disk": ""}, "disk"),
    ({"name": "x", "ram": "0", "vcpus": 1, "disk": 0}, "ram"),
    ({"name": "x", "ram": 64, "vcpus": -1, "disk": 0}, "vcpus"),
    ({"name": "x", "ram": 64, "vcpus": 1, "disk": "-1"}, "disk"),
    ({"name": "x", "ram": 2**31, "vcpus": 1, "disk": 0}, "ram"),
    ({"name": "x", "ram": "99999999999", "vcpus": 1, "disk": 0}, "ram"),
    ({"name": "x", "ram": 64, "vcpus": 1, "disk": 0, "rxtx_factor": 0}, "rxtx_factor"),
    ({"name": "x", "ram": 64, "vcpus": 1, "disk": 0, "rxtx_factor": "0"}, "rxtx_factor"),
    ({"name": "x", "ram": 64, "vcpus": 1, "disk": 0, "id": " lead"}, "id"),
    ({"name": "x", "ram": 64, "vcpus": 1, "disk": 0, "id": "a/b"}, "id"),
    ({"name": "   ", "ram": 64, "vcpus": 1, "disk": 0}, "name"),
    ({"name": "x", "ram": 64, "vcpus": 1, "disk": 0, "description": "d"}, "description"),
    ({"name": "x", "ram": 64, "vcpus": 1}, "disk"),
    ({"name": "x", "ram": 64, "vcpus": 1, "disk": 0,
      "os-flavor-access:is_public": "sometimes"}, "os-flavor-access:is_public"),
])
def test_bad_flavor_is_a_400_naming_the_field(stack, flavor, field):
    resp = stack.compute("POST", "/flavors", {"flavor": flavor}, headers=ADMIN)
    assert resp.status_code == 400, resp.text
    message = resp.json()["badRequest"]["message"]
    assert field in message


def test_extra_specs(stack):
    base = "/flavors/1/os-extra_specs"
    resp = stack.compute("GET", base, headers=MEMBER)
    assert resp.status_code == 200 and resp.json() == {"extra_specs": {}}

    body = {"extra_specs": {"hw:cpu_policy": "dedicated", "quota:cpu_shares": 512,
                            "trait:HW_CPU_X86_AVX": True}}
    resp = stack.compute("POST", base, body, headers=ADMIN)
    assert resp.status_code == 200 and resp.json() == body
    listed = stack.compute("GET", base, headers=MEMBER).json()
    jsonschema.validate(listed, schemas.extra_specs_response)
    assert listed == {"extra_specs": {"hw:cpu_policy": "dedicated", "quota:cpu_shares": "512",
                                      "trait:HW_CPU_X86_AVX": "True"}}
    assert stack.compute("GET", f"{base}/hw:cpu_policy",
                         headers=MEMBER).json() == {"hw:cpu_policy": "dedicated"}

    resp = stack.compute("PUT", f"{base}/hw:cpu_policy", {"hw:cpu_policy": "shared"},
                         headers=ADMIN)
    assert resp.status_code == 200 and resp.json() == {"hw:cpu_policy": "shared"}
    resp = stack.compute("PUT", f"{base}/hw:cpu_policy", {"hw:mem": "1"}, headers=ADMIN)
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == "Request body and URI mismatch"
    resp = stack.compute("PUT", f"{base}/a", {"a": "1", "b": "2"}, headers=ADMIN)
    assert resp.status_code == 400
    for bad in ({"extra_specs": {"bad/key": "v"}}, {"extra_specs": {"k": "v" * 256}},
                {"extra_specs": {"k": None}}, {"extra_specs": {"": "v"}}, {"specs": {}}):
        assert stack.compute("POST", base, bad, headers=ADMIN).status_code == 400, bad

    resp = stack.compute("GET", f"{base}/missing", headers=MEMBER)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == (
        "Flavor 1 has no extra specs with key missing.")
    assert stack.compute("POST", base, body, headers=MEMBER).status_code == 403
    assert stack.compute("PUT", f"{base}/hw:cpu_policy", {"hw:cpu_policy": "x"},
                         headers=MEMBER).status_code == 403
    assert stack.compute("DELETE", f"{base}/hw:cpu_policy", headers=MEMBER).status_code == 403
    assert stack.compute("GET", "/flavors/nope/os-extra_specs",
                         headers=MEMBER).status_code == 404

    resp = stack.compute("DELETE", f"{base}/hw:cpu_policy", headers=ADMIN)
    assert resp.status_code == 200  # as Nova: 200, no body
    assert stack.compute("GET", f"{base}/hw:cpu_policy", headers=ADMIN).status_code == 404
    assert stack.compute("DELETE", f"{base}/hw:cpu_policy", headers=ADMIN).status_code == 404
    assert "hw:cpu_policy" not in stack.compute("GET", base, headers=ADMIN).json()["extra_specs"]


def test_flavor_access_lists(stack):
    private = _create(stack, name="shared.private", ram=128, vcpus=1, disk=0, id="sp",
                      **{"os-flavor-access:is_public": False})
    assert private["os-flavor-access:is_public"] is False
    base = "/flavors/sp/os-flavor-access"
    assert stack.compute("GET", base, headers=ADMIN).json() == {"flavor_access": []}
    assert "sp" not in _ids(stack.compute("GET", "/flavors", headers=MEMBER))

    resp = stack.compute("POST", "/flavors/sp/action", {"addTenantAccess": {"tenant": "p1"}},
                         headers=ADMIN)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"flavor_access": [{"flavor_id": "sp", "tenant_id": "p1"}]}
    # the project now sees and reads it; another project does not
    assert "sp" in _ids(stack.compute("GET", "/flavors", headers=MEMBER))
    assert stack.compute("GET", "/flavors/sp", headers=MEMBER).status_code == 200
    assert stack.compute("GET", "/flavors/sp/os-extra_specs", headers=MEMBER).status_code == 200
    other = {**MEMBER, "X-Project-Id": "p2"}
    assert "sp" not in _ids(stack.compute("GET", "/flavors", headers=other))
    assert stack.compute("GET", "/flavors/sp", headers=other).status_code == 404

    resp = stack.compute("POST", "/flavors/sp/action", {"addTenantAccess": {"tenant": "p1"}},
                         headers=ADMIN)
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == (
        "Flavor access already exists for flavor sp and project p1 combination.")
    resp = stack.compute("POST", "/flavors/1/action", {"addTenantAccess": {"tenant": "p1"}},
                         headers=ADMIN)
    assert resp.status_code == 409
    assert resp.json()["conflictingRequest"]["message"] == (
        "Can not add access to a public flavor.")
    resp = stack.compute("GET", "/flavors/1/os-flavor-access", headers=ADMIN)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == (
        "Access list not available for public flavors.")
    for body in ({"addTenantAccess": {}}, {"addTenantAccess": {"tenant": ""}},
                 {"dance": {"tenant": "p1"}}, {"addTenantAccess": {"tenant": "p1"},
                                               "removeTenantAccess": {"tenant": "p1"}}):
        assert stack.compute("POST", "/flavors/sp/action", body,
                             headers=ADMIN).status_code == 400, body
    assert stack.compute("POST", "/flavors/sp/action", {"addTenantAccess": {"tenant": "p3"}},
                         headers=MEMBER).status_code == 403
    assert stack.compute("GET", base, headers=MEMBER).status_code == 403
    assert stack.compute("POST", "/flavors/nope/action",
                         {"removeTenantAccess": {"tenant": "p1"}},
                         headers=ADMIN).status_code == 404

    resp = stack.compute("POST", "/flavors/sp/action",
                         {"removeTenantAccess": {"tenant": "p1"}}, headers=ADMIN)
    assert resp.status_code == 200 and resp.json() == {"flavor_access": []}
    assert stack.compute("GET", "/flavors/sp", headers=MEMBER).status_code == 404
    resp = stack.compute("POST", "/flavors/sp/action",
                         {"removeTenantAccess": {"tenant": "p1"}}, headers=ADMIN)
    assert resp.status_code == 404
    assert resp.json()["itemNotFound"]["message"] == (
        "Flavor access not found for sp / p1 combination.")
    assert stack.compute("DELETE", "/flavors/sp", headers=ADMIN).status_code == 202
