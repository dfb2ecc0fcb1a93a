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
KEYPAIR_TYPE_X509 = "x509"
# NOTE: Nova's allowed characters for key pair names before 2.92; 2.92 adds '@' and '.'.
_SAFE_CHARS = frozenset("_- " + string.digits + string.ascii_letters)
SAFE_CHARS_292 = _SAFE_CHARS | frozenset("@.")


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


def x509_fingerprint(certificate: str) -> str:
    """Nova's fingerprint of a PEM X.509 certificate (SHA-1 of its DER);
    InvalidKeypair if it does not parse."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        cert = x509.load_pem_x509_certificate(certificate.encode("utf-8"))
    except Exception:  # noqa: BLE001 - any parse failure is bad key data
        raise exception.InvalidKeypair(reason="failed to generate X509 fingerprint") from None
    digest = cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - Nova's fingerprint
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _validate_name(name: str, safe: frozenset[str] = _SAFE_CHARS) -> None:
    if any(c not in safe for c in name):
        raise exception.InvalidKeypair(reason="Keypair name contains unsafe characters")
    if not 1 <= len(name) <= 255:
        raise exception.InvalidKeypair(
            reason="Keypair name must be string and between 1 and 255 characters long")


def _create(context: Any, user_id: str, name: str, public_key: str,
            key_type: str = KEYPAIR_TYPE_SSH, safe: frozenset[str] = _SAFE_CHARS) -> KeyPair:
    _validate_name(name, safe)
    project_id = getattr(context, "project_id", None)
    key_fingerprint = x509_fingerprint(public_key) if key_type == KEYPAIR_TYPE_X509 \
        else fingerprint(public_key)
    # NOTE: count and record under the user's quota lock, so racing creates
    # for the last free key pair are served in turn.
    with db_quotas.project_lock(f"key_pairs/{user_id}"):
        quota.enforce_key_pairs(project_id, user_id)
        keypair = KeyPair(context=context, name=name, user_id=user_id,
                          type=key_type, public_key=public_key,
                          fingerprint=key_fingerprint)
        keypair.create()
        return keypair


def import_key_pair(context: Any, user_id: str, name: str, public_key: str,
                    key_type: str = KEYPAIR_TYPE_SSH,
                    safe: frozenset[str] = _SAFE_CHARS) -> KeyPair:
    """Record the user's public key (or, ``x509``, certificate) under
    ``name``: InvalidKeypair (400), KeyPairExists (409), KeypairLimitExceeded (403)."""
    return _create(context, user_id, name, public_key.strip(), key_type, safe)


def create_key_pair(context: Any, user_id: str, name: str,
                    key_type: str = KEYPAIR_TYPE_SSH) -> tuple[KeyPair, str]:
    """Generate a key pair; returns the record and the private key (PEM).
    ``x509``: a self-signed certificate for the key (Nova's, valid ten
    years, subject CN = the user id), recorded as the public part."""
    _validate_name(name)
    quota.enforce_key_pairs(getattr(context, "project_id", None), user_id)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption()).decode()
    if key_type == KEYPAIR_TYPE_X509:
        return _create(context, user_id, name, _certificate(key, user_id),
                       KEYPAIR_TYPE_X509), private_pem
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return _create(context, user_id, name, f"{public} Generated-by-Novalite"), private_pem


def _certificate(key: rsa.RSAPrivateKey, user_id: str) -> str:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id or "novalite")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()
