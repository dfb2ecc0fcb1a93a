"""Anti-spoofing per guest port with libvirt's network filters.

Guests of every tenant share a network's bridge. libvirt's ``clean-traffic``
filter (shipped with libvirt, as Nova's libvirt driver has used it) makes the
port's tap drop frames from any MAC but the port's, IP packets from any
address but the port's, and ARP that claims another address; it also drops
other layer-2 protocols. libvirt applies the filter when it creates the tap
and removes it with the tap, so the port's filter lives exactly as long as
the port is on the bridge.
"""

from __future__ import annotations

from typing import Any

from novalite.conf import CONF
from novalite.network import model as network_model

FILTER = "clean-traffic"


def filter_for(vif: dict[str, Any]) -> tuple[str | None, list[tuple[str, str]]]:
    """The filter name and its parameters for ``vif`` (no filter when
    ``[network] port_security`` is off)."""
    if not CONF.network.port_security or CONF.network.dataplane == "vxlan":
        # NOTE: with the per-host data plane, anti-spoofing and security
        # groups are its nftables rules (novalite.network.dataplane.secgroups).
        return None, []
    params = [("MAC", str(vif["address"]).lower())]
    params += [("IP", str(ip["address"])) for ip in network_model.fixed_ips(vif)
               if ip.get("version", 4) == 4]
    return FILTER, params
