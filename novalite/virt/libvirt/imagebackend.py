"""Disk images: inspect before use, then make the instance's disk.

Every image is inspected with ``qemu-img info`` under its *declared* format
(never probed: a probe lets the file pick its own format) and under
resource limits, and refused when it is not what its record says, refers to
other files on the host (backing files, external data files, VMDK extents)
or is larger than the flavor's root disk. Instance disks are qcow2 overlays
with an explicit backing format.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, cast

from oslo_concurrency import processutils
from oslo_log import log as logging

from novalite import exception, filemodes

LOG = logging.getLogger(__name__)

GiB = 1024 ** 3
QEMU_IMG_LIMITS = processutils.ProcessLimits(address_space=1 * GiB, cpu_time=30)
# NOTE: a copy of a whole disk takes CPU time in proportion to its size;
# memory stays bounded (qemu-img streams).
QEMU_IMG_COPY_LIMITS = processutils.ProcessLimits(address_space=2 * GiB, cpu_time=3600)

# Image API disk_format -> qemu-img format name.
QEMU_FORMATS = {"raw": "raw", "ami": "raw", "qcow2": "qcow2", "vmdk": "vmdk", "vdi": "vdi",
                "vhd": "vpc", "vhdx": "vhdx"}
VMDK_ALLOWED_TYPES = ("monolithicSparse", "streamOptimized")

# (offset, magic, format): headers that must not hide inside a "raw" image.
_MAGIC = (
    (0, b"QFI\xfb", "qcow2"), (0, b"KDMV", "vmdk"), (0, b"COWD", "vmdk"),
    (0x40, b"\x7f\x10\xda\xbe", "vdi"), (0, b"vhdxfile", "vhdx"), (0, b"conectix", "vhd"),
    (0, b"QED\x00", "qed"), (0, b"LUKS\xba\xbe", "luks"), (0, b"WithoutFreeSpace", "parallels"),
    (0, b"WithouFreSpacExt", "parallels"), (0, b"Bochs Virtual HD Image", "bochs"),
)


class ImageUnacceptable(exception.NovaliteException):
    msg_fmt = "Image %(image_id)s is unacceptable: %(reason)s"
    code = 400


def qemu_format(image_id: str, disk_format: str | None) -> str:
    fmt = QEMU_FORMATS.get(disk_format or "")
    if fmt is None:
        raise ImageUnacceptable(image_id=image_id, reason=(
            f"disk_format {disk_format!r} cannot be a root disk (supported: "
            f"{', '.join(QEMU_FORMATS)})"))
    return fmt


def check_declared_size(image_id: str, disk_format: str | None, size: int | None,
                        root_gb: int) -> None:
    """Before downloading: a raw image's size is its virtual size."""
    if root_gb and size and qemu_format(image_id, disk_format) == "raw" and size > root_gb * GiB:
        raise _too_big(image_id, size, root_gb)


def inspect(image_id: str, path: str, disk_format: str | None, root_gb: int) -> dict[str, Any]:
    """``qemu-img info`` of ``path`` read as ``disk_format``; raises
    ImageUnacceptable when the image must not be used. ``root_gb`` 0 means
    the disk takes the image's own size."""
    fmt = qemu_format(image_id, disk_format)
    if fmt == "raw":
        _check_raw_header(image_id, path)
    info = qemu_img_info(image_id, path, fmt)
    if info.get("format") != fmt:
        raise ImageUnacceptable(image_id=image_id, reason=(
            f"disk_format is {disk_format} but qemu-img reads it as {info.get('format')}"))
    if info.get("backing-filename") or info.get("full-backing-filename"):
        raise ImageUnacceptable(image_id=image_id, reason="it has a backing file")
    specific = (info.get("format-specific") or {}).get("data") or {}
    if specific.get("data-file"):
        raise ImageUnacceptable(image_id=image_id, reason="it has an external data file")
    if specific.get("corrupt"):
        raise ImageUnacceptable(image_id=image_id, reason="qemu-img reports it corrupt")
    if fmt == "vmdk":
        _check_vmdk(image_id, path, specific)
    virtual_size = int(info.get("virtual-size") or 0)
    if root_gb and virtual_size > root_gb * GiB:
        raise _too_big(image_id, virtual_size, root_gb)
    return info


def _too_big(image_id: str, size: int, root_gb: int) -> ImageUnacceptable:
    return ImageUnacceptable(image_id=image_id, reason=(
        f"its virtual size ({size / GiB:.2f} GiB) is larger than the flavor's root disk "
        f"({root_gb} GiB)"))


def _check_raw_header(image_id: str, path: str) -> None:
    with open(path, "rb") as f:
        head = f.read(512)
    for offset, magic, name in _MAGIC:
        if head[offset:offset + len(magic)] == magic:
            raise ImageUnacceptable(image_id=image_id, reason=(
                f"disk_format is raw but the data is a {name} image"))
    if _is_vmdk_descriptor(head):
        raise ImageUnacceptable(image_id=image_id, reason=(
            "disk_format is raw but the data is a vmdk descriptor"))


def _is_vmdk_descriptor(head: bytes) -> bool:
    """What QEMU's vmdk probe looks for: comments and blank lines, then a
    'version=N' line."""
    for line in head.split(b"\n"):
        stripped = line.strip(b" \r")
        if not stripped or stripped.startswith(b"#"):
            continue
        return stripped.startswith(b"version=")
    return False


def _check_vmdk(image_id: str, path: str, specific: dict[str, Any]) -> None:
    me = os.path.realpath(path)
    for extent in specific.get("extents") or []:
        name = extent.get("filename") or ""
        if os.path.realpath(os.path.join(os.path.dirname(path), name)) != me:
            raise ImageUnacceptable(image_id=image_id,
                                    reason="its vmdk descriptor refers to another extent file")
    create_type = specific.get("create-type")
    if create_type not in VMDK_ALLOWED_TYPES:
        raise ImageUnacceptable(image_id=image_id, reason=(
            f"vmdk create-type {create_type!r} is not one of {', '.join(VMDK_ALLOWED_TYPES)}"))


def qemu_img_info(image_id: str, path: str, fmt: str) -> dict[str, Any]:
    try:
        out, _err = _qemu_img("info", "--output=json", "--force-share", "-f", fmt, path)
    except processutils.ProcessExecutionError as e:
        # NOTE: the last part of qemu-img's message is the reason; the part
        # before it names host paths, which users must not see (admins find
        # the command and its output in the fault's details).
        reason = (e.stderr or "").strip().rsplit(": ", 1)[-1] or f"exit code {e.exit_code}"
        raise ImageUnacceptable(image_id=image_id, reason=(
            f"qemu-img cannot read it as {fmt} ({_without_paths(reason)[:80]})")) from e
    return cast("dict[str, Any]", json.loads(out))


def _without_paths(text: str) -> str:
    return re.sub(r"(?<![\w:/.~-])/\S+", "<path>", text)


def create_overlay(backing: str, backing_fmt: str, path: str, size_gb: int) -> None:
    """A qcow2 disk on ``backing``, grown to the flavor's ``size_gb`` (0: the
    image's own size)."""
    size = [f"{size_gb}G"] if size_gb else []
    _qemu_img("create", "-f", "qcow2", "-F", backing_fmt, "-b", backing, path, *size)
    filemodes.make_private(path)


def create_blank(path: str, size_gb: int) -> None:
    _qemu_img("create", "-f", "qcow2", path, f"{size_gb}G")
    filemodes.make_private(path)


def convert_to_qcow2(source: str, source_fmt: str, dest: str, force_share: bool = False) -> None:
    """A standalone qcow2 copy of ``source`` read as ``source_fmt`` (its
    backing chain flattened). ``force_share``: read a disk a running QEMU
    holds open (the caller made it consistent: paused, or frozen)."""
    share = ["-U"] if force_share else []
    _qemu_img("convert", *share, "-f", source_fmt, "-O", "qcow2", source, dest,
              limits=QEMU_IMG_COPY_LIMITS)
    filemodes.make_private(dest)


def virtual_size(path: str, fmt: str) -> int:
    out, _err = _qemu_img("info", "--output=json", "--force-share", "-f", fmt, path)
    return int(json.loads(out)["virtual-size"])


def backing_file(path: str, fmt: str) -> str | None:
    out, _err = _qemu_img("info", "--output=json", "--force-share", "-f", fmt, path)
    info = json.loads(out)
    name = info.get("full-backing-filename") or info.get("backing-filename")
    return str(name) if name else None


def grow(path: str, fmt: str, size_gb: int) -> None:
    """Grow the disk at ``path`` to ``size_gb`` GiB; never shrinks."""
    if virtual_size(path, fmt) < size_gb * GiB:
        _qemu_img("resize", "-f", fmt, path, f"{size_gb}G")


def _qemu_img(*args: str, limits: processutils.ProcessLimits = QEMU_IMG_LIMITS) -> Any:
    return processutils.execute("qemu-img", *args, prlimit=limits,
                                env_variables={"LC_ALL": "C", "LANG": "C"})
