"""/os-keypairs through the whole stack: generate, import, list, show,
delete, per-user isolation, Nova 2.1's fields, codes and messages."""

from __future__ import annotations

import subprocess

import jsonschema
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from novalite.api.schemas import keypairs as schemas
from tests.functional.stack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(str(tmp_path_factory.mktemp("keypairs"))).start()
    try:
        yield s
    finally:
        s.stop()


def _as(user: str, project: str = "p1", roles: str = "member,reader") -> dict:
    return {"X-User-Id": user, "X-Project-Id": project, "X-Roles": roles}


def _ssh_keygen_md5(tmp_path, public_key: str) -> str:
    """The fingerprint OpenSSH itself computes (``ssh-keygen -l -E md5``)."""
    path = tmp_path / "key.pub"
    path.write_text(public_key + "\n")
    out = subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", str(path)],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    return out.split()[1].removeprefix("MD5:")


def test_generate_returns_a_working_private_key_once(stack, tmp_path):
    alice = _as("alice")
    resp = stack.compute("POST", "/os-keypairs", {"keypair": {"name": "gen-1"}}, headers=alice)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    jsonschema.validate(body, schemas.create_response)
    kp = body["keypair"]
    assert set(kp) == {"name", "public_key", "fingerprint", "user_id", "private_key"}
    assert kp["name"] == "gen-1" and kp["user_id"] == "alice"
    private = serialization.load_pem_private_key(kp["private_key"].encode(), password=None)
    derived = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                serialization.PublicFormat.OpenSSH).decode()
    assert kp["public_key"].split()[:2] == derived.split()
    assert kp["fingerprint"] == _ssh_keygen_md5(tmp_path, kp["public_key"])

    shown = stack.compute("GET", "/os-keypairs/gen-1", headers=alice)
    assert shown.status_code == 200
    jsonschema.validate(shown.json(), schemas.show_response)
    detail = shown.json()["keypair"]
    assert "private_key" not in detail
    assert detail["deleted"] is False and detail["deleted_at"] is None
    assert isinstance(detail["id"], int) and detail["created_at"]
    assert detail["public_key"] == kp["public_key"]


def test_import_list_show_delete(stack, tmp_path):
    bob = _as("bob")
    public = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    resp = stack.compute("POST", "/os-keypairs",
                         {"keypair": {"name": "my key", "public_key": public + " bob@laptop"}},
                         headers=bob)
    assert resp.status_code == 200, resp.text
    kp = resp.json()["keypair"]
    assert set(kp) == {"name", "public_key", "fingerprint", "user_id"}
    assert kp["fingerprint"] == _ssh_keygen_md5(tmp_path, public)

    listed = stack.compute("GET", "/os-keypairs", headers=bob).json()
    jsonschema.validate(listed, schemas.index_response)
    assert listed == {"keypairs": [{"keypair": {"name": "my key", "public_key": kp["public_key"],
                                                "fingerprint": kp["fingerprint"]}}]}
    assert stack.compute("GET", "/os-keypairs/my%20key", headers=bob).status_code == 200

    # another user neither sees nor reaches it
    carol = _as("carol")
    assert stack.compute("GET", "/os-keypairs", headers=carol).json() == {"keypairs": []}
    resp = stack.compute("GET", "/os-keypairs/my%20key", headers=carol)
    assert resp.status_code == 404
    assert resp.json() == {"itemNotFound": {
        "code": 404, "message": "Keypair my key not found for user carol"}}
    assert stack.compute("DELETE", "/os-keypairs/my%20key", headers=carol).status_code == 404

    resp = stack.compute("DELETE", "/os-keypairs/my%20key", headers=bob)
    assert resp.status_code == 202 and resp.content == b""
    assert stack.compute("GET", "/os-keypairs/my%20key", headers=bob).status_code == 404
    # the name is free again after a delete
    again = stack.compute("POST", "/os-keypairs",
                          {"keypair": {"name": "my key", "public_key": public}}, headers=bob)
    assert again.status_code == 200, again.text


def test_duplicate_name_is_a_conflict_per_user(stack):
    for user in ("dave", "erin"):
        resp = stack.compute("POST", "/os-keypairs", {"keypair": {"name": "dup"}},
                             headers=_as(user))
        assert resp.status_code == 200, resp.text
    resp = stack.compute("POST", "/os-keypairs", {"keypair": {"name": "dup"}},
                         headers=_as("dave"))
    assert resp.status_code == 409
    assert resp.json() == {"conflictingRequest": {
        "code": 409, "message": "Key pair 'dup' already exists."}}


@pytest.mark.parametrize(("body", "message"), [
    ({"keypair": {"name": "bad/name"}},
     "Keypair data is invalid: Keypair name contains unsafe characters"),
    ({"keypair": {"name": "bad.name"}},
     "Keypair data is invalid: Keypair name contains unsafe characters"),
    ({"keypair": {"name": " lead"}}, "Can not start or end with whitespace"),
    ({"keypair": {"name": "trail "}}, "Can not start or end with whitespace"),
    ({"keypair": {"name": ""}}, "Invalid input for field/attribute name"),
    ({"keypair": {"name": "x" * 256}}, "Invalid input for field/attribute name"),
    ({"keypair": {"name": "k", "public_key": "ssh-rsa AAAAnotakey"}},
     "Keypair data is invalid: failed to generate fingerprint"),
    ({"keypair": {"name": "k", "public_key": ""}},
     "Keypair data is invalid: failed to generate fingerprint"),
    ({"keypair": {"name": "k", "public_key": "ssh-rsa $(reboot) x"}},
     "Keypair data is invalid: failed to generate fingerprint"),
    ({"keypair": {"name": "k", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKd+"
                  "8Tw8U2NIHbE2yPjs8GQ9wzBk5Lp6i0nVZ3wHq6qN " + "c" * 20000}},
     "Keypair data is invalid: public key is longer than 16384 characters"),
    ({"keypair": {"name": "k", "type": "x509"}}, "Additional properties are not allowed"),
    ({"keypair": {}}, "'name' is a required property"),
    ({"name": "k"}, "'keypair' is a required property"),
])
def test_bad_input_is_a_400_naming_it(stack, body, message):
    resp = stack.compute("POST", "/os-keypairs", body, headers=_as("frank"))
    assert resp.status_code == 400, resp.text
    assert message in resp.json()["badRequest"]["message"]


def test_max_length_name_is_accepted(stack):
    name = "n" * 255
    resp = stack.compute("POST", "/os-keypairs", {"keypair": {"name": name}},
                         headers=_as("gina"))
    assert resp.status_code == 200, resp.text
    assert stack.compute("GET", f"/os-keypairs/{name}", headers=_as("gina")).status_code == 200


def test_key_pair_quota_is_the_projects_per_user(stack):
    admin = _as("root", "admin", "admin")
    resp = stack.compute("PUT", "/os-quota-sets/kp-project",
                         {"quota_set": {"key_pairs": 1}}, headers=admin)
    assert resp.status_code == 200, resp.text
    harry = _as("harry", "kp-project")
    assert stack.compute("POST", "/os-keypairs", {"keypair": {"name": "one"}},
                         headers=harry).status_code == 200
    resp = stack.compute("POST", "/os-keypairs", {"keypair": {"name": "two"}}, headers=harry)
    assert resp.status_code == 403
    assert resp.json() == {"forbidden": {"code": 403,
                                         "message": "Maximum number of key pairs exceeded"}}
    # the limit is per user
    assert stack.compute("POST", "/os-keypairs", {"keypair": {"name": "one"}},
                         headers=_as("ivy", "kp-project")).status_code == 200
