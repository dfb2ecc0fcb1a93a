"""DHCP per network, with dnsmasq in a network namespace (issue 13, item 2).

For each network of ``HostState.dhcp_networks`` that has an IPv4 subnet with
``enable_dhcp``, this host runs one dnsmasq in the namespace
``names.dhcp_namespace`` (``<prefix>dhcp-<network id>``), plugged into the
network's bridge with a veth (``names.dhcp_host_end`` on the bridge,
``names.dhcp_inner`` inside), as Neutron's DHCP agent does:

- **Its address** on each subnet is the one of the network's ``network:dhcp``
  port when the state has one (Neutron's DHCP port, which takes the first free
  address of the pool); without one, the first address of the allocation
  pools (else of the subnet) that no port of the network and no gateway holds,
  and a MAC derived from the network id.
- **Static leases only** (``--dhcp-range=…,static``): a host entry
  ``MAC,IP,hostname`` per fixed IP of every port of the network (on any host;
  ``HostState.dhcp_ports``); the hostname is the port's when it is a valid DNS
  label, else Neutron's ``host-10-0-0-3``.
- **DNS, as Neutron's default**: dnsmasq answers the network's host names
  (``host-10-0-0-3.openstacklocal`` or the port's hostname, from an
  ``addn_hosts`` file) to queries from its own subnets (``--local-service``)
  and is the subnet's DNS server unless the subnet names ``dns_nameservers``;
  it forwards nothing (``--no-resolv``, no upstream: Neutron's
  ``dnsmasq_dns_servers`` and ``dnsmasq_local_resolv`` are not offered).
- **Options per subnet** (Neutron's): router = gateway_ip (an empty router
  option when the subnet has none, so dnsmasq does not offer itself), DNS
  servers when the subnet names them, MTU (option 26, forced: the network's
  MTU), classless static routes (options 121 and 249) = the subnet's host
  routes, a route to every other IPv4 subnet of the network on the link, the
  metadata route
  (169.254.169.254/32 via this DHCP address when no router holds the subnet's
  gateway, via the gateway otherwise) and the default route via the gateway.
  The DHCP leg holds 169.254.169.254/32 when it announces itself as the
  metadata hop (the metadata proxy of ``metadata_proxy`` listens there).
- A change of ports or options rewrites the host/names/options files and
  sends dnsmasq SIGHUP (it rereads them); a change of its command line
  (subnets, addresses, MTU) restarts it, and so does a lease of a port that
  left (deleted, or its address changed): the lease file loses that line
  first, so no lease of a deleted port is left. A network that leaves the state has
  its dnsmasq stopped, its namespace (and with it the veth) removed and its
  files deleted.

Files: ``<state_dir>/dhcp/<network id>/`` (pid, leases, host, addn_hosts,
opts, args), mode 0700, owned by the user dnsmasq drops to (``nobody``: it
rereads the host, names and options files on SIGHUP after dropping root); the
directories above it must be traversable (0711). The state directory is the
record of what this host made: the reconcile stops what is there and not in
the state (and finds a DHCP namespace whose record was lost by its marked
veth). IPv6 subnets get no DHCPv6 (not done yet).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import pwd
import re
import shutil
import signal
import time
from dataclasses import dataclass

from oslo_log import log as logging

from novalite import exception
from novalite.network.dataplane import kernel, names
from novalite.network.dataplane.kernel import Host
from novalite.network.dataplane.l2 import attach
from novalite.network.dataplane.state import HostState, Network, Port, Subnet

LOG = logging.getLogger(__name__)

METADATA_CIDR = "169.254.169.254/32"
METADATA_ADDRESS = "169.254.169.254"
LEASE_SECONDS = 86400
DHCP_OWNER = "network:dhcp"
ROUTER_OWNERS = ("network:router_interface", "network:router_interface_distributed",
                 "network:ha_router_replicated_interface")
DNSMASQ_USER = "nobody"
DOMAIN = "openstacklocal"     # Neutron's default dns_domain
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class _Server:
    network: Network
    subnets: tuple[Subnet, ...]           # IPv4, enable_dhcp
    addresses: dict[str, str]             # subnet id -> this server's address
    mac: str
    isolated: frozenset[str]              # subnet ids no router serves


def _v4_dhcp_subnets(net: Network) -> tuple[Subnet, ...]:
    return tuple(s for s in net.subnets if s.enable_dhcp and s.ip_version == 4)


def _derived_mac(network_id: str) -> str:
    d = hashlib.sha256(f"dhcp {network_id}".encode()).digest()
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in d[:3])


def _first_free(subnet: Subnet, taken: set[str]) -> str:
    net = ipaddress.ip_network(subnet.cidr, strict=False)
    pools = subnet.allocation_pools or (
        (str(net.network_address + 1), str(net.broadcast_address - 1)),)
    for first, last in pools:
        a, b = int(ipaddress.ip_address(first)), int(ipaddress.ip_address(last))
        for n in range(a, b + 1):
            addr = str(ipaddress.ip_address(n))
            if addr not in taken:
                return addr
    raise exception.NetworkSetupError(
        reason=f"subnet {subnet.id} ({subnet.cidr}) has no free address for its DHCP server")


def _server(state: HostState, net: Network) -> _Server:
    ports = [p for p in state.dhcp_ports if p.network_id == net.id]
    own = next((p for p in ports if p.device_owner == DHCP_OWNER), None)
    subnets = _v4_dhcp_subnets(net)
    taken = {ip for p in ports for _s, ip in p.fixed_ips}
    taken |= {s.gateway_ip for s in net.subnets if s.gateway_ip}
    addresses = {}
    for s in subnets:
        mine = [ip for sid, ip in (own.fixed_ips if own else ()) if sid == s.id]
        addresses[s.id] = mine[0] if mine else _first_free(s, taken)
    # A subnet is served by a router when a router port holds its gateway.
    routed = {sid for p in ports if p.device_owner in ROUTER_OWNERS
              for sid, ip in p.fixed_ips
              if any(s.id == sid and s.gateway_ip == ip for s in net.subnets)}
    routed |= {i.subnet_id for r in state.routers for i in r.interfaces
               if i.network_id == net.id}
    return _Server(network=net, subnets=subnets, addresses=addresses,
                   mac=(own.mac.lower() if own else _derived_mac(net.id)),
                   isolated=frozenset(s.id for s in subnets if s.id not in routed))


def _tag(subnet: Subnet) -> str:
    return "subnet-" + names.check_id("subnet", subnet.id)


def hostname(port: Port, address: str) -> str:
    if port.hostname and _LABEL.match(port.hostname):
        return port.hostname
    return "host-" + address.replace(".", "-").replace(":", "-")


def _entries(state: HostState, server: _Server) -> list[tuple[str, str, str]]:
    """(MAC, address, host name) of every port of the network on a DHCP subnet."""
    subnet_ids = {s.id for s in server.subnets}
    found = set()
    for port in state.dhcp_ports:
        if port.network_id != server.network.id or port.device_owner == DHCP_OWNER:
            continue
        for sid, ip in port.fixed_ips:
            if sid in subnet_ids:
                addr = str(ipaddress.ip_address(ip))
                found.add((port.mac.lower(), addr, hostname(port, addr)))
    return sorted(found)


def _hosts_file(state: HostState, server: _Server) -> str:
    return "".join(f"{mac},{addr},{name}\n" for mac, addr, name in _entries(state, server))


def _addn_hosts_file(state: HostState, server: _Server) -> str:
    """The names dnsmasq answers in DNS (Neutron's addn_hosts: the FQDN first,
    for PTR answers)."""
    return "".join(f"{addr}\t{name}.{DOMAIN} {name}\n"
                   for _mac, addr, name in _entries(state, server))


def _routes(server: _Server, subnet: Subnet) -> list[tuple[str, str]]:
    """Option 121 for a subnet, in Neutron's order."""
    gateway = subnet.gateway_ip
    routes: list[tuple[str, str]] = []
    for dest, hop in subnet.host_routes:
        if str(ipaddress.ip_network(dest, strict=False)) == "0.0.0.0/0":
            gateway = gateway or hop
        else:
            routes.append((str(ipaddress.ip_network(dest, strict=False)),
                           str(ipaddress.ip_address(hop))))
    if subnet.id in server.isolated:
        routes.append((METADATA_CIDR, server.addresses[subnet.id]))
    elif gateway:
        routes.append((METADATA_CIDR, gateway))
    for other in server.network.subnets:
        if other.ip_version == 4 and other.cidr != subnet.cidr:
            routes.append((str(ipaddress.ip_network(other.cidr, strict=False)), "0.0.0.0"))
    if routes and gateway:
        routes.append(("0.0.0.0/0", gateway))
    return routes


def _opts_file(server: _Server) -> str:
    lines = []
    for s in server.subnets:
        tag = f"tag:{_tag(s)}"
        if s.dns_nameservers:
            dns = ",".join(str(ipaddress.ip_address(a)) for a in s.dns_nameservers)
            lines.append(f"{tag},option:dns-server,{dns}")
        routes = ",".join(f"{d},{h}" for d, h in _routes(server, s))
        if routes:
            lines.append(f"{tag},option:classless-static-route,{routes}")
            lines.append(f"{tag},249,{routes}")
        gw = s.gateway_ip or next((h for d, h in s.host_routes
                                   if str(ipaddress.ip_network(d, strict=False)) == "0.0.0.0/0"),
                                  None)
        lines.append(f"{tag},option:router,{ipaddress.ip_address(gw)}" if gw
                     else f"{tag},option:router")
    return "".join(f"{line}\n" for line in lines)


def _args(prefix: str, server: _Server, d: str) -> list[str]:
    inner = names.dhcp_inner(server.network.id)
    args = ["dnsmasq", "--conf-file=/dev/null", "--no-hosts", "--no-resolv",
            f"--user={DNSMASQ_USER}", "--local-service", f"--domain={DOMAIN}",
            f"--addn-hosts={d}/addn_hosts",
            "--bind-interfaces", f"--interface={inner}", "--except-interface=lo",
            f"--pid-file={d}/pid", f"--dhcp-leasefile={d}/leases",
            f"--dhcp-hostsfile={d}/host", f"--dhcp-optsfile={d}/opts"]
    size = 0
    for s in server.subnets:
        net = ipaddress.ip_network(s.cidr, strict=False)
        size += net.num_addresses
        args.append(f"--dhcp-range=set:{_tag(s)},{net.network_address},static,"
                    f"{net.netmask},{LEASE_SECONDS}s")
        args.append(f"--dhcp-option-force=tag:{_tag(s)},option:mtu,{server.network.mtu}")
    args.append(f"--dhcp-lease-max={max(size, 1)}")
    return args


# -- files and processes ------------------------------------------------------

def _dir(state_dir: str, network_id: str) -> str:
    return os.path.join(state_dir, "dhcp", names.check_id("network", network_id))


def _prepare_dirs(state_dir: str, network_id: str) -> str:
    top = os.path.join(state_dir, "dhcp")
    os.makedirs(top, mode=0o711, exist_ok=True)
    os.chmod(state_dir, os.stat(state_dir).st_mode | 0o111)
    os.chmod(top, 0o711)
    d = _dir(state_dir, network_id)
    os.makedirs(d, mode=0o700, exist_ok=True)
    os.chmod(d, 0o700)
    user = pwd.getpwnam(DNSMASQ_USER)
    os.chown(d, user.pw_uid, user.pw_gid)
    return d


def _write(path: str, text: str) -> bool:
    """Write ``text`` (readable by dnsmasq's user only); True when it changed."""
    try:
        with open(path) as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    user = pwd.getpwnam(DNSMASQ_USER)
    os.chown(tmp, user.pw_uid, user.pw_gid)
    os.replace(tmp, path)
    return True


def _pid(d: str) -> int | None:
    """The pid of this directory's dnsmasq when it runs."""
    try:
        with open(os.path.join(d, "pid")) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().split(b"\0")
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    if cmdline and cmdline[0].endswith(b"dnsmasq") and f"--pid-file={d}/pid".encode() in cmdline:
        return pid
    return None


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[0].endswith(b"dnsmasq")
    except OSError:
        return False


def _stop(d: str) -> None:
    """Stop the directory's dnsmasq and wait until it is gone (its pid file
    goes first, so the process itself is watched)."""
    pid = _pid(d)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not _running(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# -- the namespace -------------------------------------------------------------

def _ensure_namespace(host: Host, prefix: str, server: _Server) -> None:
    net = server.network
    ns = names.dhcp_namespace(prefix, net.id)
    outer, inner = names.dhcp_host_end(prefix, net.id), names.dhcp_inner(net.id)
    kernel.ensure_namespace(ns)
    links = host.links()
    if outer not in links:
        host.ip("link", "add", outer, "type", "veth", "peer", "name", inner, "netns", ns)
        host.sysctl(f"net.ipv6.conf.{outer}.disable_ipv6", "1", check=False)
        host.ip("link", "set", "dev", outer, "alias", names.owner_mark(prefix))
        links = host.links()
    attach(host, links[outer], names.bridge(prefix, net), net.mtu)
    inside = Host(ns)
    inside.sysctl("net.ipv6.conf.all.disable_ipv6", "1", check=False)
    ilinks = inside.links()
    if "UP" not in (ilinks.get("lo", {}).get("flags") or []):
        inside.ip("link", "set", "dev", "lo", "up")
    ilink = ilinks[inner]
    if str(ilink.get("address", "")).lower() != server.mac or int(ilink.get("mtu", 0)) != net.mtu:
        inside.ip("link", "set", "dev", inner, "address", server.mac, "mtu", str(net.mtu))
    if "UP" not in (ilink.get("flags") or []):
        inside.ip("link", "set", "dev", inner, "up")
    wanted = {f"{server.addresses[s.id]}/{ipaddress.ip_network(s.cidr, strict=False).prefixlen}"
              for s in server.subnets}
    if server.isolated:
        wanted.add(METADATA_CIDR)
    out = inside.ip("-j", "-4", "addr", "show", "dev", inner)
    have = {f"{a['local']}/{a['prefixlen']}" for link in json.loads(out or "[]")
            for a in link.get("addr_info", [])}
    # NOTE: the metadata address is also the metadata proxy's to add (when a
    # network is served here but routed elsewhere): never taken away here.
    for addr in sorted(have - wanted - {METADATA_CIDR}):
        inside.ip("addr", "del", addr, "dev", inner)
    for addr in sorted(wanted - have):
        inside.ip("addr", "add", addr, "dev", inner)


def _ensure_server(host: Host, prefix: str, state: HostState, server: _Server,
                   state_dir: str) -> None:
    net = server.network
    d = _prepare_dirs(state_dir, net.id)
    _ensure_namespace(host, prefix, server)
    args = _args(prefix, server, d)
    changed = _write(os.path.join(d, "host"), _hosts_file(state, server))
    changed = _write(os.path.join(d, "addn_hosts"), _addn_hosts_file(state, server)) or changed
    changed = _write(os.path.join(d, "opts"), _opts_file(server)) or changed
    new_args = _write(os.path.join(d, "args"), json.dumps(args) + "\n")
    wanted = {(mac, addr) for mac, addr, _name in _entries(state, server)}
    stale = stale_leases(leases(state_dir, net.id), wanted)
    pid = _pid(d)
    if pid is not None and not new_args and not stale:
        if changed:
            LOG.info("Network %s: DHCP entries changed, dnsmasq %d rereads them", net.id, pid)
            os.kill(pid, signal.SIGHUP)
        return
    if pid is not None:
        LOG.info("Network %s: dnsmasq restarts (%s)", net.id,
                 "its command line changed" if new_args else
                 f"leases of ports it no longer serves: {', '.join(stale)}")
        _stop(d)
    if stale:
        # NOTE: read again: the stopped dnsmasq may have written since.
        kept = leases(state_dir, net.id)
        drop = set(stale_leases(kept, wanted))
        _write(os.path.join(d, "leases"),
               "".join(line + "\n" for line in kept.splitlines() if line not in drop))
    LOG.info("Network %s: starting dnsmasq in %s", net.id, names.dhcp_namespace(prefix, net.id))
    kernel.execute("ip", "netns", "exec", names.dhcp_namespace(prefix, net.id), *args)


def _remove(prefix: str, state_dir: str, network_id: str) -> None:
    d = _dir(state_dir, network_id)
    LOG.info("Network %s: removing its DHCP server", network_id)
    _stop(d)
    kernel.delete_namespace(names.dhcp_namespace(prefix, network_id))
    shutil.rmtree(d, ignore_errors=True)


def served(state: HostState) -> list[Network]:
    """The networks whose DHCP server runs here."""
    wanted = set(state.dhcp_networks)
    return [n for n in state.networks if n.id in wanted and _v4_dhcp_subnets(n)]


def legs(state: HostState, prefix: str) -> dict[str, tuple[str, str]]:
    """Network id -> (namespace, device) of each DHCP server here (where a
    metadata proxy can listen)."""
    return {n.id: (names.dhcp_namespace(prefix, n.id), names.dhcp_inner(n.id))
            for n in served(state)}


def apply(host: Host, state: HostState, prefix: str, state_dir: str) -> None:
    """Run one dnsmasq per served network with the state's entries; stop and
    remove those of networks no longer served."""
    nets = served(state)
    for net in nets:
        _ensure_server(host, prefix, state, _server(state, net), state_dir)
    top = os.path.join(state_dir, "dhcp")
    known = sorted(os.listdir(top)) if os.path.isdir(top) else []
    for network_id in set(known) - {n.id for n in nets}:
        _remove(prefix, state_dir, network_id)
    _remove_orphans(host, prefix, {n.id for n in nets})


def _remove_orphans(host: Host, prefix: str, wanted: set[str]) -> None:
    """DHCP namespaces of this deployment that its state directory does not
    record (the directory was lost): one whose host end is a port of this
    host's side, marked as ours, is removed with the processes inside it."""
    head = prefix + "dhcp-"
    candidates = [ns for ns in kernel.namespaces()
                  if names.is_dhcp_namespace(prefix, ns) and ns[len(head):] not in wanted]
    if not candidates:
        return
    links = host.links()
    for ns in candidates:
        outer = links.get(names.dhcp_host_end(prefix, ns[len(head):]))
        if not outer or outer.get("ifalias") != names.owner_mark(prefix):
            continue
        LOG.info("Removing DHCP namespace %s (not in the state, no record of it)", ns)
        for pid in _pids_in(ns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        kernel.delete_namespace(ns)


def _pids_in(namespace: str) -> list[int]:
    """Processes whose network namespace is the named one."""
    try:
        inode = os.stat(os.path.join(kernel.NETNS_DIR, namespace)).st_ino
    except FileNotFoundError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/net") == f"net:[{inode}]":
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def stale_leases(text: str, wanted: set[tuple[str, str]]) -> list[str]:
    """The IPv4 lines of a dnsmasq lease file (``expiry MAC address name
    client-id``) whose (MAC, address) no host entry has any more: a deleted
    port's, or a port's old address. dnsmasq keeps a lease until it expires
    whatever its host entries say, and reads its lease file only when it
    starts, so such a lease goes by a restart with the line removed (Neutron
    sends dhcp_release, from dnsmasq-utils, instead)."""
    stale = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0] == "duid" or ":" in fields[2]:
            continue
        if (fields[1].lower(), fields[2]) not in wanted:
            stale.append(line)
    return stale


def leases(state_dir: str, network_id: str) -> str:
    """The lease file of a network's dnsmasq ('' when none)."""
    try:
        with open(os.path.join(_dir(state_dir, network_id), "leases")) as f:
            return f.read()
    except FileNotFoundError:
        return ""
