"""Creating networks (``novalite-manage network create``, the all-in-one's
default network, tests): checks the CIDR, gateway and bridge name."""

from __future__ import annotations

import ipaddress
from typing import Any

from oslo_log import log as logging

from novalite import exception
from novalite.db import network as db
from novalite.network import linux_net

LOG = logging.getLogger(__name__)

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
    names = {n["id"]: n["name"] for n in db.network_get_all()}
    overlapping = sorted({names.get(s["network_id"], "?") for s in db.subnet_get_all()
                          if ipaddress.ip_network(s["cidr"], strict=False).overlaps(net)})
    if overlapping:
        raise exception.InvalidNetwork(
            reason=f"{net} overlaps network(s) {', '.join(overlapping)}")
    bridge = linux_net.check_ifname(bridge or f"nlbr{len(db.network_get_all())}")
    # NOTE: an operator's network with no project is shared, as the flat
    # networks before it were (every project may use it).
    return db.network_create({"name": name, "cidr": str(net), "gateway": str(gw),
                              "bridge": bridge, "project_id": project_id,
                              "shared": project_id is None})


def ensure_default_network(claim_on_host: bool = False) -> dict | None:
    """The all-in-one's private network ([network] default_network_name,
    default_cidr, default_bridge), made when no network exists yet.

    ``claim_on_host`` (the all-in-one with real guests): when this host
    already has the default bridge or subnet (another deployment's), take
    the next free ones, and make the bridge at once so that a deployment
    started next finds it taken."""
    from novalite.conf import CONF

    if not CONF.network.create_default_network or db.network_get_all():
        return None
    if CONF.network.dataplane == "vxlan":
        return ensure_vxlan_networks()
    bridge, cidr = CONF.network.default_bridge, CONF.network.default_cidr
    if claim_on_host:
        bridge, cidr = linux_net.free_bridge_and_cidr(bridge, cidr)
    net = create_network(CONF.network.default_network_name, cidr, bridge=bridge)
    if claim_on_host:
        linux_net.ensure_bridge(net["bridge"], net["cidr"], net["gateway"])
    return net


PUBLIC_NETWORK = "public"
PUBLIC_CIDR = "172.24.4.0/24"      # DevStack's FLOATING_RANGE
PUBLIC_GATEWAY = "172.24.4.1"      # the host's address on the external bridge
PRIVATE_CIDR = "10.0.0.0/26"       # DevStack's FIXED_RANGE


def ensure_vxlan_networks() -> dict:
    """``[network] dataplane = vxlan``: DevStack's networks. The external
    network "public" (router:external, shared, 172.24.4.0/24 without DHCP;
    its gateway 172.24.4.1 is the host's own address on its bridge, which
    the L3 host's network agent makes) and the project network
    ([network] default_network_name, "private", 10.0.0.0/26 with DHCP,
    shared so that every project's "auto" finds it). Returns the private one.

    NOTE: DevStack also makes router1 (gateway on public, SNAT, interface
    on private) and a host route to the private subnet via the router's
    gateway address; that needs the routers of the Network API."""
    from novalite.conf import CONF

    public = db.network_create({"name": PUBLIC_NETWORK, "project_id": None, "shared": False,
                                "router_external": True, "mtu": 1500})
    db.subnet_create({"network_id": public["id"], "project_id": None,
                      "name": "public-subnet", "cidr": PUBLIC_CIDR, "ip_version": 4,
                      "gateway_ip": PUBLIC_GATEWAY, "enable_dhcp": False,
                      "allocation_pools": db.default_pools(PUBLIC_CIDR, PUBLIC_GATEWAY),
                      "dns_nameservers": [], "host_routes": [], "description": ""})
    gateway = str(next(ipaddress.ip_network(PRIVATE_CIDR).hosts()))
    private = db.network_create({"name": CONF.network.default_network_name,
                                 "project_id": None, "shared": True,
                                 "cidr": PRIVATE_CIDR, "gateway": gateway})
    _ensure_router(public, private)
    return private


def _ensure_router(public: dict, private: dict) -> None:
    """DevStack's router1: gateway on public (SNAT), interface on private's
    subnet. The host's route to the private subnet via its gateway comes
    from the L3 host's agent ([network] host_routes_via_routers)."""
    import importlib

    try:
        # NOTE: the routers of the Network API (another module; absent, no router).
        routers: Any = importlib.import_module("novalite.db.routers")
    except ImportError:
        LOG.warning("No routers in this Network API: the all-in-one makes no router1; "
                    "the host does not reach %s", PRIVATE_CIDR)
        return
    router = routers.router_create({"name": "router1", "project_id": None})
    routers.set_gateway(router["uuid"], public["id"], True)
    routers.add_interface_subnet(router["uuid"], private["subnets"][0])


class NetworkCommands:
    """``novalite-manage network create|list``."""

    def create(self) -> int:
        import sys

        from novalite.conf import CONF

        a = CONF.category
        try:
            net = create_network(a.network_name, a.cidr, a.gateway, a.bridge)
        except exception.NovaliteException as e:
            print(f"network create failed: {e.format_message()}", file=sys.stderr)
            return 1
        print(f"Created network {net['name']} {net['uuid']}: {net['cidr']} gateway "
              f"{net['gateway']} on bridge {net['bridge']}")
        return 0

    def list(self) -> int:
        rows = db.network_get_all()
        width = max([len(r["name"]) for r in rows] + [4])
        print(f"{'ID':36}  {'Name':{width}}  {'CIDR':18}  {'Gateway':15}  Bridge  Used")
        for r in rows:
            used = len(db.fixed_ip_get_all(r["id"]))
            print(f"{r['uuid']:36}  {r['name']:{width}}  {r['cidr']:18}  {r['gateway']:15}  "
                  f"{r['bridge']}  {used}")
        return 0


def add_parser(subparsers: object) -> None:
    net = subparsers.add_parser("network", help="flat networks")  # type: ignore[attr-defined]
    net_sub = net.add_subparsers(dest="action", required=True)
    create = net_sub.add_parser("create", help="create a flat network (the bridge is made "
                                               "on each compute host when a guest needs it)")
    create.add_argument("network_name", metavar="NAME")
    create.add_argument("--cidr", required=True, help="IPv4 CIDR, e.g. 10.77.0.0/24")
    create.add_argument("--gateway", default=None,
                        help="the host's address on the bridge (default: the first one)")
    create.add_argument("--bridge", default=None,
                        help="Linux bridge name, at most 15 characters (default: nlbrN)")
    net_sub.add_parser("list", help="list networks and how many addresses are used")
    net.set_defaults(command=NetworkCommands)
