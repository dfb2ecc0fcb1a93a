"""Tokens: Fernet-encrypted payloads, so validating one needs no token table.

The payload says who (user id), where (project id, or none for an
unscoped token), how (methods), which (audit ids: this token's, then the
one it was made from) and until when. A revoked token's audit id is kept
in the database until the token would have expired anyway.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import uuid

from cryptography import fernet as _fernet
from oslo_utils import timeutils

from novalite.identity import fernet, store

_EPOCH = datetime.datetime(1970, 1, 1)


def _to_ts(when: datetime.datetime) -> float:
    return round((when - _EPOCH).total_seconds(), 6)


def _from_ts(ts: float) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(seconds=ts)


def new_audit_id() -> str:
    # NOTE: Keystone's form: 16 random bytes, urlsafe base64 without padding.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclasses.dataclass(frozen=True)
class Token:
    user_id: str
    project_id: str | None
    methods: tuple[str, ...]
    audit_ids: tuple[str, ...]
    issued_at: datetime.datetime
    expires_at: datetime.datetime

    @property
    def expired(self) -> bool:
        return timeutils.utcnow() >= self.expires_at


def encode(token: Token) -> str:
    payload = {"u": token.user_id, "p": token.project_id, "m": list(token.methods),
               "a": list(token.audit_ids), "i": _to_ts(token.issued_at),
               "e": _to_ts(token.expires_at)}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return fernet.KEYS.get().encrypt(raw).decode()


def decode(token_id: str) -> Token | None:
    """The token's payload; None for anything that is not a token of ours
    (wrong key, tampered, truncated, garbage). Expiry is not checked here."""
    try:
        raw = fernet.KEYS.get().decrypt(token_id.encode("ascii"))
        p = json.loads(raw)
        return Token(user_id=str(p["u"]), project_id=p["p"], methods=tuple(p["m"]),
                     audit_ids=tuple(p["a"]), issued_at=_from_ts(p["i"]),
                     expires_at=_from_ts(p["e"]))
    except (_fernet.InvalidToken, UnicodeError, ValueError, KeyError, TypeError):
        return None


def revoke(token: Token) -> None:
    store.token_revoke(token.audit_ids[0], token.expires_at)
