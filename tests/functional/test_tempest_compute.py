"""Compute APIs the upstream conformance suite (tempest) found missing or
different from Nova, through the HTTP API of one FakeDriver stack: the
v2.0 version document, /extensions, os-hosts (until 2.42), ...

Each test asserts Nova's documented behaviour, not tempest's checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.stack import Stack

MEMBER = {"X-User-Id": "alice", "X-Project-Id": "proj-a", "X-Roles": "member"}


def _v(version: str) -> dict:
    return {"OpenStack-API-Version": f"compute {version}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(str(tmp_path_factory.mktemp("tempest-compute"))).start()
    try:
        yield s
    finally:
        s.stop()


def test_every_listed_version_link_resolves_to_its_own_document(stack: Stack) -> None:
    versions = stack.request("GET", "/compute/").json()["versions"]
    assert {v["id"] for v in versions} == {"v2.0", "v2.1"}
    for version in versions:
        self_link = [link for link in version["links"] if link["rel"] == "self"]
        resp = stack.session.get(self_link[0]["href"], timeout=30)
        assert resp.status_code == 200, (self_link, resp.text)
        doc = resp.json()["version"]
        assert doc["id"] == version["id"]
        assert [link for link in doc["links"] if link["rel"] == "self"] == self_link
    v20 = stack.request("GET", "/compute/v2/").json()["version"]
    assert v20["status"] == "SUPPORTED" and v20["version"] == ""


def test_extensions_list_and_show(stack: Stack) -> None:
    resp = stack.compute("GET", "/extensions", headers=MEMBER)
    assert resp.status_code == 200, resp.text
    extensions = resp.json()["extensions"]
    aliases = [e["alias"] for e in extensions]
    assert aliases == sorted(aliases) and "os-hosts" in aliases
    hosts = next(e for e in extensions if e["alias"] == "os-hosts")
    assert hosts["name"] == "Hosts" and hosts["links"] == []
    assert set(hosts) == {"alias", "name", "description", "namespace", "updated", "links"}
    shown = stack.compute("GET", "/extensions/os-consoles", headers=MEMBER).json()
    assert shown["extension"]["alias"] == "os-consoles"
    missing = stack.compute("GET", "/extensions/os-cloudpipe", headers=MEMBER)
    assert missing.status_code == 404 and "os-cloudpipe" in missing.json()[
        "itemNotFound"]["message"]


def _compute_host(stack: Stack) -> str:
    hosts = stack.compute("GET", "/os-hosts").json()["hosts"]
    return next(h["host_name"] for h in hosts if h["service"] == "compute")


def test_os_hosts_list_filters_by_zone_and_ends_at_2_43(stack: Stack) -> None:
    hosts = stack.compute("GET", "/os-hosts").json()["hosts"]
    services = {h["service"] for h in hosts}
    assert {"compute", "conductor", "scheduler"} <= services
    compute = next(h for h in hosts if h["service"] == "compute")
    assert compute == {"host_name": "host1", "service": "compute", "zone": "nova"}
    assert all(h["zone"] == "internal" for h in hosts if h["service"] != "compute")
    assert stack.compute("GET", "/os-hosts?zone=").json()["hosts"] == hosts
    assert stack.compute("GET", "/os-hosts?zone=nova").json()["hosts"] == [compute]
    assert stack.compute("GET", "/os-hosts?zone=nowhere").json()["hosts"] == []
    assert stack.compute("GET", "/os-hosts", headers=MEMBER).status_code == 403
    gone = stack.compute("GET", "/os-hosts", headers=_v("2.43"))
    assert gone.status_code == 404, gone.text
    assert stack.compute("GET", "/os-hosts", headers=_v("2.42")).status_code == 200


def test_os_hosts_show_sums_the_servers_flavors(stack: Stack) -> None:
    server = stack.wait_status(stack.boot("on-host", networks="none")["id"], "ACTIVE")
    flavor = stack.compute("GET", "/flavors/1").json()["flavor"]
    try:
        host = _compute_host(stack)
        resp = stack.compute("GET", f"/os-hosts/{host}")
        assert resp.status_code == 200, resp.text
        rows = [r["resource"] for r in resp.json()["host"]]
        assert [r["project"] for r in rows[:3]] == ["(total)", "(used_now)", "(used_max)"]
        assert all(r["host"] == host for r in rows)
        node = stack.compute("GET", "/os-hypervisors/detail").json()["hypervisors"][0]
        assert (rows[0]["cpu"], rows[0]["memory_mb"]) == (node["vcpus"], node["memory_mb"])
        disk = flavor["disk"] + flavor["OS-FLV-EXT-DATA:ephemeral"]
        assert (rows[2]["cpu"], rows[2]["memory_mb"], rows[2]["disk_gb"]) == (
            flavor["vcpus"], flavor["ram"], disk)
        assert len(rows) == 4 and rows[3]["cpu"] == flavor["vcpus"]
    finally:
        stack.compute("DELETE", f"/servers/{server['id']}")
        stack.wait_gone(server["id"])
    missing = stack.compute("GET", "/os-hosts/nonexistent_hostname")
    assert missing.status_code == 404
    assert "nonexistent_hostname" in missing.json()["itemNotFound"]["message"]


def _service(stack: Stack, host: str) -> dict[str, Any]:
    services = stack.compute("GET", f"/os-services?host={host}").json()["services"]
    return next(s for s in services if s["binary"] == "nova-compute")


def test_os_hosts_update_toggles_the_compute_service(stack: Stack) -> None:
    host = _compute_host(stack)
    try:
        resp = stack.compute("PUT", f"/os-hosts/{host}", {"status": "disable"})
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"host": host, "status": "disabled"}
        assert _service(stack, host)["status"] == "disabled"
    finally:
        resp = stack.compute("PUT", f"/os-hosts/{host}", {"status": "Enable"})
    assert resp.json() == {"host": host, "status": "enabled"}
    assert _service(stack, host)["status"] == "enabled"
    for body in ({"status": "off"}, {"maintenance_mode": "maybe"}, {}, {"other": 1}):
        bad = stack.compute("PUT", f"/os-hosts/{host}", body)
        assert bad.status_code == 400, (body, bad.text)
    assert stack.compute("PUT", "/os-hosts/nowhere", {"status": "enable"}).status_code == 404
    assert stack.compute("PUT", f"/os-hosts/{host}", {"status": "enable"},
                         headers=MEMBER).status_code == 403
    maintenance = stack.compute("PUT", f"/os-hosts/{host}", {"maintenance_mode": "enable"})
    assert maintenance.status_code == 501


def test_os_hosts_power_actions_are_not_implemented(stack: Stack) -> None:
    host = _compute_host(stack)
    for action in ("startup", "shutdown", "reboot"):
        assert stack.compute("GET", f"/os-hosts/{host}/{action}").status_code == 501
        assert stack.compute("GET", f"/os-hosts/nowhere/{action}").status_code == 404
        assert stack.compute("GET", f"/os-hosts/{host}/{action}",
                             headers=MEMBER).status_code == 403


def test_usage_audit_log_reports_the_last_month_with_no_audit_run(stack: Stack) -> None:
    resp = stack.compute("GET", "/os-instance_usage_audit_log")
    assert resp.status_code == 200, resp.text
    log = resp.json()["instance_usage_audit_logs"]
    assert log["hosts_not_run"] == ["host1"] and log["num_hosts"] == 1
    assert (log["num_hosts_done"], log["total_instances"], log["log"]) == (0, 0, {})
    assert log["overall_status"] == "0 of 1 hosts done. 0 errors."
    before = stack.compute("GET", "/os-instance_usage_audit_log/2026-03-15%2010:00:00")
    assert before.status_code == 200, before.text
    shown = before.json()["instance_usage_audit_log"]
    assert (shown["period_beginning"], shown["period_ending"]) == (
        "2026-02-01 00:00:00", "2026-03-01 00:00:00")
    january = stack.compute("GET", "/os-instance_usage_audit_log/2026-01-02%2000:00:00.5")
    assert january.json()["instance_usage_audit_log"]["period_beginning"] == \
        "2025-12-01 00:00:00"
    bad = stack.compute("GET", "/os-instance_usage_audit_log/2026-13-45")
    assert bad.status_code == 400 and "2026-13-45" in bad.json()["badRequest"]["message"]
    assert stack.compute("GET", "/os-instance_usage_audit_log",
                         headers=MEMBER).status_code == 403
    assert stack.compute("GET", "/os-instance_usage_audit_log/2026-03-15%2010:00:00",
                         headers=MEMBER).status_code == 403


def test_deleting_a_flavor_extra_spec_answers_200_with_no_body(stack: Stack) -> None:
    flavor = {"flavor": {"name": "specs-200", "ram": 64, "vcpus": 1, "disk": 0}}
    flavor_id = stack.compute("POST", "/flavors", flavor).json()["flavor"]["id"]
    try:
        base = f"/flavors/{flavor_id}/os-extra_specs"
        specs = {"extra_specs": {"hw:numa_nodes": "1", "hw:cpu_policy": "shared"}}
        assert stack.compute("POST", base, specs).status_code == 200
        resp = stack.compute("DELETE", f"{base}/hw:numa_nodes")
        assert resp.status_code == 200 and resp.content == b"", resp.text
        left = stack.compute("GET", base).json()["extra_specs"]
        assert left == {"hw:cpu_policy": "shared"}
        assert stack.compute("DELETE", f"{base}/hw:numa_nodes").status_code == 404
    finally:
        stack.compute("DELETE", f"/flavors/{flavor_id}")


def test_os_networks_proxies_the_networks_until_2_35(stack: Stack) -> None:
    from novalite.network import manage as network_manage

    # NOTE: a record only (the fake driver plugs nothing); bridge name unused here
    network_manage.create_network("tempest-net", "10.9.33.0/24", bridge="nltc0")
    neutron = stack.request("GET", "/network/v2.0/networks").json()["networks"]
    resp = stack.compute("GET", "/os-networks", headers=MEMBER)
    assert resp.status_code == 200, resp.text
    listed = resp.json()["networks"]
    assert sorted((n["id"], n["label"]) for n in listed) == sorted(
        (n["id"], n["name"]) for n in neutron)
    assert set(listed[0]) == {"id", "cidr", "netmask", "gateway", "broadcast", "dns1",
                              "dns2", "cidr_v6", "gateway_v6", "label", "netmask_v6"}
    assert all(v is None for k, v in listed[0].items() if k not in ("id", "label"))
    admin = stack.compute("GET", f"/os-networks/{listed[0]['id']}").json()["network"]
    assert admin["label"] == listed[0]["label"] and "bridge" in admin and "mtu" in admin
    missing = stack.compute("GET", "/os-networks/00000000-0000-0000-0000-000000000000",
                            headers=MEMBER)
    assert missing.status_code == 404, missing.text
    assert stack.compute("GET", "/os-networks", headers=_v("2.36")).status_code == 404
    assert stack.compute("POST", "/os-networks", {"network": {"label": "x"}}).status_code \
        == 410
    assert stack.compute("DELETE", f"/os-networks/{listed[0]['id']}").status_code == 410


def test_server_diagnostics_in_both_formats_admins_only(stack: Stack) -> None:
    server = stack.wait_status(stack.boot("diag", networks="none")["id"], "ACTIVE")
    flavor = stack.compute("GET", "/flavors/1").json()["flavor"]
    path = f"/servers/{server['id']}/diagnostics"
    try:
        resp = stack.compute("GET", path, headers=_v("2.48"))
        assert resp.status_code == 200, resp.text
        diag = resp.json()
        assert diag["state"] == "running" and diag["driver"] == "libvirt"
        assert diag["hypervisor"] == "fake" and diag["config_drive"] is False
        assert diag["memory_details"] == {"maximum": flavor["ram"], "used": None}
        assert diag["num_cpus"] == flavor["vcpus"] == len(diag["cpu_details"])
        assert diag["num_nics"] == 0 and diag["nic_details"] == []
        assert diag["num_disks"] == 1 and diag["disk_details"][0]["read_bytes"] is None
        # NOTE: before 2.48 the flat form, unmeasured values left out
        old = stack.compute("GET", path, headers=_v("2.47")).json()
        assert old == {"memory": flavor["ram"] * 1024}
        assert stack.compute("GET", path, headers=MEMBER).status_code in (403, 404)
        stack.compute("POST", f"/servers/{server['id']}/action", {"os-stop": None})
        stack.wait_status(server["id"], "SHUTOFF")
        stopped = stack.compute("GET", path, headers=_v("2.48"))
        assert stopped.status_code == 409, stopped.text
        assert "power_state shutdown" in stopped.json()["conflictingRequest"]["message"]
    finally:
        stack.compute("DELETE", f"/servers/{server['id']}")
        stack.wait_gone(server["id"])
    assert stack.compute("GET", path).status_code == 404


def test_server_diagnostics_refused_to_the_servers_own_member(stack: Stack) -> None:
    body = {"server": {"name": "mine", "flavorRef": "1", "imageRef": stack.image_id,
                       "networks": "none"}}
    resp = stack.compute("POST", "/servers", body, headers={**MEMBER, **_v("2.37")})
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    try:
        stack.wait_status(server_id, "ACTIVE")
        denied = stack.compute("GET", f"/servers/{server_id}/diagnostics", headers=MEMBER)
        assert denied.status_code == 403, denied.text
    finally:
        stack.compute("DELETE", f"/servers/{server_id}")
        stack.wait_gone(server_id)


def test_hypervisor_uptime_from_its_host(stack: Stack) -> None:
    hypervisor = stack.compute("GET", "/os-hypervisors").json()["hypervisors"][0]
    resp = stack.compute("GET", f"/os-hypervisors/{hypervisor['id']}/uptime")
    assert resp.status_code == 200, resp.text
    body = resp.json()["hypervisor"]
    assert {k: body[k] for k in hypervisor} == hypervisor
    assert " up " in body["uptime"] and "load average" in body["uptime"]
    new = stack.compute("GET", "/os-hypervisors", headers=_v("2.88")).json()["hypervisors"][0]
    shown = stack.compute("GET", f"/os-hypervisors/{new['id']}", headers=_v("2.88"))
    assert "load average" in shown.json()["hypervisor"]["uptime"]
    listed = stack.compute("GET", "/os-hypervisors/detail", headers=_v("2.88")).json()
    assert listed["hypervisors"][0]["uptime"] is None
    gone = stack.compute("GET", f"/os-hypervisors/{new['id']}/uptime", headers=_v("2.88"))
    assert gone.status_code == 404
    assert stack.compute("GET", f"/os-hypervisors/{hypervisor['id']}/uptime",
                         headers=MEMBER).status_code == 403


def test_stop_and_start_take_an_empty_object_as_nova(stack: Stack) -> None:
    server = stack.wait_status(stack.boot("stop-obj", networks="none")["id"], "ACTIVE")
    action = f"/servers/{server['id']}/action"
    try:
        assert stack.compute("POST", action, {"os-stop": {}}).status_code == 202
        stack.wait_status(server["id"], "SHUTOFF")
        listed = stack.compute("GET", "/servers?status=SHUTOFF").json()["servers"]
        assert server["id"] in [s["id"] for s in listed]
        assert stack.compute("POST", action, {"os-start": {}}).status_code == 202
        stack.wait_status(server["id"], "ACTIVE")
        extra = stack.compute("POST", action, {"os-stop": None, "other": 1})
        assert extra.status_code == 400, extra.text
    finally:
        stack.compute("DELETE", f"/servers/{server['id']}")
        stack.wait_gone(server["id"])


def test_restore_of_a_server_that_is_not_soft_deleted_is_409(stack: Stack) -> None:
    server = stack.wait_status(stack.boot("restore", networks="none")["id"], "ACTIVE")
    try:
        resp = stack.compute("POST", f"/servers/{server['id']}/action", {"restore": {}})
        assert resp.status_code == 409, resp.text
        message = resp.json()["conflictingRequest"]["message"]
        assert "'restore'" in message and "vm_state active" in message
        assert stack.compute("POST", f"/servers/{server['id']}/action", {"restore": None},
                             headers=MEMBER).status_code == 404
    finally:
        stack.compute("DELETE", f"/servers/{server['id']}")
        stack.wait_gone(server["id"])
