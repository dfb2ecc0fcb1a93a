"""Server metadata writers racing on SQLite, PostgreSQL and MariaDB (threads,
each with its own connection): every key lands, a delete loses nothing else,
and a refusal (state, quota) writes nothing."""

from __future__ import annotations

import threading

import pytest

from novalite import exception
from novalite.db import api as db_api


def _race(n: int, fn) -> None:
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            fn(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors


def test_racing_metadata_writers_lose_nothing(synced) -> None:
    uuid = db_api.instance_create({"vm_state": "active", "project_id": "p",
                                   "metadata": {"keep": "1"}})["uuid"]
    _race(12, lambda i: db_api.instance_metadata_update(
        uuid, lambda current, _state: {**current, f"k{i}": str(i)}))
    expected = {"keep": "1", **{f"k{i}": str(i) for i in range(12)}}
    assert db_api.instance_get_by_uuid(uuid)["metadata"] == expected

    _race(6, lambda i: db_api.instance_metadata_update(
        uuid, lambda current, _state: {k: v for k, v in current.items() if k != f"k{i}"}))
    assert db_api.instance_get_by_uuid(uuid)["metadata"] == {
        "keep": "1", **{f"k{i}": str(i) for i in range(6, 12)}}


def test_a_refused_metadata_change_writes_nothing(synced) -> None:
    uuid = db_api.instance_create({"vm_state": "building", "metadata": {"a": "1"}})["uuid"]

    def refuse(current: dict, state: str) -> dict:
        raise exception.InstanceInvalidState(action="update metadata", instance_uuid=uuid,
                                             attr="vm_state", state=state)

    with pytest.raises(exception.InstanceInvalidState, match="building"):
        db_api.instance_metadata_update(uuid, refuse)
    assert db_api.instance_get_by_uuid(uuid)["metadata"] == {"a": "1"}
    with pytest.raises(exception.InstanceNotFound):
        db_api.instance_metadata_update("00000000-0000-4000-8000-000000000000",
                                        lambda current, _state: current)
