"""os-quota-class-sets as Nova's: the ``default`` class's limits are every
project's defaults (shown by os-quota-sets and /limits, enforced on create),
the resources shown per microversion (2.50, 2.57), admins only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.stack import Stack

ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin,member,reader"}
MEMBER = {"X-User-Id": "u1", "X-Project-Id": "p-classes", "X-Roles": "member,reader"}
ALL = ("instances", "cores", "ram", "metadata_items", "injected_files",
       "injected_file_content_bytes", "injected_file_path_bytes", "key_pairs",
       "server_groups", "server_group_members", "fixed_ips", "floating_ips",
       "security_groups", "security_group_rules")
NETWORK = {"fixed_ips", "floating_ips", "security_groups", "security_group_rules"}
INJECTED = {"injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}
GROUPS = {"server_groups", "server_group_members"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: Any) -> Any:
    s = Stack(str(tmp_path_factory.mktemp("quota-classes"))).start()
    try:
        yield s
    finally:
        s.stop()


def _v(version: str, headers: dict | None = None) -> dict:
    return {**(headers or ADMIN), "OpenStack-API-Version": f"compute {version}"}


def _get(stack: Stack, name: str, version: str = "2.1", headers: dict | None = None) -> Any:
    return stack.compute("GET", f"/os-quota-class-sets/{name}", headers=_v(version, headers))


def _put(stack: Stack, name: str, values: dict, version: str = "2.1",
         headers: dict | None = None) -> Any:
    return stack.compute("PUT", f"/os-quota-class-sets/{name}", {"quota_class_set": values},
                         headers=_v(version, headers))


@pytest.mark.parametrize("version, shown", [
    ("2.1", set(ALL) - GROUPS), ("2.49", set(ALL) - GROUPS),
    ("2.50", set(ALL) - NETWORK), ("2.56", set(ALL) - NETWORK),
    ("2.57", set(ALL) - NETWORK - INJECTED)])
def test_the_resources_shown_per_microversion(stack, version, shown):
    resp = _get(stack, "default", version)
    assert resp.status_code == 200, resp.text
    body = resp.json()["quota_class_set"]
    assert body.pop("id") == "default"
    assert set(body) == shown
    assert body["instances"] == 10 and body["cores"] == 20


def test_the_default_class_is_every_projects_defaults(stack):
    stack.compute("DELETE", "/os-quota-sets/p-classes", headers=ADMIN)
    resp = _put(stack, "default", {"instances": 1, "cores": "30"}, "2.57")
    assert resp.status_code == 200, resp.text
    updated = resp.json()["quota_class_set"]
    assert "id" not in updated and updated["instances"] == 1 and updated["cores"] == 30
    assert set(updated) == set(ALL) - NETWORK - INJECTED
    try:
        assert _get(stack, "default").json()["quota_class_set"]["instances"] == 1
        # os-quota-sets' defaults, a project's quotas and /limits follow it
        defaults = stack.compute("GET", "/os-quota-sets/p-classes/defaults",
                                 headers=MEMBER).json()["quota_set"]
        assert defaults["instances"] == 1 and defaults["cores"] == 30
        shown = stack.compute("GET", "/os-quota-sets/p-classes",
                              headers=MEMBER).json()["quota_set"]
        assert shown["instances"] == 1
        limits = stack.compute("GET", "/limits", headers=MEMBER).json()["limits"]["absolute"]
        assert limits["maxTotalInstances"] == 1 and limits["maxTotalCores"] == 30
        # and it is enforced: the second server is over the quota
        body = {"server": {"name": "q", "flavorRef": "1", "imageRef": stack.image_id}}
        first = stack.compute("POST", "/servers", body, headers=MEMBER)
        assert first.status_code == 202, first.text
        sid = first.json()["server"]["id"]
        stack.wait_status(sid, "ACTIVE")
        second = stack.compute("POST", "/servers", body, headers=MEMBER)
        assert second.status_code == 403, second.text
        assert "Quota exceeded for instances" in second.text
        # a project's own quota still wins over the class
        assert stack.compute("PUT", "/os-quota-sets/p-classes",
                             {"quota_set": {"instances": 5}}, headers=ADMIN).status_code == 200
        again = stack.compute("POST", "/servers", body, headers=MEMBER)
        assert again.status_code == 202, again.text
        for server in (sid, again.json()["server"]["id"]):
            assert stack.compute("DELETE", f"/servers/{server}",
                                 headers=MEMBER).status_code == 204
            stack.wait_gone(server)
    finally:
        assert _put(stack, "default", {"instances": 10, "cores": 20}).status_code == 200
        stack.compute("DELETE", "/os-quota-sets/p-classes", headers=ADMIN)
    assert stack.compute("GET", "/os-quota-sets/p-classes/defaults",
                         headers=MEMBER).json()["quota_set"]["instances"] == 10


def test_another_class_keeps_its_values_and_shows_the_defaults_for_the_rest(stack):
    resp = _put(stack, "gold", {"ram": 1024, "server_groups": 3}, "2.50")
    assert resp.status_code == 200, resp.text
    gold = _get(stack, "gold", "2.50").json()["quota_class_set"]
    assert gold["id"] == "gold" and gold["ram"] == 1024 and gold["server_groups"] == 3
    assert gold["instances"] == 10
    # it is not a default of anything
    assert _get(stack, "default", "2.50").json()["quota_class_set"]["ram"] == 51200


@pytest.mark.parametrize("version, values, message", [
    ("2.1", {"instances": -2}, "instances"),
    ("2.1", {"cores": "-731"}, "less than the minimum of -1"),
    ("2.1", {"ram": "70516870800861"}, "greater than the maximum"),
    ("2.1", {"nope": 1}, "nope"),
    ("2.1", {"instances": "many"}, "instances"),
    ("2.1", {"force": True}, "force"),
    ("2.50", {"fixed_ips": 1}, "fixed_ips"),
    ("2.57", {"injected_files": 1}, "injected_files"),
])
def test_bad_updates_are_a_400(stack, version, values, message):
    resp = _put(stack, "default", values, version)
    assert resp.status_code == 400, resp.text
    assert message in resp.text


def test_admins_only(stack):
    assert _get(stack, "default", headers=MEMBER).status_code == 403
    assert _put(stack, "default", {"instances": 99}, headers=MEMBER).status_code == 403
    assert _get(stack, "default").json()["quota_class_set"]["instances"] == 10
    long_name = "x" * 256
    assert _put(stack, long_name, {"instances": 1}).status_code == 400
