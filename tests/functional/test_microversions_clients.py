"""The unmodified ``openstack`` CLI and openstacksdk negotiating the newest
compute microversion (2.104 here) and working with it: the CLI with
``--os-compute-api-version 2.latest`` against the all-in-one, the SDK's
version discovery against the in-process stack."""

from __future__ import annotations

import time
import uuid

import openstack as sdk
import pytest
from openstack import utils as sdk_utils

from tests.functional.stack import Stack
from tests.functional.test_openstack_cli import all_in_one, openstack  # noqa: F401

LATEST = ("--os-compute-api-version", "2.latest")


@pytest.mark.process
def test_openstack_cli_at_2_latest(all_in_one):  # noqa: F811
    aio = all_in_one

    def cli(*args: str) -> object:
        return openstack(aio, *LATEST, *args)

    flavors = cli("flavor", "list", "-f", "json")
    assert "m1.tiny" in {f["Name"] for f in flavors}
    tiny = cli("flavor", "show", "m1.tiny", "-f", "json")
    assert (tiny["ram"], tiny["vcpus"]) == (512, 1)
    cli("flavor", "set", "--description", "the smallest", "m1.tiny")
    assert cli("flavor", "show", "m1.tiny", "-f", "json")["description"] == "the smallest"
    services = cli("compute", "service", "list", "-f", "json")
    compute = next(s for s in services if s["Binary"] == "nova-compute")
    assert compute["State"] == "up" and len(compute["ID"]) == 36
    hypervisors = cli("hypervisor", "list", "-f", "json")
    assert [h["State"] for h in hypervisors] == ["up"] and len(hypervisors[0]["ID"]) == 36

    key = cli("keypair", "create", "mv-key", "--public-key", _public_key(aio.state_dir),
              "-f", "json")
    assert key["name"] == "mv-key" and key["type"] == "ssh"
    assert [k["Name"] for k in cli("keypair", "list", "-f", "json")] == ["mv-key"]

    created = cli("server", "create", "--flavor", "m1.tiny", "--image", "novalite-tiny",
                  "--key-name", "mv-key", "--description", "made at 2.latest", "--tag", "web",
                  "--wait", "mv-cli", "-f", "json")
    assert created["status"] == "ACTIVE" and created["description"] == "made at 2.latest"
    listed = cli("server", "list", "--long", "-f", "json")
    assert [(s["Name"], s["Status"], s["Flavor"]) for s in listed] == [
        ("mv-cli", "ACTIVE", "m1.tiny")]
    cli("server", "set", "--description", "changed", "--tag", "db", "mv-cli")
    shown = cli("server", "show", "mv-cli", "-f", "json")
    assert shown["description"] == "changed"
    assert sorted(shown["tags"]) == ["db", "web"]
    assert shown["flavor"]["original_name"] == "m1.tiny"
    assert shown["locked"] is False
    # NOTE: without --os-compute-api-version the CLI negotiates too (the
    # newest its SDK resource knows: 2.100 for servers).
    default = openstack(aio, "server", "show", "mv-cli", "-f", "json")
    assert default["description"] == "changed" and "scheduler_hints" in default
    cli("server", "unset", "--tag", "web", "mv-cli")
    assert cli("server", "show", "mv-cli", "-f", "json")["tags"] == ["db"]
    cli("server", "delete", "--wait", "mv-cli")
    assert cli("server", "list", "-f", "json") == []
    cli("keypair", "delete", "mv-key")
    assert cli("keypair", "list", "-f", "json") == []


def _public_key(state_dir: str) -> str:
    import subprocess

    path = f"{state_dir}/mv-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path],
                   check=True, capture_output=True)
    return path + ".pub"


@pytest.fixture
def stack(tmp_path):
    s = Stack(str(tmp_path), auth="novalite").start()
    try:
        yield s
    finally:
        s.stop()


def test_openstacksdk_negotiates_2_100(stack):
    password = "mv-" + uuid.uuid4().hex[:8]
    stack.make_user("mvsdk", "mvsdk", "member", password=password)
    conn = sdk.connect(auth_type="password", region_name="RegionOne",
                       identity_interface="public",
                       auth={"auth_url": stack.base_url + "/identity/v3",
                             "username": "mvsdk", "password": password,
                             "project_name": "mvsdk", "user_domain_id": "default",
                             "project_domain_id": "default"})
    try:
        endpoint = conn.compute.get_endpoint_data()
        assert (str(endpoint.min_microversion), str(endpoint.max_microversion)) == \
            ("(2, 1)", "(2, 104)")
        assert sdk_utils.maximum_supported_microversion(conn.compute, "2.100") == "2.100"
        server = conn.compute.create_server(
            name="mv-sdk", flavor_id="1", image_id=stack.image_id, networks="none",
            description="sdk at 2.100", tags=["sdk"])
        server = conn.compute.wait_for_server(server, status="ACTIVE", wait=60)
        got = conn.compute.get_server(server.id)
        assert got.description == "sdk at 2.100" and got.tags == ["sdk"]
        assert got.flavor.original_name == "m1.tiny" and got.is_locked is False
        assert got.scheduler_hints == {}
        assert [s.id for s in conn.compute.servers(tags="sdk")] == [server.id]
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=60)
        assert list(conn.compute.servers()) == []
    finally:
        conn.close()


def test_novaclient_at_its_newest_version(stack):
    from keystoneauth1 import loading, session
    from novaclient import api_versions
    from novaclient import client as nova_client

    password = "mv-" + uuid.uuid4().hex[:8]
    stack.make_user("mvnova", "mvnova", "member", password=password)
    loader = loading.get_plugin_loader("password")
    sess = session.Session(auth=loader.load_from_options(
        auth_url=stack.base_url + "/identity/v3", username="mvnova", password=password,
        project_name="mvnova", user_domain_id="default", project_domain_id="default"))
    # NOTE: novaclient knows up to 2.96; the server's 2.104 makes that its newest.
    version = api_versions.discover_version(nova_client.Client("2.1", session=sess),
                                            api_versions.APIVersion("2.latest"))
    assert version == api_versions.APIVersion("2.96")
    nova = nova_client.Client(version, session=sess)
    server = nova.servers.create("mv-nova", image=stack.image_id, flavor="1", nics="none",
                                 description="from novaclient", tags=["nc"])
    deadline = time.monotonic() + 60
    while nova.servers.get(server.id).status != "ACTIVE":
        assert time.monotonic() < deadline, "server never became ACTIVE"
        time.sleep(0.2)
    got = nova.servers.get(server.id)
    assert got.description == "from novaclient" and got.tags == ["nc"]
    assert got.pinned_availability_zone is None
    nova.servers.update(server.id, description="changed")
    assert nova.servers.get(server.id).description == "changed"
    assert [s.id for s in nova.servers.list(search_opts={"tags": "nc"})] == [server.id]
    nova.servers.delete(server.id)
    deadline = time.monotonic() + 60
    while [s for s in nova.servers.list() if s.id == server.id]:
        assert time.monotonic() < deadline, "server never went away"
        time.sleep(0.2)
