"""Keeping the host's own services off the guests' bridge, with nftables.

A guest's NIC sits on a Linux bridge that holds the network's gateway
address, so without a filter every service listening on the host (on the
gateway address or any other of the host's addresses) is one connection
away from every tenant. Per guest port, this module adds one rule to the
``input`` chain of the ``inet novalite`` table: packets that come in over
the port's bridge from the port's MAC go through the ``guest-to-host`` chain,
which lets through replies to connections the host opened (the host talks
to its guests) and the ports named in ``[network] guest_host_allowed_ports``
(for DHCP or metadata, none by default), and drops the rest. Frames between
guests are bridged and never reach these chains.

The per-port rule carries the tap's name as its comment and is removed when
the port is unplugged. Matching on the MAC relies on the port's anti-spoofing
(libvirt's ``clean-traffic`` filter, see ``virt/libvirt/vif.py``): a guest
cannot send with another MAC to get past it.

Every change is one ``nft -f`` transaction: the table either has the new
state or the old one.
"""

from __future__ import annotations

import json
import re

from oslo_concurrency import lockutils, processutils
from oslo_log import log as logging

from novalite import exception
from novalite.conf import CONF

LOG = logging.getLogger(__name__)

TABLE = "novalite"
INPUT = "input"
GUESTS = "guest-to-host"
_COMMENT = "novalite port {}"
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_ALLOWED = re.compile(r"^(tcp|udp)/([0-9]{1,5})$")


def allowed_ports() -> list[tuple[str, int]]:
    """``[network] guest_host_allowed_ports`` as (protocol, port) pairs."""
    out = []
    for item in CONF.network.guest_host_allowed_ports:
        m = _ALLOWED.match(item.strip().lower())
        if not m or not 0 < int(m.group(2)) < 65536:
            raise exception.InvalidNetwork(
                reason=f"[network] guest_host_allowed_ports entry {item!r} is not "
                       "tcp/PORT or udp/PORT")
        out.append((m.group(1), int(m.group(2))))
    return out


def _nft(script: str | None = None, *args: str) -> str:
    try:
        if script is not None:
            out, _err = processutils.execute("nft", "-f", "-", process_input=script)
        else:
            out, _err = processutils.execute("nft", *args)
    except processutils.ProcessExecutionError as e:
        raise exception.NetworkSetupError(
            reason=f"nft {'-f' if script is not None else ' '.join(args)} failed: "
                   f"{(e.stderr or '').strip()}") from e
    except OSError as e:
        raise exception.NetworkSetupError(
            reason=f"cannot run nft (package nftables), needed by [network] "
                   f"port_security: {e}") from e
    return str(out)


def _base_script() -> str:
    """The table, its input hook and the guest-to-host verdicts, rewritten
    whole (so a change of allowed ports takes effect at the next plug)."""
    lines = [
        f"add table inet {TABLE}",
        f"add chain inet {TABLE} {INPUT} {{ type filter hook input priority filter; "
        "policy accept; }",
        f"add chain inet {TABLE} {GUESTS}",
        f"flush chain inet {TABLE} {GUESTS}",
        f"add rule inet {TABLE} {GUESTS} ct state established,related accept",
    ]
    for proto, port in allowed_ports():
        lines.append(f"add rule inet {TABLE} {GUESTS} meta l4proto {proto} "
                     f"{proto} dport {port} accept")
    lines.append(f'add rule inet {TABLE} {GUESTS} counter drop comment "guest to host"')
    return "\n".join(lines) + "\n"


def _port_handles(devname: str) -> list[int]:
    """Handles of the input rules of the port ``devname`` (none when the
    table is not there)."""
    try:
        out = _nft(None, "-j", "-a", "list", "chain", "inet", TABLE, INPUT)
    except exception.NetworkSetupError:
        return []
    comment = _COMMENT.format(devname)
    handles = []
    for item in json.loads(out).get("nftables", []):
        rule = item.get("rule")
        if rule and rule.get("comment") == comment:
            handles.append(int(rule["handle"]))
    return handles


def _check(bridge: str, devname: str, mac: str) -> None:
    if not _IFNAME.match(bridge) or not _IFNAME.match(devname):
        raise exception.InvalidNetwork(reason=f"bad interface name {bridge!r}/{devname!r}")
    if not _MAC.match(mac):
        raise exception.InvalidNetwork(reason=f"bad MAC address {mac!r}")


def protect_host(bridge: str, devname: str, mac: str) -> None:
    """Send the port's traffic to the host through ``guest-to-host``.
    Idempotent: plugging a port again leaves one rule."""
    mac = mac.lower()
    _check(bridge, devname, mac)
    with lockutils.lock("nftables-novalite"):
        script = _base_script()
        for handle in _port_handles(devname):
            script += f"delete rule inet {TABLE} {INPUT} handle {handle}\n"
        script += (f'add rule inet {TABLE} {INPUT} iifname "{bridge}" ether saddr {mac} '
                   f'jump {GUESTS} comment "{_COMMENT.format(devname)}"\n')
        _nft(script)
    LOG.debug("Port %s (%s on %s) kept off the host's services", devname, mac, bridge)


def unprotect_host(devname: str) -> None:
    """Remove the port's rule; a port without one is fine."""
    if not _IFNAME.match(devname):
        raise exception.InvalidNetwork(reason=f"bad interface name {devname!r}")
    with lockutils.lock("nftables-novalite"):
        handles = _port_handles(devname)
        if handles:
            _nft("".join(f"delete rule inet {TABLE} {INPUT} handle {h}\n" for h in handles))


def port_rules(devname: str) -> int:
    """How many rules the port has (for tests and ``doctor``)."""
    return len(_port_handles(devname))
