"""Authentication and scoping: from credentials to a token, and from a
token back to who is asking.

Every credential failure raises the same ``Unauthorized`` (unknown user,
wrong password, disabled or locked-out user, bad token), so an attacker
learns nothing about which part was wrong. Once the credentials are good,
scope errors say what is wrong with the scope.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from oslo_log import log as logging
from oslo_utils import timeutils

from novalite import exception
from novalite.conf import CONF
from novalite.identity import (
    DEFAULT_DOMAIN_ID,
    DEFAULT_DOMAIN_NAME,
    ROLES,
    effective_roles,
    passwords,
    store,
    tokens,
)

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class AuthInfo:
    """A valid token with what it stands for, as the API needs it."""

    token_id: str
    token: tokens.Token
    user: dict
    project: dict | None
    roles: list[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


# -- credentials ------------------------------------------------------------


def _domain_id(ref: dict | None) -> str:
    """The domain of a user or project reference; only ``default`` exists."""
    ref = ref or {"id": DEFAULT_DOMAIN_ID}
    if ref.get("id") == DEFAULT_DOMAIN_ID or ref.get("name") == DEFAULT_DOMAIN_NAME:
        return DEFAULT_DOMAIN_ID
    raise exception.Unauthorized()


def _find_user(ref: dict) -> dict | None:
    try:
        if "id" in ref:
            return store.user_get(ref["id"])
        return store.user_get_by_name(ref["name"], _domain_id(ref.get("domain")))
    except (exception.UserNotFound, exception.Unauthorized):
        return None


def _locked(user: dict, now: datetime.datetime) -> bool:
    """Whether the user is locked out now. A lockout that has run out is
    forgotten here, so the next failure counts from one again."""
    limit = CONF.identity.lockout_failure_attempts
    if not limit or user["failed_auth_count"] < limit:
        return False
    since = user["failed_auth_at"]
    if since is not None and now < since + datetime.timedelta(
            seconds=CONF.identity.lockout_duration):
        return True
    store.user_reset_failures(user["id"])
    user["failed_auth_count"] = 0
    return False


def check_password(user_ref: dict, password: str) -> dict:
    """The user these credentials prove, or Unauthorized."""
    now = timeutils.utcnow()
    user = _find_user(user_ref)
    locked = user is not None and _locked(user, now)
    # NOTE: the hash is checked in every case (a dummy one for an unknown
    # user) so the time taken does not tell which case it was.
    ok = passwords.verify(password, user["password_hash"] if user else None)
    if user is None or locked or not ok or not user["enabled"]:
        if user is not None and not locked and not ok:
            count = store.user_record_failure(user["id"], now)
            if count == CONF.identity.lockout_failure_attempts:
                LOG.warning("User %s (%s) is locked out for %ss after %s failed "
                            "password authentications", user["name"], user["id"],
                            CONF.identity.lockout_duration, count)
        LOG.info("Password authentication failed for %s", user_ref.get("id")
                 or user_ref.get("name"))
        raise exception.Unauthorized()
    if user["failed_auth_count"]:
        store.user_reset_failures(user["id"])
    return user


# -- tokens -----------------------------------------------------------------


def validate(token_id: str | None) -> AuthInfo:
    """Who a token stands for, now: Unauthorized when it is not a token of
    ours, expired, revoked, or its user, project or roles are gone."""
    token = tokens.decode(token_id) if token_id else None
    if token is None or token.expired:
        raise exception.Unauthorized()
    found = store.token_subject(token.user_id, token.project_id, list(token.audit_ids))
    if found is None:
        raise exception.Unauthorized()
    user, project, assigned = found
    if not user["enabled"] or (project is not None and
                               (not project["enabled"] or not assigned)):
        raise exception.Unauthorized()
    assert token_id is not None
    return AuthInfo(token_id, token, user, project, effective_roles(assigned))


def _project_for_scope(user: dict, scope: Any) -> dict | None:
    if scope == "unscoped":
        return None
    if scope is None:
        return _default_project(user)
    if "project" not in scope:
        raise exception.Invalid(reason="novalite scopes tokens to projects only: "
                                       "domain and system scopes are not supported.")
    ref = scope["project"]
    try:
        if "id" in ref:
            project = store.project_get(ref["id"])
        else:
            domain = ref.get("domain") or {"id": DEFAULT_DOMAIN_ID}
            if domain.get("id") != DEFAULT_DOMAIN_ID and \
                    domain.get("name") != DEFAULT_DOMAIN_NAME:
                raise exception.ProjectNotFound(
                    project=f"{ref['name']} in domain {domain.get('id') or domain.get('name')}")
            project = store.project_get_by_name(ref["name"])
    except exception.ProjectNotFound as e:
        raise exception.Unauthorized(e.format_message()) from e
    if not project["enabled"]:
        raise exception.Unauthorized(f"Project {project['id']} is disabled.")
    return project


def _default_project(user: dict) -> dict | None:
    """An unscoped request gets the user's default project, or its only one."""
    projects = store.projects_of_user(user["id"])
    for project in projects:
        if project["id"] == user["default_project_id"]:
            return project
    return projects[0] if len(projects) == 1 else None


def issue(user: dict, scope: Any, methods: list[str],
          parent: AuthInfo | None = None) -> AuthInfo:
    """A new token for an authenticated user, scoped as asked.

    A token made from another token keeps its expiry and audit chain, as
    Keystone's do: re-scoping never extends a token's life.
    """
    project = _project_for_scope(user, scope)
    assigned = store.roles_on_project(user["id"], project["id"]) if project else []
    if project is not None and not assigned:
        raise exception.Unauthorized(
            f"User {user['id']} has no access to project {project['id']}.")
    now = timeutils.utcnow()
    audit_ids: tuple[str, ...]
    if parent is not None:
        expires = parent.token.expires_at
        audit_ids = (tokens.new_audit_id(), parent.token.audit_ids[-1])
    else:
        expires = now + datetime.timedelta(seconds=CONF.identity.token_expiration)
        audit_ids = (tokens.new_audit_id(),)
    token = tokens.Token(user_id=user["id"], project_id=project["id"] if project else None,
                         methods=tuple(methods), audit_ids=audit_ids, issued_at=now,
                         expires_at=expires)
    return AuthInfo(tokens.encode(token), token, user, project, effective_roles(assigned))


def authenticate(auth: dict) -> AuthInfo:
    """``POST /v3/auth/tokens``: the body's ``auth`` (already schema-checked)."""
    identity = auth["identity"]
    methods = list(identity["methods"])
    if "password" in methods and "password" in identity:
        user = check_password(identity["password"]["user"],
                              identity["password"]["user"].get("password", ""))
        return issue(user, auth.get("scope"), ["password"])
    if "token" in methods and "token" in identity:
        parent = validate(identity["token"]["id"])
        return issue(parent.user, auth.get("scope"),
                     sorted(set(parent.token.methods) | {"token"}), parent)
    raise exception.Invalid(reason="identity.methods must name 'password' or 'token' "
                                   "and include its credentials.")


def revoke(info: AuthInfo) -> None:
    tokens.revoke(info.token)


# -- management (novalite-manage, bootstrap, tests) -------------------------


def create_project(name: str, description: str = "") -> dict:
    return store.project_create(name, description)


def ensure_project(name: str) -> dict:
    try:
        return store.project_get_by_name(name)
    except exception.ProjectNotFound:
        try:
            return store.project_create(name)
        except exception.ProjectExists:
            return store.project_get_by_name(name)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise exception.RoleNotFound(role=f"{role} (roles are {', '.join(ROLES)})")


def create_user(name: str, password: str, project: str | None = None,
                role: str = "member") -> dict:
    """A user with a password, given ``role`` on ``project`` (created when
    missing), which also becomes the user's default project."""
    _check_role(role)
    password_hash = passwords.hash_password(password)
    proj = ensure_project(project) if project else None
    user = store.user_create(name, password_hash, proj["id"] if proj else None)
    if proj is not None:
        store.role_assignment_add(user["id"], proj["id"], role)
    return user


def add_role(user: str, project: str, role: str) -> bool:
    """Give ``user`` (name or id) ``role`` on ``project`` (name or id)."""
    _check_role(role)
    u = _lookup(store.user_get_by_name, store.user_get, user)
    p = _lookup(store.project_get_by_name, store.project_get, project)
    return store.role_assignment_add(u["id"], p["id"], role)


def set_password(user: str, password: str) -> dict:
    u = _lookup(store.user_get_by_name, store.user_get, user)
    return store.user_update(u["id"], {"password_hash": passwords.hash_password(password),
                                       "failed_auth_count": 0, "failed_auth_at": None})


def _lookup(by_name: Any, by_id: Any, value: str) -> dict:
    try:
        return by_name(value)
    except exception.NotFound:
        return by_id(value)


def bootstrap(password: str, username: str = "admin", project: str = "admin") -> dict:
    """The first admin: ``username`` with role admin on ``project``. Kept
    as it is when it exists (its password is not reset)."""
    try:
        user = store.user_get_by_name(username)
    except exception.UserNotFound:
        try:
            return create_user(username, password, project, "admin")
        except exception.UserExists:
            user = store.user_get_by_name(username)
    proj = ensure_project(project)
    store.role_assignment_add(user["id"], proj["id"], "admin")
    return user
