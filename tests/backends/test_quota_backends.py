"""Key pairs, quotas and flavor writes on SQLite, PostgreSQL and MariaDB:
the same answers on every backend, and racing writers (threads, each with
its own connection) that never take a project over its quota nor lose an
extra spec."""

from __future__ import annotations

import threading

import pytest

from novalite import context as nl_context
from novalite import exception, keypairs, quota
from novalite.db import api as db_api
from novalite.db import quotas as db_quotas


def _race(n: int, fn) -> None:
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


def test_key_pairs_per_user_and_duplicates(synced):
    ctx = nl_context.RequestContext(user_id="u1", project_id="p1")
    kp, private = keypairs.create_key_pair(ctx, "u1", "k")
    assert private.startswith("-----BEGIN RSA PRIVATE KEY-----")
    with pytest.raises(exception.KeyPairExists):
        keypairs.import_key_pair(ctx, "u1", "k", kp["public_key"])
    keypairs.import_key_pair(ctx, "u2", "k", kp["public_key"])
    assert [k["name"] for k in keypairs.get_key_pairs(ctx, "u1")] == ["k"]
    keypairs.delete_key_pair(ctx, "u1", "k")
    with pytest.raises(exception.KeypairNotFound):
        keypairs.get_key_pair(ctx, "u1", "k")
    # the name is free again once deleted
    keypairs.import_key_pair(ctx, "u1", "k", kp["public_key"])


def test_quota_overrides_and_racing_setters(synced):
    quota.update_project_quotas("p", {"instances": 3, "cores": -1})
    assert quota.get_project_quotas("p")["instances"] == 3
    assert quota.get_project_quotas("p")["cores"] == -1
    # racing setters of the same new rows: one value wins, no duplicate row, no error
    _race(6, lambda: quota.update_project_quotas("p", {"ram": 1000, "key_pairs": 7}))
    assert db_quotas.quota_get_all_by_project("p") == {
        "instances": 3, "cores": -1, "ram": 1000, "key_pairs": 7}
    quota.delete_project_quotas("p")
    assert quota.get_project_quotas("p") == quota.get_defaults()


def test_racing_server_creates_stay_within_the_quota(synced):
    ctx = nl_context.get_admin_context()
    limit = 3
    quota.update_project_quotas("race", {"instances": limit})
    created: list[str] = []

    def create() -> None:
        try:
            quota.enforce_server_create(ctx, "race", 1, 1, 512)
        except exception.TooManyInstances:
            return
        row = db_api.instance_create({"project_id": "race",
                                      "flavor": {"vcpus": 1, "memory_mb": 512}})
        try:
            quota.recheck_server_create(ctx, "race", 1, 1, 512)
        except exception.TooManyInstances:
            db_api.instance_destroy(row["uuid"])
            return
        created.append(row["uuid"])

    _race(10, create)
    # NOTE: check, record, recheck (Nova's way) never exceeds the limit, but
    # racers may all be refused
    assert len(created) <= limit
    assert quota.get_usages("race")["instances"] == len(created)
    for uuid in created:
        db_api.instance_destroy(uuid)
    created.clear()

    def create_locked() -> None:
        try:
            with quota.server_create_lock(ctx, "race", 1, 1, 512):
                row = db_api.instance_create({"project_id": "race",
                                              "flavor": {"vcpus": 1, "memory_mb": 512}})
        except exception.TooManyInstances:
            return
        created.append(row["uuid"])

    _race(10, create_locked)
    # under the project's lock, exactly as many as fit get through
    assert len(created) == limit
    assert quota.get_usages("race")["instances"] == limit
    with pytest.raises(exception.TooManyInstances) as e:
        quota.enforce_server_create(ctx, "race", limit, limit, 512 * limit)
    assert str(e.value).startswith("Quota exceeded for instances: Requested 3, but already "
                                   f"used {len(created)} of 3 instances")


def test_racing_key_pair_creates_stay_within_the_quota(synced):
    ctx = nl_context.RequestContext(user_id="racer", project_id="kp")
    quota.update_project_quotas("kp", {"key_pairs": 2})
    public = keypairs.create_key_pair(ctx, "someone", "seed")[0]["public_key"]
    names = iter(range(100))
    lock = threading.Lock()

    def create() -> None:
        with lock:
            name = f"k{next(names)}"
        try:
            keypairs.import_key_pair(ctx, "racer", name, public)
        except exception.KeypairLimitExceeded:
            pass

    _race(8, create)
    assert len(keypairs.get_key_pairs(ctx, "racer")) == 2


def test_flavor_writes(synced):
    db_api.flavor_create({"flavorid": "f1", "name": "one", "memory_mb": 64, "vcpus": 1,
                          "root_gb": 0, "extra_specs": {}})
    with pytest.raises(exception.FlavorIdExists):
        db_api.flavor_create({"flavorid": "f1", "name": "two", "memory_mb": 64, "vcpus": 1,
                              "root_gb": 0})
    with pytest.raises(exception.FlavorExists):
        db_api.flavor_create({"flavorid": "f2", "name": "one", "memory_mb": 64, "vcpus": 1,
                              "root_gb": 0})
    # racing writers of different keys: none is lost (the row lock)
    keys = iter(range(100))
    lock = threading.Lock()

    def write() -> None:
        with lock:
            key = f"k{next(keys)}"
        db_api.flavor_extra_specs_update("f1", {key: "v"})

    _race(8, write)
    assert len(db_api.flavor_get_by_flavor_id("f1")["extra_specs"]) == 8

    db_api.flavor_access_add("f1", "p1")
    with pytest.raises(exception.FlavorAccessExists):
        db_api.flavor_access_add("f1", "p1")
    assert db_api.flavor_access_get_by_flavor_id("f1") == ["p1"]
    db_api.flavor_destroy("f1")
    with pytest.raises(exception.FlavorNotFound):
        db_api.flavor_access_get_by_flavor_id("f1")

    page = db_api.flavor_get_all({"is_public": True}, limit=2, sort_key="memory_mb",
                                 sort_dir="desc")
    assert [f["flavorid"] for f in page] == ["5", "4"]
    after = db_api.flavor_get_all({"is_public": True}, limit=10, marker="4",
                                  sort_key="memory_mb", sort_dir="desc")
    assert [f["flavorid"] for f in after] == ["3", "2", "1"]
