"""Read-only projects, users, roles and domains, for the lookups the CLI
and SDK make (``--project NAME`` ...), and a user's own password change.
An admin sees everything; anyone else sees their own user and the
projects they have a role on."""

from __future__ import annotations

import webob

from novalite import exception
from novalite.api import auth, errors, validation
from novalite.api.identity import schemas, views
from novalite.api.identity.tokens import caller, throttled
from novalite.api.wsgi import Request
from novalite.identity import DEFAULT_DOMAIN_ID, ROLE_IDS, ROLES, manager, store, throttle


def _forbidden(what: str) -> errors.HTTPError:
    return errors.HTTPError(403, f"You are not authorized to perform the requested action: "
                                 f"{what} needs the admin role.")


def _my_project_ids(me: manager.AuthInfo) -> set[str]:
    return {p["id"] for p in store.projects_of_user(me.user["id"])}


class ProjectsController:
    def index(self, req: Request) -> dict:
        me = caller(req)
        name = req.GET.get("name")
        projects = store.project_list(name=name)
        if not me.is_admin:
            mine = _my_project_ids(me)
            projects = [p for p in projects if p["id"] in mine]
        return {"projects": [views.project(p, req.links) for p in projects],
                "links": views.collection_links(req.links, "projects")}

    def show(self, req: Request, project_id: str) -> dict:
        me = caller(req)
        if not me.is_admin and project_id not in _my_project_ids(me):
            raise _forbidden(f"showing project {project_id}")
        try:
            project = store.project_get(project_id)
        except exception.ProjectNotFound as e:
            raise errors.not_found(e.format_message()) from e
        return {"project": views.project(project, req.links)}


class UsersController:
    def __init__(self, limiter: throttle.SourceThrottle | None = None) -> None:
        self.limiter = limiter or throttle.SourceThrottle()

    def index(self, req: Request) -> dict:
        me = caller(req)
        users = store.user_list(name=req.GET.get("name"))
        if not me.is_admin:
            users = [u for u in users if u["id"] == me.user["id"]]
        return {"users": [views.user(u, req.links) for u in users],
                "links": views.collection_links(req.links, "users")}

    def _user(self, req: Request, user_id: str) -> dict:
        me = caller(req)
        if not me.is_admin and user_id != me.user["id"]:
            raise _forbidden(f"showing user {user_id}")
        try:
            return store.user_get(user_id)
        except exception.UserNotFound as e:
            raise errors.not_found(e.format_message()) from e

    def show(self, req: Request, user_id: str) -> dict:
        return {"user": views.user(self._user(req, user_id), req.links)}

    def projects(self, req: Request, user_id: str) -> dict:
        user = self._user(req, user_id)
        projects = store.projects_of_user(user["id"])
        return {"projects": [views.project(p, req.links) for p in projects],
                "links": views.collection_links(req.links, f"users/{user_id}/projects")}

    @validation.schema(schemas.password_change)
    @validation.openapi(responses={
        "204": {"description": "The password is changed; the user's earlier tokens "
                               "are revoked."},
        "429": {"description": "Too many failed password authentications from the "
                               "caller's address lately; nothing was checked.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}}}})
    def change_password(self, req: Request, user_id: str, body: dict) -> webob.Response:
        """``POST /v3/users/{user_id}/password``, as Keystone: no token needed,
        the original password proves the user (throttled and locked out as
        any password authentication); every token issued before is revoked."""
        user = body["user"]
        try:
            manager.change_password(user_id, user["original_password"], user["password"],
                                    req.remote_addr, self.limiter)
        except exception.Unauthorized as e:
            raise auth.unauthorized(req.links.identity_root, e.format_message()) from e
        except throttle.Throttled as e:
            raise throttled(e) from e
        except exception.InvalidPassword as e:
            raise errors.bad_request(e.format_message()) from e
        return webob.Response(status=204)


class RolesController:
    def index(self, req: Request) -> dict:
        caller(req)
        name = req.GET.get("name")
        roles = [r for r in ROLES if name is None or r == name]
        return {"roles": [views.role(r, req.links) for r in roles],
                "links": views.collection_links(req.links, "roles")}

    def show(self, req: Request, role_id: str) -> dict:
        caller(req)
        for name, rid in ROLE_IDS.items():
            if role_id in (rid, name):
                return {"role": views.role(name, req.links)}
        raise errors.not_found(f"Could not find role: {role_id}.")


class DomainsController:
    def index(self, req: Request) -> dict:
        caller(req)
        name = req.GET.get("name")
        domains = [] if name not in (None, "Default") else [views.domain(req.links)]
        return {"domains": domains, "links": views.collection_links(req.links, "domains")}

    def show(self, req: Request, domain_id: str) -> dict:
        caller(req)
        if domain_id not in (DEFAULT_DOMAIN_ID, "Default"):
            raise errors.not_found(f"Could not find domain: {domain_id}.")
        return {"domain": views.domain(req.links)}
