"""``/v3/auth/tokens``: issue, validate, check and revoke tokens, as
Keystone answers them, plus ``/v3/auth/projects``.

These routes are public to the router: they authenticate the caller
themselves with the built-in identity service, whatever ``auth_strategy``
the other APIs use.
"""

from __future__ import annotations

import webob

from novalite import exception
from novalite.api import auth, errors, validation, wsgi
from novalite.api.identity import schemas, views
from novalite.api.wsgi import Request
from novalite.identity import catalog, manager, store, throttle

SUBJECT_TOKEN_HEADER = "X-Subject-Token"
# NOTE: for the OpenAPI document: validate, check and revoke name their
# subject in a header, and answer with a status of their own.
_SUBJECT_PARAM = {"name": SUBJECT_TOKEN_HEADER, "in": "header", "required": True,
                  "description": "The token to validate, check or revoke.",
                  "schema": {"type": "string"}}


def caller(req: Request) -> manager.AuthInfo:
    """The token in ``X-Auth-Token``, or 401 pointing at this identity API."""
    try:
        return manager.validate(req.headers.get(auth.AUTH_TOKEN_HEADER))
    except exception.Unauthorized as e:
        raise auth.unauthorized(req.links.identity_root) from e


def throttled(e: throttle.Throttled) -> errors.HTTPError:
    """429 with Retry-After, Keystone's error body: keystoneauth raises
    ``TooManyRequests`` with the message, so the CLI prints when to retry
    instead of blaming the password."""
    return errors.HTTPError(429, e.format_message(), headers={"Retry-After": str(e.retry_after)})


def _with_catalog(req: Request) -> bool:
    # NOTE: keystonemiddleware asks with ?nocatalog; Keystone then omits it.
    return "nocatalog" not in req.GET


class TokensController:
    def __init__(self, limiter: throttle.SourceThrottle | None = None) -> None:
        self.limiter = limiter or throttle.SourceThrottle()

    @validation.schema(schemas.auth_tokens)
    @validation.openapi(responses={
        "201": {"description": "A token: its id in the header, its body as Keystone's.",
                "headers": {SUBJECT_TOKEN_HEADER: {"schema": {"type": "string"}}}},
        "429": {"description": "Too many failed password authentications from the "
                               "caller's address lately; nothing was checked.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}}}})
    def create(self, req: Request, body: dict) -> webob.Response:
        try:
            info = manager.authenticate(body["auth"], req.remote_addr, self.limiter)
        except exception.Unauthorized as e:
            raise auth.unauthorized(req.links.identity_root, e.format_message()) from e
        except throttle.Throttled as e:
            raise throttled(e) from e
        return wsgi.json_response(views.token(info, req.links, _with_catalog(req)), 201,
                                  {SUBJECT_TOKEN_HEADER: info.token_id})

    def _subject(self, req: Request) -> tuple[manager.AuthInfo, manager.AuthInfo]:
        me = caller(req)
        subject_id = req.headers.get(SUBJECT_TOKEN_HEADER)
        if not subject_id:
            raise errors.bad_request(f"The {SUBJECT_TOKEN_HEADER} header is required: "
                                     "the token to validate, check or revoke.")
        try:
            subject = manager.validate(subject_id)
        except exception.Unauthorized as e:
            raise errors.not_found("Could not find token: the token in "
                                   f"{SUBJECT_TOKEN_HEADER} is not valid (expired, "
                                   "revoked or not issued here).") from e
        if not me.is_admin and me.user["id"] != subject.user["id"]:
            raise errors.HTTPError(403, "You are not authorized to perform the requested "
                                        "action: only an admin or the token's own user "
                                        "may validate or revoke it.")
        return me, subject

    @validation.openapi(parameters=[_SUBJECT_PARAM], responses={
        "200": {"description": "The token is valid: its body, as at issue.",
                "headers": {SUBJECT_TOKEN_HEADER: {"schema": {"type": "string"}}}}})
    def show(self, req: Request) -> webob.Response:
        _, subject = self._subject(req)
        return wsgi.json_response(views.token(subject, req.links, _with_catalog(req)), 200,
                                  {SUBJECT_TOKEN_HEADER: subject.token_id})

    @validation.openapi(parameters=[_SUBJECT_PARAM],
                        responses={"204": {"description": "The token is revoked."}})
    def delete(self, req: Request) -> webob.Response:
        _, subject = self._subject(req)
        manager.revoke(subject)
        return webob.Response(status=204)

    def catalog(self, req: Request) -> dict:
        """``GET /v3/auth/catalog``: the catalog of the caller's scoped token."""
        me = caller(req)
        if me.project is None:
            raise errors.HTTPError(403, "You are not authorized to perform the requested "
                                        "action: an unscoped token has no catalog.")
        return {"catalog": catalog.build(req.links.root),
                "links": views.collection_links(req.links, "auth/catalog")}

    def projects(self, req: Request) -> dict:
        """``GET /v3/auth/projects``: where the caller's token can be scoped."""
        me = caller(req)
        projects = store.projects_of_user(me.user["id"])
        return {"projects": [views.project(p, req.links) for p in projects],
                "links": views.collection_links(req.links, "auth/projects")}
