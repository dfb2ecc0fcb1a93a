"""Creating networks (``novalite-manage network create``, the all-in-one's
default networks, tests): checks the CIDR, gateway and bridge name; and the
all-in-one's claim on a host that other deployments share (its data plane
prefix, VNIs and subnets: :func:`claim_dataplane`, :func:`free_vxlan_cidrs`)."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import os
from typing import Any

from oslo_log import log as logging

from novalite import exception
from novalite.db import network as db
from novalite.network import linux_net
from novalite.network.dataplane import names

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
        public_cidr, private_cidr = PUBLIC_CIDR, PRIVATE_CIDR
        if claim_on_host:
            public_cidr, private_cidr = free_vxlan_cidrs()
        return ensure_vxlan_networks(public_cidr, private_cidr)
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


def free_vxlan_cidrs(netns: str | None = None) -> tuple[str, str]:
    """DevStack's public and private subnets, or the next free ones of their
    sizes when this host already has addresses or routes in them (another
    deployment's external bridge or its host route to its private subnet)."""
    taken = linux_net.host_networks(netns)
    public = linux_net.free_cidr(PUBLIC_CIDR, taken)
    private = linux_net.free_cidr(PRIVATE_CIDR, taken + [ipaddress.ip_network(public)])
    if (public, private) != (PUBLIC_CIDR, PRIVATE_CIDR):
        LOG.warning("This host already has %s or %s (another deployment's): this one takes "
                    "public %s and private %s", PUBLIC_CIDR, PRIVATE_CIDR, public, private)
    return public, private


def ensure_vxlan_networks(public_cidr: str = PUBLIC_CIDR,
                          private_cidr: str = PRIVATE_CIDR) -> dict:
    """``[network] dataplane = vxlan``: DevStack's networks. The external
    network "public" (router:external, 172.24.4.0/24 without DHCP; its
    gateway 172.24.4.1 is the host's own address on its bridge, which the L3
    host's network agent makes), the project network ([network]
    default_network_name, "private", 10.0.0.0/26 with DHCP, shared so that
    every project's "auto" finds it) and router1 between them. Returns the
    private one. The database keeps the subnets, so a restart keeps them."""
    from novalite.conf import CONF

    public_gw = str(next(ipaddress.ip_network(public_cidr).hosts()))
    public = db.network_create({"name": PUBLIC_NETWORK, "project_id": None, "shared": False,
                                "router_external": True, "mtu": 1500})
    db.subnet_create({"network_id": public["id"], "project_id": None,
                      "name": "public-subnet", "cidr": public_cidr, "ip_version": 4,
                      "gateway_ip": public_gw, "enable_dhcp": False,
                      "allocation_pools": db.default_pools(public_cidr, public_gw),
                      "dns_nameservers": [], "host_routes": [], "description": ""})
    gateway = str(next(ipaddress.ip_network(private_cidr).hosts()))
    private = db.network_create({"name": CONF.network.default_network_name,
                                 "project_id": None, "shared": True,
                                 "cidr": private_cidr, "gateway": gateway})
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


# -- the vxlan data plane's claim on a host shared with other deployments --------

# NOTE: under /run: the claims go with the kernel objects at a reboot.
REGISTRY_DIR = "/run/novalite/dataplanes"
VNI_BLOCK = 100000      # deployment k > 0 of a host takes VNIs k*100000 + 1000..65000


@dataclasses.dataclass(frozen=True)
class DataplaneClaim:
    """A deployment's share of one kernel: the prefix of its kernel objects
    and its VNIs (the kernel refuses a VXLAN device whose VNI another one
    already has, whatever the deployment)."""

    prefix: str
    vni_ranges: tuple[str, ...]


def _ranges(vni_ranges: list[str] | tuple[str, ...]) -> list[tuple[int, int]]:
    out = []
    for r in vni_ranges:
        first, _, last = str(r).partition(":")
        out.append((int(first), int(last or first)))
    return out


def _overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> bool:
    return any(x0 <= y1 and y0 <= x1 for x0, x1 in a for y0, y1 in b)


def registered(registry: str = REGISTRY_DIR) -> dict[str, dict[str, Any]]:
    """{prefix: {"state_path": ..., "vni_ranges": [...]}} of the data planes
    deployments claimed on this host (since its boot)."""
    found: dict[str, dict[str, Any]] = {}
    if not os.path.isdir(registry):
        return found
    for entry in sorted(os.listdir(registry)):
        if not entry.endswith(".json"):
            continue
        try:
            with open(os.path.join(registry, entry)) as f:
                found[entry[:-len(".json")]] = json.load(f)
        except (OSError, ValueError):
            continue
    return found


def register_claim(claim: DataplaneClaim, state_path: str,
                   registry: str = REGISTRY_DIR) -> None:
    """Record on the host which deployment (state path) holds ``claim``, so
    that another finds it taken and ``host cleanup`` finds it once that
    deployment's state is gone."""
    os.makedirs(registry, mode=0o755, exist_ok=True)
    path = os.path.join(registry, f"{names.check_prefix(claim.prefix)}.json")
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump({"state_path": os.path.realpath(state_path),
                   "vni_ranges": list(claim.vni_ranges)}, f)
    os.replace(tmp, path)


def unregister_claim(prefix: str, registry: str = REGISTRY_DIR) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(registry, f"{names.check_prefix(prefix)}.json"))


def prefix_in_use(prefix: str, netns: str | None = None) -> list[str]:
    """What this kernel has of a data plane with ``prefix``: devices with its
    mark, its DHCP and router namespaces, its nftables tables, routes of its
    protocol number."""
    from novalite.network import agent_service
    from novalite.network.dataplane import kernel

    found = []
    if names.owner_mark(prefix) in linux_net.link_aliases(netns):
        found.append(f"devices marked {names.owner_mark(prefix)!r}")
    found += [f"namespace {ns}" for ns in sorted(kernel.namespaces())
              if ns.startswith((f"{prefix}dhcp-", f"{prefix}r-"))]
    if names.nft_table(prefix) in linux_net.nft_tables(netns):
        found.append(f"nftables table {names.nft_table(prefix)}")
    if agent_service.route_protocol(prefix) in linux_net.route_protocols(netns):
        found.append(f"routes of protocol {agent_service.route_protocol(prefix)}")
    return found


def _candidates(prefix: str, vni_ranges: tuple[str, ...], tries: int) \
        -> list[DataplaneClaim]:
    out = [DataplaneClaim(prefix, vni_ranges)]
    for k in range(1, tries):
        base = k * VNI_BLOCK
        out.append(DataplaneClaim(prefix[:6 - len(str(k))] + str(k),
                                  (f"{base + 1000}:{base + 65000}",)))
    return out


def claim_dataplane(state_path: str, prefix: str, vni_ranges: list[str] | tuple[str, ...],
                    *, keep_prefix: bool = False, keep_vnis: bool = False,
                    netns: str | None = None, registry: str = REGISTRY_DIR,
                    tries: int = 32) -> DataplaneClaim:
    """``prefix`` and ``vni_ranges`` when no other deployment on this host
    uses them, else the first free candidate ``<prefix>K`` with VNIs
    K*100000+1000..65000. Taken: what :func:`prefix_in_use` finds, a VXLAN
    device with a VNI in the ranges, or a claim in the registry by another
    deployment whose state path still exists. ``keep_prefix`` /
    ``keep_vnis``: the operator set them; they are not changed."""
    mine = os.path.realpath(state_path)
    live = {p: c for p, c in registered(registry).items()
            if c.get("state_path") != mine and os.path.isdir(str(c.get("state_path")))}
    used_vnis = linux_net.vxlan_vnis(netns)
    prefix_protocols = {}
    from novalite.network import agent_service

    for p in live:
        prefix_protocols[agent_service.route_protocol(p)] = p
    for cand in _candidates(names.check_prefix(prefix), tuple(vni_ranges), tries):
        claim = DataplaneClaim(prefix if keep_prefix else cand.prefix,
                               tuple(vni_ranges) if keep_vnis else cand.vni_ranges)
        ranges = _ranges(claim.vni_ranges)
        prefix_taken = not keep_prefix and (
            claim.prefix in live or bool(prefix_in_use(claim.prefix, netns))
            or agent_service.route_protocol(claim.prefix) in prefix_protocols)
        vnis_taken = not keep_vnis and (
            any(lo <= v <= hi for v in used_vnis for lo, hi in ranges)
            or any(_overlap(ranges, _ranges(c.get("vni_ranges") or [])) for c in live.values()))
        if not prefix_taken and not vnis_taken:
            if claim != DataplaneClaim(prefix, tuple(vni_ranges)):
                LOG.warning("Another deployment's data plane runs on this host: this one "
                            "takes the data plane prefix %s and VNIs %s", claim.prefix,
                            ",".join(claim.vni_ranges))
            return claim
        if keep_prefix and keep_vnis:
            break
    raise exception.NetworkSetupError(
        reason=f"no free data plane prefix and VNI range after {prefix} "
               f"{','.join(vni_ranges)}: set [network] dataplane_prefix and vni_ranges "
               "to ones no other deployment on this host uses")


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
