"""The network path on fake-driver stacks (in-process, SQLite): what the
build does with addresses when the pool runs out, when a build fails, when
it is rescheduled, and that the API shows and releases them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from novalite import context as nl_context
from novalite.db import network as network_db
from novalite.network import manage as network_manage
from novalite.network import model
from novalite.objects.instance import Instance
from novalite.objects.instance_info_cache import InstanceInfoCache
from tests.functional.stack import Stack


@pytest.fixture
def make(tmp_path) -> Iterator[Callable[..., Stack]]:
    made: list[Stack] = []

    def _make(**kw: Any) -> Stack:
        s = Stack(str(tmp_path), **kw).start()
        made.append(s)
        return s

    yield _make
    for s in made:
        s.stop()


def test_pool_exhaustion_is_an_error_with_a_fault_and_delete_frees_the_address(make) -> None:
    stack = make()
    # A /30: two host addresses, one the gateway → one for a guest.
    net = network_manage.create_network("tiny", "10.9.9.0/30", bridge="nlt0")
    first = stack.boot("first")
    active = stack.wait_status(first["id"], "ACTIVE")
    assert active["addresses"] == {"tiny": [{
        "version": 4, "addr": "10.9.9.2", "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": network_db.fixed_ip_get_all(net["id"])[0]["mac"]}]}
    driver = stack.computes["host1"].manager.driver
    assert [p[0] for p in driver.plugged] == ["plug"]

    second = stack.boot("second")
    failed = stack.wait_status(second["id"], "ERROR")
    assert "No fixed IP addresses available for network tiny" in failed["fault"]["message"]
    assert network_db.fixed_ip_get_by_instance(second["id"]) == []

    assert stack.compute("DELETE", f"/servers/{first['id']}").status_code == 204
    stack.wait_gone(first["id"])
    assert network_db.fixed_ip_get_all(net["id"]) == []
    assert [p[0] for p in driver.plugged] == ["plug", "unplug"]
    third = stack.wait_status(stack.boot("third")["id"], "ACTIVE")
    assert third["addresses"]["tiny"][0]["addr"] == "10.9.9.2"


def test_failed_build_releases_its_address(make) -> None:
    stack = make(computes=[("host1", "fake.AlwaysFailingSpawnDriver")])
    net = network_manage.create_network("n", "10.9.8.0/24", bridge="nlt1")
    server = stack.boot("doomed")
    stack.wait_status(server["id"], "ERROR")
    assert network_db.fixed_ip_get_all(net["id"]) == []
    assert stack.server(server["id"])["addresses"] == {}


def test_rescheduled_build_keeps_one_address_on_the_final_host(make) -> None:
    # host1 fails its first spawn (retryable): a build that lands there is
    # rescheduled to host2; one that lands on host2 stays. Either way it
    # ends on host2 holding exactly one address.
    stack = make(computes=[("host1", "fake.FailingFirstSpawnDriver"),
                           ("host2", "fake.FakeDriver")])
    net = network_manage.create_network("n", "10.9.7.0/24", bridge="nlt2")
    server = stack.boot("resched")
    active = stack.wait_status(server["id"], "ACTIVE")
    assert active["OS-EXT-SRV-ATTR:host"] == "host2"
    ports = network_db.fixed_ip_get_all(net["id"])
    assert len(ports) == 1 and ports[0]["host"] == "host2"
    assert active["addresses"]["n"][0]["addr"] == ports[0]["address"]


def test_networks_none_gives_no_address_and_actions_are_recorded(make) -> None:
    stack = make()
    network_manage.create_network("n", "10.9.6.0/24", bridge="nlt3")
    server = stack.boot("isolated", networks="none")
    active = stack.wait_status(server["id"], "ACTIVE")
    assert active["addresses"] == {}
    resp = stack.compute("POST", f"/servers/{server['id']}/action", {"os-stop": None})
    assert resp.status_code == 202
    stack.wait_status(server["id"], "SHUTOFF")
    actions = stack.compute("GET", f"/servers/{server['id']}/os-instance-actions").json()
    assert [a["action"] for a in actions["instanceActions"]] == ["stop", "create"]
    stop = actions["instanceActions"][0]
    assert set(stop) == {"action", "instance_uuid", "message", "project_id", "request_id",
                         "start_time", "user_id"}
    shown = stack.compute("GET", f"/servers/{server['id']}/os-instance-actions/"
                                 f"{stop['request_id']}").json()["instanceAction"]
    assert [(e["event"], e["result"]) for e in shown["events"]] == [
        ("compute_stop_instance", "Success")]
    missing = stack.compute("GET", f"/servers/{server['id']}/os-instance-actions/req-nope")
    assert missing.status_code == 404
    assert "req-nope" in missing.json()["itemNotFound"]["message"]


def test_network_info_lives_in_the_info_cache_and_a_start_plugs_it_again(make) -> None:
    """network_info left system_metadata: the allocation records it in the
    instance's info cache, and compute hands it to the driver on a start
    (the driver plugs the port again, as after a host reboot)."""
    stack = make()
    network_manage.create_network("private", "10.9.8.0/24", bridge="nlt1")
    server = stack.wait_status(stack.boot("cached")["id"], "ACTIVE")
    ctxt = nl_context.get_admin_context()
    [vif] = InstanceInfoCache.get_by_instance_uuid(ctxt, server["id"]).vifs
    assert vif["network"]["bridge"] == "nlt1"
    assert server["addresses"]["private"][0]["addr"] == model.fixed_ips(vif)[0]["address"]
    assert "network_info" not in Instance.get_by_uuid(ctxt, server["id"]).system_metadata
    driver = stack.computes["host1"].manager.driver
    stack.compute("POST", f"/servers/{server['id']}/action", {"os-stop": None})
    stack.wait_status(server["id"], "SHUTOFF")
    stack.compute("POST", f"/servers/{server['id']}/action", {"os-start": None})
    stack.wait_status(server["id"], "ACTIVE")
    assert driver.plugged == [("plug", vif["id"], "nlt1"), ("plug", vif["id"], "nlt1")]
