"""Server group and aggregate queries on SQLite, PostgreSQL and MariaDB:
live members and their hosts, and an aggregate's zone written through to
its hosts' compute services (and back on removal), with Nova's conflicts."""

from __future__ import annotations

import pytest

from novalite.db import aggregates as db_aggs
from novalite.db import api as db_api
from novalite.db import instance_groups as db_groups


def test_group_members_their_hosts_and_deleted_members(synced):
    group = db_groups.instance_group_create({"uuid": "8c6f7c1e-0000-4000-8000-000000000001",
                                             "name": "g", "project_id": "p", "user_id": "u",
                                             "policy": "anti-affinity",
                                             "rules": {"max_server_per_host": 2}})
    assert group["members"] == [] and group["rules"] == {"max_server_per_host": 2}
    placed = db_api.instance_create({"display_name": "a", "project_id": "p", "host": "h1"})
    waiting = db_api.instance_create({"display_name": "b", "project_id": "p"})
    members = db_groups.instance_group_members_add(group["uuid"],
                                                   [placed["uuid"], waiting["uuid"],
                                                    placed["uuid"]])
    assert members == [placed["uuid"], waiting["uuid"]]
    assert db_groups.instance_group_member_hosts(group["uuid"]) == {placed["uuid"]: "h1"}
    db_api.instance_destroy(placed["uuid"])
    assert db_groups.instance_group_get(group["uuid"])["members"] == [waiting["uuid"]]
    assert db_groups.instance_group_member_hosts(group["uuid"]) == {}
    assert db_groups.instance_group_get_by_instance(waiting["uuid"])["uuid"] == group["uuid"]
    assert db_groups.instance_group_count_by_project("p") == 1
    with pytest.raises(db_groups.InstanceGroupNotFound):
        db_groups.instance_group_get(group["uuid"], project_id="other")
    db_groups.instance_group_destroy(group["uuid"])
    assert db_groups.instance_group_get_all("p") == []


def _zone(host: str) -> str | None:
    return db_api.service_get_by_host_and_binary(host, "novalite-compute")["availability_zone"]


def test_aggregate_zone_follows_its_hosts(synced):
    for host in ("h1", "h2"):
        db_api.service_create({"host": host, "binary": "novalite-compute",
                               "availability_zone": "nova"})
    agg = db_aggs.aggregate_create({"name": "a", "uuid": "8c6f7c1e-0000-4000-8000-00000000000a"},
                                   {"availability_zone": "z1"})
    with pytest.raises(db_aggs.AggregateNameExists):
        db_aggs.aggregate_create({"name": "a", "uuid": "8c6f7c1e-0000-4000-8000-00000000000b"})
    db_aggs.aggregate_host_add(agg["id"], "h1")
    assert (_zone("h1"), _zone("h2")) == ("z1", "nova")
    with pytest.raises(db_aggs.AggregateHostExists):
        db_aggs.aggregate_host_add(agg["id"], "h1")
    with pytest.raises(db_aggs.ComputeHostNotFound):
        db_aggs.aggregate_host_add(agg["id"], "h3")
    other = db_aggs.aggregate_create({"name": "b",
                                      "uuid": "8c6f7c1e-0000-4000-8000-00000000000c"},
                                     {"availability_zone": "z2"})
    with pytest.raises(db_aggs.InvalidAggregateAction):
        db_aggs.aggregate_host_add(other["id"], "h1")
    db_aggs.aggregate_metadata_set(agg["uuid"], {"availability_zone": "z3", "ssd": "1"})
    assert _zone("h1") == "z3"
    assert db_aggs.aggregate_metadata_by_host() == {
        "h1": {"availability_zone": {"z3"}, "ssd": {"1"}}}
    with pytest.raises(db_aggs.InvalidAggregateAction):
        db_aggs.aggregate_destroy(agg["id"])
    db_aggs.aggregate_host_delete(agg["id"], "h1")
    assert _zone("h1") == "nova"
    db_aggs.aggregate_destroy(agg["id"])
    assert [a["name"] for a in db_aggs.aggregate_get_all()] == ["b"]
