"""Guest network interfaces from ``network_info``.

``network_info`` is a list of VIFs in Nova's shape:
``{"id": port id, "address": MAC, "network": {"bridge": name}, "devname": tap}``.
The network layer creates the bridge; libvirt creates the tap and attaches
it, so "plugging" here only checks that the bridge exists.
"""

from __future__ import annotations

import os
import re

from novalite import exception
from novalite.virt.libvirt import config

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


def get_config(vif: dict) -> config.LibvirtConfigGuestInterface:
    mac = str(vif.get("address") or "").lower()
    bridge = str((vif.get("network") or {}).get("bridge") or "")
    devname = vif.get("devname")
    if not _MAC.match(mac):
        raise exception.Invalid(reason=f"VIF {vif.get('id')} has no valid MAC address ({mac!r})")
    if not _IFNAME.match(bridge):
        raise exception.Invalid(reason=f"VIF {vif.get('id')} has no valid bridge ({bridge!r})")
    if devname is not None and not _IFNAME.match(str(devname)):
        raise exception.Invalid(reason=f"VIF {vif.get('id')} has an invalid devname")
    return config.LibvirtConfigGuestInterface(mac, bridge, devname)


def plug(vif: dict) -> None:
    bridge = get_config(vif).bridge
    if not os.path.isdir(f"/sys/class/net/{bridge}"):
        raise exception.NovaliteException(
            f"bridge {bridge} of VIF {vif.get('id')} does not exist on this host")
