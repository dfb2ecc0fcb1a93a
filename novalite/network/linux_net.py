"""Linux bridges and tap devices on the compute host, through iproute2.

Every command is a list of arguments (no shell); names are checked against
the kernel's interface-name rules before they reach ``ip``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re

from oslo_concurrency import lockutils, processutils
from oslo_log import log as logging

from novalite import exception

LOG = logging.getLogger(__name__)

_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")


def check_ifname(name: str) -> str:
    if not _IFNAME.match(name or ""):
        raise exception.InvalidNetwork(
            reason=f"{name!r} is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -)")
    return name


def device_exists(name: str) -> bool:
    return os.path.isdir(f"/sys/class/net/{check_ifname(name)}")


def _ip(*args: str, netns: str | None = None) -> str:
    head = ("-n", netns) if netns else ()
    out, _err = processutils.execute("ip", *head, *args)
    return str(out)


def bridge_addresses(bridge: str) -> list[str]:
    out = _ip("-o", "-4", "addr", "show", "dev", check_ifname(bridge))
    return [f.split()[3] for f in out.splitlines() if len(f.split()) > 3]


OWNER_PREFIX = "novalite "


def owner_mark() -> str:
    """What this deployment writes as the alias of the bridges it makes, so
    another deployment on the host (and ``doctor``/``host cleanup``) can tell
    whose a bridge is: ``novalite <state_path>``."""
    from novalite.conf import CONF

    return (OWNER_PREFIX + os.path.realpath(CONF.state_path))[:250]


def bridge_owner(bridge: str) -> str | None:
    """The state path of the deployment that made ``bridge`` ('' when it
    carries no novalite mark), or None when there is no such device."""
    try:
        with open(f"/sys/class/net/{check_ifname(bridge)}/ifalias") as f:
            alias = f.read().strip()
    except FileNotFoundError:
        return None
    return alias[len(OWNER_PREFIX):] if alias.startswith(OWNER_PREFIX) else ""


def host_networks(netns: str | None = None) \
        -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """IPv4 networks this host (or the named namespace) already has an
    address or a route in."""
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for line in _ip("-o", "-4", "addr", "show", netns=netns).splitlines():
        fields = line.split()
        if len(fields) > 3:
            nets.append(ipaddress.ip_network(fields[3], strict=False))
    for line in _ip("-4", "route", "show", netns=netns).splitlines():
        dest = line.split()[0] if line.split() else ""
        if dest and dest != "default":
            try:
                nets.append(ipaddress.ip_network(dest, strict=False))
            except ValueError:
                continue
    return nets


def free_bridge_and_cidr(bridge: str, cidr: str, tries: int = 64) -> tuple[str, str]:
    """``bridge``/``cidr`` when this host has neither, else the first
    ``<bridge stem>N`` / next subnet of the same size that are both free:
    two deployments on one host never share a bridge or addresses."""
    net = ipaddress.ip_network(cidr, strict=False)
    stem = bridge.rstrip("0123456789") or bridge
    first = int(bridge[len(stem):] or 0)
    taken = host_networks()
    for n in range(tries):
        name = check_ifname(bridge if n == 0 else f"{stem}{first + n}")
        candidate = ipaddress.ip_network(
            (int(net.network_address) + n * net.num_addresses, net.prefixlen))
        if device_exists(name) or any(candidate.overlaps(t) for t in taken):
            continue
        return name, str(candidate)
    raise exception.NetworkSetupError(
        reason=f"no free bridge name and subnet after {bridge} {cidr} ({tries} tried)")


def free_cidr(cidr: str, taken: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
              tries: int = 64) -> str:
    """``cidr`` when it overlaps nothing in ``taken``, else the first next
    subnet of the same size that does not."""
    net = ipaddress.ip_network(cidr, strict=False)
    for n in range(tries):
        candidate = ipaddress.ip_network(
            (int(net.network_address) + n * net.num_addresses, net.prefixlen))
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    raise exception.NetworkSetupError(
        reason=f"no free subnet of the size of {cidr} after {tries} tried: this host has "
               "addresses or routes in all of them")


def link_aliases(netns: str | None = None) -> set[str]:
    """The aliases (``ip link set DEV alias ...``) of every interface."""
    links = json.loads(_ip("-j", "link", "show", netns=netns) or "[]")
    return {str(link["ifalias"]) for link in links if link.get("ifalias")}


def vxlan_vnis(netns: str | None = None) -> set[int]:
    """The VNIs of the VXLAN devices here: the kernel refuses a second device
    with a VNI (and UDP port) already in use, whatever its deployment."""
    links = json.loads(_ip("-d", "-j", "link", "show", "type", "vxlan", netns=netns) or "[]")
    vnis = set()
    for link in links:
        data = (link.get("linkinfo") or {}).get("info_data") or {}
        if "id" in data:
            vnis.add(int(data["id"]))
    return vnis


def route_protocols(netns: str | None = None) -> set[int]:
    """The protocol numbers of this host's IPv4 routes (``ip route ... proto N``)."""
    routes = json.loads(_ip("-N", "-4", "-j", "route", "show", "table", "all", netns=netns) or "[]")
    protocols = set()
    for route in routes:
        proto = str(route.get("protocol", ""))
        if proto.isdigit():
            protocols.add(int(proto))
    return protocols


def nft_tables(netns: str | None = None) -> set[str]:
    """The names of this host's nftables tables (any family)."""
    argv = ["nft", "-j", "list", "tables"]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    try:
        out, _err = processutils.execute(*argv)
    except (processutils.ProcessExecutionError, OSError):
        return set()
    tables = set()
    for item in json.loads(out or "{}").get("nftables", []):
        if "table" in item:
            tables.add(str(item["table"]["name"]))
    return tables


def ensure_bridge(bridge: str, cidr: str, gateway: str) -> None:
    """The network's bridge exists, is up and holds the gateway address
    (so the host reaches its guests). Idempotent, safe to race: the lock
    orders threads of this process; another process losing the race to
    create it finds it made. A bridge it makes carries this deployment's
    mark (``owner_mark``) as its alias."""
    check_ifname(bridge)
    prefix = ipaddress.ip_network(cidr, strict=False).prefixlen
    gw = f"{ipaddress.ip_address(gateway)}/{prefix}"
    with lockutils.lock(f"bridge-{bridge}"):
        if not device_exists(bridge):
            LOG.info("Creating bridge %s with gateway %s", bridge, gw)
            try:
                _ip("link", "add", "name", bridge, "type", "bridge", "stp_state", "0",
                    "forward_delay", "0")
                _ip("link", "set", "dev", bridge, "alias", owner_mark())
            except processutils.ProcessExecutionError as e:
                if not device_exists(bridge):
                    raise exception.NetworkSetupError(
                        reason=f"cannot create bridge {bridge}: "
                               f"{(e.stderr or '').strip()}") from e
        if gw not in bridge_addresses(bridge):
            try:
                _ip("addr", "add", gw, "dev", bridge)
            except processutils.ProcessExecutionError as e:
                if gw not in bridge_addresses(bridge):
                    raise exception.NetworkSetupError(
                        reason=f"cannot add {gw} to bridge {bridge}: "
                               f"{(e.stderr or '').strip()}") from e
        try:
            _ip("link", "set", "dev", bridge, "up")
        except processutils.ProcessExecutionError as e:
            raise exception.NetworkSetupError(
                reason=f"cannot set bridge {bridge} up: {(e.stderr or '').strip()}") from e


def delete_device(name: str) -> None:
    """Remove an interface (a tap libvirt left, a test's bridge); gone is fine."""
    if not device_exists(name):
        return
    try:
        _ip("link", "del", "dev", name)
    except processutils.ProcessExecutionError:
        if device_exists(name):
            raise
