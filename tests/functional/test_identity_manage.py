"""``novalite-manage`` identity commands, as an operator runs them."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import pytest


def _manage_binary() -> str:
    here = os.path.join(os.path.dirname(sys.executable), "novalite-manage")
    path = here if os.access(here, os.X_OK) else shutil.which("novalite-manage")
    assert path, "novalite-manage is not installed (pip install -e '.[test]')"
    return path


@pytest.fixture
def manage(tmp_path):
    conf = tmp_path / "novalite.conf"
    conf.write_text(f"[DEFAULT]\nstate_path = {tmp_path}\n"
                    "[identity]\npassword_hash_rounds = 4\n")

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([_manage_binary(), "--config-file", str(conf), *args],
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL, check=False)
        assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
        return proc

    run("db", "sync")
    return run


def _rows(out: str) -> list[dict[str, str]]:
    lines = [[c.strip() for c in line.strip("|").split("|")]
             for line in out.splitlines() if line.startswith("|")]
    return [dict(zip(lines[0], row, strict=True)) for row in lines[1:]]


def test_users_projects_and_roles(manage, tmp_path):
    out = manage("user", "create", "alice", "--password", "alices-password",
                 "--project", "demo", "--role", "member").stdout
    assert out.startswith("Created user alice ") and "on project demo" in out
    generated = manage("user", "create", "bob", "--project", "demo").stdout
    assert "Password: " in generated
    manage("project", "create", "other", "--description", "the other one")
    manage("role", "add", "--user", "alice", "--project", "other", "reader")
    again = manage("role", "add", "--user", "alice", "--project", "other", "reader").stdout
    assert again.startswith("Already had:")

    users = {u["Name"]: u for u in _rows(manage("user", "list").stdout)}
    assert users["alice"]["Roles"] == "member@demo, reader@other"
    assert users["alice"]["Default Project"] == "demo"
    assert users["bob"]["Roles"] == "member@demo"
    projects = {p["Name"]: p for p in _rows(manage("project", "list").stdout)}
    assert projects["other"]["Description"] == "the other one"
    assert set(projects) == {"demo", "other"}

    pw = tmp_path / "pw"
    pw.write_text("from a file\n")
    assert "changed" in manage("user", "set-password", "alice", "--password-file",
                               str(pw)).stdout
    keys = manage("token", "setup-keys").stdout
    assert "keys [1]" in keys
    assert "keys [1, 2] (primary 2)" in manage("token", "rotate-keys").stdout
    repo = tmp_path / "fernet-keys"
    assert stat.S_IMODE(os.stat(repo).st_mode) == 0o700
    assert sorted(os.listdir(repo)) == ["1", "2"]


def test_mistakes_are_named_and_fail(manage):
    manage("user", "create", "carol", "--password", "pw", "--project", "demo")
    dup = manage("user", "create", "carol", "--password", "x", ok=False)
    assert "User carol already exists" in dup.stderr
    ghost = manage("role", "add", "--user", "ghost", "--project", "demo", "reader", ok=False)
    assert "Could not find user: ghost" in ghost.stderr
    long = manage("user", "create", "dan", "--password", "x" * 80, ok=False)
    assert "80 bytes long; the most is 72" in long.stderr
    bad_role = manage("user", "create", "eve", "--role", "owner", ok=False)
    assert "invalid choice: 'owner'" in bad_role.stderr
    assert "dan" not in manage("user", "list").stdout
