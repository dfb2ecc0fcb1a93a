"""The unmodified ``openstack`` CLI (python-openstackclient on openstacksdk)
against the Block Storage API: volumes (empty, from an image, a snapshot
or another volume; list, show, set, extend, delete), snapshots, volume
types, the volume part of ``quota show`` and ``limits show --absolute``.
A token-authenticated stack in this process with a volume service, the
CLI in its own process with a clouds.yaml for the stack's admin."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests.functional.stack import ADMIN_PASSWORD, Stack

CLI_TIMEOUT = 120


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    from novalite.cmd import volume as volume_cmd
    from novalite.conf import CONF

    state = str(tmp_path_factory.mktemp("cli-volumes"))
    stack = Stack(state, auth="novalite",
                  overrides={("volume", "storage_dir"): os.path.join(state, "vols")}).start()
    svc = volume_cmd.create_service(host="host1")
    svc.start()
    clouds = os.path.join(state, "clouds.yaml")
    with open(clouds, "w") as f:
        f.write("clouds:\n  novalite:\n    auth_type: password\n    auth:\n"
                f"      auth_url: {stack.base_url}/identity/v3\n"
                f"      username: admin\n      password: {ADMIN_PASSWORD}\n"
                "      project_name: admin\n      user_domain_name: Default\n"
                "      project_domain_name: Default\n    identity_api_version: 3\n"
                f"    region_name: {CONF.identity.region_name}\n    interface: public\n")
    stack.clouds_yaml = clouds
    try:
        yield stack
    finally:
        svc.stop()
        stack.stop()


def openstack(cloud, *args: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = cloud.clouds_yaml
    proc = subprocess.run(["openstack", "--os-cloud", "novalite", *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                          timeout=CLI_TIMEOUT, check=False)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout) if "json" in args else proc.stdout


def wait_status(cloud, kind, name, status, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        shown = openstack(cloud, kind, "show", name, "-f", "json") if kind == "volume" else \
            openstack(cloud, "volume", "snapshot", "show", name, "-f", "json")
        if shown["status"] == status or time.monotonic() > deadline:
            assert shown["status"] == status, shown
            return shown
        time.sleep(0.3)


def test_volume_commands_of_the_unmodified_cli(cloud):
    made = openstack(cloud, "volume", "create", "--size", "1", "--description", "first",
                     "--property", "tier=gold", "cli-vol", "-f", "json")
    assert (made["name"], made["size"], made["status"]) == ("cli-vol", 1, "creating")
    shown = wait_status(cloud, "volume", "cli-vol", "available")
    assert shown["properties"] == {"tier": "gold"} and shown["bootable"] is False
    assert shown["type"] == "__DEFAULT__"

    openstack(cloud, "volume", "set", "--name", "cli-vol2", "--size", "2", "cli-vol")
    deadline = time.monotonic() + 30
    while openstack(cloud, "volume", "show", "cli-vol2", "-f", "json")["size"] != 2:
        assert time.monotonic() < deadline
        time.sleep(0.3)
    wait_status(cloud, "volume", "cli-vol2", "available")

    listed = openstack(cloud, "volume", "list", "-f", "json")
    assert [(v["Name"], v["Size"], v["Status"]) for v in listed] == [("cli-vol2", 2,
                                                                      "available")]
    from_image = openstack(cloud, "volume", "create", "--size", "1", "--image", "test-image",
                           "cli-img", "-f", "json")
    img = wait_status(cloud, "volume", from_image["id"], "available")
    assert img["bootable"] is True
    assert img["volume_image_metadata"]["image_name"] == "test-image"

    snap = openstack(cloud, "volume", "snapshot", "create", "--volume", "cli-vol2",
                     "cli-snap", "-f", "json")
    wait_status(cloud, "snapshot", snap["id"], "available")
    assert [s["Name"] for s in openstack(cloud, "volume", "snapshot", "list",
                                         "-f", "json")] == ["cli-snap"]
    from_snap = openstack(cloud, "volume", "create", "--snapshot", "cli-snap", "cli-from-snap",
                          "-f", "json")
    assert wait_status(cloud, "volume", from_snap["id"], "available")["size"] == 2
    clone = openstack(cloud, "volume", "create", "--source", "cli-vol2", "cli-clone",
                      "-f", "json")
    assert wait_status(cloud, "volume", clone["id"], "available")["source_volid"] == \
        shown["id"]

    services = openstack(cloud, "volume", "service", "list", "-f", "json")
    assert [(s["Binary"], s["Host"], s["Status"], s["State"]) for s in services] == [
        ("cinder-volume", "host1@file", "enabled", "up")]
    pools = openstack(cloud, "volume", "backend", "pool", "list", "--long", "-f", "json")
    assert [(p["Name"], p["Capabilities"]["total_capacity_gb"],
             p["Capabilities"]["allocated_capacity_gb"]) for p in pools] == [
        ("host1@file#file", 100, 9)]
    zones = openstack(cloud, "availability", "zone", "list", "--volume", "-f", "json")
    assert [(z["Zone Name"], z["Zone Status"]) for z in zones] == [("nova", "available")]

    types = openstack(cloud, "volume", "type", "list", "-f", "json")
    assert [t["Name"] for t in types] == ["__DEFAULT__"]

    quota = openstack(cloud, "quota", "show", "--volume", "-f", "json")
    values = {q["Resource"]: q["Limit"] for q in quota}
    assert (values["volumes"], values["gigabytes"], values["snapshots"]) == (10, 1000, 10)
    usage = {q["Resource"]: q for q in openstack(cloud, "quota", "show", "--volume",
                                                 "--usage", "-f", "json")}
    assert (usage["volumes"]["In Use"], usage["gigabytes"]["In Use"]) == (4, 9)
    openstack(cloud, "quota", "set", "--volumes", "7", "--snapshots", "3", "admin")
    values = {q["Resource"]: q["Limit"] for q in openstack(cloud, "quota", "show", "--volume",
                                                           "admin", "-f", "json")}
    assert (values["volumes"], values["snapshots"]) == (7, 3)
    openstack(cloud, "quota", "set", "--volumes", "10", "--snapshots", "10", "admin")
    limits = {row["Name"]: row["Value"] for row in openstack(
        cloud, "limits", "show", "--absolute", "-f", "json")}
    assert (limits["max_total_volumes"], limits["total_volumes_used"],
            limits["total_gigabytes_used"], limits["total_snapshots_used"]) == (10, 4, 9, 1)

    openstack(cloud, "volume", "snapshot", "delete", "cli-snap")
    deadline = time.monotonic() + 30
    while openstack(cloud, "volume", "snapshot", "list", "-f", "json"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    openstack(cloud, "volume", "delete", "cli-vol2", from_image["id"], from_snap["id"],
              clone["id"])
    deadline = time.monotonic() + 30
    while openstack(cloud, "volume", "list", "-f", "json"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
