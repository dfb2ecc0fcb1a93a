"""Key pair views as Nova's v2.1 shows them (no ``type`` before 2.2)."""

from __future__ import annotations

from novalite.api.views.common import naive_isotime
from novalite.objects.keypair import KeyPair


def basic(kp: KeyPair) -> dict:
    return {"name": kp.name, "public_key": kp.public_key, "fingerprint": kp.fingerprint}


def create(kp: KeyPair, private_key: str | None = None) -> dict:
    out = {**basic(kp), "user_id": kp.user_id}
    if private_key is not None:
        out["private_key"] = private_key
    return out


def show(kp: KeyPair) -> dict:
    return {
        **basic(kp),
        "user_id": kp.user_id,
        "id": kp.id,
        "created_at": naive_isotime(kp.created_at),
        "updated_at": naive_isotime(kp.updated_at),
        "deleted_at": naive_isotime(kp.deleted_at),
        "deleted": bool(kp.deleted),
    }
