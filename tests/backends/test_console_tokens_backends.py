"""Serial console tokens on SQLite, PostgreSQL and MariaDB: issued tokens
serve once (also when many clients race with the same one), expire, and only
their hash is stored."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from novalite.conf import CONF
from novalite.console import tokens
from novalite.db import api as db_api

UUID = "0b5c6f0e-8a49-4f49-9d6c-6a0c4a1d2e33"


def test_a_token_serves_once_and_only_its_hash_is_kept(synced):
    token = tokens.issue(UUID, "127.0.0.1", 17001)
    with db_api.get_engine().connect() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM console_auth_tokens")).scalars()
        assert token not in list(stored)
    winners: list[tokens.Grant] = []
    lock = threading.Lock()

    def take() -> None:
        grant = tokens.consume(token)
        if grant is not None:
            with lock:
                winners.append(grant)

    threads = [threading.Thread(target=take) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert winners == [tokens.Grant(instance_uuid=UUID, host="127.0.0.1", port=17001)]
    assert tokens.consume(token) is None
    assert tokens.consume("not-a-token") is None


def test_an_expired_token_is_refused_and_dropped(synced):
    CONF.set_override("token_ttl", 1, group="serial_console")
    try:
        token = tokens.issue(UUID, "127.0.0.1", 17002)
    finally:
        CONF.clear_override("token_ttl", group="serial_console")
    time.sleep(2.1)
    # NOTE: the next issue drops expired tokens.
    fresh = tokens.issue(UUID, "127.0.0.1", 17003)
    with db_api.get_engine().connect() as conn:
        count = conn.execute(sa.text("SELECT COUNT(*) FROM console_auth_tokens")).scalar()
    assert count == 1
    assert tokens.consume(token) is None
    assert tokens.consume(fresh) is not None
