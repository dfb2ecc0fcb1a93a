"""Creating networks (``novalite-manage network create``, the all-in-one's
default network, tests): checks the CIDR, gateway and bridge name."""

from __future__ import annotations

import ipaddress

from novalite import exception
from novalite.db import network as db
from novalite.network import linux_net


def create_network(name: str, cidr: str, gateway: str | None = None,
                   bridge: str | None = None, project_id: str | None = None) -> dict:
    if not name or len(name) > 255:
        raise exception.InvalidNetwork(reason="a network needs a name of 1-255 characters")
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError as e:
        raise exception.InvalidNetwork(reason=f"{cidr!r} is not a CIDR ({e})") from e
    if net.version != 4 or net.num_addresses < 4:
        raise exception.InvalidNetwork(
            reason=f"{cidr} must be an IPv4 network with room for a gateway and guests "
                   "(a /30 or larger)")
    hosts = list(net.hosts())
    gw = ipaddress.ip_address(gateway) if gateway else hosts[0]
    if gw not in hosts:
        raise exception.InvalidNetwork(reason=f"gateway {gw} is not a host address of {net}")
    overlapping = [n["name"] for n in db.network_get_all()
                   if ipaddress.ip_network(n["cidr"], strict=False).overlaps(net)]
    if overlapping:
        raise exception.InvalidNetwork(
            reason=f"{net} overlaps network(s) {', '.join(overlapping)}")
    bridge = linux_net.check_ifname(bridge or f"nlbr{len(db.network_get_all())}")
    return db.network_create({"name": name, "cidr": str(net), "gateway": str(gw),
                              "bridge": bridge, "project_id": project_id})
