"""Private resources on the machine's shared services, made per test run and
dropped afterwards: a PostgreSQL database, a MariaDB database, a RabbitMQ
vhost. A missing service fails the test; nothing here ever skips."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MYSQL_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/"


def _name() -> str:
    return f"novalite_test_{uuid.uuid4().hex[:10]}"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    name = _name()
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                         autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        from novalite.db import api as db_api

        db_api.dispose()
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                             autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mariadb_admin(statement: str) -> None:
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="",
                           connect_timeout=5, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@contextlib.contextmanager
def mariadb_database() -> Iterator[str]:
    name = _name()
    _mariadb_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
    finally:
        from novalite.db import api as db_api

        db_api.dispose()
        _mariadb_admin(f"DROP DATABASE IF EXISTS `{name}`")


@contextlib.contextmanager
def sqlite_database(tmp_dir: str) -> Iterator[str]:
    yield f"sqlite:///{tmp_dir}/novalite-{uuid.uuid4().hex[:8]}.sqlite"


def purge_domains(conn: Any, prefix: str) -> None:
    """Destroy and undefine every libvirt domain whose name starts with prefix."""
    import libvirt

    for dom in conn.listAllDomains(0):
        if not dom.name().startswith(prefix):
            continue
        with contextlib.suppress(libvirt.libvirtError):
            dom.destroy()
        with contextlib.suppress(libvirt.libvirtError):
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


@contextlib.contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A vhost of our own: queues and exchanges die with it."""
    name = _name()
    _rabbitmqctl("add_vhost", name)
    try:
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"rabbit://guest:guest@127.0.0.1:5672/{name}"
    finally:
        _rabbitmqctl("delete_vhost", name)


DATABASES = {
    "sqlite": None,
    "postgresql": postgres_database,
    "mariadb": mariadb_database,
}
