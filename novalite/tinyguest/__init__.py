"""A tiny guest built from Debian packages, for tests and benchmarks.

The guest is Debian's cloud kernel with a busybox initramfs; it boots under
TCG in a few seconds, prints :data:`MARKER` with its hostname on the serial
console once it is ready, and powers off on an ACPI power-button press.
``builder`` makes it, ``host`` prepares a machine to run it under libvirt.
"""

from __future__ import annotations

# NOTE: tests, benchmarks and the libvirt driver's tests wait for this line on
# the serial console; changing it breaks every one of them.
MARKER = "NOVALITE-TINY-BOOTED"
HOSTNAME_PARAM = "novalite.hostname"
DEFAULT_HOSTNAME = "tiny"

# Measured under TCG: 64 MiB never boots, 80 MiB panics.
MIN_RAM_MB = 96
RECOMMENDED_RAM_MB = 128

KERNEL_IMAGE = "novalite-tiny-kernel"
RAMDISK_IMAGE = "novalite-tiny-ramdisk"
AMI_IMAGE = "novalite-tiny"
DISK_IMAGE = "novalite-tiny-disk"


class TinyGuestError(Exception):
    """Base of every error building or preparing for the tiny guest."""


def marker_line(hostname: str) -> str:
    """The exact line the guest prints when it is up."""
    return f"{MARKER} hostname={hostname}"
