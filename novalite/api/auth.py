"""Who is asking: the RequestContext for each API request.

``[DEFAULT] auth_strategy`` picks how:

- ``novalite``: the built-in identity service (``novalite.identity``)
  validates the ``X-Auth-Token`` header; the token's user, project and
  roles (with the roles they imply) make the context.
- ``keystone``: an external Keystone validates it, through
  keystonemiddleware's ``auth_token`` (options in ``[keystone_authtoken]``),
  which is run on the request's headers and sets ``X-Identity-Status``,
  ``X-User-Id``, ``X-Project-Id``, ``X-Roles`` ... as it does in a paste
  pipeline (it removes any such header the caller sent first).
- ``noauth`` (tests only): the caller is whoever ``X-User-Id``,
  ``X-Project-Id`` and ``X-Roles`` (comma separated) say, an admin of
  project ``admin`` without them.

A request without a valid token gets 401 with
``WWW-Authenticate: Keystone uri="<identity endpoint>"``, which tells a
client where to get one.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

import webob
from oslo_log import log as logging

from novalite import context as nl_context
from novalite import exception
from novalite.api import errors
from novalite.conf import CONF

LOG = logging.getLogger(__name__)

_GLOBAL_ID = re.compile(r"^req-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
_warned = threading.Event()
AUTH_TOKEN_HEADER = "X-Auth-Token"
UNAUTHORIZED = exception.Unauthorized.msg_fmt


def unauthorized(identity_url: str | None, message: str = UNAUTHORIZED) -> errors.HTTPError:
    """401 that names where to authenticate, as Keystone and its middleware do."""
    uri = identity_url or ""
    if CONF.auth_strategy == "keystone":
        uri = _keystone_www_authenticate_uri() or uri
    return errors.HTTPError(401, message, headers={"WWW-Authenticate": f'Keystone uri="{uri}"'})


def make_context(request_id: str, inbound_id: str | None,
                 authenticate: bool = True,
                 headers: Mapping[str, str] | None = None,
                 identity_url: str | None = None) -> nl_context.RequestContext:
    """The context for a request, made current so oslo.log prints its id.

    ``authenticate=False`` is for documents anyone may read (versions): they
    get an anonymous context whatever the strategy. ``identity_url`` is the
    Identity API's root the 401 answer points to.
    """
    # NOTE: a caller's own request id (another service calling us) is kept as
    # the global id, as oslo.middleware does, only when it has the right form.
    global_id = inbound_id if inbound_id and _GLOBAL_ID.match(inbound_id) else None
    headers = headers or {}
    ids: dict[str, Any] = {"request_id": request_id, "global_request_id": global_id}
    if not authenticate:
        ctx = nl_context.RequestContext(**ids)
    elif CONF.auth_strategy == "novalite":
        ctx = _novalite_context(headers, identity_url, ids)
    elif CONF.auth_strategy == "keystone":
        ctx = _keystone_context(headers, identity_url, ids)
    else:
        ctx = _noauth_context(headers, ids)
    ctx.update_store()
    return ctx


def _noauth_context(headers: Mapping[str, str], ids: dict) -> nl_context.RequestContext:
    if not _warned.is_set():
        _warned.set()
        LOG.warning("auth_strategy=noauth: the API believes whoever the request "
                    "headers say the caller is (admin by default). Use it for tests only.")
    roles_header = headers.get("X-Roles")
    roles = ([r.strip() for r in roles_header.split(",") if r.strip()]
             if roles_header is not None else ["admin", "member", "reader"])
    return nl_context.RequestContext(user_id=headers.get("X-User-Id") or "admin",
                                     project_id=headers.get("X-Project-Id") or "admin",
                                     is_admin="admin" in roles, roles=roles, **ids)


def _novalite_context(headers: Mapping[str, str], identity_url: str | None,
                      ids: dict) -> nl_context.RequestContext:
    from novalite.identity import manager

    token = headers.get(AUTH_TOKEN_HEADER)
    try:
        info = manager.validate(token)
    except exception.Unauthorized as e:
        raise unauthorized(identity_url) from e
    if info.project is None:
        raise unauthorized(identity_url, "This API needs a project-scoped token; the token "
                                         "given is unscoped. Ask for one with a project scope.")
    return nl_context.RequestContext(
        user_id=info.user["id"], user_name=info.user["name"],
        user_domain_id=info.user["domain_id"], project_id=info.project["id"],
        project_name=info.project["name"], project_domain_id=info.project["domain_id"],
        roles=info.roles, is_admin=info.is_admin, auth_token=token, **ids)


# -- keystone (keystonemiddleware) ------------------------------------------

_middleware_lock = threading.Lock()
_middleware: Any = None


def _capture_app(environ: dict, start_response: Any) -> list[bytes]:
    start_response("204 No Content", [])
    return []


def _keystone_middleware() -> Any:
    """keystonemiddleware's auth_token around an app that only records what
    it was given; ``delay_auth_decision`` so that the 401 is ours, in the
    API's own error format."""
    global _middleware
    with _middleware_lock:
        if _middleware is None:
            from keystonemiddleware import auth_token

            _middleware = auth_token.AuthProtocol(_capture_app,
                                                  {"delay_auth_decision": True})
        return _middleware


def reset_keystone_middleware() -> None:
    """Forget the middleware (its options are read when it is made)."""
    global _middleware
    with _middleware_lock:
        _middleware = None


def _keystone_www_authenticate_uri() -> str | None:
    try:
        return CONF.keystone_authtoken.www_authenticate_uri
    except Exception:  # noqa: BLE001 - options not registered before the middleware runs
        return None


def _keystone_unavailable(reason: str) -> errors.HTTPError:
    return errors.HTTPError(503, "The identity service (Keystone) could not validate the "
                                 f"token ({reason}); check [keystone_authtoken].")


def _keystone_context(headers: Mapping[str, str], identity_url: str | None,
                      ids: dict) -> nl_context.RequestContext:
    req = webob.Request.blank("/")
    token = headers.get(AUTH_TOKEN_HEADER)
    if token:
        req.headers[AUTH_TOKEN_HEADER] = token
    service_token = headers.get("X-Service-Token")
    if service_token:
        req.headers["X-Service-Token"] = service_token
    try:
        resp = req.get_response(_keystone_middleware())
    except Exception as e:  # noqa: BLE001 - keystoneauth's errors are many; all mean the same
        LOG.exception("keystonemiddleware could not validate a token")
        raise _keystone_unavailable(f"{type(e).__name__}: {e}") from e
    if resp.status_int >= 500:
        raise _keystone_unavailable(f"keystonemiddleware answered {resp.status}")
    h = req.headers
    if h.get("X-Identity-Status") != "Confirmed" or not h.get("X-Project-Id"):
        raise unauthorized(identity_url)
    roles = [r.strip() for r in h.get("X-Roles", "").split(",") if r.strip()]
    return nl_context.RequestContext(
        user_id=h.get("X-User-Id"), user_name=h.get("X-User-Name"),
        user_domain_id=h.get("X-User-Domain-Id"), project_id=h.get("X-Project-Id"),
        project_name=h.get("X-Project-Name"), project_domain_id=h.get("X-Project-Domain-Id"),
        roles=roles, is_admin="admin" in roles, auth_token=token, **ids)
