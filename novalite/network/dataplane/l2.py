"""Layer 2 of the per-host data plane: a Linux bridge per tenant network, a
VXLAN device on it that reaches the network's other hosts, and the local
ports' taps on the bridge (issue 13, item 2).

A network spans hosts over VXLAN (one VNI per network, UDP 4789). The hosts
learn each other from the database, not by multicast: the VXLAN device is
made with ``nolearning`` and has one all-zero FDB entry per peer, so
broadcast and unknown unicast are copied to every peer (head-end
replication) and the bridge learns where each guest MAC lives from the frames
it receives. The bridge holds no address: the host takes no part in its
tenants' networks (DHCP and routers are namespaces plugged into the bridge).
Bridges pass their IP traffic through the kernel's netfilter hooks
(``nf_call_iptables``) so the security groups can track connections.

Bridges and VXLAN devices made here carry :func:`names.owner_mark` as their
alias; :func:`remove_stale` removes exactly those that the state no longer
names. The external network's bridge is made by :mod:`l3` (it holds the
gateway address and has no VXLAN); it is left alone here.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from oslo_log import log as logging

from novalite import exception
from novalite.network.dataplane import names
from novalite.network.dataplane.kernel import Host
from novalite.network.dataplane.state import HostState, Network, Port

LOG = logging.getLogger(__name__)

VXLAN_PORT = 4789
ZERO_MAC = "00:00:00:00:00:00"


def _is_ours(link: dict[str, Any] | None, prefix: str) -> bool:
    return bool(link) and (link or {}).get("ifalias") == names.owner_mark(prefix)


def _kind(link: dict[str, Any]) -> str:
    return str((link.get("linkinfo") or {}).get("info_kind") or "")


def tenant_networks(state: HostState) -> list[Network]:
    return [n for n in state.networks if not n.external]


def ensure(host: Host, state: HostState, prefix: str) -> None:
    """Every tenant network of the state has its bridge and VXLAN device with
    the state's peers. Idempotent: what is already right is not touched."""
    local_ip = str(ipaddress.ip_address(state.local_ip))
    links = host.links()
    for net in tenant_networks(state):
        br = _ensure_bridge(host, links, prefix, net)
        _ensure_vxlan(host, links, prefix, net, br, local_ip)


def attach_ports(host: Host, state: HostState, prefix: str) -> None:
    """Every local port whose tap exists is on its network's bridge with the
    network's MTU (after l3 made the external bridges)."""
    links = host.links()
    nets = {n.id: n for n in state.networks}
    for port in state.ports:
        net = nets.get(port.network_id)
        link = links.get(port.devname)
        if net is None or link is None:
            if net is None:
                LOG.warning("Port %s: its network %s is not in the state", port.id,
                            port.network_id)
            continue
        bridge = names.bridge(prefix, net)
        if bridge not in links:
            LOG.warning("Port %s: bridge %s of network %s is not here", port.id, bridge,
                        net.id)
            continue
        attach(host, link, bridge, net.mtu)


def plug(port: Port, network: Network, *, prefix: str | None = None,
         host_netns: str | None = None) -> None:
    """Put a port's tap (libvirt made it) on its network's bridge with the
    network's MTU: for the plug path, between two applies of the state."""
    prefix = prefix or names.default_prefix()
    host = Host(host_netns)
    links = host.links()
    bridge = names.bridge(prefix, network)
    if bridge not in links:
        raise exception.NetworkSetupError(
            reason=f"port {port.id}: bridge {bridge} of network {network.id} is not on "
                   "this host (the data plane has not applied a state with it)")
    if port.devname not in links:
        raise exception.NetworkSetupError(
            reason=f"port {port.id}: no device {port.devname} on this host")
    attach(host, links[port.devname], bridge, network.mtu)


def attach(host: Host, link: dict[str, Any], bridge: str, mtu: int) -> None:
    """Put an interface on ``bridge`` with the network's MTU, up (what the
    plug path does for a tap libvirt made)."""
    dev = str(link["ifname"])
    if link.get("master") != bridge or int(link.get("mtu", 0)) != mtu:
        host.ip("link", "set", "dev", dev, "mtu", str(mtu), "master", bridge)
    if "UP" not in (link.get("flags") or []):
        host.ip("link", "set", "dev", dev, "up")


def _ensure_bridge(host: Host, links: dict[str, dict[str, Any]], prefix: str,
                   net: Network) -> str:
    br = names.bridge(prefix, net)
    link = links.get(br)
    if link is None:
        LOG.info("Network %s: creating bridge %s", net.id, br)
        host.ip("link", "add", "name", br, "type", "bridge", "stp_state", "0",
                "forward_delay", "0", "nf_call_iptables", "1", "nf_call_ip6tables", "1")
        # NOTE: the bridge holds no address; no IPv6 link-local either, so the
        # host sends nothing into its tenants' networks.
        host.sysctl(f"net.ipv6.conf.{br}.disable_ipv6", "1", check=False)
        host.ip("link", "set", "dev", br, "alias", names.owner_mark(prefix),
                "mtu", str(net.mtu), "up")
        return br
    if not _is_ours(link, prefix):
        raise exception.NetworkSetupError(
            reason=f"network {net.id}: device {br} exists but was not made by this "
                   f"deployment's data plane (alias {link.get('ifalias')!r})")
    if int(link.get("mtu", 0)) != net.mtu or "UP" not in (link.get("flags") or []):
        host.ip("link", "set", "dev", br, "mtu", str(net.mtu), "up")
    return br


def _vxlan_matches(link: dict[str, Any], net: Network, local_ip: str) -> bool:
    data = (link.get("linkinfo") or {}).get("info_data") or {}
    return (_kind(link) == "vxlan" and int(data.get("id", -1)) == net.vni
            and data.get("local") == local_ip and int(data.get("port", 0)) == VXLAN_PORT
            and not data.get("learning", False))


def _ensure_vxlan(host: Host, links: dict[str, dict[str, Any]], prefix: str,
                  net: Network, bridge: str, local_ip: str) -> None:
    vx = names.vxlan(prefix, net.vni)
    link = links.get(vx)
    if link is not None and not _vxlan_matches(link, net, local_ip):
        if not _is_ours(link, prefix):
                raise exception.NetworkSetupError(
                reason=f"network {net.id}: device {vx} exists but was not made by this "
                       f"deployment's data plane (alias {link.get('ifalias')!r})")
        LOG.info("Network %s: VXLAN device %s changed (VNI or local address), remaking",
                 net.id, vx)
        host.ip("link", "del", "dev", vx)
        link = None
    if link is None:
        LOG.info("Network %s: creating VXLAN device %s (VNI %d, local %s)", net.id, vx,
                 net.vni, local_ip)
        host.ip("link", "add", vx, "type", "vxlan", "id", str(net.vni), "local", local_ip,
                "dstport", str(VXLAN_PORT), "nolearning")
        host.sysctl(f"net.ipv6.conf.{vx}.disable_ipv6", "1", check=False)
        host.ip("link", "set", "dev", vx, "alias", names.owner_mark(prefix))
        link = {"ifname": vx, "mtu": 0, "flags": []}
    attach(host, link, bridge, net.mtu)
    _ensure_peers(host, vx, net)


def _ensure_peers(host: Host, vx: str, net: Network) -> None:
    """One all-zero FDB entry per peer (head-end replication), no others."""
    wanted = {str(ipaddress.ip_address(p)) for p in net.peers}
    out = host.run("bridge", "-j", "fdb", "show", "dev", vx)
    have = {str(e.get("dst")) for e in json.loads(out or "[]")
            if e.get("mac") == ZERO_MAC and e.get("dst")}
    for peer in sorted(wanted - have):
        host.run("bridge", "fdb", "append", ZERO_MAC, "dev", vx, "dst", peer)
    for peer in sorted(have - wanted):
        host.run("bridge", "fdb", "del", ZERO_MAC, "dev", vx, "dst", peer)


def remove_stale(host: Host, state: HostState, prefix: str) -> list[str]:
    """Remove this deployment's bridges and VXLAN devices that the state does
    not name (VXLAN devices first); returns what was removed."""
    wanted = {names.bridge(prefix, n) for n in state.networks}
    # NOTE: a router's external network may be missing from the networks
    # (no local port on it); its bridge is l3's and stays.
    wanted |= {names.bridge_for_id(prefix, r.gateway.network_id)
               for r in state.routers if r.gateway}
    wanted |= {names.vxlan(prefix, n.vni) for n in tenant_networks(state)}
    links = host.links()
    stale = [name for name, link in links.items()
             if name not in wanted and _is_ours(link, prefix)
             and ((_kind(link) == "vxlan" and names.is_vxlan_name(prefix, name))
                  or (_kind(link) == "bridge" and names.is_bridge_name(prefix, name)))]
    stale.sort(key=lambda n: _kind(links[n]) != "vxlan")
    for name in stale:
        LOG.info("Removing %s %s (no longer in the state)", _kind(links[name]), name)
        host.ip("link", "del", "dev", name, check=False)
    return stale
