"""Just enough ELF64 reading for the builder: a named section's bytes (a
kernel module's ``.modinfo``) and a binary's ``DT_NEEDED`` libraries.

NOTE: reading the files ourselves means the build needs neither modinfo
(kmod) nor readelf/ldd on the host, and cannot run foreign code to learn
what a binary needs.
"""

from __future__ import annotations

import struct

from novalite import tinyguest

_SHDR = struct.Struct("<IIQQQQIIQQ")  # name type flags addr offset size link info align entsize
_DYN = struct.Struct("<qQ")
SHT_DYNAMIC = 6
DT_NEEDED = 1


class ElfError(tinyguest.TinyGuestError, ValueError):
    pass


def _sections(data: bytes, what: str) -> list[tuple[str, tuple[int, ...]]]:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ElfError(f"{what} is not a little-endian 64-bit ELF file")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if shoff == 0 or shnum == 0 or shentsize != _SHDR.size:
        raise ElfError(f"{what} has no section headers")
    headers = [_SHDR.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx][4]
    out = []
    for h in headers:
        start = strtab + h[0]
        out.append((data[start:data.index(b"\0", start)].decode(), h))
    return out


def section(data: bytes, name: str, what: str = "file") -> bytes | None:
    """The contents of section ``name``, or None when there is none."""
    for sname, h in _sections(data, what):
        if sname == name:
            return data[h[4]:h[4] + h[5]]
    return None


def needed(data: bytes, what: str = "file") -> list[str]:
    """The ``DT_NEEDED`` sonames of a dynamically linked binary ([] if static)."""
    sections = _sections(data, what)
    out = []
    for _, h in sections:
        if h[1] != SHT_DYNAMIC:
            continue
        strtab = sections[h[6]][1][4]  # sh_link names the string table
        for off in range(h[4], h[4] + h[5], _DYN.size):
            tag, val = _DYN.unpack_from(data, off)
            if tag == 0:
                break
            if tag == DT_NEEDED:
                start = strtab + val
                out.append(data[start:data.index(b"\0", start)].decode())
    return out
