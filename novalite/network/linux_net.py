"""Linux bridges and tap devices on the compute host, through iproute2.

Every command is a list of arguments (no shell); names are checked against
the kernel's interface-name rules before they reach ``ip``.
"""

from __future__ import annotations

import ipaddress
import os
import re

from oslo_concurrency import lockutils, processutils
from oslo_log import log as logging

from novalite import exception

LOG = logging.getLogger(__name__)

_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


def check_ifname(name: str) -> str:
    if not _IFNAME.match(name or ""):
        raise exception.InvalidNetwork(
            reason=f"{name!r} is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -)")
    return name


def device_exists(name: str) -> bool:
    return os.path.isdir(f"/sys/class/net/{check_ifname(name)}")


def _ip(*args: str) -> str:
    out, _err = processutils.execute("ip", *args)
    return str(out)


def bridge_addresses(bridge: str) -> list[str]:
    out = _ip("-o", "-4", "addr", "show", "dev", check_ifname(bridge))
    return [f.split()[3] for f in out.splitlines() if len(f.split()) > 3]


def ensure_bridge(bridge: str, cidr: str, gateway: str) -> None:
    """The network's bridge exists, is up and holds the gateway address
    (so the host reaches its guests). Idempotent, safe to race: the lock
    orders threads of this process; another process losing the race to
    create it finds it made."""
    check_ifname(bridge)
    prefix = ipaddress.ip_network(cidr, strict=False).prefixlen
    gw = f"{ipaddress.ip_address(gateway)}/{prefix}"
    with lockutils.lock(f"bridge-{bridge}"):
        if not device_exists(bridge):
            LOG.info("Creating bridge %s with gateway %s", bridge, gw)
            try:
                _ip("link", "add", "name", bridge, "type", "bridge", "stp_state", "0",
                    "forward_delay", "0")
            except processutils.ProcessExecutionError as e:
                if not device_exists(bridge):
                    raise exception.NetworkSetupError(
                        reason=f"cannot create bridge {bridge}: "
                               f"{(e.stderr or '').strip()}") from e
        if gw not in bridge_addresses(bridge):
            try:
                _ip("addr", "add", gw, "dev", bridge)
            except processutils.ProcessExecutionError as e:
                if gw not in bridge_addresses(bridge):
                    raise exception.NetworkSetupError(
                        reason=f"cannot add {gw} to bridge {bridge}: "
                               f"{(e.stderr or '').strip()}") from e
        try:
            _ip("link", "set", "dev", bridge, "up")
        except processutils.ProcessExecutionError as e:
            raise exception.NetworkSetupError(
                reason=f"cannot set bridge {bridge} up: {(e.stderr or '').strip()}") from e


def delete_device(name: str) -> None:
    """Remove an interface (a tap libvirt left, a test's bridge); gone is fine."""
    if not device_exists(name):
        return
    try:
        _ip("link", "del", "dev", name)
    except processutils.ProcessExecutionError:
        if device_exists(name):
            raise
