"""Prepare this machine to run guests: Debian packages, the libvirt daemons,
and whether KVM can be used or guests must run under TCG.

Idempotent: what is installed is not installed again, running daemons are
left alone, and apt is not touched when nothing is missing.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from novalite import filemodes, tinyguest

Progress = Callable[[str], None]

# What the libvirt driver and the tiny guest need on the host. The image
# builder itself only downloads and unpacks packages (kernel, busybox,
# syslinux, mtools, dosfstools, guest agent): it needs apt-get and dpkg-deb,
# which Debian always has, and qemu-img (qemu-utils) for the qcow2 disk.
# genisoimage makes config drives; nftables keeps guests off the host's
# services ([network] port_security).
PACKAGES = ("libvirt-daemon-system", "qemu-system-x86", "qemu-utils", "libvirt-dev",
            "pkg-config", "genisoimage", "nftables")
APT_INSTALL = ("apt-get", "install", "-y",
               # NOTE: an /etc/libvirt/qemu.conf that predates the package
               # otherwise stops dpkg at a conffile prompt.
               "-o", "Dpkg::Options::=--force-confdef",
               "-o", "Dpkg::Options::=--force-confold")
LIBVIRT_URI = "qemu:///system"
LOG_DIR = "/var/log/libvirt"


class HostError(tinyguest.TinyGuestError):
    pass


@dataclass
class HostReport:
    accel: str                     # "kvm" or "tcg"
    reason: str                    # why that accelerator
    installed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    libvirt: str = ""              # what `virsh version` says about the hypervisor


def _env() -> dict[str, str]:
    return dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")


def _run(argv: Sequence[str], timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    # NOTE: the system's umask, not the service one: package scripts and the
    # daemons started here make files that others (QEMU) must reach.
    return subprocess.run(list(argv), env=_env(), capture_output=True, text=True,
                          check=False, timeout=timeout, umask=filemodes.SYSTEM_UMASK)


def kvm_usable(dev_kvm: str = "/dev/kvm", pvm_module: str = "/sys/module/kvm_pvm",
               cpuinfo: str = "/proc/cpuinfo") -> tuple[bool, str]:
    """Whether QEMU can use KVM here, and why (not). A /dev/kvm is not
    enough: under PVM (kvm_pvm) it runs only specially built guest kernels,
    and without vmx/svm there is no hardware virtualization behind it."""
    if not os.path.exists(dev_kvm):
        return False, f"{dev_kvm} does not exist"
    if os.path.exists(pvm_module):
        return False, (f"{dev_kvm} is PVM ({pvm_module} exists), which runs only "
                       "PVM-enabled guest kernels")
    try:
        with open(cpuinfo) as f:
            flags = {w for line in f if line.startswith("flags") for w in line.split()}
    except OSError as e:
        return False, f"cannot read {cpuinfo}: {e}"
    if not flags & {"vmx", "svm"}:
        return False, f"{cpuinfo} shows neither vmx nor svm"
    if not os.access(dev_kvm, os.R_OK | os.W_OK):
        return False, f"{dev_kvm} exists but is not readable and writable by this user"
    return True, f"{dev_kvm} with {'vmx' if 'vmx' in flags else 'svm'}"


def missing_packages(packages: Sequence[str] = PACKAGES) -> list[str]:
    res = _run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\n", *packages])
    installed = {line.split()[0] for line in res.stdout.splitlines()
                 if len(line.split()) > 1 and line.split()[1] == "ii"}
    return [p for p in packages if p not in installed]


def _apt_knows(packages: Sequence[str]) -> bool:
    res = _run(["apt-cache", "policy", *packages])
    candidates = [line.split(":", 1)[1].strip() for line in res.stdout.splitlines()
                  if line.strip().startswith("Candidate:")]
    return len(candidates) == len(packages) and "(none)" not in candidates


def install_packages(packages: Sequence[str], progress: Progress) -> None:
    if not _apt_knows(packages):
        progress("apt-get update (the package lists do not know every package)")
        res = _run(["apt-get", "update"])
        if res.returncode != 0:
            raise HostError(f"apt-get update failed ({res.returncode}): "
                            f"{res.stderr.strip()[-800:]}")
    progress(f"apt-get install {' '.join(packages)}")
    res = _run([*APT_INSTALL, *packages])
    if res.returncode != 0:
        raise HostError(f"apt-get install {' '.join(packages)} failed ({res.returncode}): "
                        f"{(res.stderr or res.stdout).strip()[-800:]}")


def running(name: str) -> bool:
    """Whether a process whose command name is exactly ``name`` runs."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == name:
                    return True
        except OSError:
            continue
    return False


def _start_daemon(name: str, progress: Progress) -> None:
    progress(f"starting {name} -d")
    with tempfile.TemporaryFile() as err:
        # NOTE: a file, not a pipe, for stderr: the daemon keeps what it
        # inherits, and a pipe would never reach EOF.
        res = subprocess.run([name, "-d"], stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                             start_new_session=True, check=False, timeout=60,
                             umask=filemodes.SYSTEM_UMASK)
        err.seek(0)
        message = err.read().decode(errors="replace").strip()
    if res.returncode != 0:
        raise HostError(f"{name} -d failed ({res.returncode}): {message}")


def start_libvirt(progress: Progress) -> list[str]:
    os.makedirs(LOG_DIR, exist_ok=True)
    started = []
    for daemon in ("virtlogd", "libvirtd"):
        if not running(daemon):
            _start_daemon(daemon, progress)
            started.append(daemon)
    return started


def wait_libvirt(timeout: float = 30) -> str:
    """The hypervisor line of ``virsh version``, once libvirtd answers."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        try:
            res = _run(["virsh", "-c", LIBVIRT_URI, "version"], timeout=10)
            if res.returncode == 0:
                lines = [ln for ln in res.stdout.splitlines() if "hypervisor" in ln.lower()]
                return (lines or res.stdout.strip().splitlines() or [""])[-1].strip()
            last = (res.stderr or res.stdout).strip()
        except subprocess.TimeoutExpired:
            last = "virsh version did not answer within 10 s"
        if time.monotonic() > deadline:
            raise HostError(f"libvirtd at {LIBVIRT_URI} did not answer `virsh version` "
                            f"within {timeout:.0f} s: {last}")
        time.sleep(0.5)


def prepare_host(progress: Progress = print, timeout: float = 30) -> HostReport:
    """Install what is missing, start virtlogd and libvirtd, wait for libvirt
    to answer, and pick the accelerator. Needs root."""
    if os.geteuid() != 0:
        raise HostError("preparing the host needs root (apt-get, libvirtd)")
    missing = missing_packages()
    if missing:
        install_packages(missing, progress)
    else:
        progress(f"packages present: {' '.join(PACKAGES)}")
    started = start_libvirt(progress)
    if not started:
        progress("virtlogd and libvirtd already run")
    version = wait_libvirt(timeout)
    progress(f"libvirt answers at {LIBVIRT_URI}: {version}")
    usable, reason = kvm_usable()
    accel = "kvm" if usable else "tcg"
    progress(f"accelerator: {accel.upper()} ({reason})")
    return HostReport(accel, reason, missing, started, version)
