"""A trailing slash names a resource with an empty id (404, as Nova and
Glance answer ``DELETE /images/``), except on the public version documents,
which clients request as ``/compute/v2.1/``."""

from __future__ import annotations

import pytest

from novalite.api import errors
from novalite.api.router import Router


@pytest.fixture
def router() -> Router:
    r = Router()
    r.connect("/compute/v2.1", "GET", "versions", "show", public=True)
    r.connect("/image/v2/images", "GET", "images", "index")
    r.connect("/image/v2/images/{id}", "DELETE", "images", "delete")
    r.finalize()
    return r


def test_a_public_document_answers_with_or_without_the_slash(router: Router) -> None:
    assert router.match("GET", "/compute/v2.1/").controller == "versions"
    assert router.match("GET", "/compute/v2.1").controller == "versions"


def test_a_collection_with_a_trailing_slash_is_not_found(router: Router) -> None:
    assert router.match("GET", "/image/v2/images").action == "index"
    for method, path in (("GET", "/image/v2/images/"), ("DELETE", "/image/v2/images/")):
        with pytest.raises(errors.HTTPError) as err:
            router.match(method, path)
        assert err.value.code == 404, (method, path)
