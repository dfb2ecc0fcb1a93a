"""Image storage bounds through the Image API: Glance's per-project image
quotas (image_count_total, image_size_total, image_count_uploading, all 413
with oslo.limit's message), and a deleted image's id never reused (409)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import jsonschema
import pytest

from novalite import context as nl_context
from novalite.image import api as image_api
from tests.functional.test_image_api import ALICE, BOB, OCTET, create, image_req

KiB = 1024


def over(project: str, resource: str, limit: int, usage: int, delta: int) -> str:
    return (f"Project {project} is over a limit for [Resource {resource} is over limit of "
            f"{limit} due to current usage {usage} and delta {delta}]")


def assert_413(resp, message: str) -> None:
    assert resp.status_code == 413, resp.text
    error = resp.json()
    assert error["code"] == "413 Request Entity Too Large"
    assert error["message"] == message


def status(stack, image_id: str, headers=None) -> str:
    return image_req(stack, "GET", f"/images/{image_id}", headers=headers).json()["status"]


def test_creating_an_image_with_a_deleted_images_id_is_409_not_500(stack):
    image_id = str(uuid.uuid4())
    create(stack, headers=ALICE, id=image_id)
    assert image_req(stack, "DELETE", f"/images/{image_id}", headers=ALICE).status_code == 204

    for headers in (ALICE, BOB):
        resp = image_req(stack, "POST", "/images", {"name": "again", "id": image_id},
                         headers=headers)
        assert resp.status_code == 409, resp.text
        assert resp.json()["message"] == f"Image with identifier {image_id} already exists!"
    # NOTE: past the API's own check (a create racing the delete): the
    # database's unique id answers the same conflict.
    with pytest.raises(image_api.ImageExists) as caught:
        image_api.API().create(nl_context.get_admin_context(), "racing", "raw", "bare",
                               image_id=image_id)
    assert caught.value.code == 409
    fresh = create(stack, headers=ALICE)
    assert fresh["id"] != image_id and fresh["status"] == "queued"


def test_image_count_total_is_413_per_project_and_counts_only_live_images(make_stack):
    stack = make_stack(overrides={("image_api", "image_count_total"): 2})
    first = create(stack, headers=ALICE)
    create(stack, headers=ALICE)
    resp = image_req(stack, "POST", "/images", {"name": "third"}, headers=ALICE)
    assert_413(resp, over("project-a", "image_count_total", 2, 2, 1))
    mine = image_req(stack, "GET", "/images?owner=project-a", headers=ALICE).json()
    assert len(mine["images"]) == 2
    # NOTE: per project: Bob's project has none.
    create(stack, headers=BOB)
    assert image_req(stack, "DELETE", f"/images/{first['id']}", headers=ALICE).status_code == 204
    create(stack, headers=ALICE, name="third")


def test_racing_creates_get_exactly_the_images_that_fit(make_stack):
    stack = make_stack(overrides={("image_api", "image_count_total"): 3})
    codes: list[int] = []

    def _create(n: int) -> None:
        codes.append(image_req(stack, "POST", "/images", {"name": f"r{n}"},
                               headers=ALICE).status_code)

    threads = [threading.Thread(target=_create, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [201] * 3 + [413] * 5


def test_image_size_total_refuses_uploads_and_streams_over_it_keeping_them_queued(make_stack):
    stack = make_stack(overrides={("image_api", "image_size_total"): 1})
    first = create(stack, headers=ALICE)
    resp = image_req(stack, "PUT", f"/images/{first['id']}/file", raw=b"a" * (600 * KiB),
                     headers={**OCTET, **ALICE})
    assert resp.status_code == 204, resp.text

    # NOTE: refused from its Content-Length, before any data is stored.
    second = create(stack, headers=ALICE)
    resp = image_req(stack, "PUT", f"/images/{second['id']}/file", raw=b"b" * (600 * KiB),
                     headers={**OCTET, **ALICE})
    assert_413(resp, over("project-a", "image_size_total", 1, 1, 1))
    assert status(stack, second["id"], ALICE) == "queued"

    # NOTE: chunked (no Content-Length): refused once the stream passes it.
    def chunks() -> Iterator[bytes]:
        for _ in range(6):
            yield b"c" * (100 * KiB)

    resp = stack.session.put(f"{stack.base_url}/image/v2/images/{second['id']}/file",
                             data=chunks(), headers={**OCTET, **ALICE}, timeout=30)
    assert_413(resp, over("project-a", "image_size_total", 1, 1, 1))
    assert status(stack, second["id"], ALICE) == "queued"
    assert not [n for n in os.listdir(image_api.images_dir()) if n.startswith(second["id"])]

    # NOTE: another project has its own MiB; freeing space lets the upload in.
    other = create(stack, headers=BOB)
    resp = image_req(stack, "PUT", f"/images/{other['id']}/file", raw=b"d" * (600 * KiB),
                     headers={**OCTET, **BOB})
    assert resp.status_code == 204, resp.text
    assert image_req(stack, "DELETE", f"/images/{first['id']}", headers=ALICE).status_code == 204
    resp = image_req(stack, "PUT", f"/images/{second['id']}/file", raw=b"b" * (600 * KiB),
                     headers={**OCTET, **ALICE})
    assert resp.status_code == 204, resp.text
    assert status(stack, second["id"], ALICE) == "active"


def test_image_count_uploading_refuses_a_second_upload_while_one_streams(make_stack):
    stack = make_stack(overrides={("image_api", "image_count_uploading"): 1})
    streaming = create(stack, headers=ALICE)
    waiting = create(stack, headers=ALICE)
    answers = []

    def chunks() -> Iterator[bytes]:
        yield b"a" * KiB
        answers.append(image_req(stack, "PUT", f"/images/{waiting['id']}/file",
                                 raw=b"b" * KiB, headers={**OCTET, **ALICE}))
        yield b"a" * KiB

    ctxt = nl_context.RequestContext(user_id="alice", project_id="project-a")
    assert image_api.API().upload(ctxt, streaming["id"], chunks())["status"] == "active"
    assert_413(answers[0], over("project-a", "image_count_uploading", 1, 1, 1))
    assert status(stack, waiting["id"], ALICE) == "queued"
    resp = image_req(stack, "PUT", f"/images/{waiting['id']}/file", raw=b"b" * KiB,
                     headers={**OCTET, **ALICE})
    assert resp.status_code == 204, resp.text


def test_info_usage_shows_each_quotas_limit_and_the_projects_usage(stack):
    from novalite.api.image.info import USAGE_RESPONSE

    first = create(stack, headers=ALICE)
    create(stack, headers=ALICE)
    resp = image_req(stack, "PUT", f"/images/{first['id']}/file",
                     raw=b"u" * (1536 * KiB), headers={**OCTET, **ALICE})
    assert resp.status_code == 204, resp.text
    usage = image_req(stack, "GET", "/info/usage", headers=ALICE).json()
    jsonschema.validate(usage, USAGE_RESPONSE)
    assert usage == {"usage": {"image_size_total": {"limit": 10240, "usage": 1},
                               "image_count_total": {"limit": 100, "usage": 2},
                               "image_count_uploading": {"limit": 10, "usage": 0}}}
    assert image_req(stack, "GET", "/info/usage", headers=BOB).json()["usage"][
        "image_count_total"] == {"limit": 100, "usage": 0}
