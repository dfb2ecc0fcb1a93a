"""Instance list queries on SQLite, PostgreSQL and MariaDB: pages that
follow a marker cover every row exactly once, in the same order on every
backend, also when the sort key is NULL for some rows."""

import pytest

from novalite import exception
from novalite.db import api as db_api


def _pages(sort_key, sort_dir, limit, **filters):
    rows, marker = [], None
    while True:
        page = db_api.instance_get_all_by_filters(dict(filters), sort_key=sort_key,
                                                  sort_dir=sort_dir, limit=limit,
                                                  marker=marker)
        rows += page
        if len(page) < limit:
            return rows
        marker = page[-1]["uuid"]


@pytest.mark.parametrize("sort_key", ["host", "display_name", "created_at", "task_state"])
@pytest.mark.parametrize("sort_dir", ["asc", "desc"])
def test_marker_pages_cover_every_row_once(synced, sort_key, sort_dir):
    for i in range(11):
        db_api.instance_create({
            "display_name": f"vm-{i % 4}", "project_id": "p",
            "host": None if i % 3 == 0 else f"host{i % 2}",
            "task_state": None if i % 2 else "spawning"})
    db_api.instance_create({"display_name": "other", "project_id": "q"})
    every = db_api.instance_get_all_by_filters({"project_id": "p"}, sort_key=sort_key,
                                               sort_dir=sort_dir)
    assert len(every) == 11
    for limit in (1, 3, 4):
        paged = _pages(sort_key, sort_dir, limit, project_id="p")
        assert [r["uuid"] for r in paged] == [r["uuid"] for r in every], limit
    values = [r[sort_key] for r in every]
    present = [v for v in values if v is not None]
    nulls = len(values) - len(present)
    expected = ([None] * nulls + sorted(present) if sort_dir == "asc"
                else sorted(present, reverse=True) + [None] * nulls)
    assert values == expected


def test_project_filter_and_unknown_marker(synced):
    mine = db_api.instance_create({"display_name": "mine", "project_id": "p"})
    theirs = db_api.instance_create({"display_name": "theirs", "project_id": "q"})
    assert db_api.instance_get_by_uuid(mine["uuid"], project_id="p")["display_name"] == "mine"
    with pytest.raises(exception.InstanceNotFound):
        db_api.instance_get_by_uuid(theirs["uuid"], project_id="p")
    # another project's server is no marker for this project's list
    with pytest.raises(exception.Invalid, match=f"marker \\[{theirs['uuid']}\\] not found"):
        db_api.instance_get_all_by_filters({"project_id": "p"}, marker=theirs["uuid"])
