"""The unmodified ``openstack`` CLI for volumes on servers: ``server add
volume`` / ``server volume list`` / ``server remove volume`` (with 2.79's
delete_on_termination) and ``server create --volume``, ``--block-device
source_type=image,...,destination_type=volume,volume_size=1`` and
``--boot-from-volume 1``. A token-authenticated stack in this process with
two FakeDriver computes and a volume service; the CLI in its own process."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.stack import ADMIN_PASSWORD, Stack

CLI_TIMEOUT = 120
NEW = ("--os-compute-api-version", "2.79")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: Any) -> Iterator[Stack]:
    from novalite.cmd import volume as volume_cmd
    from novalite.conf import CONF

    state = str(tmp_path_factory.mktemp("cli-server-volumes"))
    stack = Stack(state, auth="novalite",
                  overrides={("volume", "storage_dir"): os.path.join(state, "vols")}).start()
    svc = volume_cmd.create_service(host="volhost")
    svc.start()
    clouds = os.path.join(state, "clouds.yaml")
    with open(clouds, "w") as f:
        f.write("clouds:\n  novalite:\n    auth_type: password\n    auth:\n"
                f"      auth_url: {stack.base_url}/identity/v3\n"
                f"      username: admin\n      password: {ADMIN_PASSWORD}\n"
                "      project_name: admin\n      user_domain_name: Default\n"
                "      project_domain_name: Default\n    identity_api_version: 3\n"
                f"    region_name: {CONF.identity.region_name}\n    interface: public\n")
    stack.clouds_yaml = clouds  # type: ignore[attr-defined]
    try:
        yield stack
    finally:
        # NOTE: the NBD exports outlive the volume service (as a guest's
        # disk must): whatever a failed test left attached is stopped here.
        exports = svc.manager.exports()
        if exports is not None:
            exports.ensure({})
        svc.stop()
        stack.stop()


def openstack(cloud: Stack, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = cloud.clouds_yaml  # type: ignore[attr-defined]
    proc = subprocess.run(["openstack", "--os-cloud", "novalite", *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env,
                          timeout=CLI_TIMEOUT, check=False)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout) if "json" in args else proc.stdout


def wait_volume(cloud: Stack, name: str, status: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        shown = openstack(cloud, "volume", "show", name, "-f", "json")
        if shown["status"] == status or time.monotonic() > deadline:
            assert shown["status"] == status, shown
            return dict(shown)
        time.sleep(0.3)


def wait_gone(cloud: Stack, what: str, name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        names = [row["Name"] for row in openstack(cloud, what, "list", "-f", "json")]
        if name not in names:
            return
        assert time.monotonic() < deadline, f"{what} {name} still listed"
        time.sleep(0.3)


def create_server(cloud: Stack, name: str, *args: str) -> dict:
    made = openstack(cloud, *NEW, "server", "create", "--flavor", "m1.tiny", "--nic", "none",
                     "--wait", *args, name, "-f", "json")
    assert made["status"] == "ACTIVE", made
    return dict(made)


def test_server_add_list_remove_volume(cloud: Stack) -> None:
    create_server(cloud, "cli-vm", "--image", "test-image")
    openstack(cloud, "volume", "create", "--size", "1", "cli-data", "-f", "json")
    wait_volume(cloud, "cli-data", "available")
    openstack(cloud, *NEW, "server", "add", "volume", "--enable-delete-on-termination",
              "--tag", "db", "cli-vm", "cli-data")
    shown = wait_volume(cloud, "cli-data", "in-use")
    listed = openstack(cloud, *NEW, "server", "volume", "list", "cli-vm", "-f", "json")
    assert [(row["Device"], row["Volume ID"], row["Tag"], row["Delete On Termination?"])
            for row in listed] == [("/dev/vdb", shown["id"], "db", True)]
    latest = openstack(cloud, "--os-compute-api-version", "2.89", "server", "volume", "list",
                       "cli-vm", "-f", "json")
    assert latest[0]["Attachment ID"] == shown["attachments"][0]["attachment_id"]
    assert latest[0]["BlockDeviceMapping UUID"] and "ID" not in latest[0]
    server = openstack(cloud, "server", "show", "cli-vm", "-f", "json")
    assert shown["id"] in json.dumps(server["volumes_attached"])
    openstack(cloud, "server", "remove", "volume", "cli-vm", "cli-data")
    wait_volume(cloud, "cli-data", "available")
    assert openstack(cloud, "server", "volume", "list", "cli-vm", "-f", "json") == []
    openstack(cloud, "server", "delete", "--wait", "cli-vm")
    openstack(cloud, "volume", "delete", "cli-data")
    wait_gone(cloud, "volume", "cli-data")


def test_server_create_from_volumes(cloud: Stack) -> None:
    # --boot-from-volume: a root volume made from the image, kept after the server
    create_server(cloud, "cli-bfv", "--image", "test-image", "--boot-from-volume", "1")
    root = openstack(cloud, "server", "volume", "list", "cli-bfv", "-f", "json")
    assert [row["Device"] for row in root] == ["/dev/vda"]
    root_id = root[0]["Volume ID"]
    assert wait_volume(cloud, root_id, "in-use")["bootable"] is True
    openstack(cloud, "server", "delete", "--wait", "cli-bfv")
    wait_volume(cloud, root_id, "available")
    # --volume: boot from that existing bootable volume
    create_server(cloud, "cli-vol-boot", "--volume", root_id)
    wait_volume(cloud, root_id, "in-use")
    openstack(cloud, "server", "delete", "--wait", "cli-vol-boot")
    wait_volume(cloud, root_id, "available")
    # --block-device: image -> volume, deleted with the server
    image = openstack(cloud, "image", "show", "test-image", "-f", "json")["id"]
    create_server(cloud, "cli-bdm", "--block-device",
                  f"source_type=image,uuid={image},destination_type=volume,volume_size=1,"
                  "boot_index=0,delete_on_termination=true")
    made = openstack(cloud, "server", "volume", "list", "cli-bdm", "-f", "json")
    assert len(made) == 1 and made[0]["Volume ID"] != root_id
    openstack(cloud, "server", "delete", "--wait", "cli-bdm")
    wait_gone(cloud, "volume", made[0]["Volume ID"])
    openstack(cloud, "volume", "delete", root_id)
    wait_gone(cloud, "volume", root_id)
