"""Migrations, models and queries on SQLite, PostgreSQL and MariaDB."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from novalite import exception
from novalite.db import api as db_api
from novalite.db import migration, models


def _head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migration._alembic_config()).get_current_head()


def test_migrations_match_models(synced):
    with db_api.get_engine().connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    assert migration.db_version() == _head()


def test_sync_twice_is_a_no_op(synced):
    migration.db_sync()
    assert migration.db_version() == _head()


def test_default_flavors_are_novas(synced):
    flavors = {f["flavorid"]: f for f in db_api.flavor_get_all()}
    assert {k: (v["name"], v["memory_mb"], v["vcpus"], v["root_gb"])
            for k, v in flavors.items()} == {
        "1": ("m1.tiny", 512, 1, 1),
        "2": ("m1.small", 2048, 1, 20),
        "3": ("m1.medium", 4096, 2, 40),
        "4": ("m1.large", 8192, 4, 80),
        "5": ("m1.xlarge", 16384, 8, 160),
    }


def test_instance_compare_and_swap(synced):
    inst = db_api.instance_create({"display_name": "a", "vm_state": "building",
                                   "task_state": "spawning", "metadata": {"k": "v"}})
    assert inst["metadata"] == {"k": "v"}
    db_api.instance_update(inst["uuid"], {"task_state": "deleting"})
    with pytest.raises(exception.UnexpectedDeletingTaskState):
        db_api.instance_update(inst["uuid"], {"vm_state": "active", "task_state": None},
                               expected_task_state=["spawning"])
    row = db_api.instance_get_by_uuid(inst["uuid"])
    assert row["task_state"] == "deleting" and row["vm_state"] == "building"
    db_api.instance_destroy(inst["uuid"])
    with pytest.raises(exception.InstanceNotFound):
        db_api.instance_get_by_uuid(inst["uuid"])
    assert db_api.instance_get_by_uuid(inst["uuid"], read_deleted=True)["vm_state"] == "deleted"


def test_name_filter_is_a_regex_on_every_backend(synced):
    for name in ("web-1", "web-2", "db-1"):
        db_api.instance_create({"display_name": name, "project_id": "p"})
    rows = db_api.instance_get_all_by_filters({"project_id": "p", "display_name": "^web"})
    assert sorted(r["display_name"] for r in rows) == ["web-1", "web-2"]
    with pytest.raises(exception.Invalid):
        db_api.instance_get_all_by_filters({"display_name": "(["})


def test_service_unique_per_host_and_binary(synced):
    db_api.service_create({"host": "h", "binary": "novalite-compute"})
    with pytest.raises(Exception):  # noqa: B017 - any backend's IntegrityError
        db_api.service_create({"host": "h", "binary": "novalite-compute"})


def test_date_filters_that_crossed_rpc_as_strings_still_compare_as_dates(synced):
    import datetime

    from oslo_utils import timeutils

    db_api.instance_create({"display_name": "new", "project_id": "d"})
    an_hour_ago = timeutils.utcnow() - datetime.timedelta(hours=1)
    # what the serializer makes of a datetime: an ISO string with a 'T'
    as_string = an_hour_ago.replace(tzinfo=datetime.UTC).isoformat()
    assert db_api.instance_get_all_by_filters({"project_id": "d",
                                               "created_before": as_string}) == []
    assert len(db_api.instance_get_all_by_filters({"project_id": "d",
                                                   "changes_since": None})) == 1
