"""The unmodified ``openstack`` CLI against ``novalite-all-in-one`` (FakeDriver)
for snapshots, backups, shelve / unshelve and rebuild (issue 12 items 2-3)."""

from __future__ import annotations

import time

import pytest

from tests.functional.test_openstack_cli import AllInOne, all_in_one, openstack  # noqa: F401

pytestmark = pytest.mark.process


def _wait_server(aio: AllInOne, name: str, status: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    shown: dict = {}
    while time.monotonic() < deadline:
        shown = openstack(aio, "server", "show", name, "-f", "json")
        if shown["status"] == status and not shown.get("OS-EXT-STS:task_state"):
            return shown
        time.sleep(0.5)
    raise AssertionError(f"{name} never reached {status}: {shown.get('status')} "
                         f"{shown.get('OS-EXT-STS:task_state')}")


def test_image_create_backup_shelve_unshelve_rebuild(all_in_one):  # noqa: F811
    aio = all_in_one
    server = openstack(aio, "server", "create", "--flavor", "m1.tiny", "--image",
                       "novalite-tiny", "--wait", "cli-img", "-f", "json")
    addresses = server["addresses"]

    snap = openstack(aio, "server", "image", "create", "--name", "cli-snap", "--wait",
                     "cli-img", "-f", "json")
    assert snap["name"] == "cli-snap" and snap["status"] == "active"
    image = openstack(aio, "image", "show", "cli-snap", "-f", "json")
    assert image["properties"]["image_type"] == "snapshot"
    assert image["properties"]["instance_uuid"] == server["id"]
    _wait_server(aio, "cli-img", "ACTIVE")

    openstack(aio, "server", "backup", "create", "--name", "cli-bak", "--type", "daily",
              "--rotate", "1", "--wait", "cli-img")
    backup = openstack(aio, "image", "show", "cli-bak", "-f", "json")
    assert backup["properties"]["image_type"] == "backup"
    assert backup["properties"]["backup_type"] == "daily"
    _wait_server(aio, "cli-img", "ACTIVE")

    openstack(aio, "server", "shelve", "cli-img")
    _wait_server(aio, "cli-img", "SHELVED_OFFLOADED")
    openstack(aio, "server", "unshelve", "cli-img")
    back = _wait_server(aio, "cli-img", "ACTIVE")
    assert back["addresses"] == addresses

    openstack(aio, "server", "rebuild", "--image", "cli-snap", "--wait", "cli-img")
    rebuilt = _wait_server(aio, "cli-img", "ACTIVE")
    assert rebuilt["image"].startswith("cli-snap")
    assert rebuilt["addresses"] == addresses and rebuilt["id"] == server["id"]
    openstack(aio, "server", "delete", "--wait", "cli-img")
