"""The unmodified ``openstack`` CLI against ``novalite-all-in-one``.

The all-in-one runs as a child process in its own session with nothing but
``--state-dir`` and ``--port``; the CLI reads the ``clouds.yaml`` it wrote
(password authentication as the bootstrapped admin, tokens from the
built-in identity service). Every wait is bounded and every process is
stopped at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.procs import free_port

pytestmark = pytest.mark.process

CLOUD = "novalite"
CLI_TIMEOUT = 120.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0


def _binary(name: str) -> str:
    """A console script of this environment (next to the interpreter first)."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    path = here if os.access(here, os.X_OK) else shutil.which(name)
    assert path, f"{name} is not installed (pip install -e '.[test]')"
    return path


class AllInOne:
    """``novalite-all-in-one --state-dir DIR --port N`` as a child process."""

    def __init__(self, state_dir: str, port: int) -> None:
        self.state_dir, self.port = state_dir, port
        self.log = os.path.join(state_dir, "all-in-one.out")
        self.popen: subprocess.Popen | None = None

    def start(self) -> AllInOne:
        os.makedirs(self.state_dir, exist_ok=True)
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                [_binary("novalite-all-in-one"), "--state-dir", self.state_dir,
                 "--port", str(self.port), "--driver", "fake"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        url = f"http://127.0.0.1:{self.port}/compute/v2.1"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise AssertionError(f"all-in-one exited with {self.popen.returncode}:\n"
                                     f"{self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"all-in-one did not answer on {url} within {START_TIMEOUT}s:\n"
                             f"{self.tail()}")

    def stop(self) -> None:
        """SIGTERM and wait; SIGKILL to the whole session after the bound."""
        popen = self.popen
        if popen is None:
            return
        try:
            if popen.poll() is None:
                popen.send_signal(signal.SIGTERM)
                try:
                    popen.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            # NOTE: also reaps a worker the master may have left behind.
            try:
                os.killpg(popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            popen.wait(10)
            self.popen = None

    def tail(self, size: int = 6000) -> str:
        try:
            with open(self.log, errors="replace") as f:
                return f.read()[-size:]
        except FileNotFoundError:
            return ""

    @property
    def clouds_yaml(self) -> str:
        return os.path.join(self.state_dir, "clouds.yaml")


@pytest.fixture
def all_in_one(tmp_path) -> Iterator[AllInOne]:
    aio = AllInOne(str(tmp_path / "state"), free_port())
    try:
        yield aio.start()
    finally:
        aio.stop()


def run(argv: list[str], env: dict[str, str] | None = None,
        timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)


def openstack_proc(aio: AllInOne, *args: str,
                   clouds_yaml: str | None = None) -> subprocess.CompletedProcess:
    # NOTE: no OS_* variable of the caller may leak into the CLI's config.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = clouds_yaml or aio.clouds_yaml
    return run([_binary("openstack"), "--os-cloud", CLOUD, *args], env)


def openstack(aio: AllInOne, *args: str, clouds_yaml: str | None = None) -> Any:
    """Run ``openstack --os-cloud novalite ARGS``; the parsed JSON with ``-f json``."""
    proc = openstack_proc(aio, *args, clouds_yaml=clouds_yaml)
    assert proc.returncode == 0, (f"{' '.join(args)} failed ({proc.returncode}):\n"
                                  f"{proc.stderr[-4000:]}\n--- all-in-one ---\n{aio.tail()}")
    return json.loads(proc.stdout) if "json" in args else proc.stdout


def manage(aio: AllInOne, *args: str) -> str:
    """``novalite-manage`` with the novalite.conf the all-in-one wrote."""
    conf = os.path.join(aio.state_dir, "novalite.conf")
    proc = run([_binary("novalite-manage"), "--config-file", conf, *args])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def clouds_yaml_for(aio: AllInOne, path: str, username: str, password: str,
                    project: str) -> str:
    """A clouds.yaml like the all-in-one's, for another user."""
    with open(aio.clouds_yaml) as f:
        text = f.read()
    for key, value in (("username", username), ("password", password),
                       ("project_name", project)):
        text = "\n".join(f"      {key}: {json.dumps(value)}"
                         if line.strip().startswith(f"{key}:") else line
                         for line in text.splitlines())
    with open(path, "w") as f:
        f.write(text + "\n")
    return path


def test_openstack_cli_creates_lists_shows_and_deletes_a_server(all_in_one):
    aio = all_in_one
    token = openstack(aio, "token", "issue", "-f", "json")
    assert token["id"].startswith("gAAAAA")  # a Fernet token
    assert token["project_id"] and token["user_id"] and token["expires"]
    flavors = openstack(aio, "flavor", "list", "-f", "json")
    assert "m1.tiny" in {f["Name"] for f in flavors}
    images = openstack(aio, "image", "list", "-f", "json")
    assert [(i["Name"], i["Status"]) for i in images] == [("novalite-tiny", "active")]

    created = openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image",
                        "novalite-tiny", "--wait", "cli-1", "-f", "json")
    assert created["name"] == "cli-1" and created["status"] == "ACTIVE"
    server_id = created["id"]

    listed = openstack(aio, "server", "list", "-f", "json")
    assert [(s["ID"], s["Name"], s["Status"]) for s in listed] == [
        (server_id, "cli-1", "ACTIVE")]

    shown = openstack(aio, "server", "show", "cli-1", "-f", "json")
    assert (shown["id"], shown["name"], shown["status"]) == (server_id, "cli-1", "ACTIVE")
    # NOTE: the CLI negotiates the newest microversion: from 2.47 the
    # server embeds its flavor.
    assert shown["flavor"]["original_name"] == "m1.tiny"
    assert shown["image"].startswith("novalite-tiny")

    openstack(aio, "server", "delete", "--wait", "cli-1")
    assert openstack(aio, "server", "list", "-f", "json") == []


def test_restart_registers_the_image_once_and_manage_reads_the_written_conf(tmp_path):
    state_dir = str(tmp_path / "state")
    first = AllInOne(state_dir, free_port())
    try:
        first.start()
    finally:
        first.stop()
    # NOTE: an operator changes the admin's password while it is stopped:
    # the restart keeps it and says clouds.yaml no longer matches.
    manage(first, "user", "set-password", "admin", "--password", "operators-choice")
    # NOTE: a new port, so the CLI only works if clouds.yaml was rewritten.
    again = AllInOne(state_dir, free_port())
    try:
        again.start()
        assert "will not authenticate" in again.tail()
        proc = openstack_proc(again, "image", "list")
        assert proc.returncode != 0 and "requires authentication" in proc.stderr
        password_file = os.path.join(state_dir, "admin-password")
        manage(again, "user", "set-password", "admin", "--password-file", password_file)
        images = openstack(again, "image", "list", "-f", "json")
        assert [i["Name"] for i in images] == ["novalite-tiny"]

        conf = os.path.join(state_dir, "novalite.conf")
        proc = run([_binary("novalite-manage"), "--config-file", conf, "service", "list"])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        rows = [[cell.strip() for cell in line.strip("|").split("|")]
                for line in proc.stdout.splitlines() if line.startswith("|")]
        header, services = rows[0], rows[1:]
        states = {row[header.index("Binary")]: row[header.index("State")] for row in services}
        assert states == {"novalite-conductor": "up", "novalite-scheduler": "up",
                          "novalite-compute": "up", "novalite-volume": "up"}, proc.stdout
    finally:
        again.stop()


def test_password_auth_files_users_and_projects(all_in_one):
    """The admin's secrets are private, a user made with novalite-manage
    logs in with the CLI and sees only its project, a wrong password fails."""
    aio = all_in_one
    for name in ("clouds.yaml", "admin-password"):
        mode = stat.S_IMODE(os.stat(os.path.join(aio.state_dir, name)).st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"
    keys = os.path.join(aio.state_dir, "fernet-keys")
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
    with open(aio.clouds_yaml) as f:
        clouds = f.read()
    with open(os.path.join(aio.state_dir, "admin-password")) as f:
        assert json.dumps(f.read().strip()) in clouds
    assert "auth_type: password" in clouds
    assert f'auth_url: "http://127.0.0.1:{aio.port}/identity/v3"' in clouds

    out = manage(aio, "user", "create", "carol", "--password", "carols secret",
                 "--project", "team", "--role", "member")
    assert out.startswith("Created user carol")
    assert "carol" in manage(aio, "user", "list") and "team" in manage(aio, "project", "list")

    admin_server = openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image",
                             "novalite-tiny", "--wait", "admins", "-f", "json")
    carol = clouds_yaml_for(aio, os.path.join(aio.state_dir, "carol.yaml"),
                            "carol", "carols secret", "team")
    token = openstack(aio, "token", "issue", "-f", "json", clouds_yaml=carol)
    projects = openstack(aio, "project", "list", "-f", "json")
    assert token["project_id"] == {p["Name"]: p["ID"] for p in projects}["team"]
    assert openstack(aio, "server", "list", "-f", "json", clouds_yaml=carol) == []
    assert [s["ID"] for s in openstack(aio, "server", "list", "-f", "json")] == [
        admin_server["id"]]

    # openstacksdk and novaclient on the same clouds.yaml (keystoneauth session)
    from novaclient import client as nova_client
    from openstack import config as os_config
    from openstack import connection

    region = os_config.OpenStackConfig(config_files=[carol]).get_one(cloud=CLOUD)
    conn = connection.Connection(config=region)
    try:
        assert list(conn.compute.servers()) == []
        assert "m1.tiny" in {f.name for f in conn.compute.flavors()}
        nova = nova_client.Client("2.1", session=conn.session)
        assert nova.servers.list() == []
        assert "m1.tiny" in {f.name for f in nova.flavors.list()}
    finally:
        conn.close()

    wrong = clouds_yaml_for(aio, os.path.join(aio.state_dir, "wrong.yaml"),
                            "carol", "not carols", "team")
    proc = openstack_proc(aio, "server", "list", clouds_yaml=wrong)
    assert proc.returncode != 0
    assert "The request you have made requires authentication" in proc.stderr, proc.stderr
