"""Kernel modules for the initramfs, in an order ``insmod`` can load them.

There is no depmod in the guest (nor on the build host necessarily): each
``.ko`` names what it needs in its ``.modinfo`` section (``depends=a,b``), and
:func:`load_order` turns that into a list where every module follows its
dependencies.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence

from novalite import tinyguest
from novalite.tinyguest import elf

# NOTE: what the guest needs from the cloud kernel, which builds these as
# modules: virtio devices (disk, net, console for the guest agent, scsi, rng,
# balloon), the IDE controller and CD-ROM for a config drive on machine "pc",
# the filesystems a config drive uses, and the ACPI power button with evdev so
# busybox acpid sees it. Host drivers come before sd_mod/sr_mod so the disks
# they find exist when those load.
WANTED = ("virtio_pci", "virtio_blk", "virtio_net", "virtio_console", "virtio_scsi",
          "virtio_rng", "virtio_balloon", "ata_piix", "sd_mod", "sr_mod", "isofs", "vfat",
          "nls_cp437", "nls_ascii", "nls_utf8", "button", "evdev")

# Module parameters given to insmod. scan=sync: SCSI hosts (IDE through libata,
# virtio-scsi) finish scanning before insmod returns, so a config drive is
# visible as soon as the modules are loaded.
PARAMS = {"scsi_mod": "scan=sync"}


class ModuleError(tinyguest.TinyGuestError):
    pass


def parse_modinfo(blob: bytes) -> dict[str, list[str]]:
    """``key=value`` strings separated by NULs, as in a ``.modinfo`` section.
    A key may repeat (``alias=``), so every key maps to a list."""
    info: dict[str, list[str]] = {}
    for item in blob.split(b"\0"):
        if b"=" in item:
            key, _, value = item.decode(errors="replace").partition("=")
            info.setdefault(key, []).append(value)
    return info


def depends(info: Mapping[str, list[str]]) -> list[str]:
    return [d for v in info.get("depends", []) for d in v.split(",") if d]


def read_modinfo(path: str) -> dict[str, list[str]]:
    with open(path, "rb") as f:
        blob = elf.section(f.read(), ".modinfo", path)
    if blob is None:
        raise ModuleError(f"{path} has no .modinfo section; is it a kernel module?")
    return parse_modinfo(blob)


def normalize(name: str) -> str:
    """Module names treat '-' and '_' alike (virtio-rng.ko is virtio_rng)."""
    return name.replace("-", "_")


def index_tree(moddir: str) -> dict[str, str]:
    """Module name -> path of its .ko under ``moddir`` (uncompressed modules only)."""
    found: dict[str, str] = {}
    for root, dirs, files in os.walk(moddir):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(".ko"):
                found.setdefault(normalize(f[:-3]), os.path.join(root, f))
    return found


def load_order(wanted: Iterable[str], depends_of: Callable[[str], Sequence[str]]) -> list[str]:
    """Every wanted module and what it needs, each after its dependencies.

    Stable: modules keep the order of ``wanted`` where dependencies allow,
    so the result (and the image) does not depend on dict or file order.
    """
    order: list[str] = []
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in done:
            return
        if name in path:
            cycle = " -> ".join(path[path.index(name):] + [name])
            raise ModuleError(f"module dependency cycle: {cycle}")
        for dep in depends_of(name):
            visit(normalize(dep), path + [name])
        done.add(name)
        order.append(name)

    for name in wanted:
        visit(normalize(name), [])
    return order


def resolve(moddir: str, wanted: Iterable[str] = WANTED) -> list[tuple[str, str]]:
    """(name, path) of each module to load from the tree ``moddir``, in order."""
    tree = index_tree(moddir)
    needed_by: dict[str, str] = {}

    def depends_of(name: str) -> list[str]:
        if name not in tree:
            who = needed_by.get(name)
            why = f" (needed by {who})" if who else ""
            raise ModuleError(f"module {name}{why} is not in {moddir}; it may be built "
                              "into this kernel or missing from it")
        deps = depends(read_modinfo(tree[name]))
        for d in deps:
            needed_by.setdefault(normalize(d), name)
        return deps

    return [(name, tree[name]) for name in load_order(wanted, depends_of)]
