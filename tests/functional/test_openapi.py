"""Schemathesis against a live stack, driven by the OpenAPI document the
stack serves at ``/openapi.json``: no server errors (5xx), and no answer
that contradicts the document (status code, content type, body schema).

Every operation the document lists is exercised, none excluded (DELETE and
actions too: the stack is this module's own), as the admin with a real
token. Random path parameters only ever find 404s, so half of the
generated cases use ids of resources that exist (a server, images, a key
pair, ...) and ``POST /servers`` also gets valid bodies: the success paths
are fuzzed too. A bounded, derandomized number of cases per operation
keeps the run repeatable and short.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from novalite.api.schemas.images import PATCH_MEDIA_TYPES
from tests.functional.stack import Stack

MAX_EXAMPLES = int(os.environ.get("NOVALITE_SCHEMATHESIS_EXAMPLES", "15"))
# NOTE: set to a file name to see which statuses each operation reached.
STATUS_LOG = os.environ.get("NOVALITE_SCHEMATHESIS_STATUS_LOG")


def not_a_server_error_but_declared_501(ctx: Any, response: Any, case: Any) -> bool | None:
    """not_a_server_error, except a 501 the operation documents: Nova's
    deliberate "not implemented" for what a driver cannot do (a hypervisor's
    uptime), not a failure of the server."""
    operation = case.operation
    responses = (operation.schema.raw_schema["paths"][operation.path]
                 [operation.method.lower()]["responses"])
    if response.status_code == 501 and "501" in responses:
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [not_a_server_error_but_declared_501, status_code_conformance,
          content_type_conformance, response_schema_conformance]
V = "/compute/v2.1"

# NOTE: Glance's JSON-patch media types are JSON on the wire.
schemathesis.serializer.alias(list(PATCH_MEDIA_TYPES), "application/json")


@pytest.fixture(scope="module")
def live_stack(tmp_path_factory) -> Iterator[Stack]:
    # NOTE: GET /dashboard/events is a stream that lasts [notifications]
    # event_stream_seconds; schemathesis reads each answer to its end.
    stack = Stack(str(tmp_path_factory.mktemp("openapi")), auth="novalite",
                  overrides={("notifications", "event_stream_seconds"): 1}).start()
    try:
        yield stack
    finally:
        stack.stop()


def _existing(stack: Stack) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Ids of resources that exist, per kind of path parameter: the ones
    every operation may use, and the ones DELETE may use (so deleting does
    not leave the operations tested after it with nothing to find)."""
    servers = [stack.boot(name=f"st-{i}")["id"] for i in range(3)]
    for server_id in servers:
        stack.wait_status(server_id, "ACTIVE")
        resp = stack.compute("PUT", f"/servers/{server_id}/metadata/color",
                             {"meta": {"color": "blue"}})
        assert resp.status_code == 200, resp.text
    for name in ("st-key", "st-key-victim"):
        resp = stack.compute("POST", "/os-keypairs", {"keypair": {"name": name}})
        assert resp.status_code == 200, resp.text
    queued = []
    for name in ("st-queued", "st-victim"):
        resp = stack.request("POST", "/image/v2/images", {
            "name": name, "disk_format": "raw", "container_format": "bare"})
        assert resp.status_code == 201, resp.text
        queued.append(resp.json()["id"])
    actions = stack.compute("GET", f"/servers/{servers[0]}/os-instance-actions").json()
    hypervisors = stack.compute("GET", "/os-hypervisors").json()["hypervisors"]
    project = stack.compute("GET", f"/servers/{servers[0]}").json()["server"]["tenant_id"]
    identity = {kind: [item["id"] for item in stack.request("GET", f"/identity/v3/{kind}s")
                       .json()[f"{kind}s"]] for kind in ("user", "role", "domain")}
    networks = stack.request("GET", "/network/v2.0/networks").json()["networks"]
    common = {
        **identity,
        "network": [n["id"] for n in networks],
        "server": servers[:2],
        "image": [stack.image_id, queued[0]],
        "flavor": ["1", "2"],
        "hypervisor": [str(h["id"]) for h in hypervisors],
        "keypair": ["st-key"],
        # NOTE: the quota sets' and identity's projects are the same ids.
        "project": [project],
        "key": ["color"],
        "request": [a["request_id"] for a in actions.get("instanceActions", [])],
    }
    victims = {**common, "server": servers[2:], "image": queued[1:],
               "keypair": ["st-key-victim"], "flavor": []}
    return common, victims


# NOTE: valid bodies mixed into the generated ones, so success paths run.
def _valid_bodies(stack: Stack) -> dict[tuple[str, str], list[Any]]:
    return {
        ("POST", f"{V}/servers"): [{"server": {"name": "st-fuzz", "flavorRef": "1",
                                               "imageRef": stack.image_id}}],
        ("POST", f"{V}/servers/{{id}}/action"): [
            {"os-stop": None}, {"os-start": None}, {"reboot": {"type": "SOFT"}},
            {"os-getConsoleOutput": {"length": 5}}],
        ("PUT", f"{V}/os-services/enable"): [
            {"host": "host1", "binary": "nova-compute"}],
        ("PATCH", "/image/v2/images/{id}"): [
            [{"op": "replace", "path": "/name", "value": "patched"}],
            [{"op": "add", "path": "/color", "value": "red"}]],
    }


_NAMED = {"key": "key", "server_id": "server", "flavor_id": "flavor", "image_id": "image",
          "user_id": "user", "project_id": "project", "role_id": "role",
          "domain_id": "domain"}


def _kind(path: str, name: str) -> str | None:
    """Which resource a path parameter names."""
    if name in _NAMED:
        return _NAMED[name]
    if "/os-instance-actions/" in path:
        return "request"
    for segment, kind in ((f"{V}/servers/", "server"), ("/flavors/", "flavor"),
                          ("/images/", "image"), ("/os-hypervisors/", "hypervisor"),
                          ("/os-keypairs/", "keypair"), ("/os-quota-sets/", "project"),
                          ("/networks/", "network")):
        if segment in path:
            return kind
    return None


@pytest.fixture(scope="module")
def api_schema(live_stack: Stack) -> Any:
    schema = schemathesis.openapi.from_url(f"{live_stack.base_url}/openapi.json")
    common, victims = _existing(live_stack)
    bodies = _valid_bodies(live_stack)

    @schema.hook
    def flatmap_path_parameters(ctx: Any, path_parameters: dict) -> Any:
        if not path_parameters:
            return st.just(path_parameters)
        path = ctx.operation.path
        existing = victims if ctx.operation.method.upper() == "DELETE" else common
        real = dict(path_parameters)
        for name in path_parameters:
            kind = _kind(path, name)
            if kind and existing.get(kind):
                real[name] = None
        return st.sampled_from([path_parameters, real]).flatmap(
            lambda chosen: _fill(chosen, path, existing))

    @schema.hook
    def flatmap_body(ctx: Any, body: Any) -> Any:
        valid = bodies.get((ctx.operation.method.upper(), ctx.operation.path))
        return st.sampled_from([body, *valid]) if valid else st.just(body)

    return schema


def _fill(params: dict, path: str, existing: dict[str, list[str]]) -> Any:
    """``params`` with each None drawn from the existing ids of its kind."""
    strategies = {}
    for name, value in params.items():
        kind = _kind(path, name)
        if value is None and kind:
            strategies[name] = st.sampled_from(existing[kind])
        else:
            strategies[name] = st.just(value)
    return st.fixed_dictionaries(strategies)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, live_stack):
    session: requests.Session = live_stack.session
    # NOTE: schemathesis fills the documented X-Auth-Token header with
    # random text; the admin's real token replaces it, or every case is a 401.
    case.headers = {**(case.headers or {}), "X-Auth-Token": session.headers["X-Auth-Token"]}
    response = case.call_and_validate(session=session, checks=CHECKS, timeout=30)
    if STATUS_LOG:
        with open(STATUS_LOG, "a") as f:
            f.write(f"{case.operation.label} {response.status_code} {case.formatted_path}\n")
