"""Guest network interfaces from ``network_info`` (see
``novalite.network.model``): a virtio NIC on the network's Linux bridge, with
the port's MAC and a tap named after the port, behind the port's
anti-spoofing filter (``nwfilter``).

Plugging makes sure the bridge exists on this host with the gateway address;
libvirt creates the tap when the domain starts and removes it when the
domain stops; unplugging removes a tap that outlived its domain.
Plugging also keeps the host's own services off the port
(``network.filtering``); unplugging removes that rule.
"""

from __future__ import annotations

import re
from typing import Any

from novalite import exception
from novalite.conf import CONF
from novalite.network import filtering, linux_net
from novalite.virt.libvirt import config, nwfilter

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


def get_config(vif: dict[str, Any]) -> config.LibvirtConfigGuestInterface:
    mac = str(vif.get("address") or "").lower()
    bridge = str((vif.get("network") or {}).get("bridge") or "")
    devname = vif.get("devname")
    if not _MAC.match(mac):
        raise exception.Invalid(reason=f"VIF {vif.get('id')} has no valid MAC address ({mac!r})")
    if not _IFNAME.match(bridge):
        raise exception.Invalid(reason=f"VIF {vif.get('id')} has no valid bridge ({bridge!r})")
    if devname is not None and not _IFNAME.match(str(devname)):
        raise exception.Invalid(reason=f"VIF {vif.get('id')} has an invalid devname")
    name, params = nwfilter.filter_for(vif)
    return config.LibvirtConfigGuestInterface(mac, bridge, devname, filter_name=name,
                                              filter_params=params)


def _vxlan() -> bool:
    return str(CONF.network.dataplane) == "vxlan"


def plug(vif: dict[str, Any], host: str | None = None) -> None:
    if _vxlan():
        # NOTE: the per-host data plane: this host's network agent applies
        # now, so the network's bridge (and VXLAN device) and the port's
        # security group rules exist before libvirt makes the tap (see
        # novalite.network.agent_service).
        from novalite.network import agent_service

        get_config(vif)
        agent_service.ensure_port(vif, host)
        return
    bridge = get_config(vif).bridge
    subnets = vif["network"].get("subnets") or []
    if subnets and subnets[0].get("gateway"):
        linux_net.ensure_bridge(bridge, subnets[0]["cidr"], subnets[0]["gateway"])
    elif not linux_net.device_exists(bridge):
        raise exception.NovaliteException(
            f"bridge {bridge} of VIF {vif.get('id')} does not exist on this host")
    cfg = get_config(vif)
    if CONF.network.port_security and cfg.target_dev:
        filtering.protect_host(bridge, cfg.target_dev, cfg.mac_address)


def unplug(vif: dict[str, Any]) -> None:
    devname = get_config(vif).target_dev
    if devname:
        linux_net.delete_device(devname)
        if _vxlan():
            # NOTE: the port's rules go with the next apply, once its port
            # is released (the release notifies every agent).
            return
        # NOTE: also with port_security now off: a rule made while it was on goes.
        filtering.unprotect_host(devname)
