"""Key pairs: SSH public keys users import or have generated, by name per user.

Generated keys are RSA 2048 as Nova's at 2.1: the private key (PEM) is
returned once and never stored. Imported keys are checked by parsing them
with ``cryptography``; the fingerprint is Nova's (MD5 of the key blob, as
``ssh-keygen -l -E md5`` shows it).
"""

from __future__ import annotations

import base64
import hashlib
import string
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from novalite import exception, quota
from novalite.db import quotas as db_quotas
from novalite.objects.keypair import KeyPair, KeyPairList

KEYPAIR_TYPE_SSH = "ssh"
# NOTE: Nova's allowed characters for key pair names before 2.92.
_SAFE_CHARS = frozenset("_- " + string.digits + string.ascii_letters)


def get_key_pair(context: Any, user_id: str, name: str) -> KeyPair:
    """The user's key pair ``name``; KeypairNotFound (404)."""
    return KeyPair.get_by_name(context, user_id, name)


def get_key_pairs(context: Any, user_id: str) -> list[KeyPair]:
    return list(KeyPairList.get_by_user(context, user_id))


def delete_key_pair(context: Any, user_id: str, name: str) -> None:
    KeyPair.destroy_by_name(context, user_id, name)


# NOTE: the longest OpenSSH key line (RSA 16384 with a comment) is under
# 4 KiB; the bound keeps a huge comment from reaching the database.
MAX_PUBLIC_KEY_LENGTH = 16384


def fingerprint(public_key: str) -> str:
    """Nova's fingerprint of an OpenSSH public key line; InvalidKeypair if
    the key does not parse."""
    if len(public_key) > MAX_PUBLIC_KEY_LENGTH:
        raise exception.InvalidKeypair(reason=f"public key is longer than "
                                              f"{MAX_PUBLIC_KEY_LENGTH} characters")
    try:
        serialization.load_ssh_public_key(public_key.encode("utf-8"))
        blob = base64.b64decode(public_key.split()[1])
    except Exception:  # noqa: BLE001 - any parse failure is bad key data
        raise exception.InvalidKeypair(reason="failed to generate fingerprint") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _validate_name(name: str) -> None:
    if any(c not in _SAFE_CHARS for c in name):
        raise exception.InvalidKeypair(reason="Keypair name contains unsafe characters")
    if not 1 <= len(name) <= 255:
        raise exception.InvalidKeypair(
            reason="Keypair name must be string and between 1 and 255 characters long")


def _create(context: Any, user_id: str, name: str, public_key: str) -> KeyPair:
    _validate_name(name)
    project_id = getattr(context, "project_id", None)
    key_fingerprint = fingerprint(public_key)
    # NOTE: count and record under the user's quota lock, so racing creates
    # for the last free key pair are served in turn.
    with db_quotas.project_lock(f"key_pairs/{user_id}"):
        quota.enforce_key_pairs(project_id, user_id)
        keypair = KeyPair(context=context, name=name, user_id=user_id,
                          type=KEYPAIR_TYPE_SSH, public_key=public_key,
                          fingerprint=key_fingerprint)
        keypair.create()
        return keypair


def import_key_pair(context: Any, user_id: str, name: str, public_key: str) -> KeyPair:
    """Record the user's public key under ``name``: InvalidKeypair (400),
    KeyPairExists (409), KeypairLimitExceeded (403)."""
    return _create(context, user_id, name, public_key.strip())


def create_key_pair(context: Any, user_id: str, name: str) -> tuple[KeyPair, str]:
    """Generate a key pair; returns the record and the private key (PEM)."""
    _validate_name(name)
    quota.enforce_key_pairs(getattr(context, "project_id", None), user_id)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return _create(context, user_id, name, f"{public} Generated-by-Novalite"), private_pem
