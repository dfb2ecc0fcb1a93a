"""[network] options: networks, their data plane (flat or vxlan) and quotas."""

from oslo_config import cfg

network_group = cfg.OptGroup("network", title="Flat networking options")

network_opts = [
    cfg.StrOpt("default_network_name", default="private",
               help="Network a server gets when it asks for 'auto' (or names "
                    "none): this one, else the only network there is."),
    cfg.BoolOpt("create_default_network", default=True,
                help="The all-in-one creates the default network at start when "
                     "no network exists."),
    cfg.StrOpt("default_cidr", default="10.77.0.0/24",
               help="CIDR of the network the all-in-one creates."),
    cfg.StrOpt("default_bridge", default="nlbr0",
               help="Linux bridge of the network the all-in-one creates."),
    cfg.BoolOpt("port_security", default=True,
                help="Filter each guest port on the host: libvirt's clean-traffic "
                     "nwfilter with the port's MAC and IP (a guest cannot send "
                     "with another's MAC or address, or answer ARP for it), and an "
                     "nftables rule (table 'inet novalite') that drops the guest's "
                     "new connections to the host's own addresses except "
                     "guest_host_allowed_ports."),
    cfg.ListOpt("guest_host_allowed_ports", default=[],
                help="Host services guests may reach over their bridge, as "
                     "tcp/PORT or udp/PORT (e.g. udp/67 for a DHCP server, "
                     "tcp/80 for a metadata proxy). Empty: none."),
    cfg.ListOpt("vni_ranges", default=["1000:65000"],
                help="VXLAN network identifiers (Neutron's segmentation_id) "
                     "networks get, as FIRST:LAST ranges (Neutron's "
                     "[ml2_type_vxlan] vni_ranges)."),
    cfg.StrOpt("dhcp_host", default=None,
               help="The host that serves DHCP (and the metadata proxy) for "
                    "every network. Default: the all-in-one's host ([DEFAULT] "
                    "host)."),
    cfg.StrOpt("tunnel_ip", default=None,
               help="This host's VXLAN endpoint (underlay) address. Default: "
                    "[DEFAULT] my_ip."),
    cfg.IntOpt("quota_network", default=100,
               help="Networks a project may have (Neutron's default quota)."),
    cfg.IntOpt("quota_subnet", default=100, help="Subnets a project may have."),
    cfg.IntOpt("quota_port", default=500, help="Ports a project may have."),
    cfg.IntOpt("quota_router", default=10, help="Routers a project may have."),
    cfg.IntOpt("quota_floatingip", default=50, help="Floating IPs a project may have."),
    cfg.IntOpt("quota_security_group", default=10,
               help="Security groups a project may have."),
    cfg.IntOpt("quota_security_group_rule", default=100,
               help="Security group rules a project may have."),
    cfg.StrOpt("dataplane", default="flat", choices=["flat", "vxlan"],
               help="The data plane guests' ports use. flat: one Linux bridge per "
                    "network holding the gateway address on every host "
                    "(novalite.network.linux_net). vxlan: the per-host network agent "
                    "(novalite.network.agent_service) reconciles each host to its "
                    "state from the database: a bridge and a VXLAN device per "
                    "network, security groups in nftables, DHCP, routers and "
                    "metadata proxies (novalite.network.dataplane). Every service "
                    "of a deployment must agree on it. The all-in-one with real "
                    "guests (libvirt) uses vxlan unless this is set (flat for a "
                    "deployment whose networks were made flat), and records its "
                    "choice in <state-dir>/dataplane.json; with the FakeDriver flat."),
    cfg.IntOpt("agent_resync_interval", default=30, min=1,
               help="Seconds between two full reconciles of a host by its network "
                    "agent (dataplane = vxlan); a change through the Network API "
                    "or to a server's ports makes every agent reconcile at once."),
    cfg.StrOpt("l3_host", default=None,
               help="The host whose network agent runs the routers (their "
                    "namespaces, SNAT and floating IPs). Default: [network] "
                    "dhcp_host."),
    cfg.BoolOpt("host_routes_via_routers", default=False,
                help="On the L3 host (dataplane = vxlan): a route on the host to "
                     "every router interface's IPv4 subnet via that router's "
                     "external gateway address, so the host reaches fixed "
                     "addresses as DevStack's (ip route add 10.0.0.0/26 via "
                     "ROUTER_GW). The all-in-one turns it on."),
    cfg.StrOpt("agent_netns", default=None,
               help="The network namespace holding this host's data plane "
                    "(dataplane = vxlan): unset, the root namespace. Only to stand "
                    "several hosts on one machine (tests), each compute's agent in "
                    "its own namespace."),
    cfg.StrOpt("dataplane_prefix", default="nl",
               regex=r"^[a-z][a-z0-9]{0,5}$",
               help="First characters of every kernel object the per-host data "
                    "plane makes (bridges, VXLAN devices, namespaces, nftables "
                    "tables; see novalite.network.dataplane.names): 1-6 of a-z "
                    "0-9. Two deployments on one kernel need different prefixes "
                    "(and VNI ranges); every host of one deployment uses the same. "
                    "Unset, an all-in-one whose host already has another "
                    "deployment's data plane takes the next free one (nl1, nl2, "
                    "... with VNIs K*100000+1000:65000) and keeps it."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(network_group)
    conf.register_opts(network_opts, group=network_group)


def list_opts() -> dict:
    return {network_group: network_opts}
