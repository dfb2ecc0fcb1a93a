"""API errors and how each API spells them.

Controllers raise ``HTTPError`` (or let a ``NovaliteException`` through:
its ``code`` and ``format_message()`` are what the user sees). The
dispatcher turns either into the body its API uses: Nova's
``{"itemNotFound": {"code": 404, "message": ...}}`` for the Compute API,
webob's ``{"code": "404 Not Found", "title": ..., "message": ...}`` as
Glance answers for the Image API, Keystone's
``{"error": {"code": 404, "title": ..., "message": ...}}`` for the Identity API,
Neutron's ``{"NeutronError": {"type": ..., "message": ...}}`` for the Network API.
"""

from __future__ import annotations

from http import HTTPStatus

from novalite import exception

# NOTE: Nova's wsgi.Fault names; anything else is a computeFault.
_NOVA_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    501: "notImplemented",
    503: "serviceUnavailable",
}


class HTTPError(Exception):
    """An error answer the controller chose; ``message`` is user-visible."""

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> HTTPError:
    return HTTPError(400, message)


def not_found(message: str) -> HTTPError:
    return HTTPError(404, message)


def nova_fault_name(code: int) -> str:
    return _NOVA_NAMES.get(code, "computeFault")


def nova_body(code: int, message: str) -> dict:
    return {nova_fault_name(code): {"code": code, "message": message}}


def _title(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def glance_body(code: int, message: str) -> dict:
    title = _title(code)
    return {"code": f"{code} {title}", "title": title, "message": message}


def keystone_body(code: int, message: str) -> dict:
    return {"error": {"code": code, "title": _title(code), "message": message}}


def neutron_body(code: int, message: str, exc: Exception | None = None) -> dict:
    """Neutron's error body: ``{"NeutronError": {type, message, detail}}``."""
    kind = type(exc).__name__ if isinstance(exc, exception.NovaliteException) else \
        {400: "HTTPBadRequest", 401: "HTTPUnauthorized", 403: "HTTPForbidden",
         404: "HTTPNotFound", 405: "HTTPMethodNotAllowed", 409: "HTTPConflict"}.get(
            code, "HTTPInternalServerError")
    return {"NeutronError": {"type": kind, "message": message, "detail": ""}}
