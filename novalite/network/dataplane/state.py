"""The desired network state of one host: plain frozen dataclasses, built from
the database by the control plane and given to the host's data plane whole.

The data plane reconciles: whatever it made before that is not in the state it
is given now is removed (a deleted port leaves no tap rule, lease, namespace or
VXLAN device behind). Names of kernel objects derive from ids (see
:mod:`novalite.network.dataplane.names`), so any host computes the same names.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Subnet:
    id: str
    network_id: str
    cidr: str
    gateway_ip: str | None
    ip_version: int = 4
    enable_dhcp: bool = True
    dns_nameservers: tuple[str, ...] = ()
    # (destination CIDR, nexthop)
    host_routes: tuple[tuple[str, str], ...] = ()
    # (first, last)
    allocation_pools: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Network:
    id: str
    vni: int                      # VXLAN network identifier (Neutron's segmentation_id)
    mtu: int = 1450               # 1500 minus VXLAN's 50 bytes
    subnets: tuple[Subnet, ...] = ()
    # The VXLAN endpoints (underlay addresses) of the OTHER hosts that have a
    # port, a DHCP server or a router leg on this network.
    peers: tuple[str, ...] = ()
    external: bool = False        # router:external (the external network is a
                                  # plain bridge with an uplink, no VXLAN)


@dataclass(frozen=True)
class SecurityGroupRule:
    direction: str                # "ingress" | "egress"
    ethertype: str = "IPv4"       # "IPv4" | "IPv6"
    protocol: str | None = None   # None (any) | "tcp" | "udp" | "icmp" | "ipv6-icmp" | a number
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    rules: tuple[SecurityGroupRule, ...] = ()
    # Addresses of every port (on any host) that is a member: what a rule
    # with remote_group_id = this group matches.
    member_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Port:
    id: str
    network_id: str
    mac: str
    # (subnet id, address)
    fixed_ips: tuple[tuple[str, str], ...]
    device_owner: str = "compute:nova"
    device_id: str = ""
    port_security_enabled: bool = True
    security_groups: tuple[str, ...] = ()
    # (ip or CIDR, mac or None = the port's own)
    allowed_address_pairs: tuple[tuple[str, str | None], ...] = ()
    hostname: str = ""            # DHCP host name (the server's hostname)

    @property
    def devname(self) -> str:
        """The guest's tap (Nova's "tap" + 11 characters of the port id)."""
        return ("tap" + self.id)[:14]


@dataclass(frozen=True)
class FloatingIP:
    id: str
    address: str                  # on the external network
    fixed_address: str            # the port's address it is NATed to
    port_id: str


@dataclass(frozen=True)
class RouterGateway:
    network_id: str               # the external network
    address: str                  # the router's own address on it
    cidr: str                     # the external subnet
    gateway_ip: str | None        # the external subnet's gateway (default route)
    enable_snat: bool = True


@dataclass(frozen=True)
class RouterInterface:
    port_id: str
    network_id: str
    subnet_id: str
    address: str                  # the subnet's gateway address, held by the router
    cidr: str
    mac: str


@dataclass(frozen=True)
class Router:
    id: str
    gateway: RouterGateway | None = None
    interfaces: tuple[RouterInterface, ...] = ()
    floating_ips: tuple[FloatingIP, ...] = ()


@dataclass(frozen=True)
class Metadata:
    """Where the per-network metadata proxies forward (the metadata service),
    and the secret they sign with. The proxy answers 169.254.169.254:80 on a
    network and forwards with the headers below; the service trusts only a
    request whose signature checks, and finds the instance from the network
    id and the source address (never from anything the guest sent)."""

    service_url: str              # e.g. http://127.0.0.1:8775
    shared_secret: str


# Headers between a metadata proxy and the metadata service.
HDR_FORWARDED_FOR = "X-Forwarded-For"          # the guest's source address
HDR_NETWORK_ID = "X-Novalite-Network-ID"       # the network the request came from
HDR_SIGNATURE = "X-Novalite-Signature"         # hex HMAC-SHA256(secret, f"{network_id} {address}")


@dataclass(frozen=True)
class HostState:
    host: str
    # This host's VXLAN endpoint (underlay address).
    local_ip: str
    networks: tuple[Network, ...] = ()
    # The ports bound to THIS host (their taps are here).
    ports: tuple[Port, ...] = ()
    # Every security group a local port uses.
    security_groups: tuple[SecurityGroup, ...] = ()
    # Networks whose DHCP server (and metadata proxy) runs on this host, and
    # every port of those networks (on any host) for the DHCP host entries.
    dhcp_networks: tuple[str, ...] = ()
    dhcp_ports: tuple[Port, ...] = ()
    # Routers hosted here (their namespaces are here).
    routers: tuple[Router, ...] = ()
    metadata: Metadata | None = None
    extra: dict[str, str] = field(default_factory=dict)
