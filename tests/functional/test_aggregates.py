"""Writable host aggregates (/os-aggregates) on the in-process stack: the
API as Nova answers it, the zone metadata feeding the zone list, server
create's zone check and the scheduler's AvailabilityZoneFilter, and the
AggregateInstanceExtraSpecsFilter."""

from __future__ import annotations

from typing import Any

import pytest

from novalite.scheduler.filters.aggregate_instance_extra_specs import match

V241 = {"OpenStack-API-Version": "compute 2.41"}


@pytest.fixture
def two_hosts(make_stack: Any) -> Any:
    return make_stack(computes=[("host1", "fake.FakeDriver"), ("host2", "fake.FakeDriver")],
                      overrides={("scheduler", "enabled_filters"): [
                          "ComputeFilter", "AvailabilityZoneFilter", "RamFilter",
                          "AggregateInstanceExtraSpecsFilter"]})


def _create(stack: Any, name: str, zone: str | None = None) -> dict:
    body: dict = {"name": name}
    if zone is not None:
        body["availability_zone"] = zone
    resp = stack.compute("POST", "/os-aggregates", {"aggregate": body})
    assert resp.status_code == 200, resp.text
    return resp.json()["aggregate"]


def _action(stack: Any, agg_id: int, body: dict, headers: dict | None = None) -> Any:
    return stack.compute("POST", f"/os-aggregates/{agg_id}/action", body, headers=headers)


def _zones(stack: Any) -> dict[str, bool]:
    info = stack.compute("GET", "/os-availability-zone").json()["availabilityZoneInfo"]
    return {z["zoneName"]: z["zoneState"]["available"] for z in info}


def test_aggregate_lifecycle_as_nova_answers_it(two_hosts: Any) -> None:
    stack = two_hosts
    agg = _create(stack, "rack1")
    assert "hosts" not in agg and "metadata" not in agg and "uuid" not in agg
    assert agg["name"] == "rack1" and agg["availability_zone"] is None
    assert stack.compute("POST", "/os-aggregates",
                         {"aggregate": {"name": "rack1"}}).status_code == 409
    assert stack.compute("POST", "/os-aggregates",
                         {"aggregate": {"name": "x", "availability_zone": "a:b"}}
                         ).status_code == 400
    resp = _action(stack, agg["id"], {"add_host": {"host": "host1"}}, headers=V241)
    assert resp.status_code == 200, resp.text
    shown = resp.json()["aggregate"]
    assert shown["hosts"] == ["host1"] and len(shown["uuid"]) == 36
    assert _action(stack, agg["id"], {"add_host": {"host": "host1"}}).status_code == 409
    missing = _action(stack, agg["id"], {"add_host": {"host": "nohost"}})
    assert missing.status_code == 404 and "nohost" in missing.text
    resp = _action(stack, agg["id"], {"set_metadata": {"metadata": {"ssd": "true",
                                                                    "gone": None}}})
    assert resp.json()["aggregate"]["metadata"] == {"ssd": "true"}
    resp = _action(stack, agg["id"], {"set_metadata": {"metadata": {"ssd": None}}})
    assert resp.json()["aggregate"]["metadata"] == {}
    assert _action(stack, agg["id"], {"bogus": {}}).status_code == 400
    listed = stack.compute("GET", "/os-aggregates").json()["aggregates"]
    assert [a["name"] for a in listed] == ["rack1"]
    busy = stack.compute("DELETE", f"/os-aggregates/{agg['id']}")
    assert busy.status_code == 400 and "not empty" in busy.text
    resp = _action(stack, agg["id"], {"remove_host": {"host": "host1"}})
    assert resp.status_code == 200 and resp.json()["aggregate"]["hosts"] == []
    again = _action(stack, agg["id"], {"remove_host": {"host": "host1"}})
    assert again.status_code == 404
    assert stack.compute("DELETE", f"/os-aggregates/{agg['id']}").status_code == 200
    assert stack.compute("GET", f"/os-aggregates/{agg['id']}").status_code == 404
    # NOTE: on the same stack (a stack takes seconds to stop)
    _flavor_extra_specs_must_match_aggregate_metadata(stack)


def test_zone_metadata_moves_hosts_between_zones_for_api_and_scheduler(
        two_hosts: Any) -> None:
    stack = two_hosts
    agg = _create(stack, "az-agg", zone="zone-b")
    assert "zone-b" not in _zones(stack)
    _action(stack, agg["id"], {"add_host": {"host": "host2"}})
    assert _zones(stack) == {"nova": True, "zone-b": True}
    server = stack.boot("in-b", networks="none", availability_zone="zone-b")
    assert stack.wait_status(server["id"], "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "host2"
    server = stack.boot("in-nova", networks="none", availability_zone="nova")
    assert stack.wait_status(server["id"], "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "host1"
    # a host is in one zone: a second aggregate naming another zone conflicts
    other = _create(stack, "other", zone="zone-c")
    conflict = _action(stack, other["id"], {"add_host": {"host": "host2"}})
    assert conflict.status_code == 409 and "zone-b" in conflict.text
    # renaming the zone (update) moves the host with it; null removes it
    resp = stack.compute("PUT", f"/os-aggregates/{agg['id']}",
                         {"aggregate": {"availability_zone": "zone-d"}})
    assert resp.status_code == 200 and resp.json()["aggregate"]["availability_zone"] == "zone-d"
    assert "zone-d" in _zones(stack) and "zone-b" not in _zones(stack)
    stack.compute("PUT", f"/os-aggregates/{agg['id']}",
                  {"aggregate": {"availability_zone": None}})
    assert _zones(stack) == {"nova": True}
    bad = stack.compute("POST", "/servers", {"server": {
        "name": "x", "flavorRef": "1", "imageRef": stack.image_id, "networks": "none",
        "availability_zone": "zone-d"}})
    assert bad.status_code == 400 and "zone-d" in bad.text


def _flavor_extra_specs_must_match_aggregate_metadata(stack: Any) -> None:
    agg = _create(stack, "fast")
    _action(stack, agg["id"], {"add_host": {"host": "host2"}})
    _action(stack, agg["id"], {"set_metadata": {"metadata": {"ssd": "true"}}})
    resp = stack.compute("POST", "/flavors", {"flavor": {
        "name": "ssd.tiny", "ram": 64, "vcpus": 1, "disk": 1, "id": "ssd1"}})
    assert resp.status_code == 200, resp.text
    resp = stack.compute("POST", "/flavors/ssd1/os-extra_specs",
                         {"extra_specs": {"aggregate_instance_extra_specs:ssd": "true"}})
    assert resp.status_code == 200, resp.text
    for i in range(2):
        s = stack.wait_status(stack.boot(f"ssd{i}", flavor="ssd1", networks="none")["id"],
                              "ACTIVE")
        assert s["OS-EXT-SRV-ATTR:host"] == "host2"
    _action(stack, agg["id"], {"remove_host": {"host": "host2"}})
    failed = stack.wait_status(stack.boot("nossd", flavor="ssd1", networks="none")["id"],
                               "ERROR")
    message = failed["fault"]["message"]
    assert "AggregateInstanceExtraSpecsFilter removed 2 of 2 hosts" in message, message
    assert "no aggregate with ssd=true" in message


def test_extra_spec_operators_as_nova() -> None:
    assert match("true", "true") and not match("false", "true")
    assert match("8", "= 4") and not match("2", "= 4")
    assert match("ssd", "s== ssd") and not match("hdd", "s== ssd")
    assert match("fast ssd disks", "<in> ssd") and not match("hdd", "<in> ssd")
    assert match("b", "<or> a <or> b") and not match("c", "<or> a <or> b")
    assert match("a b c", "<all-in> a c") and not match("a b", "<all-in> a c")
