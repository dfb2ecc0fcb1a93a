"""``network_info``: what compute and the virt driver know of an instance's
ports, in Nova's VIF shape (plain dicts, so it crosses RPC; the instance's
InstanceInfoCache keeps it as JSON).

A VIF::

    {"id": port uuid, "address": MAC, "type": "bridge", "devname": "tap...",
     "vnic_type": "normal", "port_security_enabled": bool,
     "security_groups": [ids], "allowed_address_pairs": [...],
     "network": {"id": network uuid, "label": name, "bridge": bridge,
                 "mtu": 1450, "vni": VXLAN VNI,
                 "subnets": [{"cidr": ..., "gateway": ..., "dns": [...],
                              "routes": [{"cidr", "gateway"}],
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


def bridge_of(net: dict) -> str:
    """The Linux bridge a network's VIFs plug into: the network's own
    (flat data plane), or with ``[network] dataplane = vxlan`` the per-host
    data plane's bridge of the network (``dataplane.names.bridge_for_id``)."""
    from novalite.conf import CONF

    if CONF.network.dataplane == "vxlan":
        from novalite.network.dataplane import names

        return names.bridge_for_id(names.default_prefix(), net["uuid"])
    return str(net["bridge"])


def vif_from_fixed_ip(fip: dict) -> dict:
    """A VIF from the nova-network view of one address (tests, benchmarks)."""
    net = fip["network"]
    ip = ipaddress.ip_address(fip["address"])
    return {
        "id": fip["uuid"],
        "address": fip["mac"],
        "type": "bridge",
        "devname": devname(fip["uuid"]),
        "vnic_type": "normal",
        "network": {
            "id": net["uuid"], "label": net["name"], "bridge": bridge_of(net),
            "mtu": net.get("mtu") or 1500, "vni": net.get("segmentation_id"),
            "subnets": [{"cidr": net["cidr"], "gateway": net["gateway"],
                         "ips": [{"address": fip["address"], "type": "fixed",
                                  "version": ip.version}]}],
        },
    }


def vif_from_port(port: dict, net: dict, subnets: dict[str, dict],
                  security_groups: list[str] | None = None) -> dict:
    """A VIF from a port (``db.network.port_get``), its network and the
    network's subnets by id: one entry per subnet the port has an address on."""
    subs: dict[str, dict] = {}
    for alloc in port["fixed_ips"]:
        sub = subnets[alloc["subnet_id"]]
        entry = subs.setdefault(alloc["subnet_id"], {
            "id": sub["uuid"], "cidr": sub["cidr"], "gateway": sub["gateway_ip"],
            "version": sub["ip_version"], "enable_dhcp": sub["enable_dhcp"],
            "dns": list(sub.get("dns_nameservers") or []),
            "routes": [{"cidr": r["destination"], "gateway": r["nexthop"]}
                       for r in sub.get("host_routes") or []],
            "ips": []})
        entry["ips"].append({"address": alloc["ip_address"], "type": "fixed",
                             "version": ipaddress.ip_address(alloc["ip_address"]).version})
    return {
        "id": port["uuid"],
        "address": port["mac"],
        "type": "bridge",
        "devname": devname(port["uuid"]),
        "vnic_type": port.get("vnic_type") or "normal",
        "port_security_enabled": bool(port.get("port_security_enabled", True)),
        "security_groups": list(security_groups or []),
        "allowed_address_pairs": list(port.get("allowed_address_pairs") or []),
        "preserve_on_delete": bool(port.get("preserve_on_delete")),
        "network": {
            "id": net["uuid"], "label": net["name"], "bridge": bridge_of(net),
            "mtu": net.get("mtu") or 1500, "vni": net.get("segmentation_id"),
            "subnets": list(subs.values()),
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
    services: list[dict] = []
    for vif in network_info:
        link = vif.get("devname") or devname(vif["id"])
        links.append({"id": link, "vif_id": vif["id"], "type": "bridge",
                      "ethernet_mac_address": vif["address"],
                      "mtu": vif["network"].get("mtu") or 1500})
        for sub in vif["network"].get("subnets") or []:
            cidr = ipaddress.ip_network(sub["cidr"], strict=False)
            for ip in sub.get("ips") or []:
                routes = []
                # NOTE: the default route first (the tiny guest takes the
                # first gateway after an address as its default one).
                if sub.get("gateway"):
                    anywhere = "0.0.0.0" if cidr.version == 4 else "::"
                    routes.append({"network": anywhere, "netmask": anywhere,
                                   "gateway": sub["gateway"]})
                for route in sub.get("routes") or []:
                    dest = ipaddress.ip_network(route["cidr"], strict=False)
                    routes.append({"network": str(dest.network_address),
                                   "netmask": str(dest.netmask),
                                   "gateway": route["gateway"]})
                entry = {"id": f"network{len(networks)}", "type": f"ipv{cidr.version}",
                         "link": link, "ip_address": ip["address"],
                         "netmask": str(cidr.netmask), "routes": routes,
                         "network_id": vif["network"].get("id")}
                if sub.get("dns"):
                    entry["services"] = [{"type": "dns", "address": a} for a in sub["dns"]]
                    for address in sub["dns"]:
                        if {"type": "dns", "address": address} not in services:
                            services.append({"type": "dns", "address": address})
                networks.append(entry)
    return {"links": links, "networks": networks, "services": services}
