"""Issue 10 item 5 through the Identity API: nobody can keep a user locked
out (lockout off by default as Keystone's; when on, counted per user and
source address), failed password authentications are throttled per source
with 429 + Retry-After before any bcrypt, and a new password (the API's
``POST /v3/users/{id}/password``, ``openstack user password set``,
``novalite-manage user set-password``) revokes the user's earlier tokens.

Requests from a second source address come from 127.0.0.2 (loopback) to
the stack on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

import pytest
import requests
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from requests.adapters import HTTPAdapter

from novalite.identity import passwords

TOKENS = "/identity/v3/auth/tokens"
OTHER_ADDRESS = "127.0.0.2"


class _FromAddress(HTTPAdapter):
    """Connections from a given local address."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


def _session_from(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", _FromAddress(address))
    return session


@pytest.fixture
def elsewhere():
    session = _session_from(OTHER_ADDRESS)
    try:
        yield session
    finally:
        session.close()


def _token(stack: Any, name: str, password: str, via: requests.Session | None = None,
           ) -> requests.Response:
    auth = {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": password}}}}
    return (via or requests).post(stack.base_url + TOKENS, json={"auth": auth}, timeout=30)


def _compute_with(stack: Any, token: str) -> requests.Response:
    return requests.get(stack.base_url + "/compute/v2.1/servers",
                        headers={"X-Auth-Token": token}, timeout=30)


def test_anyone_guessing_cannot_lock_admin_out_by_default(make_stack):
    """The bug: 5 bad passwords a minute kept ``admin`` locked out."""
    stack = make_stack(auth="novalite")
    from tests.functional.stack import ADMIN_PASSWORD

    for _ in range(8):
        assert _token(stack, "admin", "guess").status_code == 401
    assert _token(stack, "admin", ADMIN_PASSWORD).status_code == 201


def test_lockout_from_one_address_does_not_lock_the_user_out_elsewhere(make_stack, elsewhere):
    stack = make_stack(auth="novalite", overrides={
        ("identity", "lockout_failure_attempts"): 3, ("identity", "lockout_duration"): 600})
    user = stack.make_user("erin", "team")
    for _ in range(3):
        assert _token(stack, "erin", "guess", elsewhere).status_code == 401
    # locked out from there, even with the right password (Keystone's rule) ...
    locked = _token(stack, "erin", user["password"], elsewhere)
    assert locked.status_code == 401
    assert locked.json()["error"]["message"] == \
        "The request you have made requires authentication."
    # ... but not from anywhere else
    assert _token(stack, "erin", user["password"]).status_code == 201


def test_failed_passwords_from_one_address_get_429_before_any_bcrypt(make_stack, elsewhere,
                                                                   monkeypatch):
    stack = make_stack(auth="novalite", overrides={
        ("identity", "auth_throttle_burst"): 3, ("identity", "auth_throttle_rate"): 6.0})
    user = stack.make_user("finn", "team")
    checks = []
    real_verify = passwords.verify

    def counting_verify(password: str, hashed: str | None) -> bool:
        checks.append(password)
        return real_verify(password, hashed)

    monkeypatch.setattr(passwords, "verify", counting_verify)
    for name in ("finn", "finn", "nobody"):
        assert _token(stack, name, "guess", elsewhere).status_code == 401
    assert len(checks) == 3
    throttled = _token(stack, "finn", user["password"], elsewhere)
    assert throttled.status_code == 429, throttled.text
    assert len(checks) == 3  # refused before the password was hashed
    assert 1 <= int(throttled.headers["Retry-After"]) <= 10
    assert throttled.json() == {"error": {
        "code": 429, "title": "Too Many Requests",
        "message": f"Too many failed authentications from {OTHER_ADDRESS}; retry after "
                   f"{throttled.headers['Retry-After']} seconds."}}
    # the API's own address is another source: not throttled
    assert _token(stack, "finn", user["password"]).status_code == 201

    # what the clients make of it: keystoneauth raises TooManyRequests
    sess = ks_session.Session(auth=v3.Password(
        auth_url=stack.base_url + "/identity/v3", username="finn",
        password=user["password"], user_domain_id="default"), session=elsewhere)
    with pytest.raises(ks_exceptions.TooManyRequests, match="retry after"):
        sess.get_token()


def test_successful_logins_never_use_up_the_throttle(make_stack):
    stack = make_stack(auth="novalite", overrides={("identity", "auth_throttle_burst"): 2})
    user = stack.make_user("gail", "team")
    for _ in range(6):
        assert _token(stack, "gail", user["password"]).status_code == 201
    assert _token(stack, "gail", "guess").status_code == 401


def test_password_change_through_the_api_revokes_earlier_tokens(make_stack):
    stack = make_stack(auth="novalite")
    user = stack.make_user("hank", "team")
    old = stack.token("hank", user["password"], "team").headers["X-Subject-Token"]
    assert _compute_with(stack, old).status_code == 200
    url = f"{stack.base_url}/identity/v3/users/{user['id']}/password"

    wrong = requests.post(url, json={"user": {"original_password": "guess",
                                              "password": "new-hank-pw"}}, timeout=30)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 401
    too_long = requests.post(url, json={"user": {"original_password": user["password"],
                                                 "password": "x" * 80}}, timeout=30)
    assert too_long.status_code == 400
    assert "80 bytes long; the most is 72" in too_long.json()["error"]["message"]
    missing = requests.post(url, json={"user": {"password": "new-hank-pw"}}, timeout=30)
    assert missing.status_code == 400 and "original_password" in missing.text
    assert _compute_with(stack, old).status_code == 200  # nothing changed yet

    changed = requests.post(url, json={"user": {"original_password": user["password"],
                                                "password": "new-hank-pw"}}, timeout=30)
    assert changed.status_code == 204, changed.text
    assert _compute_with(stack, old).status_code == 401
    check = requests.get(stack.base_url + TOKENS, timeout=30, headers={
        "X-Auth-Token": stack.session.headers["X-Auth-Token"], "X-Subject-Token": old})
    assert check.status_code == 404
    assert stack.token("hank", user["password"], "team").status_code == 401
    new = stack.token("hank", "new-hank-pw", "team")
    assert new.status_code == 201
    assert _compute_with(stack, new.headers["X-Subject-Token"]).status_code == 200
    # other users' tokens are untouched
    assert stack.compute("GET", "/servers").status_code == 200


def _cli(name: str) -> str:
    here = os.path.join(os.path.dirname(sys.executable), name)
    path = here if os.access(here, os.X_OK) else shutil.which(name)
    assert path, f"{name} is not installed"
    return path


def test_openstack_user_password_set_revokes_earlier_tokens(make_stack):
    stack = make_stack(auth="novalite")
    user = stack.make_user("ivy", "team")
    old = stack.token("ivy", user["password"], "team").headers["X-Subject-Token"]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root"),
           "OS_AUTH_URL": stack.base_url + "/identity/v3", "OS_USERNAME": "ivy",
           "OS_PASSWORD": user["password"], "OS_PROJECT_NAME": "team",
           "OS_USER_DOMAIN_ID": "default", "OS_PROJECT_DOMAIN_ID": "default",
           "OS_IDENTITY_API_VERSION": "3"}
    proc = subprocess.run([_cli("openstack"), "user", "password", "set",
                           "--original-password", user["password"],
                           "--password", "new-ivy-pw"],
                          env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _compute_with(stack, old).status_code == 401
    assert stack.token("ivy", "new-ivy-pw", "team").status_code == 201


def test_novalite_manage_set_password_revokes_tokens_and_clears_lockouts(make_stack,
                                                                        elsewhere, tmp_path):
    stack = make_stack(auth="novalite", overrides={
        ("identity", "lockout_failure_attempts"): 2, ("identity", "lockout_duration"): 600})
    user = stack.make_user("jude", "team")
    old = stack.token("jude", user["password"], "team").headers["X-Subject-Token"]
    for _ in range(2):
        assert _token(stack, "jude", "guess", elsewhere).status_code == 401
    assert _token(stack, "jude", user["password"], elsewhere).status_code == 401  # locked

    conf = tmp_path / "manage.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {stack.state_dir}\n"
                    f"[database]\nconnection = {stack.database_url}\n"
                    "[identity]\npassword_hash_rounds = 4\n")
    proc = subprocess.run([_cli("novalite-manage"), "--config-file", str(conf), "user",
                           "set-password", "jude", "--password", "new-jude-pw"],
                          capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tokens issued before revoked" in proc.stdout
    assert _compute_with(stack, old).status_code == 401
    assert _token(stack, "jude", "new-jude-pw", elsewhere).status_code == 201
