"""The OpenAPI 3.1 document of everything novalite serves, generated from
the code: the router's route table, each controller method's body schema
(``@validation.schema``), query parameters (``@validation.query_schema``),
success status (``@wsgi.response``), documented answer
(``@validation.response_schema``) and extras (``@validation.openapi``).

Nothing is written by hand per route, so a route added anywhere shows up
here; a method that declares nothing is still listed, with its path
parameters and a loose success answer. Served at ``/openapi.json``.
"""

from __future__ import annotations

import copy
import re
import threading
from typing import Any

from novalite.api import validation, wsgi
from novalite.api.router import Route, Router

OPENAPI_VERSION = "3.1.0"
TITLE = "novalite"
DOCUMENT_PATH = "/openapi.json"

_PATH_PARAM = re.compile(r"{(\w+)}")

# NOTE: the error body of each API (see novalite.api.errors).
_NOVA_ERROR = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
        "additionalProperties": False,
    },
}
_GLANCE_ERROR = {
    "type": "object",
    "required": ["code", "title", "message"],
    "properties": {"code": {"type": "string"}, "title": {"type": "string"},
                   "message": {"type": "string"}},
    "additionalProperties": False,
}
_KEYSTONE_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "title", "message"],
        "properties": {"code": {"type": "integer"}, "title": {"type": "string"},
                       "message": {"type": "string"}},
        "additionalProperties": False,
    }},
    "additionalProperties": False,
}
_NEUTRON_ERROR = {
    "type": "object",
    "required": ["NeutronError"],
    "properties": {"NeutronError": {
        "type": "object",
        "required": ["type", "message", "detail"],
        "properties": {"type": {"type": "string"}, "message": {"type": "string"},
                       "detail": {"type": "string"}},
        "additionalProperties": False,
    }},
    "additionalProperties": False,
}
_ERROR_SCHEMAS = {wsgi.COMPUTE: "NovaError", wsgi.IMAGE: "GlanceError",
                  wsgi.IDENTITY: "KeystoneError", wsgi.NETWORK: "NeutronError"}

_ERROR_TEXT = {
    400: "Bad request: a body, query or path value does not fit",
    401: "Not authenticated",
    403: "Not allowed by policy, or a read-only attribute",
    404: "Not found (or not visible to the caller)",
    405: "Method not allowed on this resource",
    409: "Conflict with the resource's state",
    413: "Body too large or over quota",
    415: "Unsupported media type",
}


def _error_codes(route: Route, has_body: bool) -> list[int]:
    # NOTE: public routes that authenticate by themselves (identity's
    # auth/tokens) answer 401 and the rest like any other.
    codes = [400, 401, 403, 404, 405, 409]
    if has_body or route.method in ("POST", "PUT", "PATCH"):
        codes.append(413)
    if getattr(route.handler, "wsgi_media_types", None):
        codes.append(415)
    return codes


def _operation_id(route: Route) -> str:
    words = re.sub(r"[^0-9A-Za-z]+", "_", route.path).strip("_")
    return f"{route.method.lower()}_{words or 'root'}"


def _tag(route: Route) -> str:
    first = route.path.strip("/").split("/", 1)[0]
    return first.removesuffix(".json") or "root"


def _summary(fn: Any) -> str | None:
    doc = (getattr(fn, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else None


def _parameters(route: Route, fn: Any) -> list[dict]:
    params = [{"name": name, "in": "path", "required": True,
               "schema": {"type": "string", "minLength": 1}}
              for name in _PATH_PARAM.findall(route.path)]
    query = getattr(fn, "wsgi_query_schema", None)
    if query is not None:
        for name, schema in query.params.items():
            params.append({"name": name, "in": "query", "required": name in query.required,
                           "schema": copy.deepcopy(schema)})
    return params


def _returns_json(fn: Any) -> bool | None:
    """True when the method's return annotation is a JSON body (dict or
    list), False when it is None (no body), None when it does not say
    (``Any``, a ``webob.Response`` it builds itself)."""
    returns = getattr(fn, "__annotations__", {}).get("return")
    if returns is None:
        return None
    text = returns if isinstance(returns, str) else getattr(returns, "__name__", str(returns))
    if text == "None":
        return False
    if text.split("[", 1)[0] in ("dict", "list", "Dict", "List"):
        return True
    return None


def _success(fn: Any, route: Route) -> dict[str, Any]:
    code = getattr(fn, "wsgi_code", None)
    schema = getattr(fn, "wsgi_response_schema", None)
    json_body = _returns_json(fn)
    if code is None and json_body is not None:
        # NOTE: what a method returns as a dict (or None), the dispatcher
        # answers with its default status.
        code = 200
    # NOTE: a method that builds its own answer and does not say which
    # status it uses: any success is allowed rather than guessed.
    key = "2XX" if code is None else str(code)
    answer: dict[str, Any] = {"description": "Success"}
    if schema is not None or (json_body and code != 204):
        answer["content"] = {"application/json": {
            "schema": copy.deepcopy(schema) if schema is not None else {}}}
    out = {key: answer}
    if code is None and route.public and route.method == "GET":
        # NOTE: OpenStack's version discovery answers 300 Multiple Choices.
        out["3XX"] = {"description": "Version choices",
                      "content": {"application/json": {"schema": {}}}}
    return out


def _operation(route: Route) -> dict:
    fn = route.handler
    api = wsgi.api_of(route.path)
    op: dict[str, Any] = {"operationId": _operation_id(route), "tags": [_tag(route)]}
    summary = _summary(fn)
    if summary:
        op["summary"] = summary
    parameters = _parameters(route, fn)
    if parameters:
        op["parameters"] = parameters
    validator = getattr(fn, "wsgi_body_validator", None)
    if validator is not None:
        types = getattr(fn, "wsgi_media_types", None) or ("application/json",)
        op["requestBody"] = {"required": True, "content": {
            media_type: {"schema": copy.deepcopy(validator.schema)} for media_type in types}}
    responses = _success(fn, route)
    error_ref = {"$ref": f"#/components/schemas/{_ERROR_SCHEMAS.get(api or '', 'NovaError')}"}
    for code in _error_codes(route, validator is not None):
        responses[str(code)] = {"description": _ERROR_TEXT[code],
                                "content": {"application/json": {"schema": error_ref}}}
    op["responses"] = responses
    if route.public:
        op["security"] = []
    extra = getattr(fn, "wsgi_openapi", None)
    if extra:
        extra = copy.deepcopy(extra)
        declared = extra.pop("responses", {})
        if any(key.startswith("2") for key in declared):
            op["responses"].pop("2XX", None)
        op["responses"].update(declared)
        op.update(extra)
    return op


def document(router: Router, server_url: str = "/") -> dict:
    """The OpenAPI document of ``router``'s routes, served from ``server_url``."""
    paths: dict[str, dict] = {}
    seen: set[str] = set()
    for route in router.routes:
        op = _operation(route)
        # NOTE: paths that differ only in punctuation ("/network" and
        # "/network/") would share an id; ids must be unique.
        base, n = op["operationId"], 1
        while op["operationId"] in seen:
            n += 1
            op["operationId"] = f"{base}_{n}"
        seen.add(op["operationId"])
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": TITLE, "version": "1.0",
                 "description": "Compute (Nova v2.1), Image (Glance v2 subset), Identity "
                                "and Network APIs of novalite, generated from its routes."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {"token": {"type": "apiKey", "in": "header",
                                          "name": "X-Auth-Token"}},
            "schemas": {"NovaError": _NOVA_ERROR, "GlanceError": _GLANCE_ERROR,
                        "KeystoneError": _KEYSTONE_ERROR, "NeutronError": _NEUTRON_ERROR},
        },
        "security": [{"token": []}],
    }


class OpenAPIController:
    """``GET /openapi.json``: public, built once from the finished route table."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._lock = threading.Lock()
        self._document: dict | None = None

    @wsgi.response(200)
    @validation.response_schema({"type": "object", "required": ["openapi", "info", "paths"]})
    def show(self, req: wsgi.Request) -> dict:
        """The OpenAPI document of this API."""
        with self._lock:
            if self._document is None:
                self._document = document(self.router)
        # NOTE: only the server URL depends on the request (the address the
        # client used, or [api] public_url).
        return {**self._document, "servers": [{"url": req.links.root or "/"}]}
