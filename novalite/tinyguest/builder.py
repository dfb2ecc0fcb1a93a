"""Build the tiny guest reproducibly from Debian packages, and register it.

Outputs, in the output directory:

- ``novalite-tiny.vmlinuz`` + ``novalite-tiny.initrd``: for direct kernel
  boot (Nova's ``kernel_id``/``ramdisk_id`` image properties);
- ``novalite-tiny.qcow2``: a BIOS-bootable disk carrying both;
- ``novalite-tiny-root.img``: an empty 1 MiB raw root disk, the "ami" that
  points at the kernel and ramdisk (the guest runs from its ramdisk).

The inputs are pinned by the SHA256 of each package's candidate version, the
builder's own source and the host tools that shape the bytes (qemu-img, zlib);
with the same inputs two builds are byte-identical, and a second build finds
the outputs up to date without doing anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from novalite import tinyguest
from novalite.tinyguest import debs, disk, initramfs

Progress = Callable[[str], None]

BUILD_FORMAT = 1
# NOTE: a fixed default keeps builds reproducible without the caller knowing
# about SOURCE_DATE_EPOCH; setting it still wins (and is part of the key).
DEFAULT_EPOCH = 1704067200  # 2024-01-01T00:00:00Z
# NOTE: no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer
# check can fail and panic the guest ("IO-APIC + timer doesn't work!", seen
# once with four tiny guests booting on two cores); a virtual machine's timer
# needs no such check (what distributions' cloud images also boot with).
DISK_CMDLINE = "console=ttyS0 no_timer_check"
BASE_PACKAGES = ("busybox-static", "syslinux", "syslinux-common", "mtools", "dosfstools")
AGENT_PACKAGES = ("qemu-guest-agent", "libc6", "libglib2.0-0", "libpcre2-8-0", "libudev1",
                  "libnuma1", "liburing2")
OUTPUTS = {"kernel": "novalite-tiny.vmlinuz", "ramdisk": "novalite-tiny.initrd",
           "disk": "novalite-tiny.qcow2", "root": "novalite-tiny-root.img"}
MANIFEST = "manifest.json"
ROOT_SIZE = 1024 * 1024
_SOURCES = ("__init__.py", "builder.py", "cpio.py", "debs.py", "disk.py", "elf.py",
            "initramfs.py", "modules.py")


class BuildError(tinyguest.TinyGuestError):
    pass


@dataclass
class BuildResult:
    output_dir: str
    cached: bool
    seconds: float
    manifest: dict[str, Any]

    def path(self, role: str) -> str:
        return os.path.join(self.output_dir, OUTPUTS[role])

    @property
    def kernel(self) -> str:
        return self.path("kernel")

    @property
    def ramdisk(self) -> str:
        return self.path("ramdisk")

    @property
    def disk(self) -> str:
        return self.path("disk")

    @property
    def root(self) -> str:
        return self.path("root")


def default_output_dir() -> str:
    """``$XDG_CACHE_HOME/novalite-tiny``; else /var/cache/novalite-tiny for
    root and ~/.cache/novalite-tiny for anyone else."""
    if os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.environ["XDG_CACHE_HOME"], "novalite-tiny")
    if os.geteuid() == 0:
        return "/var/cache/novalite-tiny"
    return os.path.join(os.path.expanduser("~"), ".cache", "novalite-tiny")


def source_date_epoch() -> int:
    return int(os.environ.get("SOURCE_DATE_EPOCH") or DEFAULT_EPOCH)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _environment() -> dict[str, Any]:
    """What besides the packages shapes the output bytes."""
    here = os.path.dirname(os.path.abspath(__file__))
    src = hashlib.sha256()
    for name in _SOURCES:
        with open(os.path.join(here, name), "rb") as f:
            src.update(name.encode() + b"\0" + f.read())
    try:
        qemu_img = subprocess.run(["qemu-img", "--version"], capture_output=True, text=True,
                                  check=False).stdout.splitlines()[0]
    except (OSError, IndexError) as e:
        raise BuildError(f"qemu-img is needed to make the qcow2 disk ({e}); install "
                         "qemu-utils (novalite-manage host prepare)") from e
    return {"format": BUILD_FORMAT, "source": src.hexdigest(), "epoch": source_date_epoch(),
            "qemu_img": qemu_img, "zlib": zlib.ZLIB_RUNTIME_VERSION,
            "disk_cmdline": DISK_CMDLINE}


@contextlib.contextmanager
def _locked(output_dir: str) -> Iterator[None]:
    with open(os.path.join(output_dir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _load_manifest(output_dir: str) -> dict[str, Any] | None:
    try:
        with open(os.path.join(output_dir, MANIFEST)) as f:
            data: dict[str, Any] = json.load(f)
            return data
    except (OSError, ValueError):
        return None


def _save_manifest(output_dir: str, manifest: dict[str, Any]) -> None:
    path = os.path.join(output_dir, MANIFEST)
    with open(path + ".tmp", "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(path + ".tmp", path)


def _outputs_intact(output_dir: str, manifest: dict[str, Any]) -> bool:
    outputs = manifest.get("outputs", {})
    if set(outputs) != set(OUTPUTS):
        return False
    for role, meta in outputs.items():
        path = os.path.join(output_dir, OUTPUTS[role])
        if not os.path.exists(path) or _sha256(path) != meta.get("sha256"):
            return False
    return True


def build(output_dir: str | None = None, deb_dir: str | None = None, force: bool = False,
          progress: Progress = print) -> BuildResult:
    """Build (or find up to date) the tiny guest in ``output_dir``.

    ``deb_dir`` (default ``output_dir/debs``) caches the downloaded packages;
    ``force`` rebuilds even when the outputs are up to date.
    """
    output_dir = os.path.abspath(output_dir or default_output_dir())
    deb_dir = os.path.abspath(deb_dir or os.path.join(output_dir, "debs"))
    os.makedirs(output_dir, exist_ok=True)
    start = time.monotonic()
    with _locked(output_dir):
        env = _environment()
        # Fast path: neither the apt lists nor the builder changed since the
        # last build, so its resolution still holds: no apt call at all.
        quick = _digest(env, debs.lists_fingerprint())
        manifest = _load_manifest(output_dir)
        if (not force and manifest and manifest.get("quick") == quick
                and _outputs_intact(output_dir, manifest)):
            return _up_to_date(output_dir, manifest, start, progress)

        apt = debs.Apt(progress)
        progress("resolving packages with apt-cache")
        names = [apt.kernel_package(), *BASE_PACKAGES, *AGENT_PACKAGES]
        packages = apt.resolve(names)
        key = _digest(env, [vars(p) for p in packages])
        if (not force and manifest and manifest.get("key") == key
                and _outputs_intact(output_dir, manifest)):
            manifest["quick"] = _digest(env, debs.lists_fingerprint())
            _save_manifest(output_dir, manifest)
            return _up_to_date(output_dir, manifest, start, progress)

        debs_by_name = apt.fetch(packages, deb_dir)
        manifest = _build(output_dir, packages, debs_by_name, progress)
        removed = debs.prune(deb_dir, packages)
        if removed:
            progress(f"removed {len(removed)} outdated packages from {deb_dir}")
        manifest.update(key=key, quick=_digest(env, debs.lists_fingerprint()), environment=env)
        _save_manifest(output_dir, manifest)
    seconds = time.monotonic() - start
    progress(f"built in {seconds:.1f} s: " + ", ".join(
        f"{OUTPUTS[r]} ({m['size'] / 1048576:.1f} MiB)" for r, m in manifest["outputs"].items()))
    return BuildResult(output_dir, False, seconds, manifest)


def _up_to_date(output_dir: str, manifest: dict[str, Any], start: float,
                progress: Progress) -> BuildResult:
    seconds = time.monotonic() - start
    progress(f"up to date in {output_dir} (same inputs as the last build; checked in "
             f"{seconds:.2f} s)")
    return BuildResult(output_dir, True, seconds, manifest)


def _build(output_dir: str, packages: list[debs.Package], debs_by_name: dict[str, str],
           progress: Progress) -> dict[str, Any]:
    mtime = source_date_epoch()
    kernel_pkg = packages[0].name
    with tempfile.TemporaryDirectory(prefix=".build-", dir=output_dir) as tmp:
        roots = {}
        for p in packages:
            progress(f"unpacking {p.name} {p.version}")
            roots[p.name] = os.path.join(tmp, "pkg", p.name)
            debs.unpack(debs_by_name[p.name], roots[p.name])
        work = os.path.join(tmp, "out")
        os.makedirs(work)
        staged = {role: os.path.join(work, name) for role, name in OUTPUTS.items()}

        vmlinuz = glob.glob(os.path.join(roots[kernel_pkg], "boot", "vmlinuz-*"))
        if len(vmlinuz) != 1:
            raise BuildError(f"{kernel_pkg} holds {len(vmlinuz)} vmlinuz files, expected 1")
        shutil.copyfile(vmlinuz[0], staged["kernel"])

        progress("making the initramfs (busybox, modules in dependency order, guest agent)")
        contents = initramfs.build(
            staged["ramdisk"], roots["busybox-static"], roots[kernel_pkg], mtime,
            agent_root=roots["qemu-guest-agent"],
            lib_roots=[roots[n] for n in AGENT_PACKAGES[1:]])
        progress(f"  {len(contents.modules)} modules: {' '.join(contents.modules)}")

        progress("making the disk (MBR + FAT16 + SYSLINUX) and converting it to qcow2")
        tools = disk.Tools(
            mkfs_fat=os.path.join(roots["dosfstools"], "sbin", "mkfs.fat"),
            mcopy=os.path.join(roots["mtools"], "usr", "bin", "mcopy"),
            syslinux=os.path.join(roots["syslinux"], "usr", "bin", "syslinux"),
            mbr_bin=os.path.join(roots["syslinux-common"], "usr", "lib", "syslinux", "mbr",
                                 "mbr.bin"))
        raw = os.path.join(tmp, "disk.raw")
        disk.build_raw(raw, {"vmlinuz": staged["kernel"], "initrd.img": staged["ramdisk"]},
                       DISK_CMDLINE, tools, tmp, mtime)
        disk.to_qcow2(raw, staged["disk"])
        with open(staged["root"], "wb") as f:
            f.truncate(ROOT_SIZE)

        outputs = {}
        for role, path in staged.items():
            os.chmod(path, 0o644)
            outputs[role] = {"file": OUTPUTS[role], "sha256": _sha256(path),
                             "size": os.path.getsize(path)}
            os.replace(path, os.path.join(output_dir, OUTPUTS[role]))
    return {"packages": [vars(p) for p in packages], "modules": contents.modules,
            "libraries": contents.libraries,
            "kernel_version": os.path.basename(vmlinuz[0])[len("vmlinuz-"):],
            "outputs": outputs}


def register(result: BuildResult, context: Any = None,
             progress: Progress = print) -> dict[str, dict[str, Any]]:
    """Register the build in novalite's image store: kernel (aki), ramdisk
    (ari), the ami that boots them, and the qcow2 disk. An image of the same
    name and content is reused, so registering twice adds nothing."""
    from novalite import context as nl_context
    from novalite.image import api as image_api

    ctxt = context or nl_context.get_admin_context()
    api = image_api.API()
    existing = api.get_all(ctxt)
    ram = tinyguest.RECOMMENDED_RAM_MB

    def one(name: str, role: str, fmt: str, container: str,
            properties: dict[str, str] | None = None) -> dict[str, Any]:
        path = result.path(role)
        md5 = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                md5.update(chunk)
        for old in existing:
            if (old["name"] == name and old["checksum"] == md5.hexdigest()
                    and old["status"] == "active"
                    and (old.get("properties") or {}) == (properties or {})):
                progress(f"{name}: already registered as {old['id']}")
                return old
        image: dict[str, Any] = api.register(ctxt, name, path, disk_format=fmt,
                                             container_format=container, min_ram=ram,
                                             properties=properties or {})
        progress(f"{name}: registered {image['id']} ({fmt}/{container}, "
                 f"{image['size']} bytes)")
        return image

    kernel = one(tinyguest.KERNEL_IMAGE, "kernel", "aki", "aki")
    ramdisk = one(tinyguest.RAMDISK_IMAGE, "ramdisk", "ari", "ari")
    ami = one(tinyguest.AMI_IMAGE, "root", "ami", "ami",
              {"kernel_id": kernel["id"], "ramdisk_id": ramdisk["id"],
               "os_command_line": DISK_CMDLINE, "hw_qemu_guest_agent": "yes"})
    qcow2 = one(tinyguest.DISK_IMAGE, "disk", "qcow2", "bare", {"hw_qemu_guest_agent": "yes"})
    return {"kernel": kernel, "ramdisk": ramdisk, "ami": ami, "disk": qcow2}
