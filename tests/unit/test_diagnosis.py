"""The console signature table (novalite.compute.diagnosis) on console
excerpts as real guests print them, and the guest watcher's address match."""

from __future__ import annotations

import time

import pytest

from novalite.compute import diagnosis, guest_watch

KERNEL_PANIC_NO_INIT = """\
[    0.912345] Freeing unused kernel image (initmem) memory: 1234K
[    0.913001] Write protecting the kernel read-only data: 20480k
[    0.915872] Run /init as init process
[    0.916990] Failed to execute /init (error -2)
[    0.917420] Run /sbin/init as init process
[    0.918011] Run /etc/init as init process
[    0.918563] Run /bin/init as init process
[    0.919102] Run /bin/sh as init process
[    0.920214] Kernel panic - not syncing: No working init found.  Try passing init= option to \
kernel. See Linux Documentation/admin-guide/init.rst for guidance.
[    0.921503] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0-27-amd64 #1  Debian 6.1.115-1
[    0.922480] ---[ end Kernel panic - not syncing: No working init found.  Try passing \
init= option to kernel. See Linux Documentation/admin-guide/init.rst for guidance. ]---
"""

KERNEL_PANIC_VFS = """\
[    1.203945] VFS: Cannot open root device "vda1" or unknown-block(0,0): error -6
[    1.204518] Please append a correct "root=" boot option; here are the available partitions:
[    1.205377] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)
"""

SEABIOS_NO_BOOT = """\
SeaBIOS (version 1.16.2-debian-1.16.2-1)
iPXE (https://ipxe.org) 00:03.0 CA00 PCI2.10 PnP PMM+7EFD0F60+7EF30F60 CA00
Booting from Hard Disk...
Boot failed: not a bootable disk

Booting from Floppy...
Boot failed: could not read the boot disk

No bootable device.
"""

CLOUD_INIT_NO_DATASOURCE = """\
[   12.441201] cloud-init[512]: Cloud-init v. 22.4.2 running 'init-local' at Sun, 06 Dec \
2026 21:02:11 +0000. Up 12.30 seconds.
[   75.912004] cloud-init[613]: 2026-12-06 21:03:14,901 - util.py[WARNING]: No active \
metadata service found
[   76.004112] cloud-init[613]: Cloud-init v. 22.4.2 finished at Sun, 06 Dec 2026 21:03:15 \
+0000. Datasource DataSourceNone.  Up 75.99 seconds
[   76.005019] cloud-init[613]: 2026-12-06 21:03:15,003 - cc_final_message.py[WARNING]: Used \
fallback datasource
"""

UDHCPC_NO_LEASE = """\
udhcpc: started, v1.36.1
udhcpc: broadcasting discover
udhcpc: broadcasting discover
udhcpc: broadcasting discover
udhcpc: no lease, failing
"""

DHCLIENT_NO_OFFERS = """\
DHCPDISCOVER on ens3 to 255.255.255.255 port 67 interval 3
DHCPDISCOVER on ens3 to 255.255.255.255 port 67 interval 8
No DHCPOFFERS received.
No working leases in persistent database - sleeping.
"""

EMERGENCY = """\
[FAILED] Failed to mount /data.
[DEPEND] Dependency failed for Local File Systems.
You are in emergency mode. After logging in, type "journalctl -xb" to view
system logs, "systemctl reboot" to reboot, "systemctl default" or "exit"
Give root password for maintenance
(or press Control-D to continue):
"""

HEALTHY_CLOUD_INIT = """\
[    8.120004] cloud-init[498]: Cloud-init v. 22.4.2 running 'init' at Sun, 06 Dec 2026. \
Up 8.01 seconds.
ci-info: ++++++++++++++++++++++++++++++++Net device info+++++++++++++++++++++++++++++++++
ci-info: +--------+------+-----------------------------+---------------+--------+----------+
ci-info: | Device |  Up  |           Address           |      Mask     | Scope  | Hw-Address|
ci-info: +--------+------+-----------------------------+---------------+--------+----------+
ci-info: |  ens3  | True |          10.0.0.51          | 255.255.255.0 | global | fa:16:3e:|
ci-info: |   lo   | True |          127.0.0.1          |   255.0.0.0   |  host  |     .    |
[   10.511230] cloud-init[640]: Cloud-init v. 22.4.2 finished. Datasource \
DataSourceConfigDrive [net,ver=2][source=/dev/sr0].  Up 10.49 seconds
"""

TINY_GUEST = """\
tiny: eth0 (fa:16:3e:12:34:56) 10.0.0.5/24 gateway 10.0.0.1
tiny: ready at uptime 1.92 s
"""


def _names(text: str) -> list[str]:
    return [f.signature for f in diagnosis.scan_text(text)]


@pytest.mark.parametrize("text, name", [
    (KERNEL_PANIC_NO_INIT, "kernel_panic"),
    (KERNEL_PANIC_VFS, "kernel_panic"),
    (SEABIOS_NO_BOOT, "no_bootable_device"),
    (CLOUD_INIT_NO_DATASOURCE, "no_datasource"),
    (UDHCPC_NO_LEASE, "dhcp_timeout"),
    (DHCLIENT_NO_OFFERS, "dhcp_timeout"),
    (EMERGENCY, "emergency_shell"),
])
def test_each_signature_found_once_in_a_real_excerpt(text: str, name: str) -> None:
    assert _names(text) == [name]


def test_a_healthy_boot_matches_nothing() -> None:
    assert _names(HEALTHY_CLOUD_INIT + TINY_GUEST) == []


def test_kernel_panic_text_quotes_the_line_without_the_host() -> None:
    (finding,) = diagnosis.scan_text(KERNEL_PANIC_VFS)
    assert finding.fatal
    assert "VFS: Unable to mount root fs on unknown-block(0,0)" in finding.message
    assert finding.message.startswith("The guest's kernel panicked:")
    assert "/var/lib" not in finding.message and "instances" not in finding.message


def test_seen_signatures_are_not_reported_again_on_later_passes() -> None:
    seen: set[str] = set()
    first = diagnosis.scan(SEABIOS_NO_BOOT.splitlines()[:4], seen)
    assert [f.signature for f in first] == ["no_bootable_device"]
    assert diagnosis.scan(SEABIOS_NO_BOOT.splitlines()[4:], seen) == []


def test_quoted_line_loses_escape_sequences_and_is_cut() -> None:
    line = "\x1b[1;31mKernel panic - not syncing: " + "x" * 2000 + "\x07"
    finding = diagnosis.match(line)
    assert finding is not None
    assert "\x1b" not in finding.line and "\x07" not in finding.line
    assert len(finding.line) <= diagnosis.QUOTE + 3


def test_a_huge_hostile_line_is_matched_in_bounded_time() -> None:
    line = "udhcpc" + " " * 10_000_000 + "no lease"
    start = time.monotonic()
    # NOTE: only the first MAX_LINE characters are looked at.
    assert diagnosis.match(line) is None
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize("line, found", [
    ("ci-info: |  ens3  | True |          10.0.0.51          | 255.255.255.0 |", "10.0.0.51"),
    ("tiny: eth0 (fa:16:3e:12:34:56) 10.0.0.5/24 gateway 10.0.0.1", "10.0.0.5"),
    ("tiny: eth0 dhcp 10.0.0.5/24 mtu 1450 router 10.0.0.1", "10.0.0.5"),
    ("inet 10.0.0.50/24 brd 10.0.0.255", None),
    ("ping 110.0.0.5 failed", None),
    ("10.0.0.5.1 is not an address", None),
])
def test_address_match_is_whole(line: str, found: str | None) -> None:
    pattern = guest_watch._address_pattern(("10.0.0.5", "10.0.0.51"))
    assert pattern is not None
    m = pattern.search(line)
    assert (m.group(1) if m else None) == found


def test_fixed_addresses_of_network_info() -> None:
    vifs = [{"network": {"label": "private", "subnets": [
        {"ips": [{"address": "10.0.0.5", "type": "fixed"}]},
        {"ips": [{"address": "fd00::5", "type": "fixed"}]}]}}]
    assert guest_watch.fixed_addresses(vifs) == ("10.0.0.5", "fd00::5")
    assert guest_watch.declares_agent({"hw_qemu_guest_agent": "yes"})
    assert not guest_watch.declares_agent({})
