"""The unmodified OpenStack client libraries against the servers API:
openstacksdk and python-novaclient (microversion 2.1), authenticated with
tokens from the built-in identity service, as a member of a project."""

from __future__ import annotations

import openstack
import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from novaclient import client as nova_client
from novaclient import exceptions as nova_exc


@pytest.fixture
def member(make_stack):
    stack = make_stack(auth="novalite")
    user = stack.make_user("carol", "proj-c", "member")
    auth = v3.Password(auth_url=stack.base_url + "/identity/v3", username="carol",
                       password=user["password"], project_name="proj-c",
                       user_domain_id="default", project_domain_id="default")
    return stack, ks_session.Session(auth=auth)


def test_openstacksdk_server_life_cycle(member):
    stack, session = member
    conn = openstack.connection.Connection(session=session, compute_api_version="2.1")
    server = conn.compute.create_server(name="sdk-vm", flavor_id="1", image_id=stack.image_id,
                                        networks=[], metadata={"a": "1"})
    server = conn.compute.wait_for_server(server, status="ACTIVE", wait=30, interval=0.2)
    assert server.name == "sdk-vm" and server.flavor["id"] == "1"
    assert [s.id for s in conn.compute.servers(details=True, name="^sdk-")] == [server.id]
    conn.compute.update_server(server, name="sdk-renamed")
    assert conn.compute.get_server(server.id).name == "sdk-renamed"
    conn.compute.set_server_metadata(server, b="2")
    assert conn.compute.get_server_metadata(server).metadata == {"a": "1", "b": "2"}
    conn.compute.delete_server_metadata(server, ["a"])
    assert conn.compute.get_server_metadata(server).metadata == {"b": "2"}
    conn.compute.stop_server(server)
    conn.compute.wait_for_server(server, status="SHUTOFF", wait=30, interval=0.2)
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=30, interval=0.2)
    assert list(conn.compute.servers()) == []


def test_novaclient_server_life_cycle(member):
    stack, session = member
    nova = nova_client.Client("2.1", session=session)
    server = nova.servers.create("nc-vm", image=stack.image_id, flavor="1", nics=[],
                                 meta={"role": "web"})
    stack.wait_status(server.id, "ACTIVE")
    found = nova.servers.list(search_opts={"name": "nc-"})
    assert [s.id for s in found] == [server.id] and found[0].metadata == {"role": "web"}
    nova.servers.update(server, name="nc-renamed")
    nova.servers.set_meta_item(server, "tier", "front")
    nova.servers.delete_meta(server, ["role"])
    got = nova.servers.get(server.id)
    assert got.name == "nc-renamed" and got.metadata == {"tier": "front"}
    assert isinstance(nova.servers.get_console_output(server, length=5), str)
    nova.servers.reboot(server, reboot_type="HARD")
    stack.wait_status(server.id, "ACTIVE")
    with pytest.raises(nova_exc.Conflict):
        nova.servers.start(server)
    nova.servers.delete(server)
    stack.wait_gone(server.id)
    with pytest.raises(nova_exc.NotFound):
        nova.servers.get(server.id)
