"""Password hashes with bcrypt.

NOTE: bcrypt reads at most 72 bytes and bcrypt 5 refuses longer input;
rather than silently ignoring the rest (as older bcrypt did), a longer
password is refused when it is set, and fails when it is tried.
"""

from __future__ import annotations

import functools

import bcrypt

from novalite import exception
from novalite.conf import CONF

MAX_BYTES = 72


def check_new(password: str) -> bytes:
    """The password as bytes, or InvalidPassword saying what is wrong."""
    raw = password.encode("utf-8")
    if not raw:
        raise exception.InvalidPassword(reason="it is empty.")
    if len(raw) > MAX_BYTES:
        raise exception.InvalidPassword(
            reason=f"it is {len(raw)} bytes long; the most is {MAX_BYTES} bytes (UTF-8).")
    if b"\0" in raw:
        raise exception.InvalidPassword(reason="it contains a NUL character.")
    return raw


def hash_password(password: str) -> str:
    raw = check_new(password)
    return bcrypt.hashpw(raw, bcrypt.gensalt(CONF.identity.password_hash_rounds)).decode()


@functools.lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"novalite-dummy-password", bcrypt.gensalt(rounds))


def verify(password: str, hashed: str | None) -> bool:
    """Whether ``password`` matches ``hashed``. With no hash (unknown user,
    user without a password) a dummy hash is checked anyway, so the answer
    takes about as long either way."""
    raw = password.encode("utf-8")
    target = hashed.encode() if hashed else _dummy_hash(CONF.identity.password_hash_rounds)
    if len(raw) > MAX_BYTES or b"\0" in raw:
        raw = b"\0invalid"  # never matches; still costs one hash
    try:
        ok = bcrypt.checkpw(raw, target)
    except ValueError:
        return False
    return ok and hashed is not None
