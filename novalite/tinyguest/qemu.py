"""Run the tiny guest under bare QEMU (no libvirt): for tests and benchmarks.

A :class:`Guest` is one ``qemu-system-x86_64`` process with its serial
console in a file and a QMP socket; it is a context manager that always
kills the process on the way out.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Sequence
from typing import Any

from novalite import tinyguest

QEMU = "qemu-system-x86_64"


class GuestError(tinyguest.TinyGuestError):
    pass


class Guest:
    def __init__(self, argv: Sequence[str], workdir: str, name: str = "guest") -> None:
        self.workdir = workdir
        self.serial_log = os.path.join(workdir, f"{name}.serial.log")
        self.qmp_path = os.path.join(workdir, f"{name}.qmp")
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        for path in (self.serial_log, self.qmp_path):
            if os.path.exists(path):
                os.unlink(path)
        self.argv = [*argv, "-serial", f"file:{self.serial_log}",
                     "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        self.started = time.monotonic()
        with open(self.stderr_path, "wb") as err:
            # NOTE: a session of its own, so signals meant for QEMU never
            # reach the test runner and vice versa.
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, start_new_session=True)

    def __enter__(self) -> Guest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def console(self) -> str:
        try:
            with open(self.serial_log, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _describe(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                err = f.read().decode(errors="replace").strip()
        except FileNotFoundError:
            err = ""
        tail = "\n".join(self.console().splitlines()[-15:])
        return (f"\n--- qemu stderr ---\n{err}\n--- last console lines ---\n{tail}\n"
                f"--- command ---\n{' '.join(self.argv)}")

    def wait_for_line(self, line: str, timeout: float) -> float:
        """Seconds from QEMU's start until ``line`` is a whole console line."""
        deadline = self.started + timeout
        while True:
            if any(ln.strip() == line for ln in self.console().splitlines()):
                return time.monotonic() - self.started
            if self.proc.poll() is not None:
                raise GuestError(f"QEMU exited ({self.proc.returncode}) before the console "
                                 f"showed {line!r}{self._describe()}")
            if time.monotonic() > deadline:
                raise GuestError(f"the console did not show {line!r} within {timeout:.0f} s"
                                 f"{self._describe()}")
            time.sleep(0.02)

    def wait_booted(self, hostname: str, timeout: float = 90) -> float:
        return self.wait_for_line(tinyguest.marker_line(hostname), timeout)

    def qmp(self, command: str, timeout: float = 10, **arguments: Any) -> Any:
        """One QMP command on a fresh connection; its ``return`` value."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.qmp_path)
            f = s.makefile("rwb")

            def call(cmd: str, args: dict[str, Any]) -> Any:
                msg = {"execute": cmd, **({"arguments": args} if args else {})}
                f.write(json.dumps(msg).encode() + b"\n")
                f.flush()
                while True:
                    reply = json.loads(f.readline() or b"{}")
                    if "return" in reply:
                        return reply["return"]
                    if "error" in reply or not reply:
                        raise GuestError(f"QMP {cmd} failed: {reply.get('error', 'EOF')}")

            json.loads(f.readline())  # greeting
            call("qmp_capabilities", {})
            return call(command, arguments)

    def powerdown(self) -> None:
        """Press the ACPI power button."""
        self.qmp("system_powerdown")

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired as e:
            raise GuestError(f"QEMU still runs {timeout:.0f} s after it was asked to stop"
                             f"{self._describe()}") from e

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def base_argv(memory_mb: int = tinyguest.RECOMMENDED_RAM_MB) -> list[str]:
    # NOTE: -nodefaults drops the emulated NIC (and its option ROM), VGA,
    # floppy and CD-ROM that a guest here does not use.
    return [QEMU, "-accel", "tcg", "-machine", "pc", "-m", str(memory_mb), "-nodefaults",
            "-display", "none", "-no-user-config"]


def boot_kernel(kernel: str, initrd: str, workdir: str, hostname: str | None = None,
                cmdline: str = "console=ttyS0 no_timer_check", extra: Sequence[str] = (),
                name: str = "kernel", memory_mb: int = tinyguest.RECOMMENDED_RAM_MB) -> Guest:
    if hostname:
        cmdline = f"{cmdline} {tinyguest.HOSTNAME_PARAM}={hostname}"
    return Guest([*base_argv(memory_mb), "-kernel", kernel, "-initrd", initrd,
                  "-append", cmdline, *extra], workdir, name)


def overlay(base: str, path: str) -> str:
    """A qcow2 overlay on ``base``, as a cloud gives each instance."""
    if os.path.exists(path):
        os.unlink(path)
    res = subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                          os.path.abspath(base), path], capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        raise GuestError(f"qemu-img create overlay on {base} failed: {res.stderr.strip()}")
    return path


def boot_disk(disk: str, workdir: str, interface: str = "virtio",
              config_drive: str | None = None, extra: Sequence[str] = (),
              name: str = "disk", memory_mb: int = tinyguest.RECOMMENDED_RAM_MB) -> Guest:
    argv = [*base_argv(memory_mb), "-drive", f"file={disk},format=qcow2,if={interface}"]
    if config_drive:
        argv += ["-drive", f"file={config_drive},format=raw,if=ide,media=cdrom,readonly=on"]
    return Guest([*argv, *extra], workdir, name)


def config_drive(workdir: str, hostname: str, uuid: str = "00000000-0000-4000-8000-000000000000"
                 ) -> str:
    """An OpenStack config drive (ISO 9660, label config-2) naming ``hostname``."""
    tree = os.path.join(workdir, "config-drive")
    latest = os.path.join(tree, "openstack", "latest")
    os.makedirs(latest, exist_ok=True)
    with open(os.path.join(latest, "meta_data.json"), "w") as f:
        json.dump({"uuid": uuid, "hostname": hostname, "name": hostname}, f)
    iso = os.path.join(workdir, "config-drive.iso")
    res = subprocess.run(["genisoimage", "-quiet", "-J", "-r", "-V", "config-2", "-o", iso,
                          tree], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise GuestError(f"genisoimage failed ({res.returncode}): {res.stderr.strip()}")
    return iso
