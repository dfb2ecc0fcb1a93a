"""Security groups and anti-spoofing per port, with nftables (issue 13, item 2).

What a port gets, as Neutron's iptables firewall does it:

- **Anti-spoofing** (frames from the guest): source MAC one of the port's
  (its own and its allowed address pairs'); ARP only with a sender MAC and
  IP of the port (fixed IPs and allowed address pairs); IPv4/IPv6 only from
  those addresses (and the port's IPv6 link-local address); a DHCP discover
  from 0.0.0.0 is let out; DHCP and DHCPv6 server replies and IPv6 router
  advertisements from the guest are dropped; other ethertypes are dropped.
- **Security groups**, stateful: replies of a connection (and related ICMP
  errors) pass; everything else must match a rule of one of the port's
  groups: egress rules for what the guest sends, ingress rules for what it
  receives (remote_ip_prefix / remote_group_id are the far end: the source of
  ingress, the destination of egress; a remote group matches the addresses of
  its member ports, kept in one nftables set per group). No rule, no traffic.
  DHCP (client requests out, server replies in) and IPv6 neighbour discovery
  pass whatever the groups say. ``port_security_enabled`` false: no
  filtering at all for that port.
- **Removing a rule cuts the connections it allowed**, as Neutron (its
  iptables firewall deletes the conntrack entries of a deleted rule, and
  those of a remote group's departed members): the packets of a connection's
  initiator are matched against the rules on every packet, not only the first;
  only replies pass on the connection state. Nothing else disturbs a flow: a
  new ruleset replaces the old one in one transaction and the connection
  table is left alone.

How, on this kernel: bridged frames are filtered in a ``bridge`` table (it
sees the input and output port), but that family has no connection tracking
here (no ``nf_conntrack_bridge``: FACTS.md). The bridges send their IP
traffic through the IPv4/IPv6 hooks (``nf_call_iptables``, br_netfilter),
where an ``inet`` table puts each network's traffic in its own conntrack zone
(the VNI: two networks may use the same addresses) and writes the
connection state into three bits of the packet mark; the ``bridge`` table
reads them. Both tables are named :func:`names.nft_table` and rewritten
whole, in one ``nft -f`` transaction, when what they should hold changes
(their digest is the bridge table's comment: the same state twice writes
nothing).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Iterable

from oslo_log import log as logging

from novalite import exception
from novalite.network.dataplane import names
from novalite.network.dataplane.kernel import Host
from novalite.network.dataplane.state import (
    HostState,
    Port,
    SecurityGroup,
    SecurityGroupRule,
)

LOG = logging.getLogger(__name__)

# Bits of the packet mark the inet table sets from the connection state.
MARK_REPLY = 0x00100000       # established, reply direction
MARK_RELATED = 0x00200000     # related (ICMP errors, expectations)
MARK_INVALID = 0x00400000
MARK_BITS = MARK_REPLY | MARK_RELATED | MARK_INVALID

_PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58,
              "sctp": 132, "udplite": 136, "dccp": 33, "gre": 47, "esp": 50,
              "ah": 51, "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ospf": 89,
              "pgm": 113, "rsvp": 46, "vrrp": 112}
_PORT_PROTOCOLS = {6, 17, 132, 136, 33}
_ICMP = {1, 58}
_ND_OUT = ("nd-neighbor-solicit", "nd-neighbor-advert", "nd-router-solicit",
           "mld-listener-report", "mld2-listener-report")
_ND_IN = ("nd-neighbor-solicit", "nd-neighbor-advert", "nd-router-advert",
          "mld-listener-query")


def _mac(mac: str) -> str:
    m = mac.lower()
    parts = m.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p)
                                  for p in parts):
        raise exception.InvalidNetwork(reason=f"{mac!r} is not a MAC address")
    return m


def link_local(mac: str) -> str:
    """The port's IPv6 link-local address (EUI-64 of its MAC)."""
    b = bytearray(int(x, 16) for x in _mac(mac).split(":"))
    b[0] ^= 0x02
    eui = bytes(b[:3]) + b"\xff\xfe" + bytes(b[3:])
    return str(ipaddress.IPv6Address(b"\xfe\x80" + b"\x00" * 6 + eui))


def _net(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError as e:
        raise exception.InvalidNetwork(reason=f"{value!r} is not an address or CIDR") from e


def _nft_addr(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    full = 32 if net.version == 4 else 128
    return str(net.network_address) if net.prefixlen == full else str(net)


def _chain(kind: str, port: Port) -> str:
    return f"{kind}-{names.check_id('port', port.id)}"


def _set(group_id: str, version: int) -> str:
    return f"sg{version}-{names.check_id('security group', group_id)}"


def _allowed_sources(port: Port) -> list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    """(MAC, address or CIDR) the port may send from."""
    mac = _mac(port.mac)
    pairs = [(mac, _net(ip)) for _subnet, ip in port.fixed_ips]
    pairs += [(_mac(pmac) if pmac else mac, _net(ip))
              for ip, pmac in port.allowed_address_pairs]
    macs = dict.fromkeys([mac] + [m for m, _n in pairs])
    pairs += [(m, _net(link_local(m))) for m in macs]
    return list(dict.fromkeys(pairs))


def _anti_spoof(port: Port) -> list[str]:
    sources = _allowed_sources(port)
    macs = ", ".join(dict.fromkeys(m for m, _n in sources))
    sg = _chain("ps", port)
    lines = [f"ether saddr != {{ {macs} }} drop"]
    for mac, net in sources:
        if net.version == 4:
            lines.append(f"arp saddr ether {mac} arp saddr ip {_nft_addr(net)} return")
    lines += [
        "ether type arp drop",
        "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 return",
        "ip protocol udp udp sport 67 udp dport 68 drop",
        "ip6 nexthdr udp udp sport 547 udp dport 546 drop",
        "icmpv6 type nd-router-advert drop",
    ]
    for mac, net in sources:
        fam = "ip" if net.version == 4 else "ip6"
        lines.append(f"ether saddr {mac} {fam} saddr {_nft_addr(net)} goto {sg}")
    lines += [
        f"ip6 saddr :: icmpv6 type {{ {', '.join(_ND_OUT)} }} return",
        "counter drop",
    ]
    return lines


def _protocol(rule: SecurityGroupRule) -> int | None:
    p = rule.protocol
    if p is None or str(p).lower() in ("", "any", "0"):
        return None
    text = str(p).lower()
    if text.isdigit():
        number = int(text)
    elif text in _PROTOCOLS:
        number = _PROTOCOLS[text]
    else:
        raise exception.InvalidNetwork(reason=f"security group rule protocol {p!r} unknown")
    if number == 1 and rule.ethertype == "IPv6":
        number = 58     # NOTE: Neutron takes "icmp" on an IPv6 rule as ICMPv6
    if not 0 <= number <= 255:
        raise exception.InvalidNetwork(reason=f"security group rule protocol {p!r} unknown")
    return number


def rule_match(rule: SecurityGroupRule, groups: dict[str, SecurityGroup]) -> str | None:
    """The nftables match of one rule (None: it can match nothing here, e.g.
    a remote group this host was not told about)."""
    version = 6 if rule.ethertype == "IPv6" else 4
    fam = "ip6" if version == 6 else "ip"
    far = "saddr" if rule.direction == "ingress" else "daddr"
    parts = [f"ether type {fam}"]
    if rule.remote_ip_prefix:
        net = _net(rule.remote_ip_prefix)
        if net.version != version:
            return None
        parts.append(f"{fam} {far} {_nft_addr(net)}")
    if rule.remote_group_id:
        if rule.remote_group_id not in groups:
            return None
        parts.append(f"{fam} {far} @{_set(rule.remote_group_id, version)}")
    proto = _protocol(rule)
    if proto is not None:
        parts.append(f"meta l4proto {proto}")
        lo, hi = rule.port_range_min, rule.port_range_max
        if proto in _PORT_PROTOCOLS and lo is not None:
            hi = lo if hi is None else hi
            parts.append(f"th dport {int(lo)}" if lo == hi else f"th dport {int(lo)}-{int(hi)}")
        elif proto in _ICMP and lo is not None:
            icmp = "icmp" if proto == 1 else "icmpv6"
            parts.append(f"{icmp} type {int(lo)}")
            if hi is not None:
                parts.append(f"{icmp} code {int(hi)}")
    return " ".join(parts)


def _group_rules(port: Port, groups: dict[str, SecurityGroup], direction: str,
                 verdict: str) -> list[str]:
    lines = []
    for gid in port.security_groups:
        group = groups.get(gid)
        if group is None:
            LOG.warning("Port %s: security group %s is not in the state", port.id, gid)
            continue
        for rule in group.rules:
            if rule.direction != direction:
                continue
            match = rule_match(rule, groups)
            if match is not None:
                lines.append(f"{match} {verdict}")
    return list(dict.fromkeys(lines))


def _egress(port: Port, groups: dict[str, SecurityGroup]) -> list[str]:
    return [
        f"meta mark & {MARK_REPLY | MARK_RELATED:#010x} != 0 return",
        f"meta mark & {MARK_INVALID:#010x} != 0 drop",
        "ip protocol udp udp sport 68 udp dport 67 return",
        "ip6 nexthdr udp udp sport 546 udp dport 547 return",
        f"icmpv6 type {{ {', '.join(_ND_OUT)} }} return",
        *_group_rules(port, groups, "egress", "return"),
        "counter drop",
    ]


def _ingress(port: Port, groups: dict[str, SecurityGroup]) -> list[str]:
    return [
        "ether type arp accept",
        f"meta mark & {MARK_REPLY | MARK_RELATED:#010x} != 0 accept",
        f"meta mark & {MARK_INVALID:#010x} != 0 drop",
        "ip protocol udp udp sport 67 udp dport 68 accept",
        "ip6 nexthdr udp udp sport 547 udp dport 546 accept",
        f"icmpv6 type {{ {', '.join(_ND_IN)} }} accept",
        *_group_rules(port, groups, "ingress", "accept"),
        "counter drop",
    ]


def _block(head: str, lines: Iterable[str], indent: str = "\t") -> list[str]:
    return [f"{indent}{head} {{", *(f"{indent}\t{line}" for line in lines), f"{indent}}}"]


def _group_sets(groups: dict[str, SecurityGroup]) -> list[str]:
    out: list[str] = []
    for gid, group in sorted(groups.items()):
        for version in (4, 6):
            addrs = sorted({_nft_addr(n) for n in map(_net, group.member_addresses)
                            if n.version == version})
            body = [f"type {'ipv4_addr' if version == 4 else 'ipv6_addr'}",
                    "flags interval"]
            if addrs:
                body.append(f"elements = {{ {', '.join(addrs)} }}")
            out += _block(f"set {_set(gid, version)}", body)
    return out


def ruleset(state: HostState, prefix: str) -> str | None:
    """The two tables for the state, as an ``nft -f`` script body (None: no
    port here is filtered, so no table at all)."""
    ports = [p for p in state.ports if p.port_security_enabled]
    if not ports:
        return None
    table = names.nft_table(prefix)
    groups = {g.id: g for g in state.security_groups}
    egress_map = ", ".join(f'"{p.devname}" : jump {_chain("po", p)}' for p in ports)
    ingress_map = ", ".join(f'"{p.devname}" : jump {_chain("pi", p)}' for p in ports)
    bridge: list[str] = _group_sets(groups)
    bridge += _block("chain forward", [
        "type filter hook forward priority filter; policy accept;",
        f"iifname vmap {{ {egress_map} }}",
        f"oifname vmap {{ {ingress_map} }}",
    ])
    bridge += _block("chain input", [
        "type filter hook input priority filter; policy accept;",
        f"iifname vmap {{ {egress_map} }}",
    ])
    for p in ports:
        bridge += _block(f"chain {_chain('po', p)}", _anti_spoof(p))
        bridge += _block(f"chain {_chain('ps', p)}", _egress(p, groups))
        bridge += _block(f"chain {_chain('pi', p)}", _ingress(p, groups))
    zones = ", ".join(f'"{names.bridge(prefix, n)}" : {zone(n.vni)}' for n in state.networks)
    bridges = ", ".join(f'"{names.bridge(prefix, n)}"' for n in state.networks)
    inet: list[str] = []
    if state.networks:
        inet += _block("chain zone", [
            "type filter hook prerouting priority raw; policy accept;",
            f"ct zone set iifname map {{ {zones} }}",
        ])
        inet += _block("chain state", [
            "type filter hook prerouting priority mangle; policy accept;",
            f"iifname != {{ {bridges} }} return",
            f"meta mark set meta mark & {0xffffffff ^ MARK_BITS:#010x}",
            f"ct state invalid meta mark set meta mark | {MARK_INVALID:#010x}",
            f"ct state related meta mark set meta mark | {MARK_RELATED:#010x}",
            f"ct state established ct direction reply meta mark set meta mark "
            f"| {MARK_REPLY:#010x}",
        ])
    body = "\n".join(bridge) + "\n"
    digest = hashlib.sha256((body + "\n".join(inet)).encode()).hexdigest()[:32]
    return (f"table bridge {table} {{\n\tcomment \"{digest}\"\n{body}}}\n"
            f"table inet {table} {{\n" + "\n".join(inet) + "\n}\n")


def zone(vni: int) -> int:
    """The network's conntrack zone (16 bits; VNIs of one range stay apart)."""
    return vni % 65535 + 1


def _current_digest(host: Host, table: str) -> str | None:
    """The digest the bridge table was written with (None: no table).
    NOTE: nft 1.0.6 leaves table comments out of its JSON; the text has it."""
    if not _has_table(host, "bridge", table):
        return None
    out = host.run("nft", "-t", "list", "table", "bridge", table)
    for line in out.splitlines()[:3]:
        line = line.strip()
        if line.startswith('comment "'):
            return line[len('comment "'):].rstrip('"')
    return ""


def _has_table(host: Host, family: str, table: str) -> bool:
    out = host.run("nft", "-j", "list", "tables", family)
    return any((i.get("table") or {}).get("name") == table
               for i in json.loads(out or "{}").get("nftables", []))


def apply(host: Host, state: HostState, prefix: str) -> bool:
    """Make the tables match the state; True when the kernel was changed."""
    table = names.nft_table(prefix)
    wanted = ruleset(state, prefix)
    if wanted is None:
        script = "".join(f"delete table {fam} {table}\n" for fam in ("bridge", "inet")
                         if _has_table(host, fam, table))
        if script:
            host.run("nft", "-f", "-", process_input=script)
        return bool(script)
    digest = wanted.split('comment "', 1)[1].split('"', 1)[0]
    if _current_digest(host, table) == digest and _has_table(host, "inet", table):
        return False
    script = "".join(f"add table {fam} {table}\ndelete table {fam} {table}\n"
                     for fam in ("bridge", "inet")) + wanted
    LOG.info("Security groups: writing tables %s (%d filtered ports)", table,
             sum(1 for p in state.ports if p.port_security_enabled))
    host.run("nft", "-f", "-", process_input=script)
    return True
