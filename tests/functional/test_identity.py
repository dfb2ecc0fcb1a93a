"""The built-in identity service over HTTP: tokens for the other APIs,
their expiry, revocation and lockout, and the read-only lookups."""

from __future__ import annotations

import time

import pytest
import requests

from novalite.api.service import APIService
from novalite.identity import fernet
from tests.functional.stack import ADMIN_PASSWORD

UNAUTHORIZED = "The request you have made requires authentication."
TOKENS = "/identity/v3/auth/tokens"


@pytest.fixture
def stack(make_stack):
    return make_stack(auth="novalite")


def _get(stack, session: requests.Session, path: str, **kw) -> requests.Response:
    return session.get(stack.base_url + path, timeout=30, **kw)


def _token_of(session: requests.Session) -> str:
    return session.headers["X-Auth-Token"]


def assert_unauthorized(resp: requests.Response, fmt: str = "nova") -> None:
    assert resp.status_code == 401, resp.text
    assert resp.headers["WWW-Authenticate"].startswith('Keystone uri="http://127.0.0.1:')
    assert resp.headers["WWW-Authenticate"].endswith('/identity"')
    if fmt == "nova":
        assert resp.json() == {"unauthorized": {"code": 401, "message": UNAUTHORIZED}}
    elif fmt == "keystone":
        assert resp.json() == {"error": {"code": 401, "title": "Unauthorized",
                                         "message": UNAUTHORIZED}}
    else:
        assert resp.json()["code"] == "401 Unauthorized"


def test_token_issue_validate_and_revoke(stack):
    resp = stack.token("admin", ADMIN_PASSWORD, "admin")
    assert resp.status_code == 201, resp.text
    token_id = resp.headers["X-Subject-Token"]
    body = resp.json()["token"]
    assert body["methods"] == ["password"]
    assert body["user"]["name"] == "admin"
    assert body["user"]["domain"] == {"id": "default", "name": "Default"}
    assert body["user"]["password_expires_at"] is None
    assert body["project"]["name"] == "admin"
    assert [r["name"] for r in body["roles"]] == ["admin", "manager", "member", "reader"]
    assert body["expires_at"] > body["issued_at"] and body["expires_at"].endswith("Z")
    catalog = {svc["type"]: svc for svc in body["catalog"]}
    assert set(catalog) >= {"compute", "image", "identity"}
    public = {e["interface"]: e["url"] for e in catalog["compute"]["endpoints"]}
    assert public == {i: stack.base_url + "/compute/v2.1"
                      for i in ("public", "internal", "admin")}
    assert {e["region"] for e in catalog["image"]["endpoints"]} == {"RegionOne"}

    user = stack.make_user("alice", "team", "member")
    alice = stack.login("alice", user["password"], "team")
    shown = _get(stack, stack.session, TOKENS,
                 headers={"X-Subject-Token": _token_of(alice)})
    assert shown.status_code == 200, shown.text
    assert shown.json()["token"]["user"]["name"] == "alice"
    assert [r["name"] for r in shown.json()["token"]["roles"]] == ["member", "reader"]
    bare = _get(stack, stack.session, TOKENS + "?nocatalog",
                headers={"X-Subject-Token": _token_of(alice)})
    assert "catalog" not in bare.json()["token"] and "roles" in bare.json()["token"]
    assert _get(stack, alice, "/identity/v3/auth/catalog").json()["catalog"] == body["catalog"]
    head = stack.session.head(stack.base_url + TOKENS, timeout=30,
                              headers={"X-Subject-Token": _token_of(alice)})
    assert head.status_code == 200
    # NOTE: someone else's token is for admins (or its own user) to see.
    other = _get(stack, alice, TOKENS, headers={"X-Subject-Token": token_id})
    assert other.status_code == 403

    assert _get(stack, alice, "/compute/v2.1/servers").status_code == 200
    revoked = alice.delete(stack.base_url + TOKENS, timeout=30,
                           headers={"X-Subject-Token": _token_of(alice)})
    assert revoked.status_code == 204, revoked.text
    assert_unauthorized(_get(stack, alice, "/compute/v2.1/servers"))
    gone = _get(stack, stack.session, TOKENS, headers={"X-Subject-Token": _token_of(alice)})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == 404
    # NOTE: the admin's own token is untouched.
    assert stack.compute("GET", "/servers").status_code == 200


def test_requests_without_a_valid_token_get_401_in_each_apis_format(stack):
    anonymous = requests.Session()
    assert_unauthorized(_get(stack, anonymous, "/compute/v2.1/servers"))
    assert_unauthorized(_get(stack, anonymous, "/image/v2/images"), fmt="glance")
    assert_unauthorized(_get(stack, anonymous, "/identity/v3/projects"), fmt="keystone")
    forged = requests.Session()
    token = _token_of(stack.session)
    forged.headers["X-Auth-Token"] = token[:-6] + ("AAAAAA" if token[-6:] != "AAAAAA" else "BBBBBB")
    assert_unauthorized(_get(stack, forged, "/compute/v2.1/servers"))
    # NOTE: noauth's headers mean nothing here.
    spoof = _get(stack, anonymous, "/compute/v2.1/servers",
                 headers={"X-User-Id": "admin", "X-Roles": "admin"})
    assert_unauthorized(spoof)
    # version documents stay public
    assert _get(stack, anonymous, "/compute/").status_code == 200
    assert _get(stack, anonymous, "/identity/v3").status_code == 200


def test_wrong_password_unknown_user_and_bad_scope_look_the_same(stack):
    stack.make_user("bob", "team", "member", password="right-password")
    answers = [stack.token("bob", "wrong-password", "team"),
               stack.token("nobody", "right-password", "team"),
               stack.token("bob", "x" * 100, "team")]
    for resp in answers:
        assert_unauthorized(resp, fmt="keystone")
    # NOTE: good credentials, but a project where bob has no role.
    noaccess = stack.token("bob", "right-password", "admin")
    assert noaccess.status_code == 401
    assert "has no access to project" in noaccess.json()["error"]["message"]
    bad = requests.post(stack.base_url + TOKENS, json={"auth": {"identity": {}}}, timeout=30)
    assert bad.status_code == 400 and "methods" in bad.json()["error"]["message"]


def test_lockout_after_failures_then_success_after_the_duration(make_stack):
    stack = make_stack(auth="novalite", overrides={
        ("identity", "lockout_failure_attempts"): 3, ("identity", "lockout_duration"): 1})
    stack.make_user("carol", "team", "member", password="carols-password")
    for _ in range(3):
        assert_unauthorized(stack.token("carol", "guess", "team"), fmt="keystone")
    # NOTE: the right password while locked gets the very same answer.
    assert_unauthorized(stack.token("carol", "carols-password", "team"), fmt="keystone")
    time.sleep(1.1)
    ok = stack.token("carol", "carols-password", "team")
    assert ok.status_code == 201, ok.text
    # a success forgets the failures: two more do not lock
    for _ in range(2):
        assert_unauthorized(stack.token("carol", "guess", "team"), fmt="keystone")
    assert stack.token("carol", "carols-password", "team").status_code == 201


def test_expired_token_is_refused(make_stack):
    stack = make_stack(auth="novalite", overrides={("identity", "token_expiration"): 1})
    assert stack.compute("GET", "/servers").status_code == 200
    time.sleep(1.2)
    assert_unauthorized(stack.compute("GET", "/servers"))


def test_token_survives_an_api_restart(stack):
    token = _token_of(stack.session)
    stack.api_service.stop()
    # NOTE: a new key ring too, so the keys are read again from the directory.
    fernet.KEYS = fernet.KeyRing()
    stack.api_service = APIService(listen="127.0.0.1", port=0)
    stack.api_service.start()
    stack.base_url = f"http://127.0.0.1:{stack.api_service.port}"
    resp = stack.compute("GET", "/servers")
    assert resp.status_code == 200, resp.text
    assert _token_of(stack.session) == token


def test_unscoped_token_rescoped_with_the_token_method(stack):
    stack.make_user("dave", "p1", "member", password="daves-password")
    from novalite.identity import manager

    manager.add_role("dave", manager.ensure_project("p2")["id"], "reader")
    unscoped = stack.token("dave", "daves-password", None)
    assert unscoped.status_code == 201
    # NOTE: dave's default project is p1, so "no scope" lands there.
    assert unscoped.json()["token"]["project"]["name"] == "p1"
    explicit = requests.post(stack.base_url + TOKENS, timeout=30, json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "dave", "domain": {"name": "Default"}, "password": "daves-password"}}},
        "scope": "unscoped"}})
    assert explicit.status_code == 201 and "project" not in explicit.json()["token"]
    session = requests.Session()
    session.headers["X-Auth-Token"] = explicit.headers["X-Subject-Token"]
    refused = _get(stack, session, "/compute/v2.1/servers")
    assert refused.status_code == 401
    assert "project-scoped token" in refused.json()["unauthorized"]["message"]
    projects = _get(stack, session, "/identity/v3/auth/projects").json()["projects"]
    assert sorted(p["name"] for p in projects) == ["p1", "p2"]

    rescoped = requests.post(stack.base_url + TOKENS, timeout=30, json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": explicit.headers["X-Subject-Token"]}},
        "scope": {"project": {"name": "p2", "domain": {"id": "default"}}}}})
    assert rescoped.status_code == 201, rescoped.text
    body = rescoped.json()["token"]
    assert body["project"]["name"] == "p2"
    assert [r["name"] for r in body["roles"]] == ["reader"]
    assert body["expires_at"] == explicit.json()["token"]["expires_at"]
    assert body["audit_ids"][1] == explicit.json()["token"]["audit_ids"][0]


def test_lookups_admin_sees_all_others_see_themselves(stack):
    eve = stack.make_user("eve", "eves", "member")
    s = stack.login("eve", eve["password"], "eves")
    everyone = _get(stack, stack.session, "/identity/v3/users").json()["users"]
    assert {u["name"] for u in everyone} == {"admin", "eve"}
    assert [u["name"] for u in _get(stack, s, "/identity/v3/users").json()["users"]] == ["eve"]
    admin_id = next(u["id"] for u in everyone if u["name"] == "admin")
    assert _get(stack, s, f"/identity/v3/users/{admin_id}").status_code == 403
    me = _get(stack, s, f"/identity/v3/users/{eve['id']}").json()["user"]
    assert me["name"] == "eve" and me["default_project_id"] == eve["project_id"]
    named = _get(stack, stack.session, "/identity/v3/projects", params={"name": "eves"})
    assert [p["id"] for p in named.json()["projects"]] == [eve["project_id"]]
    assert [p["name"] for p in _get(stack, s, "/identity/v3/projects").json()["projects"]] \
        == ["eves"]
    missing = _get(stack, stack.session, "/identity/v3/projects/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
    roles = _get(stack, s, "/identity/v3/roles").json()["roles"]
    assert [r["name"] for r in roles] == ["admin", "manager", "member", "reader"]
    domain = _get(stack, s, "/identity/v3/domains/default").json()["domain"]
    assert (domain["id"], domain["name"]) == ("default", "Default")


def test_a_token_makes_the_caller_of_the_compute_api(stack):
    """Servers belong to the token's user and project, not to any header."""
    frank = stack.make_user("frank", "franks", "member")
    session = stack.login("frank", frank["password"], "franks")
    body = {"server": {"name": "f1", "flavorRef": "1", "imageRef": stack.image_id}}
    resp = stack.compute("POST", "/servers", body, session=session,
                         headers={"X-Project-Id": "admin", "X-User-Id": "admin"})
    assert resp.status_code == 202, resp.text
    server = stack.server(resp.json()["server"]["id"])
    assert (server["tenant_id"], server["user_id"]) == (frank["project_id"], frank["id"])
    mine = stack.compute("GET", "/servers", session=session).json()["servers"]
    assert [s["id"] for s in mine] == [server["id"]]


def test_compute_fetches_images_with_the_requesters_token(stack, tmp_path):
    """The libvirt driver's image cache downloads through the Image API
    with the token that crossed RPC in the request context."""
    from novalite import context as nl_context
    from novalite.virt.libvirt import imagecache

    cache = imagecache.ImageCache(str(tmp_path / "cache"), stack.base_url + "/image", 30)
    (tmp_path / "cache").mkdir()
    anonymous = nl_context.RequestContext()
    with pytest.raises(imagecache.ImageFetchError, match="401"):
        cache.get_meta(anonymous, stack.image_id)
    ctxt = nl_context.RequestContext.from_dict(nl_context.RequestContext(
        auth_token=_token_of(stack.session)).to_dict())
    meta = cache.get_meta(ctxt, stack.image_id)
    assert meta["id"] == stack.image_id
    path = cache.fetch(ctxt, meta, lambda: None)
    assert open(path, "rb").read() == b"\0" * 65536
