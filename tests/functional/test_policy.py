"""Tenant isolation and roles through the HTTP API (auth_strategy=noauth:
the caller comes from the X-User-Id / X-Project-Id / X-Roles headers).

Another project's server is 404 on every verb, whatever the caller's roles;
a reader reads and is refused (403) every change; an admin sees every
project's servers with all_tenants; an operator's policy file changes
the answers."""

import pytest

from novalite import policy
from novalite.conf import CONF

MEMBER_A = {"X-User-Id": "alice", "X-Project-Id": "proj-a", "X-Roles": "member"}
READER_A = {"X-User-Id": "rita", "X-Project-Id": "proj-a", "X-Roles": "reader"}
MEMBER_B = {"X-User-Id": "bob", "X-Project-Id": "proj-b", "X-Roles": "member"}
ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin"}


def _boot(stack, headers, name):
    body = {"server": {"name": name, "flavorRef": "1", "imageRef": stack.image_id}}
    resp = stack.compute("POST", "/servers", body, headers=headers)
    assert resp.status_code == 202, resp.text
    return resp.json()["server"]["id"]


def _every_verb(server_id):
    """(method, path, body) for every route that names one server."""
    s = f"/servers/{server_id}"
    return [
        ("GET", s, None),
        ("PUT", s, {"server": {"name": "stolen"}}),
        ("DELETE", s, None),
        ("POST", f"{s}/action", {"os-stop": None}),
        ("POST", f"{s}/action", {"os-start": None}),
        ("POST", f"{s}/action", {"reboot": {"type": "HARD"}}),
        ("POST", f"{s}/action", {"os-getConsoleOutput": {"length": 10}}),
        ("POST", f"{s}/action", {"forceDelete": None}),
        ("GET", f"{s}/metadata", None),
        ("POST", f"{s}/metadata", {"metadata": {"k": "v"}}),
        ("PUT", f"{s}/metadata", {"metadata": {"k": "v"}}),
        ("GET", f"{s}/metadata/owner", None),
        ("PUT", f"{s}/metadata/owner", {"meta": {"owner": "bob"}}),
        ("DELETE", f"{s}/metadata/owner", None),
    ]


@pytest.fixture
def two_projects(stack):
    a = _boot(stack, MEMBER_A, "a-server")
    b = _boot(stack, MEMBER_B, "b-server")
    for sid in (a, b):
        stack.wait_status(sid, "ACTIVE")
    resp = stack.compute("PUT", f"/servers/{a}/metadata/owner", {"meta": {"owner": "alice"}},
                         headers=MEMBER_A)
    assert resp.status_code == 200, resp.text
    return stack, a, b


def test_another_projects_server_is_404_on_every_verb(two_projects):
    stack, a, b = two_projects
    for method, path, body in _every_verb(a):
        for headers in (MEMBER_B, {**MEMBER_B, "X-Roles": "reader"}):
            resp = stack.compute(method, path, body, headers=headers)
            assert resp.status_code == 404, (method, path, headers, resp.text)
            assert "itemNotFound" in resp.json()
    # nothing changed: alice still has her server, name and metadata
    mine = stack.compute("GET", f"/servers/{a}", headers=MEMBER_A).json()["server"]
    assert mine["name"] == "a-server" and mine["metadata"] == {"owner": "alice"}
    assert mine["status"] == "ACTIVE"
    # and lists never show it to bob
    listed = stack.compute("GET", "/servers/detail", headers=MEMBER_B).json()["servers"]
    assert [s["id"] for s in listed] == [b]


def test_reader_reads_but_every_change_is_403(two_projects):
    stack, a, _ = two_projects
    assert stack.compute("GET", f"/servers/{a}", headers=READER_A).status_code == 200
    assert stack.compute("GET", f"/servers/{a}/metadata/owner",
                         headers=READER_A).json() == {"meta": {"owner": "alice"}}
    listed = stack.compute("GET", "/servers", headers=READER_A).json()["servers"]
    assert [s["id"] for s in listed] == [a]
    for method, path, body in _every_verb(a):
        if method == "GET":
            continue
        resp = stack.compute(method, path, body, headers=READER_A)
        assert resp.status_code == 403, (method, path, resp.text)
        assert "Policy doesn't allow os_compute_api:" in resp.json()["forbidden"]["message"]
    body = {"server": {"name": "r", "flavorRef": "1", "imageRef": stack.image_id}}
    resp = stack.compute("POST", "/servers", body, headers=READER_A)
    assert resp.status_code == 403
    assert resp.json()["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:servers:create to be performed.")
    assert stack.server(a)["name"] == "a-server"


def test_admin_sees_all_projects_with_all_tenants(two_projects):
    stack, a, b = two_projects
    own = stack.compute("GET", "/servers", headers=ADMIN).json()["servers"]
    assert own == []
    every = stack.compute("GET", "/servers/detail?all_tenants=1",
                          headers=ADMIN).json()["servers"]
    assert {s["id"] for s in every} == {a, b}
    assert {s["tenant_id"] for s in every} == {"proj-a", "proj-b"}
    assert all("OS-EXT-SRV-ATTR:host" in s for s in every)
    only_b = stack.compute("GET", "/servers?all_tenants=1&tenant_id=proj-b",
                           headers=ADMIN).json()["servers"]
    assert [s["id"] for s in only_b] == [b]
    # an admin may act on any project's server
    resp = stack.compute("PUT", f"/servers/{a}", {"server": {"name": "renamed"}},
                         headers=ADMIN)
    assert resp.status_code == 200 and resp.json()["server"]["name"] == "renamed"
    # a member asking for all projects is refused, and sees no admin fields
    resp = stack.compute("GET", "/servers?all_tenants=1", headers=MEMBER_A)
    assert resp.status_code == 403
    assert "get_all_tenants" in resp.json()["forbidden"]["message"]
    resp = stack.compute("GET", "/servers?tenant_id=proj-b", headers=MEMBER_A)
    assert resp.status_code == 403
    mine = stack.compute("GET", f"/servers/{a}", headers=MEMBER_A).json()["server"]
    assert not [k for k in mine if k.startswith("OS-EXT-SRV-ATTR:")]
    # admin-only filters count for admins and are ignored for others
    assert stack.compute("GET", "/servers?all_tenants=1&host=elsewhere",
                         headers=ADMIN).json()["servers"] == []
    assert len(stack.compute("GET", "/servers?all_tenants=1&host=host1",
                             headers=ADMIN).json()["servers"]) == 2
    mine = stack.compute("GET", "/servers?host=elsewhere", headers=MEMBER_A).json()
    assert [s["id"] for s in mine["servers"]] == [a]
    # deleted servers are listed for admins only, as Nova
    resp = stack.compute("GET", "/servers?status=DELETED", headers=MEMBER_A)
    assert resp.status_code == 403
    assert resp.json()["forbidden"]["message"] == "Only administrators may list deleted instances"
    assert stack.compute("DELETE", f"/servers/{b}", headers=MEMBER_B).status_code == 204
    stack.wait_gone(b)
    deleted = stack.compute("GET", "/servers/detail?status=DELETED&all_tenants=1",
                            headers=ADMIN).json()["servers"]
    assert [(s["id"], s["status"]) for s in deleted] == [(b, "DELETED")]
    deleted = stack.compute("GET", "/servers?deleted=true&all_tenants=1",
                            headers=ADMIN).json()["servers"]
    assert [s["id"] for s in deleted] == [b]
    # for others "deleted" is not a filter they may use: ignored
    mine = stack.compute("GET", "/servers?deleted=true", headers=MEMBER_A).json()["servers"]
    assert [s["id"] for s in mine] == [a]


def test_policy_file_overrides_a_default(two_projects, tmp_path):
    stack, a, _ = two_projects
    assert stack.compute("GET", "/servers", headers=READER_A).status_code == 200
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"os_compute_api:servers:index": "role:admin"\n'
                           '"os_compute_api:servers:stop": "rule:project_reader_api"\n')
    CONF.set_override("policy_file", str(policy_file), group="oslo_policy")
    policy.reset()
    try:
        resp = stack.compute("GET", "/servers", headers=READER_A)
        assert resp.status_code == 403
        assert stack.compute("GET", "/servers", headers=ADMIN).status_code == 200
        # the file also grants: a reader may now stop the server
        resp = stack.compute("POST", f"/servers/{a}/action", {"os-stop": None},
                             headers=READER_A)
        assert resp.status_code == 202, resp.text
    finally:
        CONF.clear_override("policy_file", group="oslo_policy")
        policy.reset()
    assert stack.compute("GET", "/servers", headers=READER_A).status_code == 200


def test_isolation_with_real_tokens(make_stack):
    """The same isolation with users who log in (auth_strategy=novalite)."""
    stack = make_stack(auth="novalite")
    users, sessions = {}, {}
    for name, project, role in (("alice", "proj-a", "member"), ("bob", "proj-b", "member"),
                                ("rita", "proj-a", "reader")):
        users[name] = stack.make_user(name, project, role)
        sessions[name] = stack.login(name, users[name]["password"], project)

    def call(who, method, path, body=None):
        return sessions[who].request(method, stack.base_url + "/compute/v2.1" + path,
                                     json=body, timeout=30)

    body = {"server": {"name": "a-server", "flavorRef": "1", "imageRef": stack.image_id}}
    resp = call("alice", "POST", "/servers", body)
    assert resp.status_code == 202, resp.text
    a = resp.json()["server"]["id"]
    stack.wait_status(a, "ACTIVE")
    for method, path, req_body in _every_verb(a):
        resp = call("bob", method, path, req_body)
        assert resp.status_code == 404, (method, path, resp.text)
        if method != "GET":
            resp = call("rita", method, path, req_body)
            assert resp.status_code == 403, (method, path, resp.text)
    assert call("rita", "GET", f"/servers/{a}").status_code == 200
    assert call("bob", "GET", "/servers").json()["servers"] == []
    assert call("bob", "GET", "/servers?all_tenants=1").status_code == 403
    every = stack.compute("GET", "/servers?all_tenants=1").json()["servers"]
    assert [s["id"] for s in every] == [a]
    assert call("alice", "GET", f"/servers/{a}").json()["server"]["tenant_id"] == \
        users["alice"]["project_id"]
