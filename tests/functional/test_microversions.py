"""Compute API microversions 2.1 ... 2.104 through HTTP on the in-process
stack: the version document's range, and for each main change the field or
behaviour present on one side of its version and absent on the other, bodies
valid only in another version refused, proxies gone from 2.36."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from novalite.api import microversions
from tests.functional.stack import Stack

HEADER = "OpenStack-API-Version"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    s = Stack(str(tmp_path_factory.mktemp("mv")), auth="novalite").start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def member(stack: Stack) -> requests.Session:
    user = stack.make_user("mv-member", "admin", "member")
    return stack.login("mv-member", user["password"], "admin")


def call(stack: Stack, version: str | None, method: str, path: str, body: Any = None,
         session: requests.Session | None = None) -> requests.Response:
    headers = {HEADER: f"compute {version}"} if version else {}
    return stack.compute(method, path, body, headers=headers, session=session)


def ok(resp: requests.Response, code: int = 200) -> Any:
    assert resp.status_code == code, resp.text
    return resp.json() if resp.content else None


@pytest.fixture(scope="module")
def server(stack: Stack) -> dict:
    resp = call(stack, "2.52", "POST", "/servers", {"server": {
        "name": "mv-1", "flavorRef": "1", "imageRef": stack.image_id, "networks": "none",
        "description": "first", "tags": ["red", "blue"]}})
    created = ok(resp, 202)["server"]
    stack.wait_status(created["id"], "ACTIVE")
    return created


# -- version document and negotiation -----------------------------------------------

def test_version_document_advertises_2_1_to_2_104(stack):
    for path in ("/compute", "/compute/v2.1"):
        body = requests.get(stack.base_url + path, timeout=10).json()
        doc = body["version"] if "version" in body else \
            next(v for v in body["versions"] if v["id"] == "v2.1")
        assert (doc["min_version"], doc["version"]) == ("2.1", "2.104")
    assert [v for v, _ in microversions.SUPPORTED] == [f"2.{i}" for i in range(1, 105)]


def test_latest_is_2_104_and_beyond_is_406(stack):
    resp = call(stack, "latest", "GET", "/flavors")
    assert resp.headers[HEADER] == "compute 2.104"
    assert call(stack, "2.105", "GET", "/flavors").status_code == 406
    assert call(stack, None, "GET", "/flavors").headers[HEADER] == "compute 2.1"


# -- servers --------------------------------------------------------------------------

def test_server_fields_appear_at_their_versions(stack, server):
    sid = server["id"]
    old = ok(call(stack, "2.1", "GET", f"/servers/{sid}"))["server"]
    for key in ("locked", "description", "tags", "host_status", "locked_reason",
                "pinned_availability_zone", "scheduler_hints", "server_groups",
                "OS-EXT-SRV-ATTR:hostname", "trusted_image_certificates"):
        assert key not in old, key
    assert set(old["flavor"]) == {"id", "links"}

    assert ok(call(stack, "2.8", "GET", f"/servers/{sid}"))["server"].get("locked") is None
    at = {v: ok(call(stack, v, "GET", f"/servers/{sid}"))["server"]
          for v in ("2.3", "2.9", "2.16", "2.19", "2.26", "2.47", "2.71", "2.73",
                    "2.96", "2.98", "2.100")}
    # NOTE: the stack's session is an admin's: the 2.3 extended attributes.
    assert at["2.3"]["OS-EXT-SRV-ATTR:reservation_id"].startswith("r-")
    assert at["2.3"]["OS-EXT-SRV-ATTR:launch_index"] == 0
    assert at["2.3"]["OS-EXT-SRV-ATTR:hostname"] == "mv-1"
    assert at["2.9"]["locked"] is False
    assert at["2.16"]["host_status"] == "UP"
    assert at["2.19"]["description"] == "first"
    assert at["2.26"]["tags"] == ["blue", "red"]
    assert at["2.47"]["flavor"] == {"vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0,
                                    "swap": 0, "original_name": "m1.tiny",
                                    "extra_specs": {}}
    assert at["2.71"]["server_groups"] == []
    assert at["2.73"]["locked_reason"] is None
    assert at["2.96"]["pinned_availability_zone"] is None
    assert "properties" in at["2.98"]["image"] and "properties" not in at["2.96"]["image"]
    assert at["2.100"]["scheduler_hints"] == {}


def test_host_status_and_extended_attributes_are_for_admins(stack, server, member):
    sid = server["id"]
    shown = ok(call(stack, "2.89", "GET", f"/servers/{sid}", session=member))["server"]
    assert "host_status" not in shown and "OS-EXT-SRV-ATTR:hostname" not in shown
    assert "OS-EXT-SRV-ATTR:reservation_id" not in shown
    # NOTE: 2.90 shows the hostname to every caller.
    shown = ok(call(stack, "2.90", "GET", f"/servers/{sid}", session=member))["server"]
    assert shown["OS-EXT-SRV-ATTR:hostname"] == "mv-1"
    assert "OS-EXT-SRV-ATTR:reservation_id" not in shown


def test_description_update_and_its_schema_boundary(stack, server):
    sid = server["id"]
    resp = call(stack, "2.18", "PUT", f"/servers/{sid}", {"server": {"description": "x"}})
    assert resp.status_code == 400 and "description" in resp.json()["badRequest"]["message"]
    updated = ok(call(stack, "2.19", "PUT", f"/servers/{sid}",
                      {"server": {"description": "second"}}))["server"]
    assert updated["description"] == "second"
    # NOTE: before 2.75 the update answer has no extension fields; from 2.75 all of GET's.
    assert "OS-EXT-AZ:availability_zone" not in updated
    full = ok(call(stack, "2.75", "PUT", f"/servers/{sid}",
                   {"server": {"description": None}}))["server"]
    assert full["description"] is None and "OS-EXT-AZ:availability_zone" in full
    assert full["host_status"] == "UP"


def test_create_bodies_valid_only_in_other_versions_are_400(stack):
    base = {"name": "bad", "flavorRef": "1", "imageRef": stack.image_id}
    cases = [
        ("2.18", {**base, "description": "d"}, "description"),
        ("2.51", {**base, "networks": "none", "tags": ["a"]}, "tags"),
        ("2.37", base, "networks"),
        ("2.57", {**base, "networks": "none",
                  "personality": [{"path": "/etc/x", "contents": "eA=="}]}, "personality"),
        ("2.89", {**base, "networks": "none", "hostname": "h1"}, "hostname"),
        ("2.90", {**base, "networks": "none", "hostname": "h1.example.org"}, "hostname"),
        ("2.52", {**base, "networks": "none", "tags": ["a/b"]}, "a/b"),
        ("2.37", {**base, "networks": [{"uuid": "not-a-uuid"}]}, "uuid"),
        ("2.90", {**base, "networks": "none", "hostname": "h1", "max_count": 2},
         "single hostname"),
        ("2.62", {**base, "networks": "none", "trusted_image_certificates": ["c1"]},
         "trusted_image_certificates"),
        ("2.73", {**base, "networks": "none", "host": "host1"}, "host"),
    ]
    for version, server, word in cases:
        resp = call(stack, version, "POST", "/servers", {"server": server})
        assert resp.status_code == 400, (version, resp.text)
        assert word in resp.json()["badRequest"]["message"], (version, resp.text)


def test_create_with_hostname_at_2_94(stack):
    resp = call(stack, "2.94", "POST", "/servers", {"server": {
        "name": "fq", "flavorRef": "1", "imageRef": stack.image_id, "networks": "none",
        "hostname": "fq.example.org"}})
    sid = ok(resp, 202)["server"]["id"]
    try:
        shown = ok(call(stack, "2.94", "GET", f"/servers/{sid}"))["server"]
        assert shown["OS-EXT-SRV-ATTR:hostname"] == "fq.example.org"
    finally:
        call(stack, None, "DELETE", f"/servers/{sid}")
        stack.wait_gone(sid)


def test_invalid_status_filter_is_400_from_2_38(stack, server):
    assert ok(call(stack, "2.37", "GET", "/servers?status=bogus")) == {"servers": []}
    resp = call(stack, "2.38", "GET", "/servers?status=bogus")
    assert resp.status_code == 400 and "bogus" in resp.text


def test_unknown_list_parameters_are_400_from_2_75(stack, server):
    assert ok(call(stack, "2.74", "GET", "/servers/detail?bogus=1"))["servers"]
    resp = call(stack, "2.75", "GET", "/servers/detail?bogus=1")
    assert resp.status_code == 400 and "bogus" in resp.text


# -- tags -------------------------------------------------------------------------------

def test_server_tags_api(stack, server):
    sid = server["id"]
    assert call(stack, "2.25", "GET", f"/servers/{sid}/tags").status_code == 404
    assert ok(call(stack, "2.26", "GET", f"/servers/{sid}/tags")) == {"tags": ["blue", "red"]}
    resp = call(stack, "2.26", "PUT", f"/servers/{sid}/tags/green")
    assert resp.status_code == 201 and resp.headers["Location"].endswith(
        f"/servers/{sid}/tags/green")
    assert call(stack, "2.26", "PUT", f"/servers/{sid}/tags/green").status_code == 204
    assert call(stack, "2.26", "GET", f"/servers/{sid}/tags/green").status_code == 204
    assert call(stack, "2.26", "GET", f"/servers/{sid}/tags/nope").status_code == 404
    assert call(stack, "2.26", "PUT", f"/servers/{sid}/tags/a,b").status_code == 400

    def names(query: str) -> list[str]:
        return [s["name"] for s in ok(call(stack, "2.26", "GET", f"/servers?{query}"))[
            "servers"] if s["name"].startswith("mv-")]

    assert names("tags=red,green") == ["mv-1"]
    assert names("tags=red,nope") == []
    assert names("tags-any=nope,green") == ["mv-1"]
    assert names("not-tags=red,green") == []
    assert names("not-tags-any=nope") == ["mv-1"]

    replaced = ok(call(stack, "2.26", "PUT", f"/servers/{sid}/tags",
                       {"tags": ["x", "y", "x"]}))
    assert replaced == {"tags": ["x", "y"]}
    resp = call(stack, "2.26", "PUT", f"/servers/{sid}/tags",
                {"tags": [f"t{i}" for i in range(51)]})
    assert resp.status_code == 400
    assert call(stack, "2.26", "DELETE", f"/servers/{sid}/tags/x").status_code == 204
    assert call(stack, "2.26", "DELETE", f"/servers/{sid}/tags/x").status_code == 404
    assert call(stack, "2.26", "DELETE", f"/servers/{sid}/tags").status_code == 204
    assert ok(call(stack, "2.26", "GET", f"/servers/{sid}"))["server"]["tags"] == []
    ok(call(stack, "2.26", "PUT", f"/servers/{sid}/tags", {"tags": ["red", "blue"]}))


# -- proxies ------------------------------------------------------------------------------

def test_image_proxies_answer_404_from_2_36(stack):
    assert ok(call(stack, "2.35", "GET", "/images"))["images"]
    image = stack.image_id
    assert ok(call(stack, "2.35", "GET", f"/images/{image}/metadata")) is not None
    for path in ("/images", "/images/detail", f"/images/{image}",
                 f"/images/{image}/metadata"):
        resp = call(stack, "2.36", "GET", path)
        assert resp.status_code == 404, (path, resp.text)
        assert "not supported" in resp.json()["itemNotFound"]["message"]


# -- flavors ----------------------------------------------------------------------------

def test_flavor_description_extra_specs_and_swap(stack):
    resp = call(stack, "2.54", "POST", "/flavors", {"flavor": {
        "name": "mv.small", "ram": 256, "vcpus": 1, "disk": 1, "description": "d"}})
    assert resp.status_code == 400 and "description" in resp.text
    made = ok(call(stack, "2.55", "POST", "/flavors", {"flavor": {
        "id": "mv-f", "name": "mv.small", "ram": 256, "vcpus": 1, "disk": 1,
        "description": "small one"}}))["flavor"]
    assert made["description"] == "small one" and "extra_specs" not in made
    ok(call(stack, None, "POST", "/flavors/mv-f/os-extra_specs",
            {"extra_specs": {"hw:cpu_policy": "shared"}}))
    old = ok(call(stack, "2.54", "GET", "/flavors/mv-f"))["flavor"]
    assert "description" not in old and old["swap"] == ""
    new = ok(call(stack, "2.75", "GET", "/flavors/mv-f"))["flavor"]
    assert new["extra_specs"] == {"hw:cpu_policy": "shared"} and new["swap"] == 0
    assert ok(call(stack, "2.60", "GET", "/flavors/mv-f"))["flavor"].get("extra_specs") is None
    listed = ok(call(stack, "2.55", "GET", "/flavors"))["flavors"]
    assert {"id": "mv-f", "description": "small one"}.items() <= \
        next(f for f in listed if f["id"] == "mv-f").items()

    assert call(stack, "2.54", "PUT", "/flavors/mv-f",
                {"flavor": {"description": "x"}}).status_code == 404
    updated = ok(call(stack, "2.55", "PUT", "/flavors/mv-f",
                      {"flavor": {"description": "changed"}}))["flavor"]
    assert updated["description"] == "changed"
    assert ok(call(stack, "2.55", "GET", "/flavors/mv-f"))["flavor"]["description"] == \
        "changed"
    resp = call(stack, "2.55", "PUT", "/flavors/mv-f", {"flavor": {"name": "other"}})
    assert resp.status_code == 400
    call(stack, None, "DELETE", "/flavors/mv-f")


# -- key pairs ---------------------------------------------------------------------------

_CERT = None


def _certificate() -> str:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mv")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_keypairs_across_versions(stack, member):
    made = call(stack, "2.1", "POST", "/os-keypairs", {"keypair": {"name": "kp-a"}})
    assert made.status_code == 200 and "type" not in made.json()["keypair"]
    assert call(stack, "2.1", "POST", "/os-keypairs",
                {"keypair": {"name": "kp-x", "type": "ssh"}}).status_code == 400
    made = call(stack, "2.2", "POST", "/os-keypairs",
                {"keypair": {"name": "kp-b", "type": "x509"}})
    assert made.status_code == 201, made.text
    assert made.json()["keypair"]["type"] == "x509"
    assert "BEGIN" in made.json()["keypair"]["private_key"]
    imported = ok(call(stack, "2.2", "POST", "/os-keypairs", {"keypair": {
        "name": "kp-c", "type": "x509", "public_key": _certificate()}}), 201)["keypair"]
    assert imported["type"] == "x509" and len(imported["fingerprint"].split(":")) == 20
    shown = ok(call(stack, "2.2", "GET", "/os-keypairs/kp-b"))["keypair"]
    assert shown["type"] == "x509"

    page = ok(call(stack, "2.35", "GET", "/os-keypairs?limit=2"))
    assert [k["keypair"]["name"] for k in page["keypairs"]] == ["kp-a", "kp-b"]
    assert "marker=kp-b" in page["keypairs_links"][0]["href"]
    rest = ok(call(stack, "2.35", "GET", "/os-keypairs?marker=kp-b"))
    assert [k["keypair"]["name"] for k in rest["keypairs"]] == ["kp-c"]
    assert call(stack, "2.35", "GET", "/os-keypairs?marker=nope").status_code == 400

    # NOTE: 2.10: an admin acts on another user's key pairs; a member may not.
    other = stack.make_user("mv-kp-owner", "admin", "member")
    ok(call(stack, "2.10", "POST", "/os-keypairs", {"keypair": {
        "name": "theirs", "user_id": other["id"]}}), 201)
    listed = ok(call(stack, "2.10", "GET", f"/os-keypairs?user_id={other['id']}"))
    assert [k["keypair"]["name"] for k in listed["keypairs"]] == ["theirs"]
    assert call(stack, "2.10", "GET", f"/os-keypairs?user_id={other['id']}",
                session=member).status_code == 403
    assert call(stack, "2.10", "DELETE",
                f"/os-keypairs/theirs?user_id={other['id']}").status_code == 204

    # NOTE: 2.92: import only, '@' and '.' in names.
    resp = call(stack, "2.92", "POST", "/os-keypairs", {"keypair": {"name": "gen"}})
    assert resp.status_code == 400 and "public_key" in resp.text
    assert call(stack, "2.91", "POST", "/os-keypairs", {"keypair": {
        "name": "me@host.x", "public_key": _certificate(), "type": "x509"}}).status_code == 400
    ok(call(stack, "2.92", "POST", "/os-keypairs", {"keypair": {
        "name": "me@host.x", "public_key": _certificate(), "type": "x509"}}), 201)

    assert call(stack, "2.1", "DELETE", "/os-keypairs/kp-a").status_code == 202
    for name in ("kp-b", "kp-c", "me@host.x"):
        assert call(stack, "2.2", "DELETE", f"/os-keypairs/{name}").status_code == 204


# -- services, hypervisors ----------------------------------------------------------------

def test_services_forced_down_and_uuid_ids(stack):
    old = ok(call(stack, "2.10", "GET", "/os-services?binary=nova-compute"))["services"][0]
    assert isinstance(old["id"], int) and "forced_down" not in old
    at211 = ok(call(stack, "2.11", "GET", "/os-services?binary=nova-compute"))
    assert at211["services"][0]["forced_down"] is False
    svc = ok(call(stack, "2.53", "GET", "/os-services?binary=nova-compute"))["services"][0]
    assert len(svc["id"]) == 36 and svc["id"].count("-") == 4

    body = {"host": svc["host"], "binary": "nova-compute"}
    assert call(stack, "2.53", "PUT", "/os-services/disable", body).status_code == 400
    resp = call(stack, "2.53", "PUT", f"/os-services/{svc['id']}",
                {"status": "disabled", "disabled_reason": "maintenance"})
    updated = ok(resp)["service"]
    assert (updated["status"], updated["disabled_reason"], updated["id"]) == (
        "disabled", "maintenance", svc["id"])
    assert call(stack, "2.52", "PUT", f"/os-services/{svc['id']}",
                {"status": "enabled"}).status_code == 404
    assert call(stack, "2.53", "PUT", f"/os-services/{svc['id']}",
                {"disabled_reason": "x"}).status_code == 400
    ok(call(stack, "2.53", "PUT", f"/os-services/{svc['id']}", {"status": "enabled"}))
    forced = ok(call(stack, "2.11", "PUT", "/os-services/force-down",
                     {**body, "forced_down": True}))["service"]
    assert forced["forced_down"] is True
    assert ok(call(stack, "2.53", "GET", "/os-services?binary=nova-compute"))[
        "services"][0]["state"] == "down"
    ok(call(stack, "2.53", "PUT", f"/os-services/{svc['id']}", {"forced_down": False}))
    assert call(stack, "2.53", "DELETE", "/os-services/12").status_code == 400


def test_hypervisors_across_versions(stack, server):
    old = ok(call(stack, "2.27", "GET", "/os-hypervisors/detail"))["hypervisors"][0]
    assert isinstance(old["id"], int) and isinstance(old["cpu_info"], str)
    assert isinstance(ok(call(stack, "2.28", "GET", "/os-hypervisors/detail"))[
        "hypervisors"][0]["cpu_info"], dict)
    new = ok(call(stack, "2.53", "GET", "/os-hypervisors?with_servers=true"))["hypervisors"]
    assert len(new[0]["id"]) == 36
    assert server["id"] in {s["uuid"] for s in new[0]["servers"]}
    assert ok(call(stack, "2.53", "GET", f"/os-hypervisors/{new[0]['id']}"))[
        "hypervisor"]["vcpus"] >= 1
    assert call(stack, "2.53", "GET", f"/os-hypervisors/{old['id']}").status_code == 400
    host = new[0]["hypervisor_hostname"]
    assert call(stack, "2.52", "GET", f"/os-hypervisors/{host}/search").status_code == 200
    assert call(stack, "2.53", "GET", f"/os-hypervisors/{host}/search").status_code == 404
    found = ok(call(stack, "2.53", "GET",
                    f"/os-hypervisors?hypervisor_hostname_pattern={host}"))
    assert [h["id"] for h in found["hypervisors"]] == [new[0]["id"]]
    shown = ok(call(stack, "2.88", "GET", f"/os-hypervisors/{new[0]['id']}"))["hypervisor"]
    assert "vcpus" not in shown and "uptime" in shown
    assert call(stack, "2.87", "GET", "/os-hypervisors/statistics").status_code == 200
    assert call(stack, "2.88", "GET", "/os-hypervisors/statistics").status_code == 404
    paged = ok(call(stack, "2.33", "GET", "/os-hypervisors?limit=1"))
    assert len(paged["hypervisors"]) == 1 and paged["hypervisors_links"]


# -- limits, quota sets --------------------------------------------------------------------

def test_limits_and_quotas_drop_fields_at_2_36_2_39_2_57(stack):
    def absolute(version: str) -> dict:
        return ok(call(stack, version, "GET", "/limits"))["limits"]["absolute"]

    assert {"maxTotalFloatingIps", "maxImageMeta", "maxPersonality"} <= set(absolute("2.35"))
    assert "maxTotalFloatingIps" not in absolute("2.36") and "maxImageMeta" in absolute("2.36")
    assert "maxImageMeta" not in absolute("2.39") and "maxPersonality" in absolute("2.39")
    assert "maxPersonality" not in absolute("2.57")

    project = "mv-quota-project"
    quotas = ok(call(stack, "2.35", "GET", f"/os-quota-sets/{project}"))["quota_set"]
    assert {"floating_ips", "injected_files"} <= set(quotas)
    quotas = ok(call(stack, "2.57", "GET", f"/os-quota-sets/{project}"))["quota_set"]
    assert not {"floating_ips", "injected_files", "security_groups"} & set(quotas)
    resp = call(stack, "2.57", "PUT", f"/os-quota-sets/{project}",
                {"quota_set": {"injected_files": 3}})
    assert resp.status_code == 400
    assert ok(call(stack, "2.56", "PUT", f"/os-quota-sets/{project}",
                   {"quota_set": {"injected_files": 3}}))["quota_set"]["injected_files"] == 3


# -- instance actions ------------------------------------------------------------------------

def test_instance_actions_across_versions(stack, server, member):
    sid = server["id"]
    actions = ok(call(stack, "2.57", "GET", f"/servers/{sid}/os-instance-actions"))[
        "instanceActions"]
    assert actions and "updated_at" not in actions[0]
    new = ok(call(stack, "2.58", "GET", f"/servers/{sid}/os-instance-actions?limit=1"))
    assert len(new["instanceActions"]) == 1 and "updated_at" in new["instanceActions"][0]
    request_id = new["instanceActions"][0]["request_id"]

    path = f"/servers/{sid}/os-instance-actions/{request_id}"
    as_member = ok(call(stack, "2.50", "GET", path, session=member))["instanceAction"]
    assert "events" not in as_member
    as_member = ok(call(stack, "2.84", "GET", path, session=member))["instanceAction"]
    event = as_member["events"][0]
    assert "hostId" in event and "host" not in event and "traceback" not in event
    assert "details" in event
    as_admin = ok(call(stack, "2.84", "GET", path))["instanceAction"]["events"][0]
    assert {"host", "hostId", "traceback", "details"} <= set(as_admin)


def test_list_filters_of_later_versions(stack, server, member):
    sid = server["id"]

    def ids(version: str, query: str, session: requests.Session | None = None) -> list[str]:
        return [s["id"] for s in ok(call(stack, version, "GET", f"/servers?{query}",
                                         session=session))["servers"]]

    assert sid in ids("2.66", "changes-before=2999-01-01T00:00:00Z")
    assert sid not in ids("2.66", "changes-before=2000-01-01T00:00:00Z")
    assert sid in ids("2.65", "changes-before=2000-01-01T00:00:00Z")
    resp = call(stack, "2.66", "GET", "/servers?changes-since=2020-01-01T00:00:00Z"
                "&changes-before=2019-01-01T00:00:00Z")
    assert resp.status_code == 400
    assert sid in ids("2.73", "locked=false") and sid not in ids("2.73", "locked=true")
    assert sid in ids("2.73", "sort_key=locked&sort_dir=asc")
    assert ids("2.72", "sort_key=locked&sort_dir=asc") == ids("2.72", "")
    # NOTE: user_id became a user filter at 2.83; a member's own servers here.
    member_server = ok(call(stack, "2.52", "POST", "/servers", {"server": {
        "name": "mv-member", "flavorRef": "1", "imageRef": stack.image_id,
        "networks": "none"}}, session=member), 202)["server"]["id"]
    try:
        assert member_server in ids("2.82", "user_id=nobody", member)
        assert ids("2.83", "user_id=nobody", member) == []
    finally:
        call(stack, None, "DELETE", f"/servers/{member_server}")
        stack.wait_gone(member_server)


# NOTE: the keys of Nova's server at 2.100 as a project member sees it (the
# api-ref's server show): nothing more, nothing less.
_SERVER_KEYS_2_100 = {
    "accessIPv4", "accessIPv6", "addresses", "created", "description", "locked",
    "locked_reason", "flavor", "hostId", "id", "image", "key_name", "links", "metadata",
    "name", "config_drive", "OS-DCF:diskConfig", "OS-EXT-AZ:availability_zone",
    "OS-EXT-SRV-ATTR:hostname", "OS-EXT-STS:power_state", "OS-EXT-STS:task_state",
    "OS-EXT-STS:vm_state", "os-extended-volumes:volumes_attached", "OS-SRV-USG:launched_at",
    "OS-SRV-USG:terminated_at", "pinned_availability_zone", "progress", "scheduler_hints",
    "security_groups", "server_groups", "status", "tags", "tenant_id",
    "trusted_image_certificates", "updated", "user_id",
}


def test_server_show_and_update_at_2_100_have_novas_keys(stack, member):
    created = ok(call(stack, "2.100", "POST", "/servers", {"server": {
        "name": "mv-keys", "flavorRef": "1", "imageRef": stack.image_id,
        "networks": "none"}}, session=member), 202)["server"]
    sid = created["id"]
    try:
        stack.wait_status(sid, "ACTIVE")
        shown = ok(call(stack, "2.100", "GET", f"/servers/{sid}", session=member))["server"]
        # NOTE: no port ("networks": "none"), no security groups, as Nova's.
        assert set(shown) == _SERVER_KEYS_2_100 - {"security_groups"}
        assert set(shown["flavor"]) == {"disk", "ephemeral", "extra_specs", "original_name",
                                        "ram", "swap", "vcpus"}
        assert set(shown["image"]) == {"id", "links", "properties"}
        updated = ok(call(stack, "2.100", "PUT", f"/servers/{sid}",
                          {"server": {"name": "mv-keys"}}, session=member))["server"]
        assert set(updated) == _SERVER_KEYS_2_100 - {"security_groups"}
        listed = ok(call(stack, "2.100", "GET", "/servers/detail", session=member))["servers"]
        # NOTE: the list shows no server_groups (Nova: show and update only).
        assert set(next(s for s in listed if s["id"] == sid)) == \
            _SERVER_KEYS_2_100 - {"server_groups", "security_groups"}
    finally:
        call(stack, None, "DELETE", f"/servers/{sid}")
        stack.wait_gone(sid)


def test_server_groups_and_scheduler_hints_in_show(stack):
    group = ok(call(stack, "2.64", "POST", "/os-server-groups", {"server_group": {
        "name": "mv-group", "policy": "anti-affinity"}}))["server_group"]
    created = ok(call(stack, "2.71", "POST", "/servers", {
        "server": {"name": "mv-grouped", "flavorRef": "1", "imageRef": stack.image_id,
                   "networks": "none"},
        "os:scheduler_hints": {"group": group["id"]}}), 202)["server"]
    sid = created["id"]
    try:
        stack.wait_status(sid, "ACTIVE")
        assert "server_groups" not in ok(call(stack, "2.70", "GET", f"/servers/{sid}"))["server"]
        assert ok(call(stack, "2.71", "GET", f"/servers/{sid}"))["server"]["server_groups"] \
            == [group["id"]]
        updated = ok(call(stack, "2.71", "PUT", f"/servers/{sid}",
                          {"server": {"name": "mv-grouped"}}))["server"]
        assert updated["server_groups"] == [group["id"]]
        shown = ok(call(stack, "2.100", "GET", f"/servers/{sid}"))["server"]
        assert shown["scheduler_hints"] == {"group": [group["id"]]}
    finally:
        call(stack, None, "DELETE", f"/servers/{sid}")
        stack.wait_gone(sid)
        call(stack, "2.64", "DELETE", f"/os-server-groups/{group['id']}")


def test_actions_of_a_deleted_server_from_2_21(stack):
    sid = ok(call(stack, "2.37", "POST", "/servers", {"server": {
        "name": "mv-gone", "flavorRef": "1", "imageRef": stack.image_id,
        "networks": "none"}}), 202)["server"]["id"]
    stack.wait_status(sid, "ACTIVE")
    call(stack, None, "DELETE", f"/servers/{sid}")
    stack.wait_gone(sid)
    assert call(stack, "2.20", "GET", f"/servers/{sid}/os-instance-actions").status_code == 404
    actions = ok(call(stack, "2.21", "GET", f"/servers/{sid}/os-instance-actions"))
    assert {a["action"] for a in actions["instanceActions"]} >= {"create", "delete"}


def test_unknown_query_parameters_are_400_where_nova_made_them_so(stack, server):
    sid = server["id"]
    cases = [
        ("2.52", "2.53", "/os-hypervisors?bogus=1"),
        ("2.57", "2.58", f"/servers/{sid}/os-instance-actions?bogus=1"),
        ("2.74", "2.75", "/flavors?bogus=1"),
        ("2.74", "2.75", "/flavors/detail?bogus=1"),
        ("2.74", "2.75", "/limits?bogus=1"),
        ("2.74", "2.75", "/os-keypairs?bogus=1"),
        ("2.74", "2.75", "/os-quota-sets/p-strict?bogus=1"),
    ]
    for before, strict, path in cases:
        assert call(stack, before, "GET", path).status_code == 200, (before, path)
        resp = call(stack, strict, "GET", path)
        assert resp.status_code == 400 and "bogus" in resp.text, (strict, path, resp.text)
    # NOTE: what they know stays fine.
    assert call(stack, "2.75", "GET", "/flavors?limit=1&is_public=true").status_code == 200
    assert call(stack, "2.58", "GET", f"/servers/{sid}/os-instance-actions?limit=1"
                ).status_code == 200
    assert call(stack, "2.65", "GET", f"/servers/{sid}/os-instance-actions?changes-before="
                "2999-01-01T00:00:00Z").status_code == 400
    assert call(stack, "2.66", "GET", f"/servers/{sid}/os-instance-actions?changes-before="
                "2999-01-01T00:00:00Z").status_code == 200
