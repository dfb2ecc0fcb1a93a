"""Identity queries: projects, users, role assignments, failed
authentications, revoked tokens.

Rows come back as plain dicts (as ``db.api`` returns them)."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from oslo_utils import timeutils, uuidutils
from sqlalchemy import exc as sa_exc

from novalite import exception
from novalite.db import models
from novalite.db.retry import retry_on_db_error
from novalite.db.session import transaction
from novalite.identity import DEFAULT_DOMAIN_ID

# -- projects ---------------------------------------------------------------


@retry_on_db_error(idempotent=False)
def project_create(name: str, description: str = "",
                   domain_id: str = DEFAULT_DOMAIN_ID) -> dict:
    try:
        with transaction() as s:
            row = models.Project(id=uuidutils.generate_uuid(dashed=False), name=name,
                                 domain_id=domain_id, description=description, enabled=True)
            s.add(row)
            s.flush()
            return row.as_dict()
    except sa_exc.IntegrityError as e:
        raise exception.ProjectExists(name=name, domain_id=domain_id) from e


@retry_on_db_error
def project_get(project_id: str) -> dict:
    with transaction() as s:
        row = s.get(models.Project, project_id)
        if row is None:
            raise exception.ProjectNotFound(project=project_id)
        return row.as_dict()


@retry_on_db_error
def project_get_by_name(name: str, domain_id: str = DEFAULT_DOMAIN_ID) -> dict:
    with transaction() as s:
        row = s.scalar(sa.select(models.Project).filter_by(name=name, domain_id=domain_id))
        if row is None:
            raise exception.ProjectNotFound(project=name)
        return row.as_dict()


@retry_on_db_error
def project_list(name: str | None = None, ids: list[str] | None = None) -> list[dict]:
    with transaction() as s:
        q = sa.select(models.Project).order_by(models.Project.name)
        if name is not None:
            q = q.filter_by(name=name)
        if ids is not None:
            q = q.where(models.Project.id.in_(ids))
        return [r.as_dict() for r in s.scalars(q)]


# -- users ------------------------------------------------------------------


@retry_on_db_error(idempotent=False)
def user_create(name: str, password_hash: str | None, default_project_id: str | None = None,
                domain_id: str = DEFAULT_DOMAIN_ID) -> dict:
    try:
        with transaction() as s:
            row = models.User(id=uuidutils.generate_uuid(dashed=False), name=name,
                              domain_id=domain_id, password_hash=password_hash, enabled=True,
                              default_project_id=default_project_id)
            s.add(row)
            s.flush()
            return row.as_dict()
    except sa_exc.IntegrityError as e:
        raise exception.UserExists(name=name, domain_id=domain_id) from e


@retry_on_db_error
def user_get(user_id: str) -> dict:
    with transaction() as s:
        row = s.get(models.User, user_id)
        if row is None:
            raise exception.UserNotFound(user=user_id)
        return row.as_dict()


@retry_on_db_error
def user_get_by_name(name: str, domain_id: str = DEFAULT_DOMAIN_ID) -> dict:
    with transaction() as s:
        row = s.scalar(sa.select(models.User).filter_by(name=name, domain_id=domain_id))
        if row is None:
            raise exception.UserNotFound(user=name)
        return row.as_dict()


@retry_on_db_error
def user_list(name: str | None = None) -> list[dict]:
    with transaction() as s:
        q = sa.select(models.User).order_by(models.User.name)
        if name is not None:
            q = q.filter_by(name=name)
        return [r.as_dict() for r in s.scalars(q)]


@retry_on_db_error
def user_update(user_id: str, values: dict) -> dict:
    with transaction() as s:
        row = s.get(models.User, user_id)
        if row is None:
            raise exception.UserNotFound(user=user_id)
        for key, value in values.items():
            setattr(row, key, value)
        s.flush()
        return row.as_dict()


@retry_on_db_error
def user_set_password_hash(user_id: str, password_hash: str,
                           now: datetime.datetime) -> dict:
    """A new password: tokens issued until ``now`` are revoked and every
    lockout of the user is cleared, in one transaction."""
    with transaction() as s:
        row = s.get(models.User, user_id)
        if row is None:
            raise exception.UserNotFound(user=user_id)
        row.password_hash = password_hash
        row.tokens_revoked_before = now
        s.execute(sa.delete(models.AuthFailure).where(models.AuthFailure.user_id == user_id))
        s.flush()
        return row.as_dict()


# -- failed authentications (lockout per user and source) --------------------


@retry_on_db_error
def auth_failures_get(user_id: str, source: str) -> tuple[int, datetime.datetime] | None:
    """The failure count of ``user_id`` from ``source`` and when the last was."""
    with transaction() as s:
        row = s.get(models.AuthFailure, (user_id, source))
        return (row.count, row.last_failure_at) if row is not None else None


@retry_on_db_error(idempotent=False)
def auth_failure_record(user_id: str, source: str, now: datetime.datetime,
                        forget_before: datetime.datetime) -> int:
    """Count one failure of ``user_id`` from ``source``; the new count.

    Failures whose last one is older than ``forget_before`` are forgotten
    first (for every user: this is what keeps the table small), so a count
    restarts at one after a quiet ``lockout_duration``."""
    for _attempt in range(3):
        try:
            with transaction() as s:
                s.execute(sa.delete(models.AuthFailure)
                          .where(models.AuthFailure.last_failure_at < forget_before))
                key = (models.AuthFailure.user_id == user_id) & \
                    (models.AuthFailure.source == source)
                done = s.execute(sa.update(models.AuthFailure).where(key).values(
                    count=models.AuthFailure.count + 1, last_failure_at=now))
                if not done.rowcount:  # type: ignore[attr-defined]
                    s.add(models.AuthFailure(user_id=user_id, source=source, count=1,
                                             last_failure_at=now))
                    s.flush()
                return s.scalar(sa.select(models.AuthFailure.count).where(key)) or 0
        except sa_exc.IntegrityError:
            continue  # another request added the row first: count on it
    raise exception.NovaliteException(
        f"could not record a failed authentication of user {user_id} from {source}")


@retry_on_db_error
def auth_failures_clear(user_id: str, source: str) -> None:
    with transaction() as s:
        s.execute(sa.delete(models.AuthFailure).where(
            (models.AuthFailure.user_id == user_id) & (models.AuthFailure.source == source)))


# -- role assignments -------------------------------------------------------


@retry_on_db_error(idempotent=False)
def role_assignment_add(user_id: str, project_id: str, role: str) -> bool:
    """Assign ``role``; False when the user already had it there."""
    try:
        with transaction() as s:
            s.add(models.RoleAssignment(user_id=user_id, project_id=project_id, role=role))
            s.flush()
        return True
    except sa_exc.IntegrityError:
        return False


@retry_on_db_error
def roles_on_project(user_id: str, project_id: str) -> list[str]:
    with transaction() as s:
        q = sa.select(models.RoleAssignment.role).filter_by(user_id=user_id,
                                                            project_id=project_id)
        return sorted(s.scalars(q))


@retry_on_db_error
def role_assignment_list(user_id: str | None = None,
                         project_id: str | None = None) -> list[dict]:
    with transaction() as s:
        q = sa.select(models.RoleAssignment).order_by(models.RoleAssignment.id)
        if user_id is not None:
            q = q.filter_by(user_id=user_id)
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
        return [r.as_dict() for r in s.scalars(q)]


@retry_on_db_error
def projects_of_user(user_id: str) -> list[dict]:
    """Enabled projects where the user has at least one role."""
    with transaction() as s:
        ids = sa.select(models.RoleAssignment.project_id).filter_by(user_id=user_id)
        q = (sa.select(models.Project).where(models.Project.id.in_(ids))
             .filter_by(enabled=True).order_by(models.Project.name))
        return [r.as_dict() for r in s.scalars(q)]


@retry_on_db_error
def token_subject(user_id: str, project_id: str | None, audit_ids: list[str],
                  issued_at: datetime.datetime,
                  ) -> tuple[dict, dict | None, list[str]] | None:
    """What validating a token needs, in one transaction: the user, the
    project and the user's roles there; None when any audit id is revoked,
    the user's tokens issued at ``issued_at`` are revoked (a new password)
    or the user is gone."""
    with transaction() as s:
        revoked = s.scalar(sa.select(sa.func.count()).select_from(models.RevokedToken)
                           .where(models.RevokedToken.audit_id.in_(audit_ids)))
        if revoked:
            return None
        user = s.get(models.User, user_id)
        if user is None:
            return None
        if user.tokens_revoked_before is not None and \
                issued_at <= user.tokens_revoked_before:
            return None
        if project_id is None:
            return user.as_dict(), None, []
        project = s.get(models.Project, project_id)
        if project is None:
            return None
        roles = s.scalars(sa.select(models.RoleAssignment.role)
                          .filter_by(user_id=user_id, project_id=project_id))
        return user.as_dict(), project.as_dict(), sorted(roles)


# -- revoked tokens ---------------------------------------------------------


@retry_on_db_error(idempotent=False)
def token_revoke(audit_id: str, expires_at: datetime.datetime) -> None:
    """Record a revoked audit id and forget the ones whose tokens expired."""
    now = timeutils.utcnow()
    try:
        with transaction() as s:
            s.execute(sa.delete(models.RevokedToken)
                      .where(models.RevokedToken.expires_at < now))
            if s.get(models.RevokedToken, audit_id) is None:
                s.add(models.RevokedToken(audit_id=audit_id, expires_at=expires_at))
    except sa_exc.IntegrityError:
        pass  # revoked at the same moment by another request: revoked either way


@retry_on_db_error
def token_is_revoked(audit_ids: list[str]) -> bool:
    with transaction() as s:
        return bool(s.scalar(sa.select(sa.func.count()).select_from(models.RevokedToken)
                             .where(models.RevokedToken.audit_id.in_(audit_ids))))
