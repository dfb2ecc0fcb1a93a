import pytest

from novalite.conf import CONF
from novalite.db import api as db_api
from novalite.db import migration
from tests.integration import services


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database_url(request, tmp_path):
    """Each test using this runs on all three backends, each in a database of
    its own that is dropped afterwards."""
    if request.param == "sqlite":
        cm = services.sqlite_database(str(tmp_path))
    else:
        cm = services.DATABASES[request.param]()
    with cm as url:
        yield url


@pytest.fixture
def synced(database_url, tmp_path):
    """``database_url`` made the configured database, migrated to the newest
    schema; the engine and the overrides are dropped afterwards."""
    CONF.set_override("connection", database_url, group="database")
    CONF.set_override("state_path", str(tmp_path))
    db_api.dispose()
    try:
        migration.db_sync()
        yield database_url
    finally:
        db_api.dispose()
        CONF.clear_override("connection", group="database")
        CONF.clear_override("state_path")
