"""Quotas and limits through the whole stack: os-quota-sets, /limits, and
server creates refused (403, Nova's message) when a project is over its
instances, cores or RAM quota, also when creates race."""

from __future__ import annotations

import threading

import jsonschema
import pytest

from novalite import context as nl_context
from novalite import exception, quota
from novalite.api.schemas import quotas as schemas
from novalite.db import api as db_api
from tests.functional.stack import Stack

DEFAULTS = {
    "instances": 10, "cores": 20, "ram": 51200, "metadata_items": 128, "injected_files": 5,
    "injected_file_content_bytes": 10240, "injected_file_path_bytes": 255, "key_pairs": 100,
    "server_groups": 10, "server_group_members": 10, "fixed_ips": -1, "floating_ips": -1,
    "security_groups": -1, "security_group_rules": -1,
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(str(tmp_path_factory.mktemp("quotas"))).start()
    try:
        yield s
    finally:
        s.stop()


ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin"}


def _member(project: str, user: str = "u1") -> dict:
    return {"X-User-Id": user, "X-Project-Id": project, "X-Roles": "member,reader"}


def _boot(stack, name: str, flavor: str, headers: dict) -> dict:
    resp = stack.compute("POST", "/servers", {"server": {
        "name": name, "flavorRef": flavor, "imageRef": stack.image_id}}, headers=headers)
    assert resp.status_code == 202, resp.text
    return resp.json()["server"]


def _set(stack, project: str, **limits) -> dict:
    resp = stack.compute("PUT", f"/os-quota-sets/{project}", {"quota_set": limits},
                         headers=ADMIN)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_show_defaults_update_delete(stack):
    resp = stack.compute("GET", "/os-quota-sets/p1", headers=_member("p1"))
    assert resp.status_code == 200
    jsonschema.validate(resp.json(), schemas.show_response)
    assert resp.json() == {"quota_set": {"id": "p1", **DEFAULTS}}
    assert stack.compute("GET", "/os-quota-sets/p1/defaults",
                         headers=_member("p1")).json() == {"quota_set": {"id": "p1", **DEFAULTS}}

    updated = _set(stack, "p1", instances=3, cores="7", ram=-1, force=True)
    jsonschema.validate(updated, schemas.update_response)
    assert "id" not in updated["quota_set"]
    assert updated["quota_set"] == {**DEFAULTS, "instances": 3, "cores": 7, "ram": -1}
    shown = stack.compute("GET", "/os-quota-sets/p1", headers=_member("p1")).json()
    assert shown["quota_set"]["instances"] == 3 and shown["quota_set"]["ram"] == -1
    # defaults are untouched by a project's own limits
    assert stack.compute("GET", "/os-quota-sets/p1/defaults",
                         headers=ADMIN).json()["quota_set"]["instances"] == 10

    resp = stack.compute("DELETE", "/os-quota-sets/p1", headers=ADMIN)
    assert resp.status_code == 202 and resp.content == b""
    assert stack.compute("GET", "/os-quota-sets/p1",
                         headers=ADMIN).json() == {"quota_set": {"id": "p1", **DEFAULTS}}


def test_only_admins_change_and_projects_read_their_own(stack):
    member = _member("p1")
    assert stack.compute("GET", "/os-quota-sets/p2", headers=member).status_code == 403
    assert stack.compute("GET", "/os-quota-sets/p2/detail", headers=member).status_code == 403
    resp = stack.compute("PUT", "/os-quota-sets/p1", {"quota_set": {"instances": 100}},
                         headers=member)
    assert resp.status_code == 403
    assert "os_compute_api:os-quota-sets:update" in resp.json()["forbidden"]["message"]
    assert stack.compute("DELETE", "/os-quota-sets/p1", headers=member).status_code == 403
    assert stack.compute("GET", "/os-quota-sets/p2", headers=ADMIN).status_code == 200
    # per-user quotas do not exist: a change aimed at one user is refused
    resp = stack.compute("PUT", "/os-quota-sets/p1?user_id=u1",
                         {"quota_set": {"instances": 1}}, headers=ADMIN)
    assert resp.status_code == 400 and "user_id" in resp.json()["badRequest"]["message"]
    assert stack.compute("DELETE", "/os-quota-sets/p1?user_id=u1",
                         headers=ADMIN).status_code == 400


@pytest.mark.parametrize(("quota_set", "message"), [
    ({"instances": "ten"}, "Invalid input for field/attribute instances"),
    ({"instances": -2}, "Invalid input for field/attribute instances"),
    ({"instances": "-2"}, "Invalid input for field/attribute instances"),
    ({"instances": 2**31}, "Invalid input for field/attribute instances"),
    ({"instances": 1.5}, "Invalid input for field/attribute instances"),
    ({"instances": None}, "Invalid input for field/attribute instances"),
    ({"gpus": 1}, "Additional properties are not allowed ('gpus' was unexpected)"),
    ({"networks": 1}, "networks"),
    ({"force": "maybe"}, "Invalid input for field/attribute force"),
])
def test_bad_update_is_a_400_naming_the_field(stack, quota_set, message):
    resp = stack.compute("PUT", "/os-quota-sets/p1", {"quota_set": quota_set}, headers=ADMIN)
    assert resp.status_code == 400, resp.text
    assert message in resp.json()["badRequest"]["message"]


def test_detail_and_limits_count_the_projects_servers(stack):
    project = _member("p-use")
    for i in range(2):
        _boot(stack, f"u-{i}", "2", project)  # m1.small: 1 vCPU, 2048 MB
    resp = stack.compute("GET", "/os-quota-sets/p-use/detail", headers=project)
    assert resp.status_code == 200
    jsonschema.validate(resp.json(), schemas.detail_response)
    detail = resp.json()["quota_set"]
    assert detail["id"] == "p-use"
    assert detail["instances"] == {"in_use": 2, "limit": 10, "reserved": 0}
    assert detail["cores"] == {"in_use": 2, "limit": 20, "reserved": 0}
    assert detail["ram"] == {"in_use": 4096, "limit": 51200, "reserved": 0}
    assert detail["fixed_ips"] == {"in_use": 0, "limit": -1, "reserved": 0}

    limits = stack.compute("GET", "/limits", headers=project)
    assert limits.status_code == 200
    jsonschema.validate(limits.json(), schemas.limits_response)
    absolute = limits.json()["limits"]["absolute"]
    assert limits.json()["limits"]["rate"] == []
    assert absolute == {
        "maxImageMeta": 128, "maxPersonality": 5, "maxPersonalitySize": 10240,
        "maxSecurityGroupRules": -1, "maxSecurityGroups": -1, "maxServerGroupMembers": 10,
        "maxServerGroups": 10, "maxServerMeta": 128, "maxTotalCores": 20,
        "maxTotalFloatingIps": -1, "maxTotalInstances": 10, "maxTotalKeypairs": 100,
        "maxTotalRAMSize": 51200, "totalCoresUsed": 2, "totalFloatingIpsUsed": 0,
        "totalInstancesUsed": 2, "totalRAMUsed": 4096, "totalSecurityGroupsUsed": 0,
        "totalServerGroupsUsed": 0}
    # another project's limits: admins only
    assert stack.compute("GET", "/limits?tenant_id=p-use",
                         headers=_member("other")).status_code == 403
    other = stack.compute("GET", "/limits?tenant_id=p-use", headers=ADMIN).json()
    assert other["limits"]["absolute"]["totalInstancesUsed"] == 2

    # a limit below what the project uses is refused unless forced
    resp = stack.compute("PUT", "/os-quota-sets/p-use", {"quota_set": {"instances": 1}},
                         headers=ADMIN)
    assert resp.status_code == 400
    assert resp.json()["badRequest"]["message"] == (
        "Quota limit 1 for instances must be greater than or equal to already used and "
        "reserved 2.")
    _set(stack, "p-use", instances=1, force=True)


@pytest.mark.parametrize(("limits", "flavor", "message"), [
    ({"instances": 1}, "1",
     "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances"),
    ({"cores": 2}, "3",  # m1.medium: 2 vCPUs
     "Quota exceeded for cores: Requested 2, but already used 1 of 2 cores"),
    ({"ram": 1000}, "1",  # m1.tiny: 512 MB
     "Quota exceeded for ram: Requested 512, but already used 512 of 1000 ram"),
    ({"instances": 1, "cores": 1}, "1",
     "Quota exceeded for cores, instances: Requested 1, 1, but already used 1, 1 of 1, 1 "
     "cores, instances"),
])
def test_create_over_quota_is_a_403_with_novas_message(stack, limits, flavor, message):
    project = f"p-over-{flavor}-{'-'.join(sorted(limits))}"
    headers = _member(project)
    _set(stack, project, **limits)
    _boot(stack, "first", "1", headers)
    resp = stack.compute("POST", "/servers", {"server": {
        "name": "second", "flavorRef": flavor, "imageRef": stack.image_id}}, headers=headers)
    assert resp.status_code == 403, resp.text
    assert resp.json() == {"forbidden": {"code": 403, "message": message}}
    servers = stack.compute("GET", "/servers", headers=headers).json()["servers"]
    assert [s["name"] for s in servers] == ["first"]


def test_concurrent_creates_never_exceed_the_quota(stack):
    project, limit, attempts = "p-race", 3, 8
    headers = _member(project)
    _set(stack, project, instances=limit)
    codes: list[int] = []
    start = threading.Barrier(attempts)

    def create(i: int) -> None:
        start.wait()
        resp = stack.request("POST", "/compute/v2.1/servers", {"server": {
            "name": f"race-{i}", "flavorRef": "1", "imageRef": stack.image_id}},
            headers=headers)
        codes.append(resp.status_code)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(set(codes)) <= [202, 403] and len(codes) == attempts
    # NOTE: Nova's check-record-recheck may refuse every racer; never more than fit
    assert codes.count(202) <= limit
    assert quota.get_usages(project)["instances"] == codes.count(202)


def test_recheck_undoes_what_a_race_let_through(stack):
    """The quota functions alone: N racing callers that each check, record
    and recheck (undoing on failure) end within the limit."""
    ctx = nl_context.get_admin_context()
    project, limit = "p-direct", 2
    quota.update_project_quotas(project, {"instances": limit})
    created: list[str] = []
    start = threading.Barrier(6)

    def racer() -> None:
        start.wait()
        try:
            quota.enforce_server_create(ctx, project, 1, 1, 512)
        except exception.TooManyInstances:
            return
        row = db_api.instance_create({"project_id": project,
                                      "flavor": {"vcpus": 1, "memory_mb": 512}})
        try:
            quota.recheck_server_create(ctx, project, 1, 1, 512)
        except exception.TooManyInstances:
            db_api.instance_destroy(row["uuid"])
            return
        created.append(row["uuid"])

    threads = [threading.Thread(target=racer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(created) <= limit
    assert quota.get_usages(project)["instances"] == len(created)


def test_multi_create_gets_as_many_as_fit(stack):
    """``allowed_server_count``: Nova's min_count/max_count quota answer."""
    ctx = nl_context.get_admin_context()
    project = "p-multi"
    quota.update_project_quotas(project, {"instances": 5, "cores": 6, "ram": -1})
    for _ in range(2):
        db_api.instance_create({"project_id": project, "flavor": {"vcpus": 1,
                                                                  "memory_mb": 512}})
    # 3 instances left, 4 cores left: 2-vCPU servers, 2 fit
    assert quota.allowed_server_count(ctx, project, 1, 5, 2, 512) == 2
    assert quota.allowed_server_count(ctx, project, 1, 1, 1, 512) == 1
    assert quota.allowed_server_count(ctx, project, 3, 3, 1, 10**6) == 3
    with pytest.raises(exception.TooManyInstances) as e:
        quota.allowed_server_count(ctx, project, 3, 5, 2, 512)
    assert str(e.value) == ("Quota exceeded for cores, instances: Requested 10, 3-5, but "
                            "already used 2, 2 of 6, 5 cores, instances")
    with pytest.raises(exception.TooManyInstances) as e:
        quota.allowed_server_count(ctx, project, 4, 4, 1, 512)
    assert str(e.value) == ("Quota exceeded for instances: Requested 4, but already used "
                            "2 of 5 instances")
