"""What a guest's serial console says about why it did not boot.

A small table of signatures: each a compiled pattern for one console line
and the words a user can act on. ``scan`` looks at a few lines at a time
(the compute host's guest watcher feeds it only the bytes the guest wrote
since its last pass), so a console is read once however long it gets.

NOTE: guest output is untrusted. Every pattern is a literal alternation with
at most one trailing ``.*`` (no nested quantifiers: linear time with ``re``),
lines are cut to ``MAX_LINE`` characters before matching, and the line quoted
back to the user is stripped of control characters (escape sequences) and
cut again. Nothing here names a host path: the texts are about the guest.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

MAX_LINE = 512
QUOTE = 200
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]|\x1b\[[0-9;?]*[A-Za-z]")


@dataclasses.dataclass(frozen=True)
class Signature:
    name: str
    pattern: re.Pattern[str]
    # NOTE: ``{line}`` is the guest's line, quoted (cleaned and cut).
    text: str
    # A fatal signature ends the boot: nothing later is to be expected.
    fatal: bool = False


@dataclasses.dataclass(frozen=True)
class Finding:
    signature: str
    message: str
    line: str
    fatal: bool


SIGNATURES: tuple[Signature, ...] = (
    Signature(
        "kernel_panic",
        re.compile(r"Kernel panic - not syncing"),
        "The guest's kernel panicked: \"{line}\". The kernel started but could not run "
        "the system: its initramfs or init is missing or broken, or it found no root file "
        "system. Rebuild the server with an image that boots, or check the image's "
        "kernel, ramdisk and os_command_line properties.",
        fatal=True),
    Signature(
        "no_bootable_device",
        re.compile(r"No bootable device|Boot failed: not a bootable disk|"
                   r"Boot failed: could not read the boot disk|No boot device"),
        "The firmware found nothing to boot: \"{line}\". The server's disk holds no boot "
        "loader: the image may not be a bootable disk (an ISO, a bare file system, or a "
        "UEFI-only image), or it was uploaded with the wrong disk_format. Rebuild the "
        "server from a bootable image.",
        fatal=True),
    Signature(
        "no_datasource",
        re.compile(r"No datasource found|[Dd]atasource DataSourceNone|"
                   r"Used fallback datasource"),
        "cloud-init in the guest found no datasource: \"{line}\". It could read neither "
        "the config drive nor the metadata service, so the server has no SSH keys, "
        "user data or network configuration from this cloud. Boot the server with a "
        "config drive (--config-drive true) or check that it can reach 169.254.169.254.",
    ),
    Signature(
        "dhcp_timeout",
        re.compile(r"udhcpc.*no lease|No DHCPOFFERS received|No working leases|"
                   r"DHCP.*timed out|dhcp.*[Tt]imed out|tiny: \S+: no DHCP lease"),
        "The guest asked for an address by DHCP and got none: \"{line}\". The server's "
        "network gives no DHCP answer to this port, or the guest's interface is not "
        "connected. Check that the server's network has a subnet with DHCP enabled, or "
        "give the guest its address from the config drive.",
    ),
    Signature(
        "emergency_shell",
        re.compile(r"Give root password for maintenance|You are in emergency mode|"
                   r"Entering emergency mode|dracut-initqueue.*timeout|"
                   r"Dropping to a shell"),
        "The guest's boot stopped in an emergency shell: \"{line}\". It could not mount "
        "its file systems (a wrong root= or fstab entry, a disk it does not see, or a "
        "file system check that failed). Rebuild the server, or use rescue mode to "
        "repair its disk.",
        fatal=True),
    Signature(
        "out_of_memory",
        re.compile(r"Out of memory: Kill(ed)? process|invoked oom-killer"),
        "The guest ran out of memory while it booted: \"{line}\". Resize the server to "
        "a flavor with more RAM (the image's min_ram may be too small).",
    ),
)


def clean(line: str) -> str:
    """``line`` without control characters, cut to ``QUOTE`` characters."""
    text = _CONTROL.sub("", line).strip()
    return text if len(text) <= QUOTE else text[:QUOTE] + "..."


def match(line: str) -> Finding | None:
    """The first signature ``line`` shows, or None."""
    bounded = line[:MAX_LINE]
    for sig in SIGNATURES:
        if sig.pattern.search(bounded):
            quoted = clean(bounded)
            return Finding(sig.name, sig.text.format(line=quoted), quoted, sig.fatal)
    return None


def scan(lines: Iterable[str], seen: set[str] | None = None) -> list[Finding]:
    """Each signature the lines show, once (the first line that shows it);
    ``seen`` (updated) holds signatures found on earlier passes, which are
    not reported again."""
    seen = set() if seen is None else seen
    found: list[Finding] = []
    for line in lines:
        finding = match(line)
        if finding is not None and finding.signature not in seen:
            seen.add(finding.signature)
            found.append(finding)
    return found


def scan_text(text: str) -> list[Finding]:
    """Every signature in a whole console output (e.g. a failed build's)."""
    return scan(text.splitlines())
