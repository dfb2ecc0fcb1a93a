"""The modes of what novalite keeps on disk: nothing for other users.

The database (password hashes, user_data, injected files), the image
store, instance directories, config drives and the image cache are for the
service alone. Two readers are not the service:

- QEMU runs as another user (``libvirt-qemu`` on Debian). libvirt's
  ``dynamic_ownership`` (on by default in qemu.conf) chowns each disk,
  config drive, kernel and ramdisk of a domain, and the backing files of its
  disks, to that user when the domain starts, so the files themselves stay
  0600. QEMU only needs to *traverse* the directories above them: those are
  0711 (``qemu_dir``), which lets no one list them.
- Everything else is 0600 in 0700 directories (``private_file``,
  ``private_dir``); the services run with ``SERVICE_UMASK`` so that files
  made by libraries and tools (logs, lock files, qemu-img, genisoimage) are
  private too.

Modes are set explicitly, not left to the umask: a state directory made by
an older release (0644 files, 0755 directories) is tightened when it is
used again.
"""

from __future__ import annotations

import os
import stat
from typing import IO

SERVICE_UMASK = 0o077
# NOTE: what systemd gives a service: for package scripts and the system
# daemons (virtlogd, libvirtd) that novalite-manage host prepare starts.
SYSTEM_UMASK = 0o022
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# NOTE: search (x) for others, no read: QEMU reaches the disks below.
QEMU_DIR = 0o711


def set_service_umask() -> int:
    """Every file a service process makes is its own alone; returns the
    previous umask."""
    return os.umask(SERVICE_UMASK)


def _make_dir(path: str, mode: int) -> None:
    """``path`` with ``mode``; missing parents are made 0711 (traversable,
    not listable), which suits a private directory and a QEMU one below."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        _make_dir(parent, QEMU_DIR)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        # NOTE: a shared directory (sticky, as /tmp) is not ours to change.
        if os.stat(path).st_mode & stat.S_ISVTX:
            return
    os.chmod(path, mode)


def private_dir(path: str) -> str:
    """A directory for the service alone (0700)."""
    _make_dir(path, PRIVATE_DIR)
    return path


def qemu_dir(path: str) -> str:
    """A directory QEMU must pass through to reach the files below (0711)."""
    _make_dir(path, QEMU_DIR)
    return path


def qemu_tree(path: str) -> str:
    """``path`` and every directory below it 0711, every file 0600: what an
    older release left readable (0755, 0644) under the instances or the
    image cache is tightened. Symbolic links are not followed."""
    qemu_dir(path)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            entry = os.path.join(root, name)
            try:
                kind = stat.S_IFMT(os.lstat(entry).st_mode)
                if kind in (stat.S_IFDIR, stat.S_IFREG):
                    os.chmod(entry, QEMU_DIR if kind == stat.S_IFDIR else PRIVATE_FILE)
            except FileNotFoundError:
                continue
    return path


def private_file(path: str, mode: str = "wb") -> IO:
    """``open(path, mode)`` for writing a 0600 file, whatever the umask and
    whatever mode an existing file had."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def make_private(path: str) -> None:
    """Make an existing file 0600 (no-op when it does not exist)."""
    try:
        os.chmod(path, PRIVATE_FILE)
    except FileNotFoundError:
        pass


def private_sqlite(database: str | None) -> None:
    """The SQLite database and its WAL and shared-memory files 0600: made
    empty and private before SQLite opens it (SQLite gives the ``-wal`` and
    ``-shm`` files the database file's mode), tightened if it exists."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    directory = os.path.dirname(os.path.abspath(database))
    if not os.path.isdir(directory):
        _make_dir(directory, QEMU_DIR)
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for path in (database, database + "-wal", database + "-shm", database + "-journal"):
        make_private(path)
