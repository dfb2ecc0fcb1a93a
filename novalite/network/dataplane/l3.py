"""Layer 3 of the per-host data plane: the external network's bridge, routers
as network namespaces, SNAT for the external network and 1:1 NAT for floating
IPs (issue 13, item 2).

A router is a network namespace ``<prefix>r-<router id>`` holding

- a gateway leg ``qg-…`` (a veth whose other end is a port of the external
  network's bridge) with the router's external address, every floating IP of
  the router as a /32 (so the leg answers ARP for it), and the default route
  via the external subnet's gateway. Its MAC derives from the router id, so
  a router made again keeps its neighbours' ARP entries valid, and every
  address it gains is announced by gratuitous ARP (a floating IP that moves
  from another router is reachable at once);
- one leg ``qr-…`` per router interface (a veth into that network's bridge)
  with the subnet's gateway address and the interface port's MAC;
- ``net.ipv4.ip_forward=1`` (inside the namespace only: the host's own
  forwarding setting is never touched);
- one nftables table (``ip novalite-router``, inside the namespace): DNAT of
  each floating IP to its fixed address, SNAT of that fixed address to the
  floating IP on the way out, masquerade (SNAT to the gateway address) of the
  rest of the internal traffic leaving by the gateway when ``enable_snat``,
  and the hairpin case (a guest reaching another guest's floating IP from the
  same network). A connection NATed for a floating IP that is no longer in the
  state is dropped by the same table, so disassociating also cuts flows that
  were open (as Neutron, which deletes their conntrack entries).

The names inside a namespace (``qg-``, ``qr-`` + 11 characters of the id) are
Neutron's; they are local to the namespace. The host ends of the veths carry
the deployment prefix (:mod:`novalite.network.dataplane.names`), which is how
the reconcile finds what this deployment made: namespaces ``<prefix>r-*`` and
host veths ``<prefix>rg*``/``<prefix>ri*`` that the state does not name are
removed (a namespace's removal takes its veths with it).

The external network is a bridge on the host (``names.bridge``, as any other
network). With ``hold_external_gateway`` (the all-in-one, as DevStack's
``br-ex``) the bridge holds the external subnet's gateway address, so the host
itself is the routers' next hop and reaches every floating IP.

Where the host's side lives: the root namespace, or (tests that stand several
hosts up on one kernel) a named namespace given as ``host_netns``; router
namespaces are named, hence global, in both cases.

The nftables table carries a digest of what it holds as its comment: a state
whose table is already in place is not written again, so applying the same
state twice changes nothing in the kernel.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from oslo_log import log as logging

from novalite import exception
from novalite.network.dataplane import kernel, names

# NOTE: the proxy program's helper, standard library only (see its module).
from novalite.network.dataplane.metadata_proxy_server import socket_in
from novalite.network.dataplane.state import (
    HostState,
    Network,
    Router,
    RouterGateway,
    RouterInterface,
)

LOG = logging.getLogger(__name__)

NAT_TABLE = "novalite-router"
METADATA_ADDRESS = "169.254.169.254"
DEFAULT_EXTERNAL_MTU = 1500

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

# One device as ``ip -j link`` shows it.
_Link = dict[str, Any]


# -- names ------------------------------------------------------------------

def router_namespace(prefix: str, router_id: str) -> str:
    return names.router_namespace(prefix, router_id)


def gateway_leg(router_id: str) -> str:
    """The gateway leg inside the router namespace (Neutron's ``qg-``)."""
    return ("qg-" + names.check_id("router", router_id))[:14]


def gateway_mac(router_id: str) -> str:
    """The gateway leg's MAC, the same every time the router is made (on
    Neutron's fa:16:3e prefix): a router made again (a restarted host, a
    state that dropped and brought it back) keeps its neighbours' ARP
    entries valid."""
    digest = hashlib.sha256(("router-gateway " + router_id).encode()).digest()
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in digest[:3])


def interface_leg(port_id: str) -> str:
    """An interface leg inside the router namespace (Neutron's ``qr-``)."""
    return ("qr-" + names.check_id("port", port_id))[:14]


# -- running the tools --------------------------------------------------------

class Host(kernel.Host):
    """The host's side (:class:`kernel.Host`), plus what routers need:
    commands inside a router namespace and commands on the whole kernel."""

    def global_(self, *cmd: str) -> str:
        """A command that acts on the whole kernel (``ip netns add/delete``)."""
        return kernel.execute(*cmd)

    def run_in(self, namespace: str, *cmd: str, process_input: str | None = None) -> str:
        """A command inside a named namespace (e.g. a router's)."""
        return kernel.execute("ip", "netns", "exec", namespace, *cmd,
                              process_input=process_input)

    def ip_in(self, namespace: str, *args: str) -> str:
        return kernel.execute("ip", "-n", namespace, *args)

    def links_in(self, namespace: str) -> dict[str, _Link]:
        """``ip -d -j link`` inside ``namespace``, by name."""
        out = self.ip_in(namespace, "-d", "-j", "link", "show")
        return {str(link["ifname"]): link for link in json.loads(out or "[]")}

    def addresses(self, device: str, namespace: str | None = None) -> list[str]:
        """The IPv4 addresses (``a.b.c.d/len``) on ``device``."""
        args = ("-j", "-4", "addr", "show", "dev", device)
        out = self.ip(*args) if namespace is None else self.ip_in(namespace, *args)
        return [f"{a['local']}/{a['prefixlen']}"
                for link in json.loads(out or "[]") for a in link.get("addr_info", [])]


namespaces = kernel.namespaces


def announce(namespace: str, device: str, mac: str, addresses: Iterable[str]) -> None:
    """Gratuitous ARP for ``addresses`` from ``device``: neighbours that
    cached another MAC for them (a floating IP that was on another router)
    take this one now, instead of after their entry times out."""
    try:
        sock = socket_in(namespace, socket.AF_PACKET, socket.SOCK_RAW)
    except OSError as e:
        LOG.warning("Cannot announce %s on %s/%s: %s", list(addresses), namespace, device, e)
        return
    with sock:
        sock.bind((device, 0x0806))
        src = bytes.fromhex(mac.replace(":", ""))
        for addr in addresses:
            ip = ipaddress.ip_address(addr).packed
            frame = (b"\xff" * 6 + src + b"\x08\x06"
                     + b"\x00\x01\x08\x00\x06\x04\x00\x01" + src + ip + b"\x00" * 6 + ip)
            try:
                sock.send(frame)
            except OSError as e:
                LOG.warning("Cannot announce %s on %s/%s: %s", addr, namespace, device, e)


# -- the desired shape ---------------------------------------------------------

@dataclass(frozen=True)
class _Leg:
    host_end: str
    inner: str
    bridge: str
    mac: str | None
    addresses: tuple[str, ...]        # a.b.c.d/len
    mtu: int


def _network(state: HostState, network_id: str) -> Network | None:
    for n in state.networks:
        if n.id == network_id:
            return n
    return None


def _iface_address(iface: RouterInterface) -> str:
    net = ipaddress.ip_network(iface.cidr, strict=False)
    return f"{ipaddress.ip_address(iface.address)}/{net.prefixlen}"


def _gateway_leg(state: HostState, prefix: str, router: Router,
                 gw: RouterGateway) -> _Leg:
    net = ipaddress.ip_network(gw.cidr, strict=False)
    addresses = [f"{ipaddress.ip_address(gw.address)}/{net.prefixlen}"]
    addresses += [f"{ipaddress.ip_address(f.address)}/32" for f in router.floating_ips]
    ext = _network(state, gw.network_id)
    return _Leg(host_end=names.router_gateway_host_end(prefix, router.id),
                inner=gateway_leg(router.id),
                bridge=names.bridge_for_id(prefix, gw.network_id),
                mac=gateway_mac(router.id), addresses=tuple(dict.fromkeys(addresses)),
                mtu=ext.mtu if ext and ext.external else DEFAULT_EXTERNAL_MTU)


def _interface_legs(state: HostState, prefix: str, router: Router) -> list[_Leg]:
    """One leg per interface port; a port with addresses on several subnets
    of its network (one ``RouterInterface`` each) is one leg holding them all."""
    by_port: dict[str, list[RouterInterface]] = {}
    for iface in router.interfaces:
        by_port.setdefault(iface.port_id, []).append(iface)
    legs = []
    for port_id, ifaces in by_port.items():
        first = ifaces[0]
        net = _network(state, first.network_id)
        mac = first.mac.lower()
        if not _MAC.match(mac) or any(i.mac.lower() != mac or i.network_id != first.network_id
                                      for i in ifaces):
            raise exception.InvalidNetwork(
                reason=f"router {router.id} interface port {port_id}: MAC "
                       f"{[i.mac for i in ifaces]!r} on networks "
                       f"{sorted({i.network_id for i in ifaces})!r}")
        legs.append(_Leg(host_end=names.router_interface_host_end(prefix, port_id),
                         inner=interface_leg(port_id),
                         bridge=names.bridge_for_id(prefix, first.network_id),
                         mac=mac,
                         addresses=tuple(dict.fromkeys(_iface_address(i) for i in ifaces)),
                         mtu=net.mtu if net else Network(id="", vni=0).mtu))
    return legs


def nat_script(router: Router) -> str:
    """The router's nftables table, written whole (one ``nft -f``
    transaction replaces the previous one)."""
    gw = router.gateway
    body: list[str] = []
    if gw is not None:
        qg = gateway_leg(router.id)
        gw_addr = ipaddress.ip_address(gw.address)
        fips = [(ipaddress.ip_address(f.address), ipaddress.ip_address(f.fixed_address))
                for f in router.floating_ips]
        internal = sorted({str(ipaddress.ip_network(i.cidr, strict=False))
                           for i in router.interfaces})
        pre = [f"ip daddr {fip} dnat to {fixed}" for fip, fixed in fips]
        post = [f'ip saddr {fixed} oifname "{qg}" snat to {fip}' for fip, fixed in fips]
        # NOTE: a guest reaching another guest's floating IP from the same
        # network (hairpin): without this the reply would go guest to guest
        # with the fixed source and be dropped by the asker.
        post.append(f'iifname != "{qg}" oifname != "{qg}" ct status dnat masquerade')
        if gw.enable_snat and internal:
            post.append(f'oifname "{qg}" ip saddr {{ {", ".join(internal)} }} '
                        f"snat to {gw_addr}")
        # NOTE: connections NATed earlier keep their translation in conntrack
        # after their rule is gone; Neutron deletes their entries (conntrack
        # -D) when a floating IP goes or moves. Here a flow whose translation
        # the state no longer has is dropped: DNAT flows must match a
        # floating IP and its current fixed address, SNAT flows leaving by
        # the gateway a floating IP of their source or the SNAT address.
        keep = [f"ct status dnat ct original ip daddr {fip} ct reply ip saddr {fixed} accept"
                for fip, fixed in fips]
        keep += [f'oifname "{qg}" ct status snat ct original ip saddr {fixed} '
                 f"ct reply ip daddr {fip} accept" for fip, fixed in fips]
        if gw.enable_snat:
            keep.append(f'oifname "{qg}" ct status snat ct reply ip daddr {gw_addr} accept')
        cut = [*keep, "ct status dnat drop", f'oifname "{qg}" ct status snat drop']
        body += [
            "  chain prerouting {",
            "    type nat hook prerouting priority dstnat; policy accept;",
            *[f"    {r}" for r in pre],
            "  }",
            "  chain postrouting {",
            "    type nat hook postrouting priority srcnat; policy accept;",
            *[f"    {r}" for r in post],
            "  }",
            "  chain forward {",
            "    type filter hook forward priority filter; policy accept;",
            *[f"    {r}" for r in cut],
            "  }",
        ]
    digest = hashlib.sha256("\n".join(body).encode()).hexdigest()[:16]
    return "\n".join([f'table ip {NAT_TABLE} {{', f'  comment "{digest}"', *body, "}"])


def _table_digest(host: Host, namespace: str) -> str | None:
    """The digest the router's table carries (None: no table)."""
    try:
        out = host.run_in(namespace, "nft", "list", "table", "ip", NAT_TABLE)
    except exception.NetworkSetupError:
        return None
    # NOTE: nft 1.0.6's JSON output leaves the table's comment out.
    m = re.search(r'^\s*comment "([0-9a-f]+)"', out, re.MULTILINE)
    return m.group(1) if m else ""


# -- making it so ---------------------------------------------------------------

def apply(state: HostState, *, prefix: str, host_netns: str | None = None,
          hold_external_gateway: bool = True) -> None:
    """Make this host's routers and external bridges match ``state``: create
    what is missing, change what differs, remove routers (namespaces and
    veths) this deployment made that ``state`` does not name."""
    names.check_prefix(prefix)
    host = Host(host_netns)
    _ensure_external_bridges(host, state, prefix, hold_external_gateway)
    for router in state.routers:
        _ensure_router(host, state, prefix, router)
    _remove_stale(host, prefix, state.routers)


def _external_networks(state: HostState) -> dict[str, tuple[Network | None, str | None, str]]:
    """network id -> (network, gateway ip, cidr) of every external network
    this host has (in the state, or named by a router gateway)."""
    found: dict[str, tuple[Network | None, str | None, str]] = {}
    for net in state.networks:
        if net.external and net.subnets:
            sub = next((s for s in net.subnets if s.ip_version == 4), None)
            if sub is not None:
                found[net.id] = (net, sub.gateway_ip, sub.cidr)
    for r in state.routers:
        if r.gateway and r.gateway.network_id not in found:
            found[r.gateway.network_id] = (_network(state, r.gateway.network_id),
                                           r.gateway.gateway_ip, r.gateway.cidr)
    return found


def _ensure_external_bridges(host: Host, state: HostState, prefix: str,
                             hold_gateway: bool) -> None:
    for net_id, (net, gateway_ip, cidr) in _external_networks(state).items():
        bridge = names.bridge_for_id(prefix, net_id)
        _ensure_bridge(host, bridge, net.mtu if net else DEFAULT_EXTERNAL_MTU,
                       names.owner_mark(prefix))
        if hold_gateway and gateway_ip:
            plen = ipaddress.ip_network(cidr, strict=False).prefixlen
            want = f"{ipaddress.ip_address(gateway_ip)}/{plen}"
            if want not in host.addresses(bridge):
                host.ip("addr", "add", want, "dev", bridge)


def _ensure_bridge(host: Host, bridge: str, mtu: int, mark: str) -> None:
    """The external network's bridge (the layer-2 side makes the same one
    when the network is in the state; whichever comes first makes it, and
    removing it is the layer-2 side's: it knows every network)."""
    links = host.links()
    if bridge not in links:
        LOG.info("Creating external bridge %s", bridge)
        host.ip("link", "add", "name", bridge, "mtu", str(mtu), "type", "bridge",
                "stp_state", "0", "forward_delay", "0")
        host.ip("link", "set", "dev", bridge, "alias", mark)
        host.ip("link", "set", "dev", bridge, "up")
    elif "UP" not in links[bridge].get("flags", []):
        host.ip("link", "set", "dev", bridge, "up")


def _ensure_router(host: Host, state: HostState, prefix: str, router: Router) -> None:
    ns = router_namespace(prefix, router.id)
    if ns in namespaces() and not _usable(host, ns):
        # NOTE: a name without its namespace (made under another mount
        # namespace, or a crash between the two steps of ``ip netns add``)
        # would fail every apply; it is made again.
        LOG.warning("Router %s: namespace %s is unusable, making it again", router.id, ns)
        host.global_("ip", "netns", "delete", ns)
    if ns not in namespaces():
        LOG.info("Creating router %s (namespace %s)", router.id, ns)
        # NOTE: namespaces are global: made and deleted from here, never under
        # the host's ``ip netns exec`` (its private mount namespace would
        # keep the bind mount that makes the name).
        host.global_("ip", "netns", "add", ns)
        host.ip_in(ns, "link", "set", "dev", "lo", "up")
    if host.run_in(ns, "sysctl", "-n", "net.ipv4.ip_forward").strip() != "1":
        host.run_in(ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
    legs = _interface_legs(state, prefix, router)
    gw_leg = (_gateway_leg(state, prefix, router, router.gateway)
              if router.gateway else None)
    wanted = {leg.inner for leg in legs} | ({gw_leg.inner} if gw_leg else set())
    inner_links = host.links_in(ns)
    for name in inner_links:
        if name.startswith(("qg-", "qr-")) and name not in wanted:
            LOG.info("Router %s: removing leg %s", router.id, name)
            host.ip_in(ns, "link", "del", "dev", name)
    host_links = host.links()
    for leg in legs + ([gw_leg] if gw_leg else []):
        _ensure_leg(host, ns, leg, host_links, inner_links, names.owner_mark(prefix))
    if router.gateway and gw_leg:
        _ensure_default_route(host, ns, gw_leg.inner, router.gateway.gateway_ip)
    _ensure_nat(host, ns, router)


def _ensure_leg(host: Host, ns: str, leg: _Leg, host_links: dict[str, _Link],
                inner_links: dict[str, _Link], mark: str) -> None:
    outer, inner = host_links.get(leg.host_end), inner_links.get(leg.inner)
    if outer is None or inner is None:
        # NOTE: half a pair (a crash between two steps) is rebuilt whole.
        if outer is not None:
            host.ip("link", "del", "dev", leg.host_end)
        if inner is not None:
            host.ip_in(ns, "link", "del", "dev", leg.inner)
        host.ip("link", "add", "name", leg.host_end, "mtu", str(leg.mtu), "type", "veth",
                "peer", "name", leg.inner, "mtu", str(leg.mtu), "netns", ns)
        outer = inner = {}
    if outer.get("ifalias") != mark:
        host.ip("link", "set", "dev", leg.host_end, "alias", mark)
    if outer.get("master") != leg.bridge:
        host.ip("link", "set", "dev", leg.host_end, "master", leg.bridge)
    if outer.get("mtu") != leg.mtu:
        host.ip("link", "set", "dev", leg.host_end, "mtu", str(leg.mtu))
    if "UP" not in outer.get("flags", []):
        host.ip("link", "set", "dev", leg.host_end, "up")
    if leg.mac and inner.get("address") != leg.mac:
        host.ip_in(ns, "link", "set", "dev", leg.inner, "address", leg.mac)
    if inner.get("mtu") != leg.mtu:
        host.ip_in(ns, "link", "set", "dev", leg.inner, "mtu", str(leg.mtu))
    have = set(host.addresses(leg.inner, ns))
    added = [addr for addr in leg.addresses if addr not in have]
    for addr in added:
        host.ip_in(ns, "addr", "add", addr, "dev", leg.inner)
    for addr in have - set(leg.addresses):
        # NOTE: the metadata proxy's address is the proxy module's to manage.
        if not addr.startswith(METADATA_ADDRESS + "/"):
            host.ip_in(ns, "addr", "del", addr, "dev", leg.inner)
    if "UP" not in inner.get("flags", []):
        host.ip_in(ns, "link", "set", "dev", leg.inner, "up")
    if added and leg.mac:
        announce(ns, leg.inner, leg.mac, [a.split("/")[0] for a in added])


def _ensure_default_route(host: Host, ns: str, dev: str, gateway_ip: str | None) -> None:
    out = host.ip_in(ns, "-j", "-4", "route", "show", "default")
    have = [(r.get("gateway"), r.get("dev")) for r in json.loads(out or "[]")]
    if gateway_ip is None:
        if have:
            host.ip_in(ns, "route", "del", "default")
        return
    gw = str(ipaddress.ip_address(gateway_ip))
    if have != [(gw, dev)]:
        host.ip_in(ns, "route", "replace", "default", "via", gw, "dev", dev)


def _ensure_nat(host: Host, ns: str, router: Router) -> None:
    script = nat_script(router)
    digest = re.search(r'comment "([0-9a-f]+)"', script)
    if digest and _table_digest(host, ns) == digest.group(1):
        return
    host.run_in(ns, "nft", "-f", "-", process_input="\n".join([
        f"table ip {NAT_TABLE} {{}}", f"delete table ip {NAT_TABLE}", script, ""]))


def _remove_stale(host: Host, prefix: str, routers: Iterable[Router]) -> None:
    wanted_ns, wanted_ends = set(), set()
    for r in routers:
        wanted_ns.add(router_namespace(prefix, r.id))
        if r.gateway:
            wanted_ends.add(names.router_gateway_host_end(prefix, r.id))
        wanted_ends |= {names.router_interface_host_end(prefix, i.port_id)
                        for i in r.interfaces}
    for ns in sorted(namespaces()):
        if ns.startswith(f"{prefix}r-") and ns not in wanted_ns:
            LOG.info("Removing router namespace %s", ns)
            remove_namespace(host, ns)
    # NOTE: the host ends of a removed namespace's veths went with it; what
    # can be left is the host end of a leg whose other end was lost.
    for name, link in host.links().items():
        if name.startswith((f"{prefix}rg", f"{prefix}ri")) and name not in wanted_ends \
                and link.get("ifalias") == names.owner_mark(prefix) \
                and link.get("linkinfo", {}).get("info_kind") == "veth":
            LOG.info("Removing stray router leg %s", name)
            host.ip("link", "del", "dev", name)


def _usable(host: Host, ns: str) -> bool:
    try:
        host.ip_in(ns, "link", "show", "dev", "lo")
    except exception.NetworkSetupError:
        return False
    return True


def remove_namespace(host: Host, ns: str) -> None:
    """A router namespace and everything in it. Its legs are deleted first:
    a process still holding the namespace (a metadata proxy about to be
    stopped) would keep it, and the veths' host ends on the bridges, alive."""
    if _usable(host, ns):
        for name in host.links_in(ns):
            if name != "lo":
                host.ip_in(ns, "link", "del", "dev", name)
    host.global_("ip", "netns", "delete", ns)
