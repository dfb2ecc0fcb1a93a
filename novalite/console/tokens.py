"""One-time console tokens (Nova's ConsoleAuthToken, kept in the database
so the API that issues a token and the proxy that takes it may be different
processes).

A token is 32 random bytes (``secrets``), given to the client once inside
the URL; the database keeps only its SHA-256, bound to the instance and
the address of the guest's serial port on its host, until ``[serial_console]
token_ttl`` seconds have passed. The proxy's ``consume`` removes it in the
transaction that reads it: a token opens one connection, once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
import urllib.parse

from novalite.conf import CONF
from novalite.db import console_auth as db

CONSOLE_TYPE = "serial"


@dataclasses.dataclass(frozen=True)
class Grant:
    """What a valid token allows: the instance's console at host:port."""

    instance_uuid: str
    host: str
    port: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(instance_uuid: str, host: str, port: int) -> str:
    """A new token for the instance's serial console at ``host:port``
    (expired tokens are dropped on the way)."""
    now = int(time.time())
    db.token_destroy_expired(now)
    token = secrets.token_urlsafe(32)
    db.token_create({"token_hash": _hash(token), "console_type": CONSOLE_TYPE,
                     "host": host, "port": int(port), "instance_uuid": instance_uuid,
                     "expires": now + CONF.serial_console.token_ttl})
    return token


def url_for(token: str) -> str:
    """``[serial_console] base_url`` with ``?token=`` (as Nova's URLs)."""
    base = CONF.serial_console.base_url
    sep = "&" if urllib.parse.urlsplit(base).query else "?"
    return f"{base}{sep}token={urllib.parse.quote(token, safe='')}"


def issue_url(instance_uuid: str, host: str, port: int) -> str:
    return url_for(issue(instance_uuid, host, port))


def consume(token: str) -> Grant | None:
    """The grant of a valid token, which is used up; None for a token that
    is unknown, used already or expired."""
    if not token or len(token) > 256:
        return None
    row = db.token_consume(_hash(token), int(time.time()))
    if row is None:
        return None
    return Grant(instance_uuid=row["instance_uuid"], host=row["host"], port=int(row["port"]))
