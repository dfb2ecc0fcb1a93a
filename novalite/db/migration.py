"""Schema migrations with alembic (``novalite-manage db sync``)."""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from novalite.db import api as db_api

_MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


def _alembic_config(connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", _MIGRATIONS)
    cfg.set_main_option("sqlalchemy.url", db_api.get_url().render_as_string(hide_password=False))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def db_sync(version: str = "head") -> None:
    """Upgrade the configured database to ``version`` (latest by default)."""
    engine = db_api.get_engine()
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), version)


def db_version() -> str | None:
    engine = db_api.get_engine()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_version() -> str | None:
    """The newest revision this code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()
