"""``network_info``: what compute and the virt driver know of an instance's
ports, in Nova's VIF shape (plain dicts, so it crosses RPC; the instance's
InstanceInfoCache keeps it as JSON).

A VIF::

    {"id": port uuid, "address": MAC, "type": "bridge", "devname": "tap...",
     "network": {"id": network uuid, "label": name, "bridge": bridge,
                 "subnets": [{"cidr": ..., "gateway": ...,
                              "ips": [{"address": ..., "type": "fixed",
                                       "version": 4}]}]}}
"""

from __future__ import annotations

import ipaddress
import json

# NOTE: Linux interface names hold 15 characters; Nova's "tap" + 11 of the port id.
TAP_PREFIX = "tap"


def devname(port_uuid: str) -> str:
    return (TAP_PREFIX + port_uuid)[:14]


def vif_from_fixed_ip(fip: dict) -> dict:
    net = fip["network"]
    ip = ipaddress.ip_address(fip["address"])
    return {
        "id": fip["uuid"],
        "address": fip["mac"],
        "type": "bridge",
        "devname": devname(fip["uuid"]),
        "network": {
            "id": net["uuid"], "label": net["name"], "bridge": net["bridge"],
            "subnets": [{"cidr": net["cidr"], "gateway": net["gateway"],
                         "ips": [{"address": fip["address"], "type": "fixed",
                                  "version": ip.version}]}],
        },
    }


def fixed_ips(vif: dict) -> list[dict]:
    return [ip for sub in vif["network"].get("subnets") or [] for ip in sub.get("ips") or []]


def dumps(network_info: list[dict]) -> str:
    return json.dumps(network_info, sort_keys=True)


def addresses(network_info: list[dict]) -> dict[str, list[dict]]:
    """A server's ``addresses`` in the Compute API 2.1 shape."""
    out: dict[str, list[dict]] = {}
    for vif in network_info:
        entries = out.setdefault(vif["network"]["label"], [])
        for ip in fixed_ips(vif):
            entries.append({"version": ip["version"], "addr": ip["address"],
                            "OS-EXT-IPS:type": ip.get("type", "fixed"),
                            "OS-EXT-IPS-MAC:mac_addr": vif["address"]})
    return out


def network_data(network_info: list[dict]) -> dict:
    """OpenStack's ``network_data.json`` (links, networks, services)."""
    links: list[dict] = []
    networks: list[dict] = []
    for vif in network_info:
        link = vif.get("devname") or devname(vif["id"])
        links.append({"id": link, "vif_id": vif["id"], "type": "bridge",
                      "ethernet_mac_address": vif["address"], "mtu": 1500})
        for sub in vif["network"].get("subnets") or []:
            cidr = ipaddress.ip_network(sub["cidr"], strict=False)
            for ip in sub.get("ips") or []:
                routes = []
                if sub.get("gateway"):
                    routes.append({"network": "0.0.0.0", "netmask": "0.0.0.0",
                                   "gateway": sub["gateway"]})
                networks.append({"id": f"network{len(networks)}", "type": "ipv4",
                                 "link": link, "ip_address": ip["address"],
                                 "netmask": str(cidr.netmask), "routes": routes,
                                 "network_id": vif["network"].get("id")})
    return {"links": links, "networks": networks, "services": []}
