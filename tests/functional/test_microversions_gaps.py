"""Compute API microversions 2.101 ... 2.104 and the gaps issue 12 named
inside 2.1 ... 2.100, through HTTP on the in-process stack (FakeDriver,
two computes): each behaviour on both sides of its version."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.functional.stack import Stack

HEADER = "OpenStack-API-Version"


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    # NOTE: every scheduling reads the hosts afresh, so a service disabled
    # just before is seen (the default lets a read of the last second serve).
    s = Stack(str(tmp_path_factory.mktemp("mvgaps")), auth="novalite",
              computes=[("gaps-a", "fake.FakeDriver"), ("gaps-b", "fake.FakeDriver")],
              overrides={("scheduler", "host_state_max_age_ms"): 0}).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def member(stack: Stack) -> requests.Session:
    user = stack.make_user("gaps-member", "admin", "member")
    return stack.login("gaps-member", user["password"], "admin")


def call(stack: Stack, version: str | None, method: str, path: str, body: Any = None,
         session: requests.Session | None = None) -> requests.Response:
    headers = {HEADER: f"compute {version}"} if version else {}
    return stack.compute(method, path, body, headers=headers, session=session)


def ok(resp: requests.Response, code: int = 200) -> Any:
    assert resp.status_code == code, resp.text
    return resp.json() if resp.content else None


def bad(resp: requests.Response, code: int = 400) -> str:
    assert resp.status_code == code, resp.text
    body = resp.json()
    return str(next(iter(body.values()))["message"])


def boot(stack: Stack, name: str, version: str = "2.52", **extra: Any) -> dict:
    created = ok(call(stack, version, "POST", "/servers", {"server": {
        "name": name, "flavorRef": "1", "imageRef": stack.image_id, "networks": "none",
        **extra}}), 202)["server"]
    return stack.wait_status(created["id"], "ACTIVE")


def delete(stack: Stack, sid: str) -> None:
    call(stack, None, "DELETE", f"/servers/{sid}")
    stack.wait_gone(sid)


# -- the range ---------------------------------------------------------------------------

def test_version_document_and_latest_are_2_104(stack):
    body = requests.get(stack.base_url + "/compute/v2.1", timeout=10).json()
    assert (body["version"]["min_version"], body["version"]["version"]) == ("2.1", "2.104")
    assert call(stack, "latest", "GET", "/flavors").headers[HEADER] == "compute 2.104"
    assert call(stack, "2.105", "GET", "/flavors").status_code == 406


def test_2_101_and_2_103_have_nothing_to_serve(stack):
    # NOTE: novalite has no volume attachments nor the os-volumes_boot alias.
    for version in ("2.100", "2.101", "2.102", "2.103", "2.104"):
        assert call(stack, version, "GET", "/os-volumes_boot").status_code == 404
        assert call(stack, version, "POST", "/os-volumes_boot", {"server": {}}).status_code \
            == 404


# -- 2.102 ------------------------------------------------------------------------------------

def test_2_102_flavor_views_lose_rxtx_factor_and_disabled(stack):
    old = ok(call(stack, "2.101", "GET", "/flavors/1"))["flavor"]
    assert old["rxtx_factor"] == 1.0 and old["OS-FLV-DISABLED:disabled"] is False
    new = ok(call(stack, "2.102", "GET", "/flavors/1"))["flavor"]
    assert "rxtx_factor" not in new and "OS-FLV-DISABLED:disabled" not in new
    assert new["name"] == "m1.tiny" and new["swap"] == 0
    listed = ok(call(stack, "2.102", "GET", "/flavors/detail"))["flavors"]
    assert listed and all("rxtx_factor" not in f for f in listed)


def test_2_102_flavor_create_takes_no_rxtx_factor(stack):
    spec = {"name": "gaps-rx", "ram": 64, "vcpus": 1, "disk": 0, "rxtx_factor": 2.0}
    assert "rxtx_factor" in bad(call(stack, "2.102", "POST", "/flavors", {"flavor": spec}))
    made = ok(call(stack, "2.101", "POST", "/flavors", {"flavor": spec}))["flavor"]
    assert made["rxtx_factor"] == 2.0
    del spec["rxtx_factor"]
    spec["name"] = "gaps-rx2"
    made2 = ok(call(stack, "2.102", "POST", "/flavors", {"flavor": spec}))["flavor"]
    assert "rxtx_factor" not in made2
    for flavor in (made, made2):
        ok(call(stack, None, "DELETE", f"/flavors/{flavor['id']}"), 202)


def test_2_102_flavor_name_filter(stack):
    names = [f["name"] for f in
             ok(call(stack, "2.102", "GET", "/flavors?name=tiny|small"))["flavors"]]
    assert names == ["m1.tiny", "m1.small"]
    assert ok(call(stack, "2.102", "GET", "/flavors/detail?name=^m1%5C.x"))["flavors"] == [
        f for f in ok(call(stack, "2.102", "GET", "/flavors/detail"))["flavors"]
        if f["name"].startswith("m1.x")]
    assert ok(call(stack, "2.102", "GET", "/flavors?name=nomatch"))["flavors"] == []
    # NOTE: from 2.75 to 2.101 an unknown parameter; before ignored (stripped).
    assert "name" in bad(call(stack, "2.75", "GET", "/flavors?name=tiny"))
    assert len(ok(call(stack, "2.74", "GET", "/flavors?name=tiny"))["flavors"]) > 2
    assert "sort_key" in bad(call(stack, "2.102", "GET", "/flavors?sort_key=rxtx_factor"))
    ok(call(stack, "2.101", "GET", "/flavors?sort_key=rxtx_factor"))


@pytest.mark.parametrize("path", [
    "/flavors/1", "/flavors/1/os-extra_specs", "/os-availability-zone",
    "/os-aggregates", "/extensions", "/os-migrations", "/os-quota-sets/admin/defaults"])
def test_2_102_every_get_refuses_unknown_query_parameters(stack, path):
    ok(call(stack, "2.101", "GET", f"{path}?bogus=1"))
    message = bad(call(stack, "2.102", "GET", f"{path}?bogus=1"))
    assert message == ("Invalid input for query parameters bogus. Value: 1. Additional "
                       "properties are not allowed ('bogus' was unexpected)")


def test_2_102_known_query_parameters_still_work(stack):
    ok(call(stack, "2.102", "GET", "/os-migrations?limit=1&migration_type=live-migration"))
    ok(call(stack, "2.102", "GET", "/limits?tenant_id=x"))
    ok(call(stack, "2.102", "GET", "/flavors?limit=1&sort_key=name&is_public=true"))
    # NOTE: POST, PUT and DELETE never validate their query (as Nova).
    spec = {"name": "gaps-q", "ram": 64, "vcpus": 1, "disk": 0}
    made = ok(call(stack, "2.102", "POST", "/flavors?bogus=1", {"flavor": spec}))["flavor"]
    ok(call(stack, "2.102", "DELETE", f"/flavors/{made['id']}?bogus=1"), 202)
    # NOTE: the version documents take any query.
    assert requests.get(stack.base_url + "/compute/v2.1?bogus=1", timeout=10,
                        headers={HEADER: "compute 2.104"}).status_code == 200


def test_2_102_server_show_refuses_unknown_query(stack):
    sid = boot(stack, "gaps-q")["id"]
    try:
        ok(call(stack, "2.101", "GET", f"/servers/{sid}?bogus=1"))
        assert "bogus" in bad(call(stack, "2.102", "GET", f"/servers/{sid}?bogus=1"))
        assert "bogus" in bad(call(stack, "2.102", "GET", f"/servers/{sid}/tags?bogus=1"))
        ok(call(stack, "2.102", "GET", "/servers?name=gaps"))
        assert "bogus" in bad(call(stack, "2.102", "GET", "/servers?bogus=1"))
    finally:
        delete(stack, sid)


# -- 2.104 ------------------------------------------------------------------------------------

def _pinned(stack: Stack, sid: str) -> Any:
    return ok(call(stack, "2.104", "GET", f"/servers/{sid}"))["server"][
        "pinned_availability_zone"]


def test_2_104_pin_and_unpin_the_availability_zone(stack):
    sid = boot(stack, "gaps-pin", availability_zone="nova")["id"]
    try:
        assert _pinned(stack, sid) == "nova"
        # NOTE: not in the update body before 2.104.
        assert "pinned_availability_zone" in bad(call(
            stack, "2.103", "PUT", f"/servers/{sid}",
            {"server": {"pinned_availability_zone": None}}))
        same = ok(call(stack, "2.104", "PUT", f"/servers/{sid}",
                       {"server": {"pinned_availability_zone": "nova"}}))["server"]
        assert same["pinned_availability_zone"] == "nova"
        assert "Unpin first" in bad(call(stack, "2.104", "PUT", f"/servers/{sid}",
                                         {"server": {"pinned_availability_zone": "other"}}),
                                    409)
        unpinned = ok(call(stack, "2.104", "PUT", f"/servers/{sid}",
                           {"server": {"pinned_availability_zone": None}}))["server"]
        assert unpinned["pinned_availability_zone"] is None
        assert _pinned(stack, sid) is None
        message = bad(call(stack, "2.104", "PUT", f"/servers/{sid}",
                           {"server": {"pinned_availability_zone": "elsewhere"}}), 409)
        assert message == ("Server can only be pinned to its current availability zone "
                           "'nova', but 'elsewhere' was requested.")
        ok(call(stack, "2.104", "PUT", f"/servers/{sid}",
                {"server": {"pinned_availability_zone": "nova"}}))
        assert _pinned(stack, sid) == "nova"
        assert "pinned_availability_zone" in bad(call(
            stack, "2.104", "PUT", f"/servers/{sid}",
            {"server": {"pinned_availability_zone": ""}}))
    finally:
        delete(stack, sid)


# -- 2.74: host and hypervisor_hostname on create -------------------------------------------

def _nodes(stack: Stack) -> dict[str, str]:
    """{host: hypervisor_hostname} of the stack's computes."""
    hypervisors = ok(call(stack, "2.53", "GET", "/os-hypervisors/detail"))["hypervisors"]
    return {h["service"]["host"]: h["hypervisor_hostname"] for h in hypervisors}


def _host_of(stack: Stack, sid: str) -> str:
    return str(ok(call(stack, "2.74", "GET", f"/servers/{sid}"))["server"][
        "OS-EXT-SRV-ATTR:host"])


def test_2_74_create_on_a_requested_host_or_node(stack):
    nodes = _nodes(stack)
    assert set(nodes) == {"gaps-a", "gaps-b"}
    made = []
    try:
        for host in ("gaps-b", "gaps-a", "gaps-b"):
            made.append(boot(stack, f"gaps-on-{host}", "2.74", host=host)["id"])
            assert _host_of(stack, made[-1]) == host
        for host in ("gaps-a", "gaps-b"):
            made.append(boot(stack, f"gaps-node-{host}", "2.74",
                             hypervisor_hostname=nodes[host])["id"])
            assert _host_of(stack, made[-1]) == host
        made.append(boot(stack, "gaps-both", "2.74", host="gaps-a",
                         hypervisor_hostname=nodes["gaps-a"])["id"])
        assert _host_of(stack, made[-1]) == "gaps-a"
    finally:
        for sid in made:
            delete(stack, sid)


def test_2_74_bad_requests(stack, member):
    nodes = _nodes(stack)
    base = {"name": "gaps-bad", "flavorRef": "1", "imageRef": stack.image_id,
            "networks": "none"}

    def create(version: str, session: requests.Session | None = None, **extra: Any) -> Any:
        return call(stack, version, "POST", "/servers", {"server": {**base, **extra}},
                    session=session)

    # NOTE: not in the schema before 2.74.
    assert "host" in bad(create("2.73", host="gaps-a"))
    assert "hypervisor_hostname" in bad(create("2.73", hypervisor_hostname=nodes["gaps-a"]))
    assert bad(create("2.74", host="nowhere")) == "Compute host nowhere could not be found."
    assert bad(create("2.74", hypervisor_hostname="nonode")) == \
        "Compute host nonode could not be found."
    # NOTE: a node of another host, as Nova's ComputeNode lookup by both.
    assert bad(create("2.74", host="gaps-a", hypervisor_hostname=nodes["gaps-b"])) == \
        "Compute host gaps-a could not be found."
    # NOTE: admins only by default policy.
    bad(create("2.74", member, host="gaps-a"), 403)
    assert ok(call(stack, "2.74", "GET", "/servers?name=gaps-bad"))["servers"] == []


def test_2_74_a_requested_host_that_cannot_take_it_is_no_valid_host(stack):
    services = ok(call(stack, "2.53", "GET", "/os-services?host=gaps-b"))["services"]
    svc = next(s for s in services if s["host"] == "gaps-b")
    ok(call(stack, "2.53", "PUT", f"/os-services/{svc['id']}", {"status": "disabled"}))
    sid = None
    try:
        created = ok(call(stack, "2.74", "POST", "/servers", {"server": {
            "name": "gaps-novalid", "flavorRef": "1", "imageRef": stack.image_id,
            "networks": "none", "host": "gaps-b"}}), 202)["server"]
        sid = created["id"]
        server = stack.wait_status(sid, "ERROR")
        assert "No valid host" in server["fault"]["message"]
    finally:
        ok(call(stack, "2.53", "PUT", f"/os-services/{svc['id']}", {"status": "enabled"}))
        if sid:
            delete(stack, sid)


# -- 2.63: trusted image certificates ---------------------------------------------------------

def test_2_63_trusted_image_certificates_recorded_and_shown(stack):
    certs = ["0b5d2c72-12cc-4ba6-a8d7-3ff5cc1d8cb8", "674736e3-f25c-405c-8362-bbf991e0ce0a"]
    base = {"name": "gaps-tc", "flavorRef": "1", "imageRef": stack.image_id,
            "networks": "none"}
    assert "trusted_image_certificates" in bad(call(
        stack, "2.62", "POST", "/servers",
        {"server": {**base, "trusted_image_certificates": certs}}))
    # NOTE: 1 to 50 unique non-empty strings (an item's error names its index).
    for wrong in ([], ["a", "a"], [""], [f"c{i}" for i in range(51)], "a", [1]):
        bad(call(stack, "2.63", "POST", "/servers",
                 {"server": {**base, "trusted_image_certificates": wrong}}))
    assert ok(call(stack, "2.63", "GET", "/servers?name=gaps-tc"))["servers"] == []
    sid = boot(stack, "gaps-tc", "2.63", trusted_image_certificates=certs)["id"]
    plain = boot(stack, "gaps-tc-none", "2.63")["id"]
    try:
        assert ok(call(stack, "2.63", "GET", f"/servers/{sid}"))["server"][
            "trusted_image_certificates"] == certs
        assert "trusted_image_certificates" not in ok(call(
            stack, "2.62", "GET", f"/servers/{sid}"))["server"]
        assert ok(call(stack, "2.63", "GET", f"/servers/{plain}"))["server"][
            "trusted_image_certificates"] is None
        detail = ok(call(stack, "2.63", "GET", "/servers/detail?name=gaps-tc"))["servers"]
        assert {s["id"]: s["trusted_image_certificates"] for s in detail} == {
            sid: certs, plain: None}

        def rebuild(version: str, **extra: Any) -> dict:
            resp = call(stack, version, "POST", f"/servers/{sid}/action",
                        {"rebuild": {"imageRef": stack.image_id, **extra}})
            body = ok(resp, 202)["server"]
            stack.wait_status(sid, "ACTIVE")
            return dict(body)

        # NOTE: a rebuild without the key keeps them, a list replaces them, null unsets.
        assert rebuild("2.63")["trusted_image_certificates"] == certs
        assert "trusted_image_certificates" in bad(call(
            stack, "2.62", "POST", f"/servers/{sid}/action",
            {"rebuild": {"imageRef": stack.image_id, "trusted_image_certificates": ["x"]}}))
        assert rebuild("2.63", trusted_image_certificates=["x"])[
            "trusted_image_certificates"] == ["x"]
        assert ok(call(stack, "2.63", "GET", f"/servers/{sid}"))["server"][
            "trusted_image_certificates"] == ["x"]
        assert rebuild("2.63", trusted_image_certificates=None)[
            "trusted_image_certificates"] is None
        assert ok(call(stack, "2.63", "GET", f"/servers/{sid}"))["server"][
            "trusted_image_certificates"] is None
    finally:
        delete(stack, sid)
        delete(stack, plain)


# -- 2.86: flavor extra specs validation ------------------------------------------------------

@pytest.fixture
def flavor(stack: Stack) -> Iterator[str]:
    made = ok(call(stack, None, "POST", "/flavors", {"flavor": {
        "name": "gaps-es", "ram": 64, "vcpus": 1, "disk": 0}}))["flavor"]
    try:
        yield str(made["id"])
    finally:
        ok(call(stack, None, "DELETE", f"/flavors/{made['id']}"), 202)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("hw:cpu_policy", "exclusive",
     "Validation failed; 'exclusive' is not one of: dedicated, shared, mixed."),
    ("hw:numa_nodes", "0", "Validation failed; '0' is less than the min value of '1'."),
    ("hw:numa_nodes", "two", "Validation failed; 'two' is not a valid integer value."),
    ("hw:redirected_usb_ports", 16,
     "Validation failed; '16' is greater than the max value of '15'."),
    ("hw_rng:allowed", "maybe", "Validation failed; 'maybe' is not a valid boolean-like value."),
    ("hw:mem_page_size", "huge", "Validation failed; 'huge' is not of the format "
                                 "'(large|small|any|\\d+([kKMGT]i?)?(b|bit|B)?)'."),
    ("hw:no_such_thing", "1",
     "Validation failed; extra spec 'hw:no_such_thing' does not appear to be a valid extra "
     "spec."),
    ("quota:disk_read_bytes_sec", "-1",
     "Validation failed; '-1' is less than the min value of '0'."),
    ("trait:NOT_A_TRAIT", "required",
     "Validation failed; extra spec 'trait:NOT_A_TRAIT' does not appear to be a valid extra "
     "spec."),
    ("trait:CUSTOM_GAPS", "wanted",
     "Validation failed; 'wanted' is not one of: required, forbidden."),
    ("resources1:VCPU", "x", "Validation failed; 'x' is not a valid integer value."),
    ("capabilities:no_such", "x",
     "Validation failed; extra spec 'capabilities:no_such' does not appear to be a valid "
     "extra spec."),
    ("os:secure_boot", "yes", "Validation failed; 'yes' is not one of: disabled, required."),
    ("group_policy", "all", "Validation failed; 'all' is not one of: isolate, none."),
])
def test_2_86_invalid_extra_specs_are_400(stack, flavor, key, value, message):
    path = f"/flavors/{flavor}/os-extra_specs"
    # NOTE: anything goes before 2.86.
    ok(call(stack, "2.85", "POST", path, {"extra_specs": {key: value}}))
    assert bad(call(stack, "2.86", "POST", path, {"extra_specs": {key: value}})) == message
    assert bad(call(stack, "2.86", "PUT", f"{path}/{key}", {key: value})) == message
    assert ok(call(stack, "2.86", "GET", path))["extra_specs"] == {key: str(value)}


def test_2_86_valid_and_free_form_extra_specs_are_kept(stack, flavor):
    path = f"/flavors/{flavor}/os-extra_specs"
    specs = {"hw:cpu_policy": "dedicated", "hw:numa_nodes": 2, "hw:numa_cpus.0": "0-1",
             "hw:numa_mem.0": "256", "hw_rng:allowed": "True", "hw:mem_page_size": "2MB",
             "trait:HW_CPU_X86_AVX2": "required", "trait1:CUSTOM_GAPS": "forbidden",
             "resources:VCPU": "1", "resources_gpu:CUSTOM_GPU": "2",
             "capabilities:stats:foo": "x", "aggregate_instance_extra_specs:ssd": "true",
             "vmware:hw_version": "anything", "accel:device_profile": "p1",
             "pci_passthrough:alias": "a1:2, a2:1", "quota:cpu_quota": "-1",
             "os:secure_boot": "required", "hw_video:ram_max_mb": "64",
             # NOTE: no namespace, or one Nova does not know: not validated.
             "free_form": "x", "myns:anything": "y"}
    ok(call(stack, "2.86", "POST", path, {"extra_specs": specs}))
    assert ok(call(stack, "2.86", "GET", path))["extra_specs"] == {
        k: str(v) for k, v in specs.items()}
    ok(call(stack, "2.86", "PUT", f"{path}/hw:cpu_policy", {"hw:cpu_policy": "mixed"}))
    assert ok(call(stack, "2.86", "GET", f"{path}/hw:cpu_policy")) == {
        "hw:cpu_policy": "mixed"}
    # NOTE: the value is checked before the URL's key, as Nova.
    assert bad(call(stack, "2.86", "PUT", f"{path}/hw:cpu_policy", {"hw:numa_nodes": "x"})) \
        == "Validation failed; 'x' is not a valid integer value."
    assert bad(call(stack, "2.86", "PUT", f"{path}/hw:cpu_policy", {"hw:numa_nodes": "1"})) \
        == "Request body and URI mismatch"
