"""Key pair views as Nova shows them (``type`` from 2.2)."""

from __future__ import annotations

from novalite.api.views.common import naive_isotime
from novalite.objects.keypair import KeyPair


def basic(kp: KeyPair, typed: bool = False) -> dict:
    out = {"name": kp.name, "public_key": kp.public_key, "fingerprint": kp.fingerprint}
    if typed:
        out["type"] = kp.type
    return out


def create(kp: KeyPair, private_key: str | None = None, typed: bool = False) -> dict:
    out = {**basic(kp, typed), "user_id": kp.user_id}
    if private_key is not None:
        out["private_key"] = private_key
    return out


def show(kp: KeyPair, typed: bool = False) -> dict:
    return {
        **basic(kp, typed),
        "user_id": kp.user_id,
        "id": kp.id,
        "created_at": naive_isotime(kp.created_at),
        "updated_at": naive_isotime(kp.updated_at),
        "deleted_at": naive_isotime(kp.deleted_at),
        "deleted": bool(kp.deleted),
    }
