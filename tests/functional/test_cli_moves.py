"""The unmodified ``openstack`` CLI (it negotiates the newest microversion)
for resize, confirm/revert, cold and live migration, evacuation and the
migration list, against an in-process stack with two FakeDriver computes and
token authentication (issue 12 item 3)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from novalite.conf import CONF
from tests.functional.stack import ADMIN_PASSWORD
from tests.functional.test_openstack_cli import openstack

pytestmark = pytest.mark.process


class _Cloud:
    """What ``openstack()`` needs of an all-in-one: a clouds.yaml and a log tail."""

    def __init__(self, stack: Any, state_dir: str) -> None:
        self.clouds_yaml = os.path.join(state_dir, "clouds.yaml")
        auth = {"auth_url": stack.base_url + "/identity/v3", "username": "admin",
                "password": ADMIN_PASSWORD, "project_name": "admin",
                "user_domain_name": "Default", "project_domain_name": "Default"}
        cloud = {"auth_type": "password", "auth": auth, "identity_api_version": 3,
                 "region_name": CONF.identity.region_name, "interface": "public"}
        with open(self.clouds_yaml, "w") as f:
            json.dump({"clouds": {"novalite": cloud}}, f)

    @staticmethod
    def tail() -> str:
        return "(in-process stack: see the captured log)"


def _wait(cloud: _Cloud, name: str, status: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    shown: dict = {}
    while time.monotonic() < deadline:
        shown = openstack(cloud, "server", "show", name, "-f", "json")
        if shown["status"] == status and not shown.get("OS-EXT-STS:task_state"):
            return shown
        time.sleep(0.3)
    raise AssertionError(f"{name} never reached {status}: {shown.get('status')} "
                         f"{shown.get('OS-EXT-STS:task_state')}")


def _flavor(shown: dict) -> str:
    """The flavor's name: a dict from 2.47 (``name`` or ``original_name``)."""
    flavor = shown["flavor"]
    if isinstance(flavor, dict):
        return str(flavor.get("name") or flavor.get("original_name"))
    return str(flavor).split(" ")[0]


def _other(host: str) -> str:
    return "cli-b" if host == "cli-a" else "cli-a"


def test_cli_resize_migrate_evacuate_and_migration_list(make_stack, tmp_path):
    stack = make_stack(computes=[("cli-a", "fake.FakeDriver"), ("cli-b", "fake.FakeDriver")],
                       auth="novalite", overrides={(None, "service_down_time"): 3})
    cloud = _Cloud(stack, str(tmp_path))
    server = openstack(cloud, "server", "create", "--flavor", "m1.tiny", "--image",
                       "test-image", "--wait", "cli-mv", "-f", "json")
    source = server["OS-EXT-SRV-ATTR:host"]

    openstack(cloud, "server", "resize", "--flavor", "m1.small", "--wait", "cli-mv")
    resized = _wait(cloud, "cli-mv", "VERIFY_RESIZE")
    assert _flavor(resized) == "m1.small"
    assert resized["OS-EXT-SRV-ATTR:host"] == _other(source)
    openstack(cloud, "server", "resize", "confirm", "cli-mv")
    confirmed = _wait(cloud, "cli-mv", "ACTIVE")
    assert _flavor(confirmed) == "m1.small"
    host = confirmed["OS-EXT-SRV-ATTR:host"]

    openstack(cloud, "server", "resize", "--flavor", "m1.medium", "--wait", "cli-mv")
    _wait(cloud, "cli-mv", "VERIFY_RESIZE")
    openstack(cloud, "server", "resize", "revert", "cli-mv")
    reverted = _wait(cloud, "cli-mv", "ACTIVE")
    assert _flavor(reverted) == "m1.small"
    assert reverted["OS-EXT-SRV-ATTR:host"] == host

    openstack(cloud, "server", "migrate", "--wait", "cli-mv")
    migrated = _wait(cloud, "cli-mv", "VERIFY_RESIZE")
    assert migrated["OS-EXT-SRV-ATTR:host"] == _other(host)
    openstack(cloud, "server", "migrate", "confirm", "cli-mv")
    host = _wait(cloud, "cli-mv", "ACTIVE")["OS-EXT-SRV-ATTR:host"]

    openstack(cloud, "server", "migrate", "--live-migration", "--host", _other(host),
              "--wait", "cli-mv")
    live = _wait(cloud, "cli-mv", "ACTIVE")
    assert live["OS-EXT-SRV-ATTR:host"] == _other(host)
    host = live["OS-EXT-SRV-ATTR:host"]

    stack.stop_compute(host)
    openstack(cloud, "server", "evacuate", "cli-mv")
    # NOTE: the CLI speaks 2.100: from 2.95 an evacuated server is stopped.
    evacuated = _wait(cloud, "cli-mv", "SHUTOFF")
    assert evacuated["OS-EXT-SRV-ATTR:host"] == _other(host)

    rows = openstack(cloud, "server", "migration", "list", "--server", "cli-mv", "-f", "json")
    kinds = [(r["Type"], r["Status"]) for r in rows]
    assert kinds == [("evacuation", "done"), ("live-migration", "completed"),
                     ("migration", "confirmed"), ("resize", "reverted"),
                     ("resize", "confirmed")], kinds
    assert all(r["Server UUID"] == server["id"] for r in rows)
    only_resizes = openstack(cloud, "server", "migration", "list", "--type", "resize",
                             "-f", "json")
    assert [r["Status"] for r in only_resizes] == ["reverted", "confirmed"]
    openstack(cloud, "server", "delete", "--wait", "cli-mv")
