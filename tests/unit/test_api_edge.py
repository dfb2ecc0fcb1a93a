"""Which routes may take a large body (the declaration the API's edge reads
before any body byte); the edge itself is tested through HTTP in
tests/functional/test_api_edge.py."""

from __future__ import annotations

import pytest

from novalite.api import app as api_app
from novalite.api import wsgi
from novalite.conf import CONF


class _Unreachable:
    def __getattr__(self, name: str):
        raise AssertionError(f"the API layer below was called ({name})")


@pytest.fixture
def app() -> wsgi.Application:
    return api_app.make_app(compute_api=_Unreachable(), image_api=_Unreachable())


def test_only_the_image_data_upload_takes_a_large_body(app):
    large = [(r.method, r.path) for r in app.router.routes
             if getattr(r.handler, "wsgi_large_body", None) is not None]
    assert large == [("PUT", "/image/v2/images/{id}/file")]


def test_body_limits_come_from_the_options(app):
    json_limit = CONF.api.max_request_body_size
    upload = app.body_limit("PUT", "/image/v2/images/0a5b/file")
    assert upload == wsgi.BodyLimit(json_limit, CONF.image_api.image_size_cap)
    assert app.body_limit("POST", "/compute/v2.1/servers") == wsgi.BodyLimit(json_limit,
                                                                            json_limit)
    # NOTE: no route, no exception: the app answers 404 after the limit applied.
    assert app.body_limit("POST", "/nowhere") == wsgi.BodyLimit(json_limit, json_limit)
    assert app.largest_body() == max(json_limit, CONF.image_api.image_size_cap)


def test_a_refused_body_is_answered_in_the_api_format_without_reading_it(app):
    import webob

    req = webob.Request.blank("/image/v2/images/0a5b/file", method="PUT",
                              headers={"Content-Type": "application/octet-stream"})
    req.environ[wsgi.BODY_REFUSED] = (5 << 30, 1 << 20)
    req.body_file = _Unreadable()  # type: ignore[assignment]
    resp = req.get_response(app)
    assert resp.status_int == 413
    assert resp.json == {"code": "413 Request Entity Too Large",
                         "title": "Request Entity Too Large",
                         "message": f"The request body ({5 << 30} bytes) is larger than PUT "
                                    f"/image/v2/images/0a5b/file accepts: at most {1 << 20} "
                                    f"bytes."}


class _Unreadable:
    def read(self, *args: object) -> bytes:
        raise AssertionError("the refused body was read")
