"""One entry point per kind of persistence (issue 11, item 3), through the
public APIs of a fake-driver stack: networks, addresses, hypervisor servers
and instance actions are read through objects; compute allocates ports and
records action events through remotable objects; the conductor's 1.1
methods that older computes call still work and land in the same tables."""

from __future__ import annotations

import uuid

import pytest

from novalite import context as nl_context
from novalite.conductor import rpcapi as conductor_rpcapi
from novalite.network import manage as network_manage
from tests.functional.stack import Stack

ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(str(tmp_path_factory.mktemp("entry"))).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def network(stack) -> dict:
    return network_manage.create_network("entry", "10.9.21.0/24", bridge="nle0")


def _ok(resp) -> dict:
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_network_api_lists_shows_and_refuses_through_network_objects(stack, network):
    base = "/network/v2.0"
    listed = _ok(stack.request("GET", f"{base}/networks?name=entry", headers=ADMIN))
    assert [n["id"] for n in listed["networks"]] == [network["uuid"]]
    shown = _ok(stack.request("GET", f"{base}/networks/{network['uuid']}", headers=ADMIN))
    assert shown["network"]["name"] == "entry"
    assert shown["network"]["subnets"] == listed["networks"][0]["subnets"]
    subnets = _ok(stack.request("GET", f"{base}/subnets?network_id={network['uuid']}",
                                headers=ADMIN))["subnets"]
    assert [(s["cidr"], s["gateway_ip"]) for s in subnets] == [("10.9.21.0/24", "10.9.21.1")]
    details = _ok(stack.request("GET", f"{base}/quotas/admin/details", headers=ADMIN))
    # NOTE: the operator's network (novalite-manage) belongs to no project:
    # no project's usage counts it, as Neutron counts by project.
    assert details["quota"]["network"] == {"limit": 100, "used": 0, "reserved": 0}
    missing = str(uuid.uuid4())
    resp = stack.request("GET", f"{base}/networks/{missing}", headers=ADMIN)
    assert resp.status_code == 404
    assert resp.json()["NeutronError"]["type"] == "NetworkNotFound"
    assert missing in resp.json()["NeutronError"]["message"]


def test_server_addresses_hypervisor_servers_and_actions_through_objects(stack, network):
    resp = stack.compute("POST", "/servers", {"server": {
        "name": "entry-vm", "flavorRef": "1", "imageRef": stack.image_id}}, headers=ADMIN)
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    request_id = resp.headers["x-openstack-request-id"]
    try:
        active = stack.wait_status(server_id, "ACTIVE")
        # NOTE: compute allocated the port through FixedIPList (via the conductor).
        [port] = active["addresses"]["entry"]
        assert port["addr"].startswith("10.9.21.")

        hypervisors = _ok(stack.compute("GET", "/os-hypervisors/host1/servers",
                                        headers=ADMIN))["hypervisors"]
        assert {"name": "entry-vm", "uuid": server_id} in hypervisors[0]["servers"]
        [svc] = _ok(stack.compute("GET", "/os-services?binary=nova-compute&host=host1",
                                  headers=ADMIN))["services"]
        refused = stack.compute("DELETE", f"/os-services/{svc['id']}", headers=ADMIN)
        assert refused.status_code == 409 and "host1" in refused.text

        created = _ok(stack.compute("GET", f"/servers/{server_id}/os-instance-actions/"
                                           f"{request_id}", headers=ADMIN))["instanceAction"]
        # NOTE: compute recorded the build's event through InstanceActionEvent.
        events = [(e["event"], e["result"]) for e in created["events"]]
        assert ("compute__build_instance", "Success") in events
    finally:
        assert stack.compute("DELETE", f"/servers/{server_id}",
                             headers=ADMIN).status_code == 204
        stack.wait_gone(server_id)


def test_conductor_1_1_methods_still_serve_older_computes(stack, network):
    resp = stack.compute("POST", "/servers", {"server": {
        "name": "old-compute-vm", "flavorRef": "1", "imageRef": stack.image_id}},
        headers=ADMIN)
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    request_id = resp.headers["x-openstack-request-id"]
    try:
        stack.wait_status(server_id, "ACTIVE")
        conductor = conductor_rpcapi.ConductorAPI()
        ctx = nl_context.get_admin_context(request_id=request_id)

        event_id = conductor.action_event_start(ctx, server_id, "create", "legacy_step",
                                                "host1")
        assert isinstance(event_id, int)
        conductor.action_event_finish(ctx, event_id, "Error", "it broke", "Traceback: x")
        shown = _ok(stack.compute("GET", f"/servers/{server_id}/os-instance-actions/"
                                         f"{request_id}", headers=ADMIN))["instanceAction"]
        assert ("legacy_step", "Error") in [(e["event"], e["result"]) for e in shown["events"]]
        assert shown["message"] == "Error"

        # NOTE: allocation is idempotent (releases the instance's ports first).
        info = conductor.allocate_for_instance(ctx, server_id, "host1")
        assert [v["network"]["label"] for v in info] == ["entry"]
        assert len(stack.server(server_id)["addresses"]["entry"]) == 1
        assert conductor.deallocate_for_instance(ctx, server_id) == 1
        assert stack.server(server_id)["addresses"] == {}
    finally:
        assert stack.compute("DELETE", f"/servers/{server_id}",
                             headers=ADMIN).status_code == 204
        stack.wait_gone(server_id)
