"""Issue 11 item 4: the database transactions of POST /servers and DELETE,
counted (each BEGIN on the engine, in the thread serving the request).

Before: 11 per POST (token, flavor, image, the project's limits three times,
its usage twice, instance, request spec, block device mapping), 5 per DELETE.
Now, with a token seen in the last ``[identity] token_cache_time`` seconds:
flavor, image and one transaction recording instance, spec and mapping with
the quota check; a DELETE no longer reads the token either.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from novalite.api import wsgi
from novalite.db import api as db_api
from tests.functional.stack import Stack


class _Transactions:
    """BEGINs per request, by the novalite function that began them."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.by_request: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter)

    def on_begin(self, _conn: object) -> None:
        key = getattr(self.local, "key", None)
        if key is not None:
            import traceback

            frames = [f for f in traceback.extract_stack()
                      if "/novalite/" in f.filename and f.name not in (
                          "_session", "transaction", "get_engine", "wrapper")]
            self.by_request[key][frames[-1].name if frames else "?"] += 1


@pytest.fixture
def counted(tmp_path, monkeypatch) -> Iterator[tuple[Stack, _Transactions]]:
    quotas = {("quota", name): -1 for name in ("instances", "cores", "ram")}
    stack = Stack(str(tmp_path), auth="novalite", overrides=quotas).start()
    tx = _Transactions()
    original = wsgi.Application.__call__

    def call(app: wsgi.Application, environ: dict, start: object) -> object:
        tx.local.key = f"{environ['REQUEST_METHOD']} {len(tx.by_request)}"
        try:
            return original(app, environ, start)
        finally:
            tx.local.key = None

    monkeypatch.setattr(wsgi.Application, "__call__", call)
    engine = db_api.get_engine()
    sa.event.listen(engine, "begin", tx.on_begin)
    try:
        yield stack, tx
    finally:
        sa.event.remove(engine, "begin", tx.on_begin)
        stack.stop()


def test_post_and_delete_servers_take_few_transactions(counted):
    stack, tx = counted
    warm = stack.boot(name="warm")  # the token is read once, then cached
    stack.wait_status(warm["id"], "ACTIVE")
    tx.by_request.clear()

    server = stack.boot(name="counted")
    [post] = [c for k, c in tx.by_request.items() if k.startswith("POST")]
    # the flavor, the image, the networks "auto" may take (for the port
    # quota, as Nova checks it before building), and the records with the
    # quota check (the project's limits and the default quota class in it)
    assert sum(post.values()) == 4 and post["image_get"] == post["_insert"] == 1, post
    assert post["network_get_all"] == 1, post
    stack.wait_status(server["id"], "ACTIVE")

    tx.by_request.clear()
    resp = stack.compute("DELETE", f"/servers/{server['id']}")
    assert resp.status_code == 204, resp.text
    [delete] = [c for k, c in tx.by_request.items() if k.startswith("DELETE")]
    assert "token_subject" not in delete and sum(delete.values()) <= 4, delete
    stack.wait_gone(server["id"])
