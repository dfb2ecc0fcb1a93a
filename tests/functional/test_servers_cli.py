"""The unmodified ``openstack`` CLI against ``novalite-all-in-one`` for what
users do to their servers after creating them: rename, properties (server
metadata), stop/start/reboot, console log, filters, and forced delete."""

from __future__ import annotations

import time

import pytest

from tests.functional.test_openstack_cli import all_in_one, openstack, openstack_proc  # noqa: F401

pytestmark = pytest.mark.process


def _status(aio, name):
    return openstack(aio, "server", "show", name, "-f", "json")["status"]


def _wait_status(aio, name, status, timeout=60.0):
    deadline = time.monotonic() + timeout
    while (seen := _status(aio, name)) != status:
        assert time.monotonic() < deadline, f"{name} stayed {seen}, never {status}"
        time.sleep(0.5)


def test_server_set_unset_power_console_and_filters(all_in_one):  # noqa: F811
    aio = all_in_one
    created = openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image",
                        "novalite-tiny", "--property", "role=web", "--wait", "cli-srv",
                        "-f", "json")
    assert created["status"] == "ACTIVE"
    openstack(aio, "server", "set", "--name", "cli-renamed", "--property", "tier=front",
              "cli-srv")
    openstack(aio, "server", "unset", "--property", "role", "cli-renamed")
    shown = openstack(aio, "server", "show", "cli-renamed", "-f", "json")
    assert shown["id"] == created["id"]
    assert shown["properties"] in ({"tier": "front"}, "tier='front'")

    openstack(aio, "server", "stop", "cli-renamed")
    _wait_status(aio, "cli-renamed", "SHUTOFF")
    listed = openstack(aio, "server", "list", "--status", "SHUTOFF", "-f", "json")
    assert [s["Name"] for s in listed] == ["cli-renamed"]
    assert openstack(aio, "server", "list", "--status", "ACTIVE", "-f", "json") == []
    # starting a running server is a conflict the CLI reports
    openstack(aio, "server", "start", "cli-renamed")
    _wait_status(aio, "cli-renamed", "ACTIVE")
    proc = openstack_proc(aio, "server", "start", "cli-renamed")
    assert proc.returncode != 0 and "409" in proc.stderr + proc.stdout
    openstack(aio, "server", "reboot", "--hard", "--wait", "cli-renamed")
    assert _status(aio, "cli-renamed") == "ACTIVE"
    assert isinstance(openstack(aio, "console", "log", "show", "--lines", "5", "cli-renamed"),
                      str)
    assert [s["Name"] for s in openstack(aio, "server", "list", "--name", "^cli-re",
                                         "-f", "json")] == ["cli-renamed"]
    assert openstack(aio, "server", "list", "--name", "^nomatch", "-f", "json") == []
    assert [s["Name"] for s in openstack(aio, "server", "list", "--all-projects",
                                         "-f", "json")] == ["cli-renamed"]

    openstack(aio, "server", "delete", "--force", "--wait", "cli-renamed")
    assert openstack(aio, "server", "list", "-f", "json") == []
