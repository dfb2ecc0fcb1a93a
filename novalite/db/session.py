"""The public way into a database transaction for query modules that live
outside ``novalite/db`` (the identity service's ``novalite.identity.store``).

NOTE: ``db.api``'s ``_session`` stays private to the ``db`` package; this is
the one name other packages may use, with the same promise: one transaction,
committed at the end of the block, an error raised by COMMIT itself marked
for the retry decorator (``db.retry``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import orm

from novalite.db import api


@contextlib.contextmanager
def transaction() -> Iterator[orm.Session]:
    with api._session() as session:
        yield session
