"""Fernet keys for tokens, in a key repository directory.

Keystone's layout: one file per key, named by an integer; the highest
number is the primary key (encrypts new tokens), the others still decrypt
(MultiFernet), so a rotation does not invalidate tokens at once. The
directory is 0700 and each key 0600; keys are created on first use.
"""

from __future__ import annotations

import os
import threading

from cryptography import fernet

from novalite.conf import CONF


def key_repository() -> str:
    return CONF.identity.key_repository or os.path.join(CONF.state_path, "fernet-keys")


def _key_numbers(path: str) -> list[int]:
    return sorted(int(n) for n in os.listdir(path) if n.isdigit())


def _write_key(path: str, number: int) -> bool:
    """Add key ``number``; False when another process made it first.

    NOTE: written to a temporary file and hard-linked into place, which
    fails instead of overwriting: two API processes starting at once must
    not each believe their own key is key 1."""
    final = os.path.join(path, str(number))
    tmp = os.path.join(path, f".{number}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(fernet.Fernet.generate_key())
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, final)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)


def setup(path: str | None = None) -> list[int]:
    """Create the repository with one key unless it has keys; its key numbers."""
    path = path or key_repository()
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    numbers = _key_numbers(path)
    if not numbers:
        _write_key(path, 1)
        numbers = _key_numbers(path)
    return numbers


def rotate(path: str | None = None, max_active: int | None = None) -> list[int]:
    """A new primary key; the oldest beyond ``max_active`` are removed."""
    path = path or key_repository()
    numbers = setup(path)
    _write_key(path, numbers[-1] + 1)
    numbers = _key_numbers(path)
    keep = max_active or CONF.identity.max_active_keys
    for old in numbers[:-keep]:
        os.unlink(os.path.join(path, str(old)))
    return _key_numbers(path)


class KeyRing:
    """The repository's keys as a MultiFernet, reloaded when the directory
    changes (a rotation by novalite-manage while the API runs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: tuple[str, int] | None = None
        self._multi: fernet.MultiFernet | None = None

    def get(self) -> fernet.MultiFernet:
        path = key_repository()
        try:
            stamp = (path, os.stat(path).st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp is None or stamp != self._loaded or self._multi is None:
                setup(path)
                stamp = (path, os.stat(path).st_mtime_ns)
                keys = []
                for number in reversed(_key_numbers(path)):
                    with open(os.path.join(path, str(number)), "rb") as f:
                        keys.append(fernet.Fernet(f.read().strip()))
                self._multi = fernet.MultiFernet(keys)
                self._loaded = stamp
            return self._multi


KEYS = KeyRing()
