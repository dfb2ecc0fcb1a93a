"""The desired network state of one host (:class:`~novalite.network.dataplane.
state.HostState`), built from the database: what the host's data plane
reconciles to.

- the networks the host has a port on (its taps), or serves DHCP for, each
  with its VNI and its peers: the VXLAN endpoints of the OTHER hosts with a
  port (or the DHCP server) on it;
- the ports bound to the host (``binding:host_id``);
- when the host serves DHCP ([network] dhcp_host, default the all-in-one's
  own [DEFAULT] host): every network with a DHCP-enabled subnet, and every
  port of those networks (any host) for the host entries, among them the
  network's ``network:dhcp`` port (made here when missing, as Neutron's DHCP
  agent makes it: its address is then no server's);
- its own endpoint: [network] tunnel_ip, else [DEFAULT] my_ip; the other
  hosts' endpoints from the compute nodes' recorded ``host_ip``.

Security groups, routers and floating IPs are filled in by the modules
that keep them, through ``HOST_STATE_HOOKS`` (``f(state) -> state``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from oslo_log import log as logging

from novalite.conf import CONF
from novalite.db import network as db
from novalite.network import api as network_api
from novalite.network import exceptions as n_exc
from novalite.network import neutron_l3
from novalite.network.dataplane import state as st

LOG = logging.getLogger(__name__)

HOST_STATE_HOOKS: list[Callable[[st.HostState], st.HostState]] = []


def local_tunnel_ip() -> str:
    return str(CONF.network.tunnel_ip or CONF.my_ip)


def dhcp_host() -> str:
    return str(CONF.network.dhcp_host or CONF.host)


def _subnet(sub: dict) -> st.Subnet:
    return st.Subnet(
        id=sub["uuid"], network_id=sub["network_uuid"], cidr=sub["cidr"],
        gateway_ip=sub["gateway_ip"], ip_version=sub["ip_version"],
        enable_dhcp=bool(sub["enable_dhcp"]),
        dns_nameservers=tuple(sub.get("dns_nameservers") or ()),
        host_routes=tuple((r["destination"], r["nexthop"]) for r in sub.get("host_routes") or ()),
        allocation_pools=tuple((p["start"], p["end"]) for p in sub.get("allocation_pools") or ()))


def hostname(name: str) -> str:
    """A DHCP host name from a server's name, as Nova's sanitize_hostname:
    lower case, letters, digits and hyphens, at most 63 characters."""
    text = re.sub(r"[ _.]", "-", name.lower())
    text = re.sub(r"[^a-z0-9-]", "", text).strip("-")
    return text[:63].rstrip("-")


def _port(port: dict, groups: Mapping[str, list[str]], names: Mapping[str, str]) -> st.Port:
    return st.Port(
        id=port["uuid"], network_id=port["network_uuid"], mac=port["mac"],
        fixed_ips=tuple((a["subnet_id"], a["ip_address"]) for a in port["fixed_ips"]),
        device_owner=port["device_owner"], device_id=port["device_id"],
        port_security_enabled=bool(port["port_security_enabled"]),
        security_groups=tuple(groups.get(port["uuid"]) or ()),
        allowed_address_pairs=tuple((p["ip_address"], p.get("mac_address"))
                                    for p in port.get("allowed_address_pairs") or ()),
        hostname=hostname(names.get(port["device_id"], "")) if port["device_id"] else "")


def _ensure_dhcp_ports(host: str, nets: dict[int, dict], subnets: dict[int, list[dict]],
                       ports: list[dict]) -> bool:
    """As Neutron's DHCP agent: each network with a DHCP-enabled subnet gets
    a ``network:dhcp`` port bound to the DHCP host, with an address on each
    such subnet (the first free one of its pools), so that no server is
    given the DHCP server's address. Returns whether anything changed."""
    changed = False
    for nid, subs in subnets.items():
        net = nets[nid]
        dhcp_subs = [s["uuid"] for s in subs if s["enable_dhcp"] and s["ip_version"] == 4]
        if not dhcp_subs or net["router_external"]:
            continue
        own = next((p for p in ports if p["network_id"] == nid and
                    p["device_owner"] == db.DHCP_OWNER), None)
        if own is None:
            try:
                db.port_create({"network_id": nid, "project_id": net["project_id"],
                                "device_owner": db.DHCP_OWNER, "binding_host": host,
                                "device_id": f"dhcp-{net['uuid']}", "status": "ACTIVE"},
                               [{"subnet_id": sid} for sid in dhcp_subs])
            except n_exc.IpAddressGenerationFailure:
                # NOTE: a full subnet: the data plane picks a free address itself.
                LOG.warning("No address left for the DHCP port of network %s", net["uuid"])
                continue
            changed = True
            continue
        have = {a["subnet_id"] for a in own["fixed_ips"]}
        missing = [sid for sid in dhcp_subs if sid not in have]
        if missing or own["binding_host"] != host:
            keep = [{"subnet_id": a["subnet_id"], "ip_address": a["ip_address"]}
                    for a in own["fixed_ips"]]
            db.port_update(own["uuid"], {"binding_host": host},
                           keep + [{"subnet_id": sid} for sid in missing] if missing else None)
            changed = True
    return changed


def build_host_state(host: str, local_ip: str | None = None,
                     endpoints: Mapping[str, str] | None = None,
                     metadata: st.Metadata | None = None,
                     extra_bindings: Mapping[str, Iterable[str]] | None = None
                     ) -> st.HostState:
    """``host``'s HostState. ``endpoints`` ({host: tunnel address}) default
    to the compute nodes' recorded ones; ``local_ip`` to the host's own
    endpoint there, else this process's [network] tunnel_ip / my_ip.
    ``extra_bindings`` ({port uuid: hosts}): hosts a port is on besides its
    binding (a server moving between two hosts has its ports on both)."""
    extra = {k: set(v) for k, v in (extra_bindings or {}).items()}
    tunnels = dict(db.tunnel_endpoints() if endpoints is None else endpoints)
    local_ip = local_ip or tunnels.get(host) or local_tunnel_ip()
    tunnels[host] = local_ip
    serves_dhcp = host == dhcp_host()
    if serves_dhcp:
        # NOTE: the DHCP server's host is every DHCP network's peer too.
        tunnels.setdefault(dhcp_host(), local_ip)

    nets = {n["id"]: n for n in db.network_get_all()}
    subnets: dict[int, list[dict]] = {}
    for sub in db.subnet_get_all(network_ids=list(nets)):
        subnets.setdefault(sub["network_id"], []).append(sub)
    ports = db.port_get_all(network_ids=list(nets))
    if serves_dhcp and _ensure_dhcp_ports(host, nets, subnets, ports):
        ports = db.port_get_all(network_ids=list(nets))

    hosts_of: dict[int, set[str]] = {}
    for port in ports:
        if port["binding_host"]:
            hosts_of.setdefault(port["network_id"], set()).add(port["binding_host"])
        if port["uuid"] in extra:
            hosts_of.setdefault(port["network_id"], set()).update(extra[port["uuid"]])
    dhcp_nets = {nid for nid, subs in subnets.items()
                 if any(s["enable_dhcp"] for s in subs) and not nets[nid]["router_external"]}
    for nid in dhcp_nets:
        hosts_of.setdefault(nid, set()).add(dhcp_host())

    bound = [p for p in ports if p["binding_host"] == host or host in extra.get(p["uuid"], ())]
    # NOTE: the network's own ports (DHCP, router legs) put the network on
    # the host but are no guest's tap.
    local = [p for p in bound if not p["device_owner"].startswith("network:")]
    wanted = {p["network_id"] for p in bound} | (dhcp_nets if serves_dhcp else set())
    networks = []
    for nid in sorted(wanted):
        net = nets[nid]
        peers = sorted({tunnels[h] for h in hosts_of.get(nid, set())
                        if h != host and h in tunnels and tunnels[h] != local_ip})
        networks.append(st.Network(
            id=net["uuid"], vni=int(net["segmentation_id"] or 0), mtu=int(net["mtu"]),
            subnets=tuple(_subnet(s) for s in subnets.get(nid, [])), peers=tuple(peers),
            external=bool(net["router_external"])))

    dhcp_ports = [p for p in ports if p["network_id"] in dhcp_nets] if serves_dhcp else []
    shown = local + [p for p in dhcp_ports if p not in local]
    groups = network_api.security_groups_of([p["uuid"] for p in shown])
    names = db.instance_names({p["device_id"] for p in shown if p["device_id"]})
    state = st.HostState(
        host=host, local_ip=local_ip, networks=tuple(networks),
        ports=tuple(_port(p, groups, names) for p in local),
        dhcp_networks=tuple(nets[nid]["uuid"] for nid in sorted(dhcp_nets)) if serves_dhcp
        else (),
        dhcp_ports=tuple(_port(p, groups, names) for p in dhcp_ports),
        metadata=metadata)
    # NOTE: security groups, routers and floating IPs (novalite.network.neutron_l3).
    state = neutron_l3.fill_host_state(state)
    for hook in HOST_STATE_HOOKS:
        state = hook(state)
    return state
