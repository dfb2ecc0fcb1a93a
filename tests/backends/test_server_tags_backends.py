"""Server tags (microversion 2.26) and descriptions (2.19) on every
database backend: the tag queries and the four list filters, which are
subqueries the backends must agree on."""

from __future__ import annotations

from novalite.db import api as db_api
from novalite.db import tags


def _names(filters: dict) -> list[str]:
    rows = db_api.instance_get_all_by_filters({"project_id": "p", **filters},
                                              sort_key="display_name", sort_dir="asc")
    return [r["display_name"] for r in rows]


def test_tags_and_tag_filters_on_every_backend(synced):
    made = {name: db_api.instance_create({"display_name": name, "project_id": "p",
                                          "display_description": f"about {name}"})
            for name in ("a", "b", "c")}
    assert db_api.instance_get_by_uuid(made["a"]["uuid"])["display_description"] == "about a"
    assert tags.tag_set(made["a"]["uuid"], ["red", "blue", "red"]) == ["blue", "red"]
    assert tags.tag_add(made["b"]["uuid"], "red", limit=50) is True
    assert tags.tag_add(made["b"]["uuid"], "red", limit=50) is False
    assert tags.tag_get_by_instance_uuids([u["uuid"] for u in made.values()]) == {
        made["a"]["uuid"]: ["blue", "red"], made["b"]["uuid"]: ["red"]}
    assert tags.tag_exists(made["a"]["uuid"], "blue")

    assert _names({"tags": ["red", "blue"]}) == ["a"]
    assert _names({"tags": ["red"]}) == ["a", "b"]
    assert _names({"tags-any": ["blue", "green"]}) == ["a"]
    assert _names({"not-tags": ["red", "blue"]}) == ["b", "c"]
    assert _names({"not-tags-any": ["red"]}) == ["c"]
    assert _names({"tags": ["red"], "not-tags-any": ["blue"]}) == ["b"]

    assert tags.tag_delete(made["a"]["uuid"], "blue") is True
    assert tags.tag_delete(made["a"]["uuid"], "blue") is False
    tags.tag_delete_all(made["a"]["uuid"])
    assert _names({"tags": ["red"]}) == ["b"]
    tags.tag_set(made["c"]["uuid"], ["green"])
    db_api.instance_destroy(made["c"]["uuid"])
    assert tags.tag_get_by_instance_uuids([made["c"]["uuid"]]) == {}
