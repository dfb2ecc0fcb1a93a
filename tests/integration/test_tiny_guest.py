"""The tiny guest on real QEMU (TCG, no libvirt): it builds reproducibly,
boots in both forms, says so on the serial console with its hostname, and
powers off when the ACPI power button is pressed or the agent is asked.

These fail (never skip) when QEMU or genisoimage are missing: run
``novalite-manage host prepare``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time

import pytest

from novalite import tinyguest
from novalite.tinyguest import builder, qemu

pytestmark = pytest.mark.integration

BOOT_TIMEOUT = 90      # TCG boots take 5-7 s here; leave room for a loaded CI
STOP_TIMEOUT = 30      # ACPI power-off takes well under a second once asked


@pytest.fixture(scope="module")
def tiny() -> builder.BuildResult:
    # NOTE: the shared cache dir (not tmp_path) makes CI reruns fast: an
    # unchanged build is found up to date without downloading anything.
    for tool in ("qemu-system-x86_64", "qemu-img", "genisoimage"):
        assert shutil.which(tool), f"{tool} is not installed: run novalite-manage host prepare"
    return builder.build(progress=lambda line: print(f"[build] {line}"))


def _power_off(guest: qemu.Guest) -> None:
    asked = time.monotonic()
    guest.powerdown()
    assert guest.wait_exit(STOP_TIMEOUT) == 0
    print(f"QEMU exited {time.monotonic() - asked:.2f} s after system_powerdown")
    assert "reboot: Power down" in guest.console()


def test_kernel_boot_hostname_from_cmdline_and_acpi_power_off(tiny, tmp_path):
    with qemu.boot_kernel(tiny.kernel, tiny.ramdisk, str(tmp_path), hostname="tiny-kernel") \
            as guest:
        seconds = guest.wait_booted("tiny-kernel", BOOT_TIMEOUT)
        print(f"kernel + ramdisk: marker after {seconds:.2f} s")
        _power_off(guest)


def test_disk_boot_hostname_from_config_drive_and_acpi_power_off(tiny, tmp_path):
    disk = qemu.overlay(tiny.disk, str(tmp_path / "instance.qcow2"))
    cdrom = qemu.config_drive(str(tmp_path), "tiny-disk")
    before = os.path.getsize(tiny.disk)
    with qemu.boot_disk(disk, str(tmp_path), config_drive=cdrom) as guest:
        seconds = guest.wait_booted("tiny-disk", BOOT_TIMEOUT)
        print(f"qcow2 disk (overlay) + config drive: marker after {seconds:.2f} s")
        _power_off(guest)
    assert os.path.getsize(tiny.disk) == before


def test_disk_boot_without_hostname_uses_the_default(tiny, tmp_path):
    disk = qemu.overlay(tiny.disk, str(tmp_path / "instance.qcow2"))
    with qemu.boot_disk(disk, str(tmp_path), interface="ide") as guest:
        guest.wait_booted(tinyguest.DEFAULT_HOSTNAME, BOOT_TIMEOUT)
        _power_off(guest)


def test_guest_agent_answers_and_shuts_the_guest_down(tiny, tmp_path):
    sock = str(tmp_path / "qga.sock")
    channel = ["-device", "virtio-serial-pci",
               "-chardev", f"socket,path={sock},server=on,wait=off,id=qga0",
               "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"]
    with qemu.boot_kernel(tiny.kernel, tiny.ramdisk, str(tmp_path), hostname="tiny-agent",
                          extra=channel) as guest:
        guest.wait_booted("tiny-agent", BOOT_TIMEOUT)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(20)
            s.connect(sock)
            f = s.makefile("rwb")

            def agent(cmd: str, **args: object) -> dict:
                f.write(json.dumps({"execute": cmd, "arguments": args}).encode() + b"\n")
                f.flush()
                return json.loads(f.readline())

            assert agent("guest-sync", id=4242) == {"return": 4242}
            assert agent("guest-get-host-name") == {"return": {"host-name": "tiny-agent"}}
            # guest-shutdown answers nothing on success: the guest goes away.
            f.write(b'{"execute": "guest-shutdown"}\n')
            f.flush()
            assert guest.wait_exit(STOP_TIMEOUT) == 0
        assert "reboot: Power down" in guest.console()


def test_second_build_with_the_same_inputs_is_up_to_date(tiny):
    again = builder.build(tiny.output_dir, progress=print)
    assert again.cached
    assert again.seconds < 5
    assert again.manifest["outputs"] == tiny.manifest["outputs"]


def test_rebuild_is_byte_identical(tiny, tmp_path):
    rebuilt = builder.build(str(tmp_path / "rebuild"), deb_dir=os.path.join(tiny.output_dir,
                                                                             "debs"),
                            force=True, progress=print)
    assert not rebuilt.cached
    for role in builder.OUTPUTS:
        assert rebuilt.manifest["outputs"][role]["sha256"] == \
            tiny.manifest["outputs"][role]["sha256"], f"{role} differs between two builds"
        with open(rebuilt.path(role), "rb") as a, open(tiny.path(role), "rb") as b:
            assert a.read() == b.read(), f"{role} differs between two builds"
