"""Issue 10 item 5 on SQLite, PostgreSQL and MariaDB: a password change
revokes exactly the tokens issued before it, to the microsecond (MariaDB's
plain DATETIME would keep whole seconds and let a token issued earlier in
the same second live on), and the per-source failure count is atomic."""

from __future__ import annotations

import datetime

from oslo_utils import timeutils

from novalite.conf import CONF
from novalite.identity import manager, store


def test_revocation_by_password_change_is_exact_to_the_microsecond(synced):
    CONF.set_override("password_hash_rounds", 4, group="identity")
    try:
        user = manager.create_user("kim", "pw-kim")
        changed_at = datetime.datetime(2026, 12, 6, 8, 0, 0, 700000)
        store.user_set_password_hash(user["id"], user["password_hash"], changed_at)
        assert store.user_get(user["id"])["tokens_revoked_before"] == changed_at
        before = changed_at - datetime.timedelta(microseconds=400000)  # same second
        after = changed_at + datetime.timedelta(microseconds=1)
        assert store.token_subject(user["id"], None, ["a1"], before) is None
        assert store.token_subject(user["id"], None, ["a2"], after) is not None
    finally:
        CONF.clear_override("password_hash_rounds", group="identity")


def test_failures_count_per_user_and_source_and_old_ones_are_forgotten(synced):
    now = timeutils.utcnow()
    forget = now - datetime.timedelta(seconds=60)
    assert [store.auth_failure_record("u1", "192.0.2.7", now, forget)
            for _ in range(3)] == [1, 2, 3]
    assert store.auth_failure_record("u1", "2001:db8::/64", now, forget) == 1
    assert store.auth_failures_get("u1", "192.0.2.7")[0] == 3
    later = now + datetime.timedelta(seconds=120)
    assert store.auth_failure_record("u1", "192.0.2.7", later,
                                     later - datetime.timedelta(seconds=60)) == 1
    assert store.auth_failures_get("u1", "2001:db8::/64") is None
    store.auth_failures_clear("u1", "192.0.2.7")
    assert store.auth_failures_get("u1", "192.0.2.7") is None


def test_migration_006_downgrades_and_upgrades_again(synced):
    from alembic import command

    from novalite.db import api as db_api
    from novalite.db import migration

    with db_api.get_engine().begin() as conn:
        command.downgrade(migration._alembic_config(conn), "005")
    assert migration.db_version() == "005"
    migration.db_sync()
    assert migration.db_version() == migration.head_version()
