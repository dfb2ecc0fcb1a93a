"""A reproducible ``newc`` cpio archive, the format the kernel unpacks as an
initramfs.

NOTE: written in Python instead of calling ``cpio --reproducible`` so the
build needs no cpio on the host, and so every header field is ours to fix:
owner root, one timestamp (SOURCE_DATE_EPOCH), inode numbers in path order,
and device nodes (``/dev/console``) without needing mknod.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from typing import BinaryIO

TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Entry:
    mode: int            # full st_mode: type bits and permissions
    data: bytes = b""    # file contents, or a symlink's target
    rdev: tuple[int, int] = (0, 0)


class Archive:
    """Entries by path; :meth:`write` emits them sorted, so a directory always
    precedes what it contains, whatever order they were added in."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def _parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.entries.setdefault("/".join(parts[:i]), Entry(stat.S_IFDIR | 0o755))

    def _add(self, path: str, entry: Entry) -> None:
        path = path.strip("/")
        if not path:
            raise ValueError("an archive entry needs a path")
        self._parents(path)
        self.entries[path] = entry

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        self._add(path, Entry(stat.S_IFDIR | mode))

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self._add(path, Entry(stat.S_IFREG | mode, data))

    def add_symlink(self, path: str, target: str) -> None:
        self._add(path, Entry(stat.S_IFLNK | 0o777, target.encode()))

    def add_chardev(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._add(path, Entry(stat.S_IFCHR | mode, rdev=(major, minor)))

    def write(self, out: BinaryIO, mtime: int) -> None:
        ino = 0
        for path in sorted(self.entries):
            ino += 1
            _member(out, path, self.entries[path], ino, mtime)
        _member(out, TRAILER, Entry(0), 0, 0)
        pos = out.tell()
        out.write(b"\0" * (-pos % 512))


def _member(out: BinaryIO, name: str, e: Entry, ino: int, mtime: int) -> None:
    nlink = 2 if stat.S_ISDIR(e.mode) else 1
    fields = (ino, e.mode, 0, 0, nlink, mtime, len(e.data), 0, 0, e.rdev[0], e.rdev[1],
              len(name) + 1, 0)
    header = b"070701" + b"".join(b"%08X" % f for f in fields)
    out.write(header + name.encode() + b"\0")
    out.write(b"\0" * (-(len(header) + len(name) + 1) % 4))
    out.write(e.data)
    out.write(b"\0" * (-len(e.data) % 4))
