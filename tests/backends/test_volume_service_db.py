"""The volume queries (novalite/db/volumes.py, migration 020) on SQLite,
PostgreSQL and MariaDB: the default volume type, JSON metadata, the
compare-and-swap status changes (two racing deletes: one wins), the
attachment reserve/destroy moving the volume's status, quota usage and a
host's allocated gigabytes."""

from __future__ import annotations

import threading

import pytest

from novalite.db import volumes as db
from novalite.volume import exceptions as v_exc


def test_volume_queries_on_every_backend(synced):
    (vtype,) = db.volume_type_get_all()
    assert (vtype["id"], vtype["name"]) == (db.DEFAULT_TYPE_ID, "__DEFAULT__")
    assert db.volume_type_get("__DEFAULT__")["id"] == db.DEFAULT_TYPE_ID
    vol = db.volume_create({"project_id": "p1", "user_id": "u1", "size": 3, "host": "h1",
                            "status": "available", "name": "ü-name",
                            "volume_metadata": {"k": "v", "ключ": "значение"}})
    assert vol["volume_type_id"] == db.DEFAULT_TYPE_ID and vol["attachments"] == []
    assert db.volume_get(vol["id"])["volume_metadata"] == {"k": "v", "ключ": "значение"}
    snap = db.snapshot_create({"volume_id": vol["id"], "project_id": "p1", "size": 3,
                               "status": "available"})
    assert db.usage("p1") == {"volumes": 1, "snapshots": 1, "gigabytes": 6}
    assert db.allocated_gb("h1") == 6 and db.allocated_gb("h2") == 0
    with pytest.raises(v_exc.VolumeNotFound):
        db.attachment_reserve(vol["id"], "00000000-0000-4000-8000-000000000001", "p2")
    got, att = db.attachment_reserve(vol["id"], "00000000-0000-4000-8000-000000000001", "p1")
    assert (got["status"], att["attach_status"]) == ("reserved", "reserved")
    with pytest.raises(v_exc.InvalidVolume):
        db.attachment_reserve(vol["id"], "00000000-0000-4000-8000-000000000002", "p1")
    db.attachment_update(att["id"], {"attach_status": "attached",
                                     "connection_info": {"driver_volume_type": "local"}},
                         volume_values={"status": "in-use", "attach_status": "attached"},
                         volume_expected=["reserved"])
    assert [a["connection_info"] for a in db.volume_get(vol["id"])["attachments"]] == \
        [{"driver_volume_type": "local"}]
    after = db.attachment_destroy(att["id"])
    assert (after["status"], after["attach_status"], after["attachments"]) == \
        ("available", "detached", [])
    # two deletes race: exactly one moves the volume to deleting
    results: list[str] = []

    def delete() -> None:
        try:
            db.volume_update(vol["id"], {"status": "deleting"},
                             expected={"status": ["available"]})
            results.append("won")
        except v_exc.InvalidVolume:
            results.append("lost")

    threads = [threading.Thread(target=delete) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["lost", "lost", "lost", "won"]
    db.snapshot_destroy(snap["id"])
    db.volume_destroy(vol["id"])
    assert db.usage("p1") == {"volumes": 0, "snapshots": 0, "gigabytes": 0}
