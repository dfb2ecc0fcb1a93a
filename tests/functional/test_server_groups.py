"""Server groups through the API on the in-process stack with FakeDriver
hosts: the API (Nova's shapes per microversion, quotas), membership from
the ``group`` hint, and the scheduler's filters and weighers that enforce
each policy, including within one multi-create request."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

V264 = {"OpenStack-API-Version": "compute 2.64"}
V215 = {"OpenStack-API-Version": "compute 2.15"}


def _group(stack: Any, policy: str, name: str = "g", headers: dict | None = None,
           rules: dict | None = None) -> dict:
    if headers and headers is V264:
        body: dict = {"name": name, "policy": policy}
        if rules is not None:
            body["rules"] = rules
    else:
        body = {"name": name, "policies": [policy]}
    resp = stack.compute("POST", "/os-server-groups", {"server_group": body},
                         headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["server_group"]


def _boot_in(stack: Any, group_id: str, name: str, **extra: Any) -> dict:
    body = {"server": {"name": name, "flavorRef": "1", "imageRef": stack.image_id,
                       "networks": "none", **extra},
            "os:scheduler_hints": {"group": group_id}}
    resp = stack.compute("POST", "/servers", body)
    assert resp.status_code == 202, resp.text
    return resp.json()["server"]


def _host(server: dict) -> str:
    return str(server["OS-EXT-SRV-ATTR:host"])


# NOTE: weighers that stack (fill the fullest host first), so only the
# group policy can spread servers: a test of spreading then proves the policy.
STACKING = {("scheduler", "ram_weight_multiplier"): -1.0,
            ("scheduler", "cpu_weight_multiplier"): -1.0,
            ("scheduler", "disk_weight_multiplier"): -1.0}


@pytest.fixture
def two_hosts(make_stack: Any) -> Any:
    return make_stack(computes=[("host1", "fake.FakeDriver"), ("host2", "fake.FakeDriver")],
                      overrides={**STACKING, ("quota", "instances"): -1,
                                 ("quota", "cores"): -1, ("quota", "ram"): -1})


def _anti_affinity_with_two_hosts_puts_two_servers_apart(stack: Any) -> None:
    group = _group(stack, "anti-affinity")
    first = _boot_in(stack, group["id"], "a1")
    first = stack.wait_status(first["id"], "ACTIVE")
    second = _boot_in(stack, group["id"], "a2")
    second = stack.wait_status(second["id"], "ACTIVE")
    assert {_host(first), _host(second)} == {"host1", "host2"}
    shown = stack.compute("GET", f"/os-server-groups/{group['id']}").json()["server_group"]
    assert sorted(shown["members"]) == sorted([first["id"], second["id"]])


def test_anti_affinity_with_two_hosts_puts_servers_apart(two_hosts: Any) -> None:
    """One server after another, a multi-create, racing creates; then a
    multi-create with more servers than hosts, and the same_host /
    different_host hints (one two-host stack: a stack takes seconds to stop;
    each scenario makes its own groups and servers)."""
    _anti_affinity_with_two_hosts_puts_two_servers_apart(two_hosts)
    _a_multi_create_into_an_anti_affinity_group_spreads(two_hosts)
    _concurrent_creates_into_anti_affinity_groups_land_apart(two_hosts)
    _a_multi_create_larger_than_the_hosts_fails_as_one_request(two_hosts)
    _same_host_and_different_host_hints(two_hosts)


def test_anti_affinity_with_one_host_is_no_valid_host_naming_the_policy(
        make_stack: Any) -> None:
    stack = make_stack(computes=[("host1", "fake.FakeDriver")])
    group = _group(stack, "anti-affinity")
    first = stack.wait_status(_boot_in(stack, group["id"], "b1")["id"], "ACTIVE")
    assert _host(first) == "host1"
    second = stack.wait_status(_boot_in(stack, group["id"], "b2")["id"], "ERROR")
    message = second["fault"]["message"]
    assert "ServerGroupAntiAffinityFilter removed 1 of 1 host" in message, message
    assert "anti-affinity" in message and group["id"] in message, message

    # 2.64's max_server_per_host rule: that many per host, then NoValidHost
    group = _group(stack, "anti-affinity", headers=V264, rules={"max_server_per_host": 2})
    assert group["rules"] == {"max_server_per_host": 2} and group["policy"] == "anti-affinity"
    ok = [stack.wait_status(_boot_in(stack, group["id"], f"r{i}")["id"], "ACTIVE")
          for i in (1, 2)]
    assert {_host(s) for s in ok} == {"host1"}
    third = stack.wait_status(_boot_in(stack, group["id"], "r3")["id"], "ERROR")
    assert "allows 2 per host" in third["fault"]["message"]


def _a_multi_create_into_an_anti_affinity_group_spreads(stack: Any) -> None:
    group = _group(stack, "anti-affinity")
    _boot_in(stack, group["id"], "m", min_count=2, max_count=2)
    servers = stack.compute("GET", "/servers/detail?name=^m-").json()["servers"]
    assert len(servers) == 2
    done = [stack.wait_status(s["id"], "ACTIVE") for s in servers]
    assert sorted(_host(s) for s in done) == ["host1", "host2"]


def _concurrent_creates_into_anti_affinity_groups_land_apart(stack: Any) -> None:
    """Separate requests racing each other: the second is scheduled before
    the first's instance row names its host, so the scheduler counts the
    host it chose for the first (three groups, two servers each, at once)."""
    import threading

    groups = [_group(stack, "anti-affinity", f"c{i}") for i in range(3)]
    made: dict[str, list[str]] = {g["id"]: [] for g in groups}

    def boot(group_id: str, name: str) -> None:
        made[group_id].append(_boot_in(stack, group_id, name)["id"])

    threads = [threading.Thread(target=boot, args=(g["id"], f"{g['name']}-{n}"))
               for g in groups for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for group_id, ids in made.items():
        hosts = sorted(_host(stack.wait_status(i, "ACTIVE")) for i in ids)
        assert hosts == ["host1", "host2"], (group_id, hosts)


def _a_multi_create_larger_than_the_hosts_fails_as_one_request(stack: Any) -> None:
    """Three servers, two hosts, anti-affinity: no placement fits, so the
    whole request is NoValidHost (as Nova), every server in ERROR."""
    group = _group(stack, "anti-affinity")
    _boot_in(stack, group["id"], "t", min_count=3, max_count=3)
    servers = stack.compute("GET", "/servers/detail?name=^t-").json()["servers"]
    for s in servers:
        failed = stack.wait_status(s["id"], "ERROR")
        assert "anti-affinity" in failed["fault"]["message"]


def test_affinity_keeps_servers_together(make_stack: Any) -> None:
    """With the default weighers, which spread: only the policy packs."""
    stack = make_stack(computes=[("host1", "fake.FakeDriver"), ("host2", "fake.FakeDriver")])
    group = _group(stack, "affinity")
    _boot_in(stack, group["id"], "f", min_count=2, max_count=2)
    servers = stack.compute("GET", "/servers/detail?name=^f-").json()["servers"]
    hosts = {_host(stack.wait_status(s["id"], "ACTIVE")) for s in servers}
    later = stack.wait_status(_boot_in(stack, group["id"], "f3")["id"], "ACTIVE")
    assert len(hosts) == 1 and _host(later) in hosts
    # asked to avoid the group's host too: the other host is refused by the policy
    (home,) = hosts
    body = {"server": {"name": "f4", "flavorRef": "1", "imageRef": stack.image_id,
                       "networks": "none"},
            "os:scheduler_hints": {"group": group["id"], "different_host": [later["id"]]}}
    resp = stack.compute("POST", "/servers", body)
    assert resp.status_code == 202, resp.text
    failed = stack.wait_status(resp.json()["server"]["id"], "ERROR")
    message = failed["fault"]["message"]
    assert "ServerGroupAffinityFilter removed 1 of 2 hosts" in message, message
    assert f"policy affinity: {home}" in message, message


def test_soft_anti_affinity_spreads_and_soft_affinity_packs_without_refusing(
        make_stack: Any) -> None:
    """Against weighers pulling the other way (stacking for soft-anti-affinity,
    spreading for soft-affinity): the group weigher's multiplier wins."""
    stack = make_stack(computes=[("host1", "fake.FakeDriver"), ("host2", "fake.FakeDriver")],
                       overrides={**STACKING,
                                  ("scheduler", "soft_anti_affinity_weight_multiplier"): 10.0,
                                  ("scheduler", "soft_affinity_weight_multiplier"): 10.0})
    spread = _group(stack, "soft-anti-affinity", "s", headers=V215)
    _boot_in(stack, spread["id"], "sa", min_count=3, max_count=3)
    servers = stack.compute("GET", "/servers/detail?name=^sa-").json()["servers"]
    hosts = [_host(stack.wait_status(s["id"], "ACTIVE")) for s in servers]
    assert sorted(set(hosts)) == ["host1", "host2"], hosts
    for name in ("ram", "cpu", "disk"):
        stack._override(f"{name}_weight_multiplier", 1.0, group="scheduler")
    pack = _group(stack, "soft-affinity", "p", headers=V215)
    _boot_in(stack, pack["id"], "sp", min_count=2, max_count=2)
    servers = stack.compute("GET", "/servers/detail?name=^sp-").json()["servers"]
    assert len({_host(stack.wait_status(s["id"], "ACTIVE")) for s in servers}) == 1


def _same_host_and_different_host_hints(stack: Any) -> None:
    anchor = stack.wait_status(stack.boot("anchor", networks="none")["id"], "ACTIVE")
    for hint, expect_same in (("same_host", True), ("different_host", False)):
        body = {"server": {"name": hint, "flavorRef": "1", "imageRef": stack.image_id,
                           "networks": "none"},
                "os:scheduler_hints": {hint: [anchor["id"]]}}
        resp = stack.compute("POST", "/servers", body)
        assert resp.status_code == 202, resp.text
        s = stack.wait_status(resp.json()["server"]["id"], "ACTIVE")
        assert (_host(s) == _host(anchor)) is expect_same, (hint, _host(s))


def test_group_api_shapes_per_microversion(stack: Any) -> None:
    old = _group(stack, "affinity", "old")
    assert set(old) == {"id", "name", "policies", "members", "metadata"}
    assert old["policies"] == ["affinity"] and old["metadata"] == {}
    shown = stack.compute("GET", f"/os-server-groups/{old['id']}",
                          headers={"OpenStack-API-Version": "compute 2.13"}).json()
    assert set(shown["server_group"]) >= {"project_id", "user_id"}
    new = stack.compute("GET", f"/os-server-groups/{old['id']}", headers=V264).json()
    assert new["server_group"]["policy"] == "affinity" and new["server_group"]["rules"] == {}
    assert "policies" not in new["server_group"]
    # soft policies only from 2.15; rules only for anti-affinity; policies gone at 2.64
    for body, headers in (({"name": "x", "policies": ["soft-affinity"]}, None),
                          ({"name": "x", "policy": "affinity",
                            "rules": {"max_server_per_host": 2}}, V264),
                          ({"name": "x", "policies": ["affinity"]}, V264),
                          ({"name": "x", "policy": "anti-affinity",
                            "rules": {"max_server_per_host": 0}}, V264)):
        resp = stack.compute("POST", "/os-server-groups", {"server_group": body},
                             headers=headers)
        assert resp.status_code == 400, (body, resp.text)
    listed = stack.compute("GET", "/os-server-groups").json()["server_groups"]
    assert [g["id"] for g in listed] == [old["id"]]
    assert stack.compute("GET", "/os-server-groups?offset=1").json()["server_groups"] == []
    v275 = {"OpenStack-API-Version": "compute 2.75"}
    assert stack.compute("GET", "/os-server-groups?bogus=1", headers=v275).status_code == 400
    assert stack.compute("GET", "/os-server-groups?bogus=1").status_code == 200
    assert stack.compute("DELETE", f"/os-server-groups/{old['id']}").status_code == 204
    missing = stack.compute("GET", f"/os-server-groups/{old['id']}")
    assert missing.status_code == 404 and old["id"] in missing.json()["itemNotFound"]["message"]


def test_unknown_group_hint_is_400_and_quotas_are_403(stack: Any) -> None:
    body = {"server": {"name": "x", "flavorRef": "1", "imageRef": stack.image_id,
                       "networks": "none"},
            "os:scheduler_hints": {"group": str(uuid.uuid4())}}
    resp = stack.compute("POST", "/servers", body)
    assert resp.status_code == 400 and "could not be found" in resp.text, resp.text
    body["os:scheduler_hints"] = {"group": "not-a-uuid"}
    resp = stack.compute("POST", "/servers", body)
    assert resp.status_code == 400 and "group" in resp.text, resp.text
    admin_project = _project_id(stack)
    resp = stack.compute("PUT", f"/os-quota-sets/{admin_project}",
                         {"quota_set": {"server_groups": 1, "server_group_members": 1}})
    assert resp.status_code == 200, resp.text
    group = _group(stack, "anti-affinity", "one")
    resp = stack.compute("POST", "/os-server-groups",
                         {"server_group": {"name": "two", "policies": ["affinity"]}})
    assert resp.status_code == 403, resp.text
    assert resp.json()["forbidden"]["message"] == "Quota exceeded, too many server groups."
    limits = stack.compute("GET", "/limits").json()["limits"]["absolute"]
    assert limits["totalServerGroupsUsed"] == 1
    _boot_in(stack, group["id"], "member")
    body["os:scheduler_hints"] = {"group": group["id"]}
    resp = stack.compute("POST", "/servers", body)
    assert resp.status_code == 403, resp.text
    assert "too many servers in group" in resp.text


def _project_id(stack: Any) -> str:
    """The project the stack's (noauth) requests act in: a server's."""
    from novalite import context as nl_context
    from novalite.objects.instance import Instance

    server = stack.boot("probe", networks="none")
    return str(Instance.get_by_uuid(nl_context.get_admin_context(), server["id"]).project_id)
