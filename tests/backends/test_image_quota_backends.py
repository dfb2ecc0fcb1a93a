"""Image quotas and image ids on SQLite, PostgreSQL and MariaDB: racing
creates never take a project over image_count_total, usage adds up the
same, and a deleted image's id is refused (409) on every backend."""

from __future__ import annotations

import threading

import pytest

from novalite import context as nl_context
from novalite.conf import CONF
from novalite.image import api as image_api
from novalite.image import quota


@pytest.fixture
def limits(synced):
    values = {"image_count_total": 3, "image_size_total": 1}
    for name, value in values.items():
        CONF.set_override(name, value, group="image_api")
    try:
        yield values
    finally:
        for name in values:
            CONF.clear_override(name, group="image_api")


def test_racing_image_creates_get_exactly_the_images_that_fit(limits):
    ctx = nl_context.RequestContext(user_id="u", project_id="racing")
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def create(n: int) -> None:
        start.wait()
        try:
            image_api.API().create(ctx, f"r{n}", "raw", "bare")
            outcomes.append("created")
        except quota.ImageQuotaExceeded:
            outcomes.append("413")

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(outcomes) == ["413"] * 5 + ["created"] * 3


def test_usage_and_a_deleted_images_id(limits):
    ctx = nl_context.RequestContext(user_id="u", project_id="p")
    api = image_api.API()
    image = api.create(ctx, "data", "raw", "bare")
    api.upload(ctx, image["id"], iter([b"x" * 700 * 1024]))
    other = api.create(ctx, "more", "raw", "bare")
    with pytest.raises(quota.ImageQuotaExceeded):
        api.upload(ctx, other["id"], iter([b"y" * 400 * 1024]))
    assert api.get(ctx, other["id"])["status"] == "queued"
    assert quota.usage("p") == {"image_size_total": {"limit": 1, "usage": 0},
                                "image_count_total": {"limit": 3, "usage": 2},
                                "image_count_uploading": {"limit": 10, "usage": 0}}
    api.delete(ctx, image["id"])
    assert api.id_taken(image["id"])
    with pytest.raises(image_api.ImageExists):
        api.create(ctx, "again", "raw", "bare", image_id=image["id"])
