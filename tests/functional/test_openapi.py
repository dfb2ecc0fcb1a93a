"""Schemathesis against a live stack, driven by the OpenAPI document the
stack serves at ``/openapi.json``: no server errors (5xx), and no answer
that contradicts the document (status code, content type, body schema).

Every operation the document lists is exercised (DELETE and actions too:
the stack is this module's own); a bounded, derandomized number of cases
per operation keeps the run repeatable and short.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from novalite.api.schemas.images import PATCH_MEDIA_TYPES
from tests.functional.stack import Stack

MAX_EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


# NOTE: Glance's JSON-patch media types are JSON on the wire.
schemathesis.serializer.alias(list(PATCH_MEDIA_TYPES), "application/json")


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory) -> Iterator[Stack]:
    stack = Stack(str(tmp_path_factory.mktemp("openapi"))).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def api_schema(live_stack: Stack) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live_stack.base_url}/openapi.json")


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, session):
    case.call_and_validate(session=session, checks=CHECKS, timeout=30)
