"""Which instance a proxied metadata request comes from.

NOTE: one function on purpose: the address tables are changing (fixed_ips
rows becoming ports + ip_allocations); only this function knows them.
"""

from __future__ import annotations

from novalite import exception
from novalite.db import network as db_network


def instance_uuid_by_address(network_id: str, address: str) -> str | None:
    """The uuid of the instance whose port on network ``network_id`` (its
    uuid) holds fixed address ``address``; None when none does."""
    try:
        net = db_network.network_get(network_id)
    except exception.NetworkNotFound:
        return None
    row = db_network.fixed_ip_get_by_address(net["id"], address)
    if row is None or not row.get("instance_uuid"):
        return None
    return str(row["instance_uuid"])
