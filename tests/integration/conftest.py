import pytest

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
