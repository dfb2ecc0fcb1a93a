"""Address allocation under races, on SQLite, PostgreSQL and MariaDB: many
threads (standing in for builds on many hosts, each with its own
connections) allocate from one small network at once; the database's unique
constraints must keep every address and MAC distinct, and the pool must
be usable to its last address, then refuse cleanly."""

from __future__ import annotations

import concurrent.futures
import ipaddress
import threading
import uuid

import pytest

from novalite import exception
from novalite.db import network as db
from novalite.network import api as network_api
from novalite.network import manage

pytestmark = pytest.mark.integration


def _race(n: int, fn) -> tuple[list, list[BaseException]]:
    start = threading.Barrier(n)
    results: list = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        start.wait()
        try:
            r = fn(i)
            with lock:
                results.append(r)
        except BaseException as e:  # noqa: BLE001
            with lock:
                errors.append(e)

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        list(pool.map(one, range(n)))
    return results, errors


def test_concurrent_allocations_never_share_an_address(synced) -> None:
    # A /27: 30 host addresses, one of them the gateway → 29 for guests.
    net = manage.create_network("race", "10.99.0.0/27", bridge="nlrace0")
    results, errors = _race(24, lambda i: db.fixed_ip_allocate(
        net["uuid"], str(uuid.uuid4()), f"host{i % 3}"))
    assert not errors, errors
    addresses = [r["address"] for r in results]
    assert len(set(addresses)) == 24
    assert len({r["mac"] for r in results}) == 24
    assert "10.99.0.1" not in addresses
    assert all(ipaddress.ip_address(a) in ipaddress.ip_network("10.99.0.0/27")
               for a in addresses)
    stored = db.fixed_ip_get_all(net["id"])
    assert sorted(f["address"] for f in stored) == sorted(addresses)


def test_the_pool_runs_out_cleanly_and_release_makes_room(synced) -> None:
    net = manage.create_network("small", "10.98.0.0/29", bridge="nlsmall0")  # 5 for guests
    results, errors = _race(8, lambda i: db.fixed_ip_allocate(net["uuid"], f"inst-{i}", "h"))
    assert len(results) == 5
    assert len(errors) == 3 and all(isinstance(e, exception.NoMoreFixedIps) for e in errors)
    assert "No fixed IP addresses available for network small" in str(errors[0])
    owner = results[0]["instance_uuid"]
    assert network_api.deallocate_for_instance(owner) == 1
    again = db.fixed_ip_allocate(net["uuid"], "inst-new", "h")
    assert again["address"] == results[0]["address"]


def test_the_same_requested_address_goes_to_one_instance_only(synced) -> None:
    net = manage.create_network("fixed", "10.97.0.0/24", bridge="nlfixed0")
    results, errors = _race(6, lambda i: db.fixed_ip_allocate(
        net["uuid"], f"inst-{i}", "h", address="10.97.0.50"))
    assert len(results) == 1 and results[0]["address"] == "10.97.0.50"
    assert len(errors) == 5
    assert all(isinstance(e, exception.FixedIpAlreadyInUse) for e in errors), errors


def test_allocate_for_instance_is_all_or_nothing(synced) -> None:
    a = manage.create_network("a", "10.96.0.0/24", bridge="nla0")
    b = manage.create_network("b", "10.96.1.0/29", bridge="nlb0")
    for i in range(5):
        db.fixed_ip_allocate(b["uuid"], f"filler-{i}", "h")
    with pytest.raises(exception.NoMoreFixedIps):
        network_api.allocate_for_instance("victim", [{"uuid": a["uuid"]},
                                                     {"uuid": b["uuid"]}], "h")
    assert db.fixed_ip_get_by_instance("victim") == []
    info = network_api.allocate_for_instance("ok", [{"uuid": a["uuid"]}], "h")
    assert [v["network"]["label"] for v in info] == ["a"]
    assert info[0]["network"]["bridge"] == "nla0"
    assert network_api.allocate_for_instance("none", "none", "h") == []
