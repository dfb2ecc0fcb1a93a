"""The unmodified ``openstack`` CLI against novalite-all-in-one (FakeDriver):
server pause/unpause, suspend/resume, rescue/unrescue, lock --reason/unlock,
set --password, and console url show --serial joined to the guest's serial
port through the all-in-one's websocket proxy."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.functional.test_openstack_cli import AllInOne, _binary, openstack, openstack_proc
from tests.procs import free_port

pytestmark = pytest.mark.process


class ConsoleAllInOne(AllInOne):
    """The all-in-one with its serial console proxy on a free port."""

    def start(self) -> AllInOne:
        os.makedirs(self.state_dir, exist_ok=True)
        self.proxy_port = free_port()
        conf = os.path.join(os.path.dirname(self.state_dir), "serial.conf")
        with open(conf, "w") as f:
            f.write(f"[serial_console]\nserialproxy_port = {self.proxy_port}\n"
                    f"base_url = ws://127.0.0.1:{self.proxy_port}/\n")
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                [_binary("novalite-all-in-one"), "--state-dir", self.state_dir,
                 "--port", str(self.port), "--driver", "fake", "--config-file", conf],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self._wait_ready()
        return self


@pytest.fixture
def aio(tmp_path) -> Iterator[ConsoleAllInOne]:
    server = ConsoleAllInOne(str(tmp_path / "state"), free_port())
    try:
        yield server.start()  # type: ignore[misc]
    finally:
        server.stop()


def wait_status(aio: Any, name: str, status: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    shown: dict = {}
    while time.monotonic() < deadline:
        shown = openstack(aio, "server", "show", name, "-f", "json")
        if shown["status"] == status and not shown.get("OS-EXT-STS:task_state"):
            return shown
        time.sleep(0.3)
    raise AssertionError(f"{name} never reached {status}: {shown.get('status')}")


def test_cli_power_access_actions_and_serial_console(aio):
    # NOTE: an image that declares a guest agent, for set --password.
    openstack(aio, "image", "set", "--property", "hw_qemu_guest_agent=yes", "novalite-tiny")
    openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image", "novalite-tiny",
              "--wait", "pw-1", "-f", "json")
    for verb, status in (("pause", "PAUSED"), ("unpause", "ACTIVE"),
                         ("suspend", "SUSPENDED"), ("resume", "ACTIVE"),
                         ("rescue", "RESCUE"), ("unrescue", "ACTIVE")):
        openstack(aio, "server", verb, "pw-1")
        wait_status(aio, "pw-1", status)
    openstack(aio, "server", "lock", "--reason", "do not touch", "pw-1")
    shown = openstack(aio, "server", "show", "pw-1", "-f", "json")
    assert shown["locked"] is True and shown["locked_reason"] == "do not touch"
    openstack(aio, "server", "unlock", "pw-1")
    shown = openstack(aio, "server", "show", "pw-1", "-f", "json")
    assert shown["locked"] is False and shown["locked_reason"] is None
    openstack(aio, "server", "set", "--password", "n3w-pass", "pw-1")
    wait_status(aio, "pw-1", "ACTIVE")
    actions = openstack(aio, "server", "event", "list", "pw-1", "-f", "json")
    assert {"pause", "unpause", "suspend", "resume", "rescue", "unrescue", "lock",
            "unlock", "changePassword"} <= {a["Action"] for a in actions}

    console = openstack(aio, "console", "url", "show", "--serial", "pw-1", "-f", "json")
    assert console["type"] == "serial"
    assert console["url"].startswith(f"ws://127.0.0.1:{aio.proxy_port}/?token=")
    with connect(console["url"], open_timeout=10) as ws:
        ws.send(b"echo through the cli\n")
        got = b""
        deadline = time.monotonic() + 10
        while b"echo through the cli" not in got and time.monotonic() < deadline:
            msg = ws.recv(timeout=10)
            got += msg if isinstance(msg, bytes) else msg.encode()
    assert b"echo through the cli\n" in got

    # NOTE: a paused server cannot be paused again: the CLI fails with 409.
    openstack(aio, "server", "pause", "pw-1")
    wait_status(aio, "pw-1", "PAUSED")
    again = openstack_proc(aio, "server", "pause", "pw-1")
    assert again.returncode != 0 and "409" in again.stderr, again.stderr
    openstack(aio, "server", "delete", "--wait", "pw-1")
    assert json.loads(openstack_proc(aio, "server", "list", "-f", "json").stdout) == []
