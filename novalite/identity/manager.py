"""Authentication and scoping: from credentials to a token, and from a
token back to who is asking.

Every credential failure raises the same ``Unauthorized`` (unknown user,
wrong password, disabled or locked-out user, bad token), so an attacker
learns nothing about which part was wrong. The API throttles password
checks per source address first (``throttle``): a throttled caller gets
``Throttled`` and costs no hash. Once the credentials are good,
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
    throttle,
    token_cache,
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


def _failures(user_id: str, source: str) -> tuple[int, datetime.datetime] | None:
    """The user's recent failures from ``source``; None while lockout is off."""
    if not CONF.identity.lockout_failure_attempts:
        return None
    return store.auth_failures_get(user_id, source)


def _locked(failures: tuple[int, datetime.datetime] | None, now: datetime.datetime) -> bool:
    """Whether those failures lock the user out (from their source) now."""
    if failures is None:
        return False
    count, last = failures
    return count >= CONF.identity.lockout_failure_attempts and \
        now < last + datetime.timedelta(seconds=CONF.identity.lockout_duration)


def _record_failure(user: dict, source: str, now: datetime.datetime) -> None:
    limit = CONF.identity.lockout_failure_attempts
    if not limit:
        return
    duration = CONF.identity.lockout_duration
    count = store.auth_failure_record(user["id"], source, now,
                                      now - datetime.timedelta(seconds=duration))
    if count == limit:
        LOG.warning("User %s (%s) is locked out from %s for %ss after %s failed "
                    "password authentications from there", user["name"], user["id"],
                    source, duration, count)


def check_password(user_ref: dict, password: str, source: str | None = None,
                   limiter: throttle.SourceThrottle | None = None) -> dict:
    """The user these credentials prove, or Unauthorized; Throttled (before
    any lookup or hash) when ``limiter`` says ``source`` failed too often
    lately.

    ``source`` is the caller's address. The lockout is per user *and*
    source, so failures from one place never lock the user out elsewhere.
    """
    where = throttle.source_key(source)
    if limiter is not None:
        limiter.reserve(where)
    now = timeutils.utcnow()
    user = _find_user(user_ref)
    failures = _failures(user["id"], where) if user is not None else None
    locked = _locked(failures, now)
    # NOTE: the hash is checked in every case (a dummy one for an unknown
    # user, and while locked out) so the time taken does not tell which
    # case it was.
    ok = passwords.verify(password, user["password_hash"] if user else None)
    if user is None or locked or not ok or not user["enabled"]:
        if user is not None and not locked and not ok:
            _record_failure(user, where, now)
        LOG.info("Password authentication failed for %s from %s",
                 user_ref.get("id") or user_ref.get("name"), where)
        raise exception.Unauthorized()
    if limiter is not None:
        limiter.refund(where)
    if failures is not None:
        store.auth_failures_clear(user["id"], where)
    return user


# -- tokens -----------------------------------------------------------------


def validate(token_id: str | None) -> AuthInfo:
    """Who a token stands for, now: Unauthorized when it is not a token of
    ours, expired, revoked, or its user, project or roles are gone."""
    token = tokens.decode(token_id) if token_id else None
    if token is None or token.expired or token_id is None:
        raise exception.Unauthorized()
    found = token_cache.get(token_id)
    if found is None:
        generation = token_cache.generation()
        found = store.token_subject(token.user_id, token.project_id, list(token.audit_ids),
                                    token.issued_at)
        if found is None:
            raise exception.Unauthorized()
        token_cache.put(token_id, found, generation)
    user, project, assigned = found
    if not user["enabled"] or (project is not None and
                               (not project["enabled"] or not assigned)):
        raise exception.Unauthorized()
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
          parent: AuthInfo | None = None,
          issued_at: datetime.datetime | None = None) -> AuthInfo:
    """A new token for an authenticated user, scoped as asked.

    A token made from another token keeps its expiry and audit chain, as
    Keystone's do: re-scoping never extends a token's life. ``issued_at``
    is when checking the credentials began: a password change after that
    moment revokes this token too, even if it was issued later.
    """
    project = _project_for_scope(user, scope)
    assigned = store.roles_on_project(user["id"], project["id"]) if project else []
    if project is not None and not assigned:
        raise exception.Unauthorized(
            f"User {user['id']} has no access to project {project['id']}.")
    now = issued_at or timeutils.utcnow()
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


def authenticate(auth: dict, source: str | None = None,
                 limiter: throttle.SourceThrottle | None = None) -> AuthInfo:
    """``POST /v3/auth/tokens``: the body's ``auth`` (already schema-checked),
    from the caller's address ``source``, password checks throttled by
    ``limiter``."""
    identity = auth["identity"]
    methods = list(identity["methods"])
    started = timeutils.utcnow()
    if "password" in methods and "password" in identity:
        user = check_password(identity["password"]["user"],
                              identity["password"]["user"].get("password", ""), source,
                              limiter)
        return issue(user, auth.get("scope"), ["password"], issued_at=started)
    if "token" in methods and "token" in identity:
        parent = validate(identity["token"]["id"])
        return issue(parent.user, auth.get("scope"),
                     sorted(set(parent.token.methods) | {"token"}), parent,
                     issued_at=started)
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
    """A new password for ``user`` (name or id): every token issued until
    now is revoked (as Keystone's revocation event by user) and every
    lockout of the user is cleared."""
    u = _lookup(store.user_get_by_name, store.user_get, user)
    password_hash = passwords.hash_password(password)
    updated = store.user_set_password_hash(u["id"], password_hash, timeutils.utcnow())
    LOG.info("Password of user %s (%s) changed; its earlier tokens are revoked",
             updated["name"], updated["id"])
    return updated


def change_password(user_id: str, original_password: str, password: str,
                    source: str | None = None,
                    limiter: throttle.SourceThrottle | None = None) -> dict:
    """``POST /v3/users/{user_id}/password``: the user proves the original
    password (throttled and locked out like any password authentication),
    then gets the new one; InvalidPassword when the new one cannot be set."""
    passwords.check_new(password)
    user = check_password({"id": user_id}, original_password, source, limiter)
    return set_password(user["id"], password)


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
