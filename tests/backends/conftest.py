"""Tests of the database layer on SQLite, PostgreSQL and MariaDB (each test
in a database of its own, dropped afterwards): real database servers, no
kernel objects, no guests, so they run on the parallel workers with the
unit and functional tests. The fixtures are the integration tests' own."""

from tests.integration.conftest import database_url, synced  # noqa: F401
