"""Issue 11 item 4: validating one token again within ``[identity]
token_cache_time`` reads the database once; every identity write of this
process (revocation, disabled user or project, password change, a role
given or taken) applies at once; a write the process did not see (another
API worker, novalite-manage) applies within the cache time. SQLite."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from novalite import exception
from novalite.conf import CONF
from novalite.db import api as db_api
from novalite.db import models
from novalite.identity import manager, store, token_cache
from tests.unit.test_identity import _auth, db, state  # noqa: F401 - fixtures


class _Reads:
    """Counts the database reads of token validation (token_subject)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.count += 1
        return self._original(*args, **kwargs)


@pytest.fixture
def reads(db, monkeypatch) -> Iterator[_Reads]:  # noqa: F811 - the fixture
    counter = _Reads()
    counter._original = store.token_subject  # type: ignore[attr-defined]
    monkeypatch.setattr(store, "token_subject", counter)
    token_cache.invalidate()
    yield counter
    token_cache.invalidate()
    CONF.clear_override("token_cache_time", group="identity")


def _token(user: str, role: str = "member") -> tuple[dict, str]:
    row = manager.create_user(user, f"pw-{user}", "proj", role)
    return row, manager.authenticate(_auth(user, f"pw-{user}", "proj")).token_id


def test_repeated_validation_reads_once_and_revocation_applies_at_once(reads):
    _, token = _token("ann")
    for _ in range(5):
        assert manager.validate(token).user["name"] == "ann"
    assert reads.count == 1
    info = manager.validate(token)
    info.user["name"] = "changed by a caller"
    assert manager.validate(token).user["name"] == "ann"
    manager.revoke(info)
    with pytest.raises(exception.Unauthorized):
        manager.validate(token)


def test_disabled_user_or_project_new_password_and_new_role_apply_at_once(reads):
    user, token = _token("ben", "reader")
    assert manager.validate(token).roles == ["reader"]
    manager.add_role("ben", "proj", "member")
    assert manager.validate(token).roles == ["member", "reader"]
    store.user_update(user["id"], {"enabled": False})
    with pytest.raises(exception.Unauthorized):
        manager.validate(token)

    _, token = _token("cid")
    manager.validate(token)
    project = store.project_get_by_name("proj")
    # a Core UPDATE through the identity store's own transaction
    from novalite.db.session import transaction

    with transaction() as s:
        s.execute(sa.update(models.Project).where(models.Project.id == project["id"])
                  .values(enabled=False))
    with pytest.raises(exception.Unauthorized):
        manager.validate(token)
    with transaction() as s:
        s.execute(sa.update(models.Project).where(models.Project.id == project["id"])
                  .values(enabled=True))

    _, token = _token("dan")
    manager.validate(token)
    manager.set_password("dan", "a-new-password")
    with pytest.raises(exception.Unauthorized):
        manager.validate(token)


def test_a_write_this_process_did_not_see_applies_within_the_cache_time(reads):
    CONF.set_override("token_cache_time", 1, group="identity")
    user, token = _token("eve")
    manager.validate(token)
    # as another process would: a connection outside the ORM sessions
    with db_api.get_engine().begin() as conn:
        conn.execute(sa.update(models.User.__table__)
                     .where(models.User.__table__.c.id == user["id"]).values(enabled=False))
    manager.validate(token)  # served from the cache ...
    time.sleep(1.1)
    with pytest.raises(exception.Unauthorized):  # ... for at most token_cache_time
        manager.validate(token)


def test_cache_time_zero_reads_every_time(reads):
    CONF.set_override("token_cache_time", 0, group="identity")
    _, token = _token("fay")
    for _ in range(3):
        manager.validate(token)
    assert reads.count == 3


def test_a_read_that_raced_with_a_write_is_not_kept(reads):
    _, token = _token("gus")
    gen = token_cache.generation()
    subject = reads._original(*_subject_args(token))  # type: ignore[attr-defined]
    token_cache.invalidate()  # a write committed after the read began
    token_cache.put(token, subject, gen)
    assert token_cache.get(token) is None


def _subject_args(token_id: str) -> tuple:
    from novalite.identity import tokens

    t = tokens.decode(token_id)
    assert t is not None
    return t.user_id, t.project_id, list(t.audit_ids), t.issued_at
