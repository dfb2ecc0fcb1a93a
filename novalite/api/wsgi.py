"""The WSGI application: request ids, routing, microversions, contexts,
JSON bodies and error formats in one request life cycle.

``novalite.api.app.make_app()`` builds it; ``novalite.api.service.APIService`` serves it with
waitress. Controllers stay plain: they take a ``Request`` and keyword
arguments from the route, and return a dict (JSON), ``None`` (no body) or
a ``webob.Response``.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import oslo_messaging as messaging
import webob
from oslo_log import log as logging

from novalite import exception
from novalite.api import auth, errors, links, microversions, validation
from novalite.api.router import Match, Router
from novalite.conf import CONF
from novalite.metrics import api as metrics_api

LOG = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-OpenStack-Request-ID"
COMPUTE_REQUEST_ID_HEADER = "X-Compute-Request-ID"
# NOTE: set by the server (novalite.api.edge) on a request whose body it
# refused to read: (declared length or None when chunked, the route's limit).
BODY_REFUSED = "novalite.body_refused"
# NOTE: the matched route's template, set once routed (the metrics' label).
ROUTE = "novalite.route"

COMPUTE, IMAGE, IDENTITY = "compute", "image", "identity"
NETWORK = "network"


class Request(webob.Request):
    """A webob request with what the life cycle learned about it."""

    @property
    def context(self) -> Any:
        return self.environ["novalite.context"]

    @property
    def api_version(self) -> microversions.APIVersion:
        return self.environ.get("novalite.api_version", microversions.MIN_VERSION)

    @property
    def query(self) -> dict[str, Any]:
        """The query parameters the method declared (``@validation.query_schema``), typed."""
        return self.environ.get("novalite.query", {})

    @property
    def links(self) -> links.Links:
        return links.Links(links.root_url(self.host_url, self.script_name))


def response(code: int) -> Callable:
    """The success status of a controller method (Nova's ``@wsgi.response``)."""
    def decorator(fn: Callable) -> Callable:
        fn.wsgi_code = code  # type: ignore[attr-defined]
        return fn
    return decorator


def large_body(size: Callable[[], int]) -> Callable:
    """The route takes a body of up to ``size()`` bytes from an authenticated
    caller (image data); every other route and caller gets ``[api]
    max_request_body_size``. The server applies it before reading the body."""
    def decorator(fn: Callable) -> Callable:
        fn.wsgi_large_body = size  # type: ignore[attr-defined]
        return fn
    return decorator


@dataclasses.dataclass(frozen=True)
class BodyLimit:
    """How many body bytes a request may send, known from its method and path."""

    limit: int
    # NOTE: more than ``limit`` only once the caller is authenticated
    # (equal to ``limit`` on routes that declare nothing).
    authenticated_limit: int


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None,
                  ) -> webob.Response:
    resp = webob.Response(status=status, content_type="application/json", charset="UTF-8")
    resp.body = json.dumps(body).encode()
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def api_of(path: str) -> str | None:
    """Which API a path belongs to (its errors take that API's format)."""
    for prefix, api in ((links.COMPUTE_PREFIX, COMPUTE), (links.IMAGE_PREFIX, IMAGE),
                        (links.IDENTITY_PREFIX, IDENTITY), (links.NETWORK_PREFIX, NETWORK)):
        if path == prefix or path.startswith(prefix + "/"):
            return api
    return None


class Application:
    """One request's life: id → route → version → context → controller,
    with every failure answered in the format of the API it was for."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        req = Request(environ)
        started = time.monotonic()
        request_id = f"req-{uuid.uuid4()}"
        # NOTE: the raw WSGI path (latin-1 text): the API's prefix is ASCII,
        # and a path that is not UTF-8 still gets its API's error format.
        api = api_of(environ.get("PATH_INFO", ""))
        version = microversions.MIN_VERSION
        try:
            _check_encoding(req)
            version_error: errors.HTTPError | None = None
            if api == COMPUTE:
                try:
                    version = microversions.negotiate(req.headers)
                except errors.HTTPError as e:
                    version_error = e
            req.environ["novalite.api_version"] = version
            match = self._route(req, request_id)
            if version_error is not None and not match.public:
                raise version_error
            if BODY_REFUSED in environ:
                raise _body_too_large(req, *environ[BODY_REFUSED])
            resp = self._dispatch(req, match)
        except Exception as e:  # noqa: BLE001 - every failure gets an API answer
            resp = self._error(req, api, e, request_id)
        self._without_empty_type(resp)
        self._decorate(resp, api, version, request_id)
        elapsed = time.monotonic() - started
        LOG.info('%s "%s %s" status: %s len: %s time: %.4f', req.client_addr, req.method,
                 _logged_path(environ), resp.status_code, resp.content_length or 0, elapsed)
        route = environ.get(ROUTE)
        metrics_api.observe_request(route.split("/")[1] if route else api, req.method, route,
                                    resp.status_code, elapsed)
        return resp(environ, start_response)

    def body_limit(self, method: str, path: str) -> BodyLimit:
        """The body limit of ``method path``; called by the server once a
        request's headers are in, before any of its body is read."""
        limit = CONF.api.max_request_body_size
        try:
            match = self.router.match(method, path)
        except errors.HTTPError:
            return BodyLimit(limit, limit)
        large = getattr(getattr(match.controller, match.action), "wsgi_large_body", None)
        return BodyLimit(limit, max(limit, large()) if large is not None else limit)

    def largest_body(self) -> int:
        """The most body bytes any route may take (the server's own cap)."""
        limit = CONF.api.max_request_body_size
        sizes = [getattr(r.handler, "wsgi_large_body", None) for r in self.router.routes]
        return max([limit, *(size() for size in sizes if size is not None)])

    def authenticated(self, headers: Mapping[str, str]) -> bool:
        """Whether the headers carry a valid token (the server asks before it
        reads a body only an authenticated caller may send)."""
        try:
            auth.make_context(f"req-{uuid.uuid4()}", None, authenticate=True, headers=headers)
        except errors.HTTPError:
            return False
        return True

    def _route(self, req: Request, request_id: str) -> Match:
        inbound = req.headers.get(REQUEST_ID_HEADER)
        try:
            match = self.router.match(req.method, req.path_info)
            req.environ[ROUTE] = match.template
        except errors.HTTPError:
            # NOTE: a context still, so the log lines of this 404 carry the id.
            auth.make_context(request_id, inbound, authenticate=False)
            raise
        req.environ["novalite.context"] = auth.make_context(request_id, inbound,
                                                            authenticate=not match.public,
                                                            headers=req.headers,
                                                            identity_url=req.links.identity_root)
        return match

    def _dispatch(self, req: Request, match: Match) -> webob.Response:
        fn = getattr(match.controller, match.action)
        microversions.check_method(fn, req.api_version)
        kwargs: dict[str, Any] = dict(match.args)
        validation.check_strict_query(fn, req.api_version, req.GET, req.method)
        query = getattr(fn, "wsgi_query_schema", None)
        if query is not None and query.validates:
            req.environ["novalite.query"] = query.validate(req.GET)
        media_types = getattr(fn, "wsgi_media_types", None)
        if media_types:
            validation.check_media_type(media_types, req.content_type)
        if getattr(fn, "wsgi_body_validator", None) is not None:
            body = validation.parse_json(self._read_json_body(req))
            validator = validation.body_validator(fn, req.api_version)
            if validator is None:
                raise microversions.method_not_supported(req.api_version)
            validation.validate(validator, body)
            kwargs["body"] = body
        result = fn(req, **kwargs)
        if isinstance(result, webob.Response):
            return result
        code = getattr(fn, "wsgi_code", 200)
        if result is None:
            return webob.Response(status=code)
        return json_response(result, code)

    @staticmethod
    def _without_empty_type(resp: webob.Response) -> None:
        """No Content-Type on an answer without a body (webob adds text/html)."""
        if resp.content_length == 0 and "Content-Type" in resp.headers:
            del resp.headers["Content-Type"]

    @staticmethod
    def _read_json_body(req: Request) -> bytes:
        # NOTE: the server already refused a larger body before reading it;
        # this holds for an app served some other way (tests, WSGI servers).
        most = CONF.api.max_request_body_size
        if req.content_length is not None and req.content_length > most:
            raise _body_too_large(req, req.content_length, most)
        raw = req.body_file.read(most + 1)
        if len(raw) > most:
            raise _body_too_large(req, None, most)
        return raw

    def _error(self, req: Request, api: str | None, exc: Exception,
               request_id: str) -> webob.Response:
        code, message, headers = _classify(exc, request_id)
        if code >= 500:
            LOG.error("%s %s failed with %s: %s", req.method, _logged_path(req.environ), code,
                      message, exc_info=not isinstance(exc, errors.HTTPError | exception.NovaliteException))
        else:
            LOG.info("%s %s returned %s: %s", req.method, _logged_path(req.environ), code,
                     message)
        if api == IMAGE:
            return json_response(errors.glance_body(code, message), code, headers)
        if api == IDENTITY:
            return json_response(errors.keystone_body(code, message), code, headers)
        if api == NETWORK:
            return json_response(errors.neutron_body(code, message, exc), code, headers)
        return json_response(errors.nova_body(code, message), code, headers)

    @staticmethod
    def _decorate(resp: webob.Response, api: str | None, version: microversions.APIVersion,
                  request_id: str) -> None:
        resp.headers[REQUEST_ID_HEADER] = request_id
        if api == COMPUTE:
            resp.headers[COMPUTE_REQUEST_ID_HEADER] = request_id
            resp.headers.update(microversions.response_headers(version))


def _body_too_large(req: Request, length: int | None, limit: int) -> errors.HTTPError:
    size = f"{length} bytes" if length is not None else f"more than {limit} bytes"
    return errors.HTTPError(413, f"The request body ({size}) is larger than {req.method} "
                                 f"{req.path} accepts: at most {limit} bytes.")


def _check_encoding(req: Request) -> None:
    """400 for a path or query string that is not UTF-8 (webob would raise
    UnicodeDecodeError wherever it is first read)."""
    try:
        req.path_info  # noqa: B018 - decoding is the check
        req.GET  # noqa: B018
    except UnicodeDecodeError:
        raise errors.bad_request("The request path or query string is not valid UTF-8.") \
            from None


def _logged_path(environ: dict) -> str:
    """Path and query as received (percent-encoded), whatever their encoding."""
    path = urllib.parse.quote(environ.get("PATH_INFO", "").encode("latin-1", "replace"),
                              safe="/:@!$&'()*+,;=-._~")
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path


def _classify(exc: Exception, request_id: str) -> tuple[int, str, dict[str, str]]:
    """Status, user-visible message and headers for an exception.

    NOTE: only messages written for users are shown (HTTPError and
    NovaliteException); anything else is a bug whose details belong in the
    log, found there by the request id.
    """
    if isinstance(exc, errors.HTTPError):
        return exc.code, exc.message, exc.headers
    if isinstance(exc, exception.NovaliteException):
        return exc.code or 500, exc.format_message(), {}
    if isinstance(exc, messaging.MessagingTimeout):
        return 503, (f"A novalite service did not answer in time ({exc}); request "
                     f"{request_id} in the logs has the details."), {}
    return 500, (f"Unexpected API Error. The API log has the details under request id "
                 f"{request_id}."), {}
