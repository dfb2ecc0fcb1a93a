"""The per-host network agent ([network] dataplane = vxlan): keeps this host's
kernel matching its desired network state.

The state (:class:`~novalite.network.dataplane.state.HostState`) is built
from the database by the conductor (``get_host_network_state``, conductor RPC
1.5; a compute host never reads the database) and applied whole by
:func:`novalite.network.dataplane.agent.apply`, which reconciles: what the
state no longer names is removed. The agent applies

- at start;
- every ``[network] agent_resync_interval`` seconds (30);
- at once on the fanout cast ``sync`` (topic :data:`TOPIC`) that the control
  plane sends after a change: any successful write through the Network API
  (networks, subnets, ports, routers, floating IPs, security groups) and a
  server's ports allocated or released (see :func:`notify_changed`);
- synchronously from the libvirt driver before it plugs a VIF
  (:func:`ensure_port`): the port is bound to this host when compute asks
  for it, so the state already holds it; its network's bridge (and VXLAN
  device) then exist before the domain starts, and the port's nftables rules
  are in place too (they match the tap by name, so they hold as soon as
  libvirt makes the tap; libvirt puts the tap on the bridge). No second apply
  is needed after the tap appears; the next resync also attaches a tap that
  was made outside libvirt.

It runs in every compute service process (next to the compute service) and
in the all-in-one, whose host is the default ``[network] dhcp_host`` (DHCP
servers and metadata proxies) and ``l3_host`` (routers).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import oslo_messaging as messaging
from oslo_log import log as logging
from oslo_service import service as os_service

from novalite import context as nl_context
from novalite import rpc
from novalite.conf import CONF
from novalite.network.dataplane import state as st

LOG = logging.getLogger(__name__)

TOPIC = "novalite-network-agent"

_AGENTS: dict[str, NetworkAgent] = {}
_AGENTS_LOCK = threading.Lock()


def enabled() -> bool:
    return str(CONF.network.dataplane) == "vxlan"


# -- the control plane's side (where the database is) ----------------------------

def metadata_target() -> st.Metadata | None:
    """Where the metadata proxies forward: the metadata service
    ([metadata] listen:port, loopback for a wildcard listen) with the shared
    secret; None (no proxies) without a secret."""
    secret = CONF.metadata.metadata_proxy_shared_secret
    if not secret:
        return None
    listen = str(CONF.metadata.listen)
    if listen in ("0.0.0.0", "::", ""):
        listen = "127.0.0.1"
    if ":" in listen:
        listen = f"[{listen}]"
    return st.Metadata(service_url=f"http://{listen}:{CONF.metadata.port}",
                       shared_secret=str(secret))


def host_state_json(host: str) -> dict[str, Any]:
    """``host``'s HostState from the database, as JSON (the dataclasses'
    fields; :func:`novalite.network.dataplane.agent.load_state` reads it)."""
    from novalite.network import hoststate

    state = hoststate.build_host_state(host, metadata=metadata_target(),
                                       extra_bindings=moving_ports())
    if host == l3_host():
        state = _with_external_networks(state)
    return dataclasses.asdict(state)


# Migration statuses while a server is between two hosts.
MOVING = ("accepted", "queued", "preparing", "pre-migrating", "migrating", "running",
          "post-migrating", "finished", "confirming", "reverting")


def moving_ports() -> dict[str, set[str]]:
    """{port uuid: {source, destination}} of every server being moved (a
    migration in progress, or a resize waiting for confirm): its ports are
    on both hosts until the move ends, because each host plugs them before
    the server's host (and so the ports' binding) changes (the destination
    before it takes the server, the source again on a revert)."""
    from novalite.db import instance_migrations
    from novalite.db import network as db

    out: dict[str, set[str]] = {}
    for mig in instance_migrations.migration_get_all({"status": list(MOVING)}):
        hosts = {h for h in (mig.get("source_compute"), mig.get("dest_compute")) if h}
        if not hosts:
            continue
        for port in db.port_get_all(device_id=mig["instance_uuid"]):
            out.setdefault(port["uuid"], set()).update(hosts)
    return out


def l3_host() -> str:
    """The host that runs the routers: [network] l3_host, else dhcp_host."""
    from novalite.network import hoststate

    return str(CONF.network.l3_host or hoststate.dhcp_host())


def _with_external_networks(state: st.HostState) -> st.HostState:
    """The L3 host has every external network's bridge (holding the external
    subnet's gateway address, DevStack's br-ex with 172.24.4.1), also before
    any router uses it: the host itself is on the external network."""
    from novalite.db import network as db
    from novalite.network import hoststate

    have = {n.id for n in state.networks}
    external = [n for n in db.network_get_all()
                if n["router_external"] and n["uuid"] not in have]
    if not external:
        return state
    subnets: dict[int, list[dict]] = {}
    for sub in db.subnet_get_all(network_ids=[n["id"] for n in external]):
        subnets.setdefault(sub["network_id"], []).append(sub)
    added = tuple(st.Network(
        id=n["uuid"], vni=int(n["segmentation_id"] or 0), mtu=int(n["mtu"]),
        subnets=tuple(hoststate._subnet(s) for s in subnets.get(n["id"], [])),
        external=True) for n in external)
    return dataclasses.replace(state, networks=state.networks + added)


def notify_changed() -> None:
    """Ask every network agent to reconcile now (fanout cast ``sync``).
    Nothing with the flat data plane; a failure to send is logged, never
    raised (the periodic resync catches up)."""
    if not enabled():
        return
    try:
        client = rpc.get_client(messaging.Target(topic=TOPIC, version="1.0"))
        client.prepare(fanout=True).cast(nl_context.get_admin_context(), "sync")
    except Exception:  # noqa: BLE001
        LOG.warning("Could not ask the network agents to resync; they will at their "
                    "next periodic resync", exc_info=True)


# -- the host's side -----------------------------------------------------------

class NetworkAgent:
    """Fetches ``host``'s state from the conductor and applies it; one
    apply at a time (a sync asked for during an apply runs once after it)."""

    def __init__(self, host: str, prefix: str | None = None,
                 state_dir: str | None = None, host_netns: str | None = None) -> None:
        self.host = host
        self.prefix = prefix
        self.state_dir = state_dir
        self.host_netns = host_netns or CONF.network.agent_netns or None
        self._lock = threading.Lock()
        self.state: st.HostState | None = None
        self.applied = 0

    def fetch(self) -> st.HostState:
        from novalite.conductor import rpcapi as conductor_rpcapi
        from novalite.network.dataplane import agent

        data = conductor_rpcapi.ConductorAPI().get_host_network_state(
            nl_context.get_admin_context(), self.host)
        return agent.load_state(data)

    def sync(self) -> st.HostState:
        """Reconcile this host now; returns the state applied."""
        from novalite.network.dataplane import agent

        with self._lock:
            state = self.fetch()
            agent.apply(state, prefix=self.prefix, state_dir=self.state_dir,
                        host_netns=self.host_netns)
            if CONF.network.host_routes_via_routers and self.host == l3_host() \
                    and self.host_netns is None:
                sync_host_routes(state, self.prefix)
            self.state = state
            self.applied += 1
            LOG.debug("Network agent of %s applied %d network(s), %d port(s), %d router(s)",
                      self.host, len(state.networks), len(state.ports), len(state.routers))
            return state


def route_protocol(prefix: str | None = None) -> int:
    """The routing protocol number marking this deployment's host routes
    (``ip route ... proto N``, 100-249 from the prefix), so that the
    reconcile removes only its own."""
    import hashlib

    from novalite.network.dataplane import names

    prefix = names.check_prefix(prefix or names.default_prefix())
    return 100 + int(hashlib.sha256(prefix.encode()).hexdigest(), 16) % 150


def wanted_host_routes(state: st.HostState) -> dict[str, str]:
    """{subnet CIDR: router gateway address} of every router with a
    gateway and interfaces: DevStack's host route to the private subnet."""
    import ipaddress

    routes = {}
    for router in state.routers:
        if router.gateway is None:
            continue
        for iface in router.interfaces:
            net = ipaddress.ip_network(iface.cidr, strict=False)
            if net.version == 4 and \
                    ipaddress.ip_address(router.gateway.address).version == 4:
                routes[str(net)] = router.gateway.address
    return routes


def sync_host_routes(state: st.HostState, prefix: str | None = None) -> None:
    """Make the host's routes of this deployment (its protocol number)
    exactly :func:`wanted_host_routes`."""
    import ipaddress
    import json

    from novalite.network.dataplane.kernel import Host

    host = Host(None)
    proto = str(route_protocol(prefix))
    wanted = wanted_host_routes(state)
    have = {}
    for route in json.loads(host.ip("-4", "-j", "route", "show", "proto", proto) or "[]"):
        have[str(ipaddress.ip_network(str(route.get("dst")), strict=False))] = \
            str(route.get("gateway"))
    for dst, via in wanted.items():
        if have.get(dst) != via:
            host.ip("route", "replace", dst, "via", via, "proto", proto, check=False)
    for dst in set(have) - set(wanted):
        host.ip("route", "del", dst, "proto", proto, check=False)


class _Endpoint:
    target = messaging.Target(version="1.0")

    def __init__(self, agent: NetworkAgent, kick: threading.Event) -> None:
        self.agent = agent
        self.kick = kick

    def sync(self, context: Any) -> None:
        # NOTE: the apply runs on the agent's own thread: a cast returns at
        # once and several casts in a row make one apply.
        self.kick.set()


class NetworkAgentService(os_service.ServiceBase):
    """The agent as a service: an RPC server on :data:`TOPIC` (its fanout)
    and a thread that applies at start, on each ``sync`` and every
    ``[network] agent_resync_interval`` seconds."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host or str(CONF.host)
        self.agent = register(NetworkAgent(self.host))
        self._kick = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.rpcserver: Any = None

    def start(self) -> None:
        rpc.init()
        dispatcher = rpc.get_dispatcher([_Endpoint(self.agent, self._kick)])
        self.rpcserver = rpc.get_server(messaging.Target(topic=TOPIC, server=self.host),
                                        dispatcher)
        self.rpcserver.start()
        self._kick.set()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"network-agent-{self.host}")
        self._thread.start()
        LOG.info("Network agent of %s started (resync every %ss)", self.host,
                 CONF.network.agent_resync_interval)

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._kick.wait(CONF.network.agent_resync_interval)
            if self._stopped.is_set():
                return
            self._kick.clear()
            try:
                self.agent.sync()
            except Exception:  # noqa: BLE001
                LOG.exception("Network agent of %s: the apply failed; trying again at the "
                              "next sync", self.host)

    def stop(self, graceful: bool = True) -> None:
        self._stopped.set()
        self._kick.set()
        if self.rpcserver is not None:
            try:
                self.rpcserver.stop()
                self.rpcserver.wait()
            except Exception:  # noqa: BLE001
                LOG.exception("Error stopping the network agent's RPC server")
        if self._thread is not None:
            self._thread.join(120)
        unregister(self.agent)

    def wait(self) -> None:
        self._stopped.wait()

    def reset(self) -> None:
        pass


def register(agent: NetworkAgent) -> NetworkAgent:
    with _AGENTS_LOCK:
        _AGENTS[agent.host] = agent
    return agent


def unregister(agent: NetworkAgent) -> None:
    with _AGENTS_LOCK:
        if _AGENTS.get(agent.host) is agent:
            del _AGENTS[agent.host]


def agent_for(host: str) -> NetworkAgent:
    """This process's agent of ``host`` (made when none runs)."""
    with _AGENTS_LOCK:
        agent = _AGENTS.get(host)
        if agent is None:
            agent = _AGENTS[host] = NetworkAgent(host)
        return agent


def ensure_port(vif: dict[str, Any], host: str | None = None) -> None:
    """Before a VIF is plugged: apply this host's state now, and check that
    it holds the port (so its bridge, VXLAN device and rules exist)."""
    from novalite import exception

    hosts = [host] if host else (list(_AGENTS) or [str(CONF.host)])
    for name in hosts:
        state = agent_for(name).sync()
        if any(p.id == vif.get("id") for p in state.ports):
            return
    raise exception.NovaliteException(
        f"port {vif.get('id')} is not bound to this host ({', '.join(hosts)}): its "
        "network's bridge is not made here")
