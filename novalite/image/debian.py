"""A small Debian 12 (bookworm) cloud image, made from Debian packages
(``novalite-manage image build-debian``).

How, without mounting anything or using a loop device (these hosts have
neither device-mapper nor a kernel NBD client):

1. ``debootstrap --variant=minbase`` with the cloud kernel, cloud-init,
   openssh-server, qemu-guest-agent, ifupdown and isc-dhcp-client, from the
   mirror the machine's apt sources name (and through its apt proxy);
2. the root is made a cloud image: no SSH host keys and an empty machine-id
   (each instance makes its own), cloud-init told to read the config drive or
   the OpenStack metadata service, caches, docs and locales removed;
3. ``mkfs.ext4 -d`` makes the root file system from the directory, and a FAT
   boot partition gets SYSLINUX, the kernel and the initrd (as the tiny
   guest's disk, :mod:`novalite.tinyguest.disk`);
4. MBR (boot partition first, root last so cloud-init's growpart can grow it
   to the flavor's disk) -> raw -> compressed qcow2.

The result is cached in ``/var/cache/novalite-ci/debian-12`` (root) keyed by
the inputs (suite, mirror, package list, this file): the first build takes a
few minutes, later ones find it at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Progress = Callable[[str], None]

BUILD_FORMAT = 1
SUITE = "bookworm"
IMAGE_NAME = "debian-12"
OUTPUT = "debian-12.qcow2"
MANIFEST = "manifest.json"
# NOTE: debootstrap's resolver ignores virtual packages: python3-cryptography
# (cloud-init's) needs python3-cffi-backend named explicitly. net-tools:
# cloud-init 22.4 renders network_data.json's routes (the default route via
# the subnet's gateway) for ifupdown as "post-up route add ... || true";
# without route(8) the guest has no default route and answers nothing off
# its subnet (a floating IP, the host through a router).
PACKAGES = ("systemd-sysv", "udev", "linux-image-cloud-amd64", "cloud-init",
            "python3-cffi-backend", "openssh-server", "qemu-guest-agent", "ifupdown",
            "isc-dhcp-client", "sudo", "iproute2", "netbase", "cloud-guest-utils", "fdisk",
            "net-tools")
TOOL_PACKAGES = ("syslinux", "syslinux-common", "mtools", "dosfstools")
# Debian's cloud images: the user cloud-init makes is "debian".
DEFAULT_USER = "debian"
MIN_RAM_MB = 512
MiB = 1024 * 1024
SECTOR = 512
PART_START = 1 * MiB
FAT16_LBA, LINUX = 0x0E, 0x83
ROOT_LABEL = "debian-root"
CLOUD_CFG = """\
# Written by novalite-manage image build-debian.
datasource_list: [ ConfigDrive, OpenStack, None ]
# NOTE: the image has no en_US locale (cloud-init's default would fail).
locale: C.UTF-8
"""
SSH_DROPIN = """\
# Written by novalite-manage image build-debian: the image has no host keys,
# each instance makes its own before sshd's first start.
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
"""
# What a cloud image need not carry (paths under the root).
SLIM = ("usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*",
        "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb", "var/lib/apt/lists/*_*",
        "var/log/*.log", "var/log/apt/*", "debootstrap", "etc/ssh/ssh_host_*",
        "var/lib/dbus/machine-id")


class DebianImageError(Exception):
    pass


@dataclass
class BuildResult:
    path: str
    cached: bool
    seconds: float
    manifest: dict[str, Any]


def default_output_dir() -> str:
    if os.geteuid() == 0:
        return "/var/cache/novalite-ci/debian-12"
    return os.path.join(os.path.expanduser("~"), ".cache", "novalite-ci", "debian-12")


def _run(argv: Sequence[str], env: Mapping[str, str] | None = None,
         what: str | None = None) -> str:
    full = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive", **(env or {}))
    res = subprocess.run(list(argv), env=full, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise DebianImageError(f"{what or os.path.basename(argv[0])} failed "
                               f"({res.returncode}): {(res.stderr or res.stdout).strip()[-800:]}")
    return res.stdout


# -- inputs ------------------------------------------------------------------------

def _sources_entries() -> Iterator[tuple[str, list[str], list[str]]]:
    """(URI, suites, components) of every ``deb`` entry in the apt sources,
    one-line and deb822 forms."""
    one_line = ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]
    for path in one_line:
        with contextlib.suppress(OSError), open(path) as f:
            for line in f:
                words = line.split("#", 1)[0].split()
                if len(words) >= 3 and words[0] == "deb":
                    rest = [w for w in words[1:] if not w.startswith("[")]
                    yield rest[0], [rest[1]], rest[2:]
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        with contextlib.suppress(OSError), open(path) as f:
            for block in f.read().split("\n\n"):
                fields: dict[str, str] = {}
                for line in block.splitlines():
                    if ":" in line and not line.startswith("#"):
                        key, _, value = line.partition(":")
                        fields[key.strip().lower()] = value.strip()
                if "deb" in fields.get("types", "").split():
                    for uri in fields.get("uris", "").split():
                        yield (uri, fields.get("suites", "").split(),
                               fields.get("components", "").split())


def mirror() -> str:
    """The Debian mirror the machine's apt uses for bookworm's main."""
    for uri, suites, components in _sources_entries():
        if SUITE in suites and "main" in components:
            return uri
    raise DebianImageError(f"no apt source of this machine serves '{SUITE} main' "
                           "(/etc/apt/sources.list, /etc/apt/sources.list.d/)")


def _apt_proxy_env() -> dict[str, str]:
    """The apt proxy (Acquire::http::Proxy) as debootstrap's http_proxy."""
    out = subprocess.run(["apt-config", "dump", "Acquire::http::Proxy"], capture_output=True,
                         text=True, check=False).stdout
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        value = value.strip().rstrip(";").strip('"')
        if key == "Acquire::http::Proxy" and value and value.upper() != "DIRECT":
            return {"http_proxy": value}
    return {}


def _inputs(mirror_uri: str) -> dict[str, Any]:
    with open(os.path.abspath(__file__), "rb") as f:
        source = hashlib.sha256(f.read()).hexdigest()
    return {"format": BUILD_FORMAT, "suite": SUITE, "mirror": mirror_uri,
            "packages": list(PACKAGES), "source": source}


def _key(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


# -- the root ----------------------------------------------------------------------

def _write(root: str, rel: str, text: str, mode: int = 0o644) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)   # NOTE: never write through a symlink of the root
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w") as f:
        f.write(text)


def _configure(root: str, root_uuid: str) -> None:
    """Make the bootstrapped root an image any number of instances boot."""
    _write(root, "etc/hostname", "debian\n")
    _write(root, "etc/hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost "
                              "ip6-loopback\n")
    _write(root, "etc/fstab", f"UUID={root_uuid} / ext4 rw,discard,errors=remount-ro 0 1\n")
    _write(root, "etc/network/interfaces", "source /etc/network/interfaces.d/*\n\n"
                                           "auto lo\niface lo inet loopback\n")
    _write(root, "etc/cloud/cloud.cfg.d/90-novalite.cfg", CLOUD_CFG)
    _write(root, "etc/systemd/system/ssh.service.d/novalite-host-keys.conf", SSH_DROPIN)
    _write(root, "etc/resolv.conf", "")
    _write(root, "etc/machine-id", "", 0o444)
    for pattern in SLIM:
        for path in glob.glob(os.path.join(root, pattern)):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)


def _boot_files(root: str) -> tuple[str, str]:
    kernels = sorted(glob.glob(os.path.join(root, "boot", "vmlinuz-*")))
    initrds = sorted(glob.glob(os.path.join(root, "boot", "initrd.img-*")))
    if len(kernels) != 1 or len(initrds) != 1:
        raise DebianImageError(f"the root holds {len(kernels)} kernels and {len(initrds)} "
                               "initrds in /boot; expected one of each")
    return kernels[0], initrds[0]


def _tree_bytes(root: str) -> int:
    out = _run(["du", "-s", "--block-size=1", "-x", root])
    return int(out.split()[0])


# -- the disk ----------------------------------------------------------------------

def _mbr(boot_code: bytes, parts: Sequence[tuple[int, int, int, bool]]) -> bytes:
    """Boot code, a disk signature and up to four (start, size, type,
    active) partitions, in LBA (CHS fields hold "use LBA")."""
    entries = b"".join(struct.pack("<B3sB3sII", 0x80 if active else 0, b"\xfe\xff\xff", kind,
                                   b"\xfe\xff\xff", start // SECTOR, size // SECTOR)
                       for start, size, kind, active in parts)
    sector = (boot_code[:440].ljust(440, b"\0") + struct.pack("<IH", 0x4E4C4442, 0)
              + entries.ljust(64, b"\0") + b"\x55\xaa")
    assert len(sector) == SECTOR
    return sector


def _boot_partition(path: str, kernel: str, initrd: str, cmdline: str, tools: Any,
                    workdir: str) -> int:
    from novalite.tinyguest import disk

    cfg = os.path.join(workdir, "syslinux.cfg")
    with open(cfg, "w") as f:
        f.write(disk.SYSLINUX_CFG.format(cmdline=cmdline))
    files = {"vmlinuz": kernel, "initrd.img": initrd, "syslinux.cfg": cfg}
    size = disk.partition_size(sum(os.path.getsize(p) for p in files.values()))
    env = {"PATH": os.pathsep.join([os.path.dirname(tools.mcopy), "/usr/sbin", "/usr/bin",
                                    "/sbin", "/bin"]),
           "MTOOLS_SKIP_CHECK": "1", "MTOOLSRC": os.devnull, "HOME": workdir}
    _run([tools.mkfs_fat, "-F", "16", "-n", "DEBIANBOOT", "-h", str(PART_START // SECTOR),
          "-C", path, str(size // 1024)], env)
    _run([tools.syslinux, "--install", path], env)
    for name, src in sorted(files.items()):
        _run([tools.mcopy, "-m", "-o", "-i", path, src, f"::/{name}"], env)
    return size


def _boot_tools(cache_dir: str, workdir: str, progress: Progress) -> Any:
    """SYSLINUX, mtools and mkfs.fat unpacked from Debian packages (the
    tiny guest's way: nothing installed on the host)."""
    from novalite.tinyguest import debs, disk

    apt = debs.Apt(progress)
    packages = apt.resolve(list(TOOL_PACKAGES))
    paths = apt.fetch(packages, cache_dir)
    roots = {}
    for p in packages:
        roots[p.name] = os.path.join(workdir, "tools", p.name)
        debs.unpack(paths[p.name], roots[p.name])
    return disk.Tools(
        mkfs_fat=os.path.join(roots["dosfstools"], "sbin", "mkfs.fat"),
        mcopy=os.path.join(roots["mtools"], "usr", "bin", "mcopy"),
        syslinux=os.path.join(roots["syslinux"], "usr", "bin", "syslinux"),
        mbr_bin=os.path.join(roots["syslinux-common"], "usr", "lib", "syslinux", "mbr",
                             "mbr.bin"))


def _assemble(out: str, boot: str, boot_size: int, rootfs: str, root_size: int,
              mbr_bin: str) -> None:
    with open(mbr_bin, "rb") as f:
        code = f.read()
    root_start = PART_START + boot_size
    with open(out, "wb") as disk_file:
        disk_file.write(_mbr(code, [(PART_START, boot_size, FAT16_LBA, True),
                                    (root_start, root_size, LINUX, False)]))
        for part, start in ((boot, PART_START), (rootfs, root_start)):
            disk_file.seek(start)
            with open(part, "rb") as f:
                shutil.copyfileobj(f, disk_file, MiB)
        disk_file.truncate(root_start + root_size)


# -- build -------------------------------------------------------------------------

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


def build(output_dir: str | None = None, force: bool = False,
          progress: Progress = print) -> BuildResult:
    """Build the image (or find the cached build of the same inputs)."""
    output_dir = os.path.abspath(output_dir or default_output_dir())
    os.makedirs(output_dir, exist_ok=True)
    start = time.monotonic()
    mirror_uri = mirror()
    inputs = _inputs(mirror_uri)
    key = _key(inputs)
    out = os.path.join(output_dir, OUTPUT)
    with _locked(output_dir):
        manifest = _load_manifest(output_dir)
        if (not force and manifest and manifest.get("key") == key and os.path.exists(out)
                and os.path.getsize(out) == manifest.get("size")):
            seconds = time.monotonic() - start
            progress(f"{out} is up to date (same inputs as its build)")
            return BuildResult(out, True, seconds, manifest)
        with tempfile.TemporaryDirectory(prefix=".build-", dir=output_dir) as tmp:
            manifest = _build(tmp, out, mirror_uri, os.path.join(output_dir, "debs"),
                              progress)
        manifest.update(key=key, inputs=inputs, size=os.path.getsize(out),
                        build_seconds=round(time.monotonic() - start, 1))
        with open(os.path.join(output_dir, MANIFEST + ".tmp"), "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)
        os.replace(os.path.join(output_dir, MANIFEST + ".tmp"),
                   os.path.join(output_dir, MANIFEST))
    seconds = time.monotonic() - start
    progress(f"built {out} in {seconds:.0f} s ({manifest['size'] / MiB:.0f} MiB qcow2, "
             f"{manifest['virtual_size'] / MiB:.0f} MiB virtual)")
    return BuildResult(out, False, seconds, manifest)


def _build(tmp: str, out: str, mirror_uri: str, deb_cache: str,
           progress: Progress) -> dict[str, Any]:
    root = os.path.join(tmp, "root")
    progress(f"debootstrap {SUITE} from {mirror_uri} (a few minutes)")
    _run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
          root, mirror_uri], _apt_proxy_env(), what="debootstrap")
    return _image_from_root(root, tmp, out, deb_cache, progress)


def _image_from_root(root: str, tmp: str, out: str, deb_cache: str,
                     progress: Progress) -> dict[str, Any]:
    """The bootstrapped ``root`` (consumed) as the qcow2 disk ``out``."""
    kernel, initrd = _boot_files(root)
    # NOTE: copied out before the root is slimmed (its /boot stays too, for dpkg).
    shutil.copyfile(kernel, os.path.join(tmp, "vmlinuz"))
    shutil.copyfile(initrd, os.path.join(tmp, "initrd.img"))
    root_uuid = str(uuidlib.uuid4())
    _configure(root, root_uuid)

    progress("making the root file system (mkfs.ext4 -d) and the boot partition")
    used = _tree_bytes(root)
    root_size = -(-(used + used // 4 + 48 * MiB) // MiB) * MiB
    rootfs = os.path.join(tmp, "root.ext4")
    _run(["mkfs.ext4", "-q", "-F", "-L", ROOT_LABEL, "-U", root_uuid, "-i", "8192",
          "-d", root, rootfs, f"{root_size // 1024}k"], what="mkfs.ext4")
    shutil.rmtree(root)
    tools = _boot_tools(deb_cache, tmp, progress)
    cmdline = f"console=tty0 console=ttyS0,115200 root=UUID={root_uuid} ro"
    boot = os.path.join(tmp, "boot.fat")
    boot_size = _boot_partition(boot, os.path.join(tmp, "vmlinuz"),
                                os.path.join(tmp, "initrd.img"), cmdline, tools, tmp)
    raw = os.path.join(tmp, "disk.raw")
    _assemble(raw, boot, boot_size, rootfs, root_size, tools.mbr_bin)
    progress("converting to compressed qcow2")
    staged = os.path.join(tmp, OUTPUT)
    _run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", raw, staged])
    os.chmod(staged, 0o644)
    virtual = os.path.getsize(raw)
    os.replace(staged, out)
    return {"kernel": os.path.basename(kernel), "root_uuid": root_uuid, "cmdline": cmdline,
            "virtual_size": virtual, "root_bytes_used": used, "sha256": _sha256(out),
            "packages": list(PACKAGES)}


def register(result: BuildResult, context: Any = None,
             progress: Progress = print) -> dict[str, Any]:
    """Register the image (qcow2, public) with os_distro=debian and the
    guest agent; an image of this name and checksum is reused."""
    from novalite import context as nl_context
    from novalite.image import api as image_api

    ctxt = context or nl_context.get_admin_context()
    api = image_api.API()
    md5 = hashlib.md5(usedforsecurity=False)
    with open(result.path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            md5.update(chunk)
    for old in api.get_all(ctxt, {"name": IMAGE_NAME}):
        if old["checksum"] == md5.hexdigest() and old["status"] == "active":
            progress(f"{IMAGE_NAME}: already registered as {old['id']}")
            return dict(old)
    min_disk = -(-int(result.manifest["virtual_size"]) // (1024 * MiB))
    image: dict[str, Any] = api.register(
        ctxt, IMAGE_NAME, result.path, disk_format="qcow2", container_format="bare",
        min_ram=MIN_RAM_MB, min_disk=min_disk, visibility="public",
        properties={"os_distro": "debian", "os_version": "12", "os_type": "linux",
                    "os_admin_user": DEFAULT_USER, "hw_qemu_guest_agent": "yes"})
    progress(f"{IMAGE_NAME}: registered {image['id']} ({image['size']} bytes)")
    return image
