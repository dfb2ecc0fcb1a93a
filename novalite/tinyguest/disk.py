"""The tiny guest as a bootable disk: BIOS -> MBR -> SYSLINUX -> kernel.

Layout: syslinux's ``mbr.bin`` and a one-entry partition table, then one
active FAT16 partition at 1 MiB holding SYSLINUX, the kernel, the initramfs
and ``syslinux.cfg``. The FAT image is made and filled as a plain file with
mkfs.fat, ``syslinux --install`` (its mtools variant) and ``mcopy``: nothing
is mounted and no loop device is used.
"""

from __future__ import annotations

import os
import struct
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from novalite import tinyguest

MiB = 1024 * 1024
SECTOR = 512
PART_START = 1 * MiB
FAT16_LBA = 0x0E
VOLUME_ID = "4e4c5459"       # "NLTY": fixed so the image is reproducible
DISK_SIGNATURE = 0x4E4C5459
LABEL = "NOVALITE"

SYSLINUX_CFG = """\
SERIAL 0 115200
DEFAULT tiny
PROMPT 0
TIMEOUT 0
LABEL tiny
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND {cmdline}
"""


class DiskError(tinyguest.TinyGuestError):
    pass


@dataclass(frozen=True)
class Tools:
    """Where the unpacked packages put what the disk build runs."""
    mkfs_fat: str
    mcopy: str
    syslinux: str
    mbr_bin: str


def _run(argv: Sequence[str], env: Mapping[str, str]) -> None:
    res = subprocess.run(list(argv), env=dict(env), capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        raise DiskError(f"{os.path.basename(argv[0])} failed ({res.returncode}): "
                        f"{(res.stderr or res.stdout).strip()[-500:]}")


def partition_size(payload: int) -> int:
    """Room for the files plus slack, at least 32 MiB (comfortably FAT16)."""
    need = payload + payload // 5 + 4 * MiB
    return max(32 * MiB, -(-need // MiB) * MiB)


def mbr(boot_code: bytes, part_start: int, part_size: int) -> bytes:
    """Boot code, disk signature and one active FAT16 (LBA) partition.
    CHS fields hold the "use LBA" values; SeaBIOS and mbr.bin use LBA."""
    if len(boot_code) > 440:
        raise DiskError(f"MBR boot code is {len(boot_code)} bytes; at most 440 fit")
    entry = struct.pack("<B3sB3sII", 0x80, b"\xfe\xff\xff", FAT16_LBA, b"\xfe\xff\xff",
                        part_start // SECTOR, part_size // SECTOR)
    sector = (boot_code.ljust(440, b"\0") + struct.pack("<IH", DISK_SIGNATURE, 0)
              + entry + b"\0" * 48 + b"\x55\xaa")
    assert len(sector) == SECTOR
    return sector


def build_raw(out_path: str, files: Mapping[str, str], cmdline: str, tools: Tools,
              workdir: str, mtime: int) -> None:
    """Write the raw disk to ``out_path``. ``files``: name on the FAT -> source."""
    env = {"PATH": os.pathsep.join([os.path.dirname(tools.mcopy), "/usr/sbin", "/usr/bin",
                                    "/sbin", "/bin"]),
           "TZ": "UTC", "LC_ALL": "C", "SOURCE_DATE_EPOCH": str(mtime),
           "MTOOLS_SKIP_CHECK": "1", "MTOOLSRC": os.devnull, "HOME": workdir}
    cfg = os.path.join(workdir, "syslinux.cfg")
    with open(cfg, "w") as f:
        f.write(SYSLINUX_CFG.format(cmdline=cmdline))
    sources = {**files, "syslinux.cfg": cfg}
    for src in sources.values():
        os.utime(src, (mtime, mtime))

    part = os.path.join(workdir, "part.img")
    if os.path.exists(part):
        os.unlink(part)
    size = partition_size(sum(os.path.getsize(s) for s in sources.values()))
    _run([tools.mkfs_fat, "-F", "16", "-n", LABEL, "-i", VOLUME_ID, "--invariant",
          "-h", str(PART_START // SECTOR), "-C", part, str(size // 1024)], env)
    _run([tools.syslinux, "--install", part], env)
    for name in sorted(sources):
        _run([tools.mcopy, "-m", "-o", "-i", part, sources[name], f"::/{name}"], env)

    with open(tools.mbr_bin, "rb") as f:
        boot_code = f.read()
    with open(out_path, "wb") as out, open(part, "rb") as fat:
        out.write(mbr(boot_code, PART_START, size))
        out.write(b"\0" * (PART_START - SECTOR))
        for chunk in iter(lambda: fat.read(MiB), b""):
            out.write(chunk)
    os.unlink(part)


def to_qcow2(raw: str, out_path: str) -> None:
    _run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, out_path],
         dict(os.environ, LC_ALL="C"))
