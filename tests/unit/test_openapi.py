"""The OpenAPI document generated from the route table, and the query
parameter schemas that feed it (validated at request time)."""

from __future__ import annotations

import json

import pytest
import webob
from openapi_spec_validator import validate as validate_spec

from novalite.api import app as api_app
from novalite.api import openapi, validation, wsgi
from novalite.api.router import Router


class _Unreachable:
    def __getattr__(self, name: str):
        raise AssertionError(f"the API layer below was called ({name})")


@pytest.fixture
def app():
    return api_app.make_app(compute_api=_Unreachable(), image_api=_Unreachable())


def get(app, path: str, headers: dict | None = None) -> webob.Response:
    return webob.Request.blank(path, headers=headers or {}).get_response(app)


def test_document_is_valid_openapi_and_lists_every_route(app):
    resp = get(app, "/openapi.json", headers={"X-Auth-Token": "ignored"})
    assert resp.status_int == 200 and resp.content_type == "application/json"
    doc = resp.json
    validate_spec(doc)
    assert doc["openapi"].startswith("3.1")
    listed = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    routed = {(r.path, r.method) for r in app.router.routes}
    assert routed and listed == routed
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_document_is_public_and_names_the_server_the_client_used(app):
    doc = get(app, "/openapi.json", headers={"Host": "api.example:8774"}).json
    assert doc["servers"] == [{"url": "http://api.example:8774"}]
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []
    assert doc["components"]["securitySchemes"]["token"] == {
        "type": "apiKey", "in": "header", "name": "X-Auth-Token"}
    # NOTE: an authenticated operation inherits the token requirement.
    assert "security" not in doc["paths"]["/compute/v2.1/servers"]["get"]


def test_body_schema_status_and_errors_come_from_the_controller(app):
    doc = get(app, "/openapi.json").json
    post = doc["paths"]["/compute/v2.1/servers"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert "server" in body["properties"] and body["required"] == ["server"]
    assert post["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NovaError"}
    delete = doc["paths"]["/compute/v2.1/servers/{id}"]["delete"]
    assert "204" in delete["responses"] and "content" not in delete["responses"]["204"]
    assert delete["parameters"] == [{"name": "id", "in": "path", "required": True,
                                     "schema": {"type": "string", "minLength": 1}}]
    image_error = doc["paths"]["/image/v2/images/{id}"]["get"]["responses"]["404"]
    assert image_error["content"]["application/json"]["schema"]["$ref"].endswith(
        "/GlanceError")


class _Things:
    @validation.query_schema({"limit": {"type": "integer", "minimum": 1},
                              "deleted": {"type": "boolean"},
                              "tag": {"type": "array", "items": {"type": "string"}},
                              "sort_dir": {"type": "string", "enum": ["asc", "desc"]}})
    def index(self, req: wsgi.Request) -> dict:
        """List things."""
        return {"query": req.query}


@pytest.fixture
def things_app():
    router = Router()
    router.connect("/things", "GET", _Things(), "index")
    router.connect(openapi.DOCUMENT_PATH, "GET", openapi.OpenAPIController(router), "show",
                   public=True)
    router.finalize()
    return wsgi.Application(router)


def test_query_schema_types_values_and_ignores_unknown_parameters(things_app):
    resp = get(things_app, "/things?limit=3&deleted=False&tag=a&tag=b&is_public=None")
    assert resp.status_int == 200, resp.text
    assert resp.json["query"] == {"limit": 3, "deleted": False, "tag": ["a", "b"]}


@pytest.mark.parametrize("query, name", [
    ("limit=x", "limit"), ("limit=0", "limit"), ("deleted=maybe", "deleted"),
    ("sort_dir=up", "sort_dir"),
])
def test_query_schema_answers_400_naming_the_parameter(things_app, query, name):
    resp = get(things_app, f"/things?{query}")
    assert resp.status_int == 400
    message = resp.json["badRequest"]["message"]
    assert message.startswith(f"Invalid input for query parameters {name}."), message


def test_query_parameters_are_documented_with_their_schema(things_app):
    doc = get(things_app, "/openapi.json").json
    validate_spec(doc)
    op = doc["paths"]["/things"]["get"]
    assert op["summary"] == "List things."
    params = {p["name"]: p for p in op["parameters"]}
    assert params["limit"] == {"name": "limit", "in": "query", "required": False,
                               "schema": {"type": "integer", "minimum": 1}}
    assert params["tag"]["schema"]["type"] == "array"
    json.dumps(doc)


def test_a_route_connected_twice_is_refused():
    router = Router()
    router.connect("/things", "GET", _Things(), "index")
    with pytest.raises(ValueError, match="GET /things"):
        router.connect("/things", "GET", _Things(), "index")


def test_query_integers_beyond_64_bits_are_400(things_app):
    resp = get(things_app, "/things?limit=99999999999999999999999")
    assert resp.status_int == 400
    assert "out of range" in resp.json["badRequest"]["message"]


def test_a_documented_only_query_schema_is_listed_but_not_enforced():
    class _Loose:
        @validation.query_schema({"limit": {"type": "integer"}}, validate=False)
        def index(self, req: wsgi.Request) -> dict:
            return {"limit": req.GET.get("limit"), "typed": req.query}

    router = Router()
    router.connect("/loose", "GET", _Loose(), "index")
    router.finalize()
    app = wsgi.Application(router)
    resp = get(app, "/loose?limit=x")
    assert resp.status_int == 200 and resp.json == {"limit": "x", "typed": {}}
    params = openapi.document(router)["paths"]["/loose"]["get"]["parameters"]
    assert params == [{"name": "limit", "in": "query", "required": False,
                       "schema": {"type": "integer"}}]


def test_success_status_follows_the_declaration_or_the_return_annotation():
    from typing import Any

    class _Kinds:
        def as_dict(self, req: wsgi.Request) -> dict:
            return {}

        def nothing(self, req: wsgi.Request) -> None:
            return None

        @wsgi.response(202)
        def accepted(self, req: wsgi.Request) -> None:
            return None

        def own_answer(self, req: wsgi.Request) -> Any:
            return wsgi.json_response({}, 201)

    router = Router()
    for action in ("as_dict", "nothing", "accepted", "own_answer"):
        router.connect(f"/{action}", "POST", _Kinds(), action)
    doc = openapi.document(router)
    validate_spec(doc)

    def success(action: str) -> dict:
        responses = doc["paths"][f"/{action}"]["post"]["responses"]
        return {k: v for k, v in responses.items() if k.startswith("2")}

    assert list(success("as_dict")) == ["200"] and "content" in success("as_dict")["200"]
    assert success("nothing") == {"200": {"description": "Success"}}
    assert success("accepted") == {"202": {"description": "Success"}}
    assert list(success("own_answer")) == ["2XX"]
