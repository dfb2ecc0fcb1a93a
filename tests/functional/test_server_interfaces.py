"""os-interface (Nova's attach_interfaces API) on a FakeDriver all-in-one:
list, show, attach a user's port or a new port on a network, detach (the
user's port kept, Nova's deleted), the port's binding, the server's
addresses, the driver's NICs, the states Nova allows, the 4xx answers,
the 2.49/2.70 tag and another project's isolation."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.functional.stack import Stack

ADMIN = {"X-User-Id": "root", "X-Project-Id": "admin", "X-Roles": "admin"}
A = {"X-User-Id": "alice", "X-Project-Id": "if-a", "X-Roles": "member"}
B = {"X-User-Id": "bob", "X-Project-Id": "if-b", "X-Roles": "member"}
V2 = "/network/v2.0"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    s = Stack(str(tmp_path_factory.mktemp("interfaces"))).start()
    try:
        yield s
    finally:
        s.stop()


def _v(who: dict, version: str | None) -> dict:
    return {**who, "OpenStack-API-Version": f"compute {version}"} if version else who


def net_call(stack: Stack, method: str, path: str, who: dict, body: Any = None,
             status: int = 200) -> Any:
    resp = stack.request(method, V2 + path, body, headers=who)
    assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


def compute(stack: Stack, method: str, path: str, who: dict, body: Any = None,
            status: int = 200, version: str | None = None) -> Any:
    resp = stack.compute(method, path, body, headers=_v(who, version))
    assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


def fault(stack: Stack, method: str, path: str, who: dict, body: Any = None,
          status: int = 400, version: str | None = None) -> str:
    """The message of Nova's error body (its one key names the fault)."""
    (body_,) = compute(stack, method, path, who, body, status, version).values()
    assert body_["code"] == status
    return str(body_["message"])


def network(stack: Stack, who: dict, name: str, cidr: str) -> tuple[dict, dict]:
    net = net_call(stack, "POST", "/networks", who, {"network": {"name": name}}, 201)["network"]
    sub = net_call(stack, "POST", "/subnets", who, {"subnet": {
        "network_id": net["id"], "cidr": cidr, "ip_version": 4}}, 201)["subnet"]
    return net, sub


def boot(stack: Stack, who: dict, name: str, net_id: str) -> str:
    body = {"server": {"name": name, "flavorRef": "1", "imageRef": stack.image_id,
                       "networks": [{"uuid": net_id}]}}
    sid = str(compute(stack, "POST", "/servers", who, body, 202)["server"]["id"])
    stack.wait_status(sid, "ACTIVE")
    return sid


def attachments(stack: Stack, sid: str, who: dict = A, version: str | None = None) -> list:
    return list(compute(stack, "GET", f"/servers/{sid}/os-interface", who,
                        version=version)["interfaceAttachments"])


def attach(stack: Stack, sid: str, who: dict = A, version: str | None = None,
           **attachment: Any) -> dict:
    return dict(compute(stack, "POST", f"/servers/{sid}/os-interface", who,
                        {"interfaceAttachment": attachment}, version=version)[
        "interfaceAttachment"])


def wait_detached(stack: Stack, sid: str, port_id: str, who: dict = A) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if port_id not in [a["port_id"] for a in attachments(stack, sid, who)]:
            return
        time.sleep(0.05)
    raise AssertionError(f"port {port_id} is still attached to {sid}")


def guest_ports(stack: Stack, sid: str) -> list[str]:
    driver = stack.computes["host1"].manager.driver
    return [v["id"] for v in driver._guest(type("I", (), {"uuid": sid})()).vifs]


def events_of(stack: Stack, sid: str) -> dict[str, list[tuple[str, str | None]]]:
    out: dict[str, list[tuple[str, str | None]]] = {}
    listed = compute(stack, "GET", f"/servers/{sid}/os-instance-actions", ADMIN,
                     version="2.51")["instanceActions"]
    for action in listed:
        detail = compute(stack, "GET", f"/servers/{sid}/os-instance-actions/"
                                       f"{action['request_id']}", ADMIN, version="2.51")
        out.setdefault(action["action"], [(e["event"], e["result"]) for e in
                                          detail["instanceAction"].get("events", [])])
    return out


def test_attach_and_detach_a_users_port_and_a_network(stack):
    net1, sub1 = network(stack, A, "if-net1", "10.81.0.0/24")
    net2, sub2 = network(stack, A, "if-net2", "10.82.0.0/24")
    sid = boot(stack, A, "if-vm", net1["id"])

    # The boot port, in Nova's view.
    (boot_port,) = net_call(stack, "GET", f"/ports?device_id={sid}", A)["ports"]
    assert attachments(stack, sid) == [{
        "net_id": net1["id"], "port_id": boot_port["id"], "mac_addr": boot_port["mac_address"],
        "port_state": "ACTIVE", "fixed_ips": [{"subnet_id": sub1["id"], "ip_address":
                                               boot_port["fixed_ips"][0]["ip_address"]}]}]

    # The user's own port: bound to the server and its host, on the guest.
    mine = net_call(stack, "POST", "/ports", A, {"port": {"network_id": net2["id"]}},
                    201)["port"]
    attached = attach(stack, sid, port_id=mine["id"])
    assert attached["port_id"] == mine["id"] and attached["net_id"] == net2["id"]
    assert attached["port_state"] == "ACTIVE" and attached["mac_addr"] == mine["mac_address"]
    assert attached["fixed_ips"] == [{"subnet_id": sub2["id"],
                                      "ip_address": mine["fixed_ips"][0]["ip_address"]}]
    bound = net_call(stack, "GET", f"/ports/{mine['id']}", ADMIN)["port"]
    assert (bound["device_id"], bound["device_owner"], bound["binding:host_id"],
            bound["status"]) == (sid, "compute:nova", "host1", "ACTIVE")
    assert guest_ports(stack, sid) == [boot_port["id"], mine["id"]]
    server = stack.server(sid)
    assert [a["addr"] for a in server["addresses"]["if-net2"]] == [
        mine["fixed_ips"][0]["ip_address"]]
    assert compute(stack, "GET", f"/servers/{sid}/os-interface/{mine['id']}", A)[
        "interfaceAttachment"] == attached

    # A new port on a network, with the address asked for.
    made = attach(stack, sid, net_id=net2["id"], fixed_ips=[{"ip_address": "10.82.0.77"}])
    assert made["fixed_ips"] == [{"subnet_id": sub2["id"], "ip_address": "10.82.0.77"}]
    assert [a["port_id"] for a in attachments(stack, sid)] == [
        boot_port["id"], mine["id"], made["port_id"]]
    assert guest_ports(stack, sid)[-1] == made["port_id"]

    # Detach: the user's port stays (unbound), the one made here goes.
    compute(stack, "DELETE", f"/servers/{sid}/os-interface/{mine['id']}", A, status=202)
    wait_detached(stack, sid, mine["id"])
    kept = net_call(stack, "GET", f"/ports/{mine['id']}", ADMIN)["port"]
    assert (kept["device_id"], kept["device_owner"], kept["binding:host_id"],
            kept["status"]) == ("", "", "", "DOWN")
    compute(stack, "DELETE", f"/servers/{sid}/os-interface/{made['port_id']}", A, status=202)
    wait_detached(stack, sid, made["port_id"])
    net_call(stack, "GET", f"/ports/{made['port_id']}", A, status=404)
    assert guest_ports(stack, sid) == [boot_port["id"]]
    assert "if-net2" not in stack.server(sid)["addresses"]
    plugged = stack.computes["host1"].manager.driver.plugged
    assert ("unplug", mine["id"], net2_bridge(plugged, mine["id"])) in plugged

    # Every step is an instance action with its compute event.
    found = events_of(stack, sid)
    assert found["attach_interface"] == [("compute_attach_interface", "Success")]
    assert found["detach_interface"] == [("compute_detach_interface", "Success")]

    # The kept port attaches again (to another server too), and the
    # server's delete unbinds it, as Nova's preserve_on_delete.
    other = boot(stack, A, "if-vm2", net1["id"])
    attach(stack, other, port_id=mine["id"])
    compute(stack, "DELETE", f"/servers/{other}", A, status=204)
    stack.wait_gone(other)
    assert net_call(stack, "GET", f"/ports/{mine['id']}", A)["port"]["device_id"] == ""


def net2_bridge(plugged: list, port_id: str) -> str:
    return next(bridge for what, pid, bridge in plugged if pid == port_id and what == "plug")


def test_errors_states_and_isolation(stack):
    net, _ = network(stack, A, "if-err", "10.83.0.0/24")
    b_net, _ = network(stack, B, "if-b", "10.84.0.0/24")
    sid = boot(stack, A, "if-err-vm", net["id"])
    path = f"/servers/{sid}/os-interface"
    both = {"interfaceAttachment": {"net_id": net["id"], "port_id": net["id"]}}
    assert fault(stack, "POST", path, A, both) == "Must not input both network_id and port_id"
    assert fault(stack, "POST", path, A, {"interfaceAttachment": {
        "fixed_ips": [{"ip_address": "10.83.0.9"}]}}) == \
        "Must input network_id when request IP address"
    fault(stack, "POST", path, A, {"interfaceAttachment": {"port_id": "not-a-uuid"}})
    fault(stack, "POST", path, A, {"interfaceAttachment": {"colour": "red"}})

    # Another project's port and network are not found; so is its server.
    b_port = net_call(stack, "POST", "/ports", B, {"port": {"network_id": b_net["id"]}},
                      201)["port"]
    assert b_port["id"] in fault(stack, "POST", path, A, {"interfaceAttachment": {
        "port_id": b_port["id"]}}, status=404)
    assert b_net["id"] in fault(stack, "POST", path, A, {"interfaceAttachment": {
        "net_id": b_net["id"]}}, status=404)
    fault(stack, "GET", path, B, status=404)
    fault(stack, "POST", path, B, {"interfaceAttachment": {"net_id": b_net["id"]}},
          status=404)
    (boot_port,) = attachments(stack, sid)
    fault(stack, "DELETE", f"{path}/{boot_port['port_id']}", B, status=404)
    assert net_call(stack, "GET", f"/ports/{b_port['id']}", B)["port"]["device_id"] == ""

    # A port in use (another server's), an address taken: 409.
    other = boot(stack, A, "if-err-other", net["id"])
    (taken,) = attachments(stack, other)
    assert "already has an attached device" in fault(
        stack, "POST", path, A, {"interfaceAttachment": {"port_id": taken["port_id"]}},
        status=409)
    fault(stack, "POST", path, A, {"interfaceAttachment": {
        "net_id": net["id"], "fixed_ips": [{"ip_address": taken["fixed_ips"][0][
            "ip_address"]}]}}, status=409)
    # Not the server's port: 404 on show and detach.
    assert taken["port_id"] in fault(stack, "GET", f"{path}/{taken['port_id']}", A,
                                     status=404)
    fault(stack, "DELETE", f"{path}/{taken['port_id']}", A, status=404)
    fault(stack, "GET", f"{path}/{sid}", A, status=404)

    # The port quota full: Neutron's 409, nothing made.
    used = len(net_call(stack, "GET", "/ports", A)["ports"])
    net_call(stack, "PUT", "/quotas/if-a", ADMIN, {"quota": {"port": used}})
    try:
        assert "port" in fault(stack, "POST", path, A,
                               {"interfaceAttachment": {"net_id": net["id"]}}, status=409)
    finally:
        net_call(stack, "PUT", "/quotas/if-a", ADMIN, {"quota": {"port": -1}})
    assert len(attachments(stack, sid)) == 1

    # States: PAUSED and SHUTOFF attach and detach; SUSPENDED 409; locked 409.
    compute(stack, "POST", f"/servers/{sid}/action", A, {"pause": None}, status=202)
    stack.wait_status(sid, "PAUSED")
    paused = attach(stack, sid, net_id=net["id"])
    compute(stack, "DELETE", f"{path}/{paused['port_id']}", A, status=202)
    wait_detached(stack, sid, paused["port_id"])
    compute(stack, "POST", f"/servers/{sid}/action", A, {"unpause": None}, status=202)
    stack.wait_status(sid, "ACTIVE")
    compute(stack, "POST", f"/servers/{sid}/action", A, {"os-stop": None}, status=202)
    stack.wait_status(sid, "SHUTOFF")
    stopped = attach(stack, sid, net_id=net["id"])
    assert stopped["port_id"] in guest_ports(stack, sid)
    compute(stack, "POST", f"/servers/{sid}/action", A, {"os-start": None}, status=202)
    stack.wait_status(sid, "ACTIVE")
    compute(stack, "POST", f"/servers/{sid}/action", A, {"suspend": None}, status=202)
    stack.wait_status(sid, "SUSPENDED")
    assert "vm_state suspended" in fault(stack, "POST", path, A, {
        "interfaceAttachment": {"net_id": net["id"]}}, status=409)
    fault(stack, "DELETE", f"{path}/{stopped['port_id']}", A, status=409)
    compute(stack, "POST", f"/servers/{sid}/action", A, {"resume": None}, status=202)
    stack.wait_status(sid, "ACTIVE")
    compute(stack, "POST", f"/servers/{sid}/action", ADMIN, {"lock": None}, status=202)
    assert "locked" in fault(stack, "DELETE", f"{path}/{stopped['port_id']}", A, status=409)
    compute(stack, "DELETE", f"{path}/{stopped['port_id']}", ADMIN, status=202)
    wait_detached(stack, sid, stopped["port_id"])
    compute(stack, "POST", f"/servers/{sid}/action", ADMIN, {"unlock": None}, status=202)


def test_tags_by_microversion(stack):
    net, _ = network(stack, A, "if-tag", "10.85.0.0/24")
    sid = boot(stack, A, "if-tag-vm", net["id"])
    path = f"/servers/{sid}/os-interface"
    body = {"interfaceAttachment": {"net_id": net["id"], "tag": "eth-data"}}
    fault(stack, "POST", path, A, body, version="2.48")
    fault(stack, "POST", path, A, {"interfaceAttachment": {"net_id": net["id"],
                                                           "tag": "a/b"}}, version="2.49")
    tagged = compute(stack, "POST", path, A, body, version="2.49")["interfaceAttachment"]
    assert "tag" not in tagged
    assert all("tag" not in a for a in attachments(stack, sid, version="2.69"))
    assert [a["tag"] for a in attachments(stack, sid, version="2.70")] == [None, "eth-data"]
    shown = compute(stack, "GET", f"{path}/{tagged['port_id']}", A, version="2.70")
    assert shown["interfaceAttachment"]["tag"] == "eth-data"
    untagged = attach(stack, sid, version="2.70", net_id=net["id"])
    assert untagged["tag"] is None


def test_a_failed_hot_plug_releases_the_port(stack):
    """The driver fails (the guest vanished from the hypervisor under the
    server): the attach answers Nova's 500 InterfaceAttachFailed, the user's
    port is unbound again and a port made from net_id is deleted; the
    action's event records the error."""
    net, _ = network(stack, A, "if-fail", "10.86.0.0/24")
    sid = boot(stack, A, "if-fail-vm", net["id"])
    manager = stack.computes["host1"].manager
    from novalite import context as nl_context
    from novalite.objects.instance import Instance

    ctxt = nl_context.get_admin_context()
    manager.driver.destroy(ctxt, Instance.get_by_uuid(ctxt, sid))
    mine = net_call(stack, "POST", "/ports", A, {"port": {"network_id": net["id"]}},
                    201)["port"]
    before = {p["id"] for p in net_call(stack, "GET", f"/ports?network_id={net['id']}",
                                        A)["ports"]}
    message = fault(stack, "POST", f"/servers/{sid}/os-interface", A,
                    {"interfaceAttachment": {"port_id": mine["id"]}}, status=500)
    assert message.startswith(f"Failed to attach network adapter device to {sid}")
    port = net_call(stack, "GET", f"/ports/{mine['id']}", ADMIN)["port"]
    assert (port["device_id"], port["binding:host_id"], port["status"]) == ("", "", "DOWN")
    fault(stack, "POST", f"/servers/{sid}/os-interface", A,
          {"interfaceAttachment": {"net_id": net["id"]}}, status=500)
    after = {p["id"] for p in net_call(stack, "GET", f"/ports?network_id={net['id']}",
                                       A)["ports"]}
    assert after == before
    assert len(attachments(stack, sid)) == 1
    assert events_of(stack, sid)["attach_interface"] == [("compute_attach_interface", "Error")]


def test_policy_readers_list_members_attach(stack):
    """Nova's defaults: a project reader lists and shows the interfaces, only
    a member (or an admin) attaches and detaches."""
    reader = {"X-User-Id": "rita", "X-Project-Id": "if-a", "X-Roles": "reader"}
    net, _ = network(stack, A, "if-pol", "10.87.0.0/24")
    sid = boot(stack, A, "if-pol-vm", net["id"])
    (only,) = attachments(stack, sid, reader)
    compute(stack, "GET", f"/servers/{sid}/os-interface/{only['port_id']}", reader)
    fault(stack, "POST", f"/servers/{sid}/os-interface", reader,
          {"interfaceAttachment": {"net_id": net["id"]}}, status=403)
    fault(stack, "DELETE", f"/servers/{sid}/os-interface/{only['port_id']}", reader,
          status=403)
    added = attach(stack, sid, ADMIN, net_id=net["id"])
    compute(stack, "DELETE", f"/servers/{sid}/os-interface/{added['port_id']}", A, status=202)
    wait_detached(stack, sid, added["port_id"])
