"""Database queries for Neutron's networks, subnets and ports (with their IP
allocations), and for instance actions.

Addresses are allocated by inserting ``ip_allocations`` rows: the unique
constraint on (network, address), like the one on a port's MAC, makes the
database the arbiter, so two builds racing for one address, on one host or
on two, can never both win; the loser picks another free address and tries
again. A network's VXLAN VNI (``segmentation_id``) is taken the same way.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa
from oslo_log import log as logging
from oslo_utils import timeutils, uuidutils
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm

from novalite import exception
from novalite.conf import CONF
from novalite.db import models
from novalite.db.api import _session, _soft_delete
from novalite.db.retry import retry_on_db_error
from novalite.network import exceptions as n_exc

LOG = logging.getLogger(__name__)

# NOTE: OpenStack's locally administered OUI for guest NICs.
MAC_PREFIX = "fa:16:3e"
ALLOCATE_ATTEMPTS = 30
DHCP_OWNER = "network:dhcp"
COMPUTE_OWNER = "compute:nova"
ROUTER_OWNER_PREFIX = "network:router_interface"
# NOTE: ports the network itself owns go with their network or subnet
# (Neutron's AUTO_DELETE_PORT_OWNERS).
AUTO_DELETE_OWNERS = (DHCP_OWNER,)


def _lost_race(e: sa_exc.OperationalError) -> bool:
    """InnoDB may resolve two racing inserts as a deadlock, SQLite as a lock."""
    text = str(e).lower()
    return "deadlock" in text or "locked" in text


# -- networks ------------------------------------------------------------------

def vni_ranges() -> list[tuple[int, int]]:
    """[network] vni_ranges as (first, last) pairs."""
    out = []
    for item in CONF.network.vni_ranges:
        first, _, last = str(item).replace("-", ":").partition(":")
        lo, hi = int(first), int(last or first)
        if not 1 <= lo <= hi <= 2 ** 24 - 1:
            raise exception.InvalidNetwork(reason=f"VNI range {item!r} is not valid")
        out.append((lo, hi))
    return out


def _free_vni(s: orm.Session, attempt: int) -> int:
    used = set(s.scalars(sa.select(models.Network.segmentation_id).where(
        models.Network.deleted == 0, models.Network.segmentation_id.is_not(None))))
    skip = random.SystemRandom().randrange(4) if attempt else 0
    for lo, hi in vni_ranges():
        for vni in range(lo, hi + 1):
            if vni not in used:
                if skip == 0:
                    return vni
                skip -= 1
    raise n_exc.NoNetworkAvailable()


def default_bridge(network_uuid: str) -> str:
    """The Linux bridge of a network on each host (linuxbridge's "brq" + 11)."""
    return ("brq" + network_uuid)[:14]


def _subnets_by_network(s: orm.Session, network_ids: Iterable[int]) -> dict[int, list]:
    ids = list(network_ids)
    out: dict[int, list] = {i: [] for i in ids}
    if ids:
        q = (sa.select(models.Subnet).where(models.Subnet.network_id.in_(ids))
             .order_by(models.Subnet.id))
        for sub in s.scalars(q):
            out[sub.network_id].append(sub)
    return out


def _net_dict(row: models.Network, subnets: list) -> dict:
    d = row.as_dict()
    d["subnets"] = [sub.uuid for sub in subnets]
    # NOTE: the nova-network view (os-networks, network list, doctor): the
    # first subnet's CIDR and gateway.
    first = subnets[0] if subnets else None
    d["cidr"] = first.cidr if first else ""
    d["gateway"] = (first.gateway_ip or "") if first else ""
    return d


def _net_row(s: orm.Session, network_uuid: str) -> models.Network:
    row = s.scalar(sa.select(models.Network).filter_by(uuid=network_uuid, deleted=0))
    if row is None:
        raise exception.NetworkNotFound(network_id=network_uuid)
    return row


@retry_on_db_error(idempotent=False)
def network_create(values: dict) -> dict:
    """A network with a free VNI (unless ``segmentation_id`` is given) and,
    when ``cidr`` is given (``novalite-manage network create``), its subnet."""
    values = dict(values)
    values.setdefault("uuid", uuidutils.generate_uuid())
    values.setdefault("bridge", default_bridge(values["uuid"]))
    cidr, gateway = values.pop("cidr", None), values.pop("gateway", None)
    fixed_vni = values.get("segmentation_id")
    for attempt in range(ALLOCATE_ATTEMPTS):
        try:
            with _session() as s:
                if fixed_vni is None:
                    values["segmentation_id"] = _free_vni(s, attempt)
                row = models.Network(**values)
                s.add(row)
                s.flush()
                subs = []
                if cidr:
                    sub = models.Subnet(
                        uuid=uuidutils.generate_uuid(), network_id=row.id,
                        project_id=row.project_id, name=row.name, cidr=cidr,
                        ip_version=ipaddress.ip_network(cidr).version, gateway_ip=gateway,
                        enable_dhcp=True, allocation_pools=default_pools(cidr, gateway),
                        dns_nameservers=[], host_routes=[], description="")
                    s.add(sub)
                    s.flush()
                    subs = [sub]
                return _net_dict(row, subs)
        except sa_exc.IntegrityError as e:
            with _session() as s:
                taken = s.scalar(sa.select(sa.func.count()).select_from(models.Network)
                                 .filter_by(bridge=values["bridge"], deleted=0))
            if taken or fixed_vni is not None:
                raise exception.NetworkExists(name=values.get("name"),
                                              bridge=values.get("bridge")) from e
            LOG.debug("VNI race creating network %s (attempt %d)", values.get("name"),
                      attempt + 1)
    raise n_exc.NoNetworkAvailable()


@retry_on_db_error
def network_get(network_uuid: str) -> dict:
    with _session() as s:
        row = _net_row(s, network_uuid)
        return _net_dict(row, _subnets_by_network(s, [row.id])[row.id])


@retry_on_db_error
def network_get_by_id(network_id: int) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Network).filter_by(id=network_id, deleted=0))
        if row is None:
            raise exception.NetworkNotFound(network_id=network_id)
        return _net_dict(row, _subnets_by_network(s, [row.id])[row.id])


@retry_on_db_error
def network_get_all(name: str | None = None, uuid: str | None = None,
                    project_id: str | None = None, visible_to: str | None = None,
                    ids: Iterable[int] | None = None) -> list[dict]:
    """Networks, oldest first. ``visible_to``: only the project's own,
    shared and external ones."""
    with _session() as s:
        q = sa.select(models.Network).filter_by(deleted=0).order_by(models.Network.id)
        if name is not None:
            q = q.filter_by(name=name)
        if uuid is not None:
            q = q.filter_by(uuid=uuid)
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
        if ids is not None:
            q = q.where(models.Network.id.in_(list(ids)))
        if visible_to is not None:
            q = q.where(sa.or_(models.Network.project_id == visible_to,
                               models.Network.shared.is_(True),
                               models.Network.router_external.is_(True)))
        rows = list(s.scalars(q))
        subs = _subnets_by_network(s, [r.id for r in rows])
        return [_net_dict(r, subs[r.id]) for r in rows]


@retry_on_db_error(idempotent=False)
def network_update(network_uuid: str, values: dict) -> dict:
    with _session() as s:
        row = _net_row(s, network_uuid)
        for key, value in values.items():
            setattr(row, key, value)
        s.flush()
        return _net_dict(row, _subnets_by_network(s, [row.id])[row.id])


@retry_on_db_error(idempotent=False)
def network_delete(network_uuid: str) -> None:
    """Neutron's delete: the network's DHCP ports and its subnets go with it;
    any other port makes it NetworkInUse (409)."""
    with _session() as s:
        row = _net_row(s, network_uuid)
        ports = list(s.scalars(sa.select(models.Port).filter_by(network_id=row.id)))
        if any(p.device_owner not in AUTO_DELETE_OWNERS for p in ports):
            raise n_exc.NetworkInUse(net_id=network_uuid)
        port_ids = [p.id for p in ports]
        if port_ids:
            s.execute(sa.delete(models.IPAllocation)
                      .where(models.IPAllocation.port_id.in_(port_ids)))
            s.execute(sa.delete(models.Port).where(models.Port.id.in_(port_ids)))
        s.execute(sa.delete(models.IPAllocation).filter_by(network_id=row.id))
        s.execute(sa.delete(models.Subnet).filter_by(network_id=row.id))
        _soft_delete(row)


# -- subnets ---------------------------------------------------------------------

def default_pools(cidr: str, gateway: str | None) -> list[dict]:
    """Neutron's default allocation pools: every host address of the CIDR
    except the gateway (IPv4: not the network and broadcast addresses)."""
    net = ipaddress.ip_network(cidr, strict=False)
    if net.num_addresses <= 2:
        return []
    first = int(net.network_address) + 1
    last = int(net.broadcast_address) - (1 if net.version == 4 else 0)
    gw = int(ipaddress.ip_address(gateway)) if gateway else None

    def text(n: int) -> str:
        return str(ipaddress.ip_address(n) if net.version == 4 else ipaddress.IPv6Address(n))

    if gw is None or gw < first or gw > last:
        return [{"start": text(first), "end": text(last)}]
    pools = []
    if gw > first:
        pools.append({"start": text(first), "end": text(gw - 1)})
    if gw < last:
        pools.append({"start": text(gw + 1), "end": text(last)})
    return pools


def _subnet_dicts(s: orm.Session, rows: list[models.Subnet]) -> list[dict]:
    nets = dict(s.execute(sa.select(models.Network.id, models.Network.uuid).where(
        models.Network.id.in_({r.network_id for r in rows}))).all()) if rows else {}
    out = []
    for r in rows:
        d = r.as_dict()
        d["network_uuid"] = nets.get(r.network_id)
        out.append(d)
    return out


def _subnet_row(s: orm.Session, subnet_uuid: str) -> models.Subnet:
    row = s.scalar(sa.select(models.Subnet).filter_by(uuid=subnet_uuid))
    if row is None:
        raise n_exc.SubnetNotFound(subnet_id=subnet_uuid)
    return row


@retry_on_db_error(idempotent=False)
def subnet_create(values: dict) -> dict:
    """A subnet of ``values["network_id"]`` (the network's integer id); a
    CIDR overlapping another subnet of the network is 400, as in Neutron."""
    values = dict(values)
    values.setdefault("uuid", uuidutils.generate_uuid())
    cidr = ipaddress.ip_network(values["cidr"], strict=False)
    with _session() as s:
        net = s.scalar(sa.select(models.Network).filter_by(id=values["network_id"], deleted=0))
        if net is None:
            raise exception.NetworkNotFound(network_id=values["network_id"])
        for other in s.scalars(sa.select(models.Subnet).filter_by(network_id=net.id)):
            if ipaddress.ip_network(other.cidr).overlaps(cidr):
                raise n_exc.InvalidInput(
                    error_message=f"Requested subnet with cidr: {cidr} for network: "
                                  f"{net.uuid} overlaps with another subnet")
        row = models.Subnet(**values)
        s.add(row)
        s.flush()
        return _subnet_dicts(s, [row])[0]


@retry_on_db_error
def subnet_get(subnet_uuid: str) -> dict:
    with _session() as s:
        return _subnet_dicts(s, [_subnet_row(s, subnet_uuid)])[0]


@retry_on_db_error
def subnet_get_all(network_id: int | None = None,
                   network_ids: Iterable[int] | None = None) -> list[dict]:
    with _session() as s:
        q = sa.select(models.Subnet).order_by(models.Subnet.id)
        if network_id is not None:
            q = q.filter_by(network_id=network_id)
        if network_ids is not None:
            q = q.where(models.Subnet.network_id.in_(list(network_ids)))
        return _subnet_dicts(s, list(s.scalars(q)))


@retry_on_db_error(idempotent=False)
def subnet_update(subnet_uuid: str, values: dict) -> dict:
    with _session() as s:
        row = _subnet_row(s, subnet_uuid)
        for key, value in values.items():
            setattr(row, key, value)
        s.flush()
        return _subnet_dicts(s, [row])[0]


@retry_on_db_error
def subnet_allocation_count(subnet_id: int) -> int:
    with _session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(models.IPAllocation)
                            .filter_by(subnet_id=subnet_id)) or 0)


@retry_on_db_error(idempotent=False)
def subnet_delete(subnet_uuid: str) -> None:
    """Neutron's delete: DHCP ports lose their address on it; an address of
    any other port makes it SubnetInUse (409)."""
    with _session() as s:
        row = _subnet_row(s, subnet_uuid)
        q = (sa.select(models.IPAllocation.id, models.Port.device_owner)
             .join(models.Port, models.Port.id == models.IPAllocation.port_id)
             .where(models.IPAllocation.subnet_id == row.id))
        allocs = s.execute(q).all()
        if any(owner not in AUTO_DELETE_OWNERS for _, owner in allocs):
            raise n_exc.SubnetInUse(subnet_id=subnet_uuid)
        if allocs:
            s.execute(sa.delete(models.IPAllocation)
                      .where(models.IPAllocation.id.in_([i for i, _ in allocs])))
        s.delete(row)


# -- ports -----------------------------------------------------------------------

def random_mac() -> str:
    tail = random.SystemRandom().getrandbits(24)
    return f"{MAC_PREFIX}:{tail >> 16:02x}:{(tail >> 8) & 0xff:02x}:{tail & 0xff:02x}"


_random_mac = random_mac


def _port_dicts(s: orm.Session, rows: list[models.Port]) -> list[dict]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    allocs: dict[int, list[dict]] = {i: [] for i in ids}
    q = (sa.select(models.IPAllocation.port_id, models.IPAllocation.address, models.Subnet.uuid,
                   models.Subnet.id)
         .join(models.Subnet, models.Subnet.id == models.IPAllocation.subnet_id)
         .where(models.IPAllocation.port_id.in_(ids)).order_by(models.IPAllocation.id))
    for port_id, address, subnet_uuid, subnet_id in s.execute(q):
        allocs[port_id].append({"subnet_id": subnet_uuid, "ip_address": address,
                                "subnet_db_id": subnet_id})
    nets = dict(s.execute(sa.select(models.Network.id, models.Network.uuid).where(
        models.Network.id.in_({r.network_id for r in rows}))).all())
    out = []
    for r in rows:
        d = r.as_dict()
        d["network_uuid"] = nets.get(r.network_id)
        d["fixed_ips"] = allocs[r.id]
        out.append(d)
    return out


def _port_row(s: orm.Session, port_uuid: str) -> models.Port:
    row = s.scalar(sa.select(models.Port).filter_by(uuid=port_uuid))
    if row is None:
        raise n_exc.PortNotFound(port_id=port_uuid)
    return row


def _pool_addresses(sub: models.Subnet) -> Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    pools = sub.allocation_pools
    if pools is None:
        pools = default_pools(sub.cidr, sub.gateway_ip)
    for pool in pools:
        start = ipaddress.ip_address(pool["start"])
        for n in range(int(start), int(ipaddress.ip_address(pool["end"])) + 1):
            yield type(start)(n)


def _free_addresses(sub: models.Subnet, used: set[str], limit: int) -> list[str]:
    free = []
    for addr in _pool_addresses(sub):
        text = str(addr)
        if text != sub.gateway_ip and text not in used:
            free.append(text)
            if len(free) >= limit:
                break
    return free


def check_address(sub: dict | models.Subnet, address: str, device_owner: str = "") -> str:
    """The address, normalised, when ``sub`` may give it (in the CIDR, not its
    network or broadcast address, not the gateway unless a router holds it);
    InvalidIpForSubnet (400) / IpAddressAlreadyAllocated (409) otherwise."""
    cidr = sub["cidr"] if isinstance(sub, dict) else sub.cidr
    gateway = sub["gateway_ip"] if isinstance(sub, dict) else sub.gateway_ip
    subnet_uuid = sub["uuid"] if isinstance(sub, dict) else sub.uuid
    try:
        addr = ipaddress.ip_address(address)
    except ValueError as e:
        raise n_exc.InvalidIpForSubnet(ip_address=address) from e
    net = ipaddress.ip_network(cidr)
    if addr not in net or addr == net.network_address or (
            net.version == 4 and net.num_addresses > 2 and addr == net.broadcast_address):
        raise n_exc.InvalidIpForSubnet(ip_address=address)
    if gateway and addr == ipaddress.ip_address(gateway) and \
            not device_owner.startswith(ROUTER_OWNER_PREFIX) and \
            device_owner != "network:router_gateway":
        raise n_exc.IpAddressAlreadyAllocated(ip=address, subnet_id=subnet_uuid)
    return str(addr)


def _resolve_fixed_ips(s: orm.Session, net: models.Network, fixed_ips: list[dict] | None,
                       device_owner: str) -> list[tuple[models.Subnet, str | None]]:
    """What to allocate: (subnet, wanted address or None for any free one)."""
    subnets = list(s.scalars(sa.select(models.Subnet).filter_by(network_id=net.id)
                             .order_by(models.Subnet.id)))
    if fixed_ips is None:
        # NOTE: as Neutron: one address of the first IPv4 subnet with room
        # (tried in order at allocation) and of the first IPv6 one.
        out: list[tuple[models.Subnet, str | None]] = []
        for version in (4, 6):
            first = next((sub for sub in subnets if sub.ip_version == version), None)
            if first is not None:
                out.append((first, None))
        return out
    by_uuid = {sub.uuid: sub for sub in subnets}
    out = []
    for entry in fixed_ips:
        sub_uuid, address = entry.get("subnet_id"), entry.get("ip_address")
        if sub_uuid:
            if sub_uuid not in by_uuid:
                exists = s.scalar(sa.select(models.Subnet.id).filter_by(uuid=sub_uuid))
                if exists is None:
                    raise n_exc.SubnetNotFound(subnet_id=sub_uuid)
                raise n_exc.InvalidInput(error_message=f"Failed to create port on network "
                                         f"{net.uuid}, because fixed_ips included invalid "
                                         f"subnet {sub_uuid}")
            sub = by_uuid[sub_uuid]
        elif address:
            try:
                addr = ipaddress.ip_address(address)
            except ValueError as e:
                raise n_exc.InvalidIpForNetwork(ip_address=address) from e
            found = [x for x in subnets if addr in ipaddress.ip_network(x.cidr)]
            if not found:
                raise n_exc.InvalidIpForNetwork(ip_address=address)
            sub = found[0]
        else:
            raise n_exc.InvalidInput(error_message="Exactly one of subnet_id or ip_address "
                                     "must be given in each fixed_ips entry")
        out.append((sub, check_address(sub, address, device_owner) if address else None))
    return out


def _allocate(s: orm.Session, net: models.Network, port_id: int,
              wanted: list[tuple[models.Subnet, str | None]], attempt: int,
              keep: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Insert the port's allocations; an IntegrityError means a lost race."""
    rng = random.SystemRandom()
    used = set(s.scalars(sa.select(models.IPAllocation.address)
                         .filter_by(network_id=net.id))) - set(keep)
    taken: set[str] = set()
    for sub, address in wanted:
        if address is None:
            # NOTE: after a lost race, spread over the next free addresses
            # so racing builds stop colliding on the lowest.
            free = _free_addresses(sub, used | taken, 1 + min(attempt, 8) * 4)
            if not free:
                raise n_exc.IpAddressGenerationFailure(net_id=net.uuid)
            address = free[0] if attempt == 0 else rng.choice(free)
        taken.add(address)
        s.add(models.IPAllocation(port_id=port_id, subnet_id=sub.id, network_id=net.id,
                                  address=address))
    s.flush()


def _explain_conflict(network_id: int, net_uuid: str, mac: str | None, mac_given: bool,
                      wanted: list[tuple[str, str | None]]) -> None:
    """After an IntegrityError: raise the user's error when it was theirs."""
    with _session() as s:
        if mac_given and s.scalar(sa.select(models.Port.id).filter_by(mac=mac)) is not None:
            raise n_exc.MacAddressInUse(net_id=net_uuid, mac=mac)
        for sub_uuid, address in wanted:
            if address is not None and s.scalar(sa.select(models.IPAllocation.id).filter_by(
                    network_id=network_id, address=address)) is not None:
                raise n_exc.IpAddressAlreadyAllocated(ip=address, subnet_id=sub_uuid)


@retry_on_db_error(idempotent=False)
def port_create(values: dict, fixed_ips: list[dict] | None = None) -> dict:
    """A port of ``values["network_id"]`` (the network's integer id) with a
    MAC (random unless given) and addresses: ``fixed_ips`` None = one free
    address per IP version, else Neutron's ``[{subnet_id, ip_address}]``."""
    values = dict(values)
    mac_given = bool(values.get("mac"))
    for key, default in (("name", ""), ("device_id", ""), ("device_owner", ""),
                         ("description", ""), ("allowed_address_pairs", [])):
        if values.get(key) is None:
            values[key] = default
    net_uuid = ""
    wanted_text: list[tuple[str, str | None]] = []
    for attempt in range(ALLOCATE_ATTEMPTS):
        values["uuid"] = values.get("uuid") or uuidutils.generate_uuid()
        if not mac_given:
            values["mac"] = random_mac()
        try:
            with _session() as s:
                net = s.scalar(sa.select(models.Network).filter_by(id=values["network_id"],
                                                                   deleted=0))
                if net is None:
                    raise exception.NetworkNotFound(network_id=values["network_id"])
                net_uuid = net.uuid
                wanted = _resolve_fixed_ips(s, net, fixed_ips, values["device_owner"])
                wanted_text = [(sub.uuid, a) for sub, a in wanted]
                row = models.Port(**values)
                s.add(row)
                s.flush()
                _allocate(s, net, row.id, wanted, attempt)
                return _port_dicts(s, [row])[0]
        except sa_exc.OperationalError as e:
            if not _lost_race(e):
                raise
            LOG.debug("Deadlock allocating on network %s (attempt %d); retrying",
                      values["network_id"], attempt + 1)
        except sa_exc.IntegrityError:
            _explain_conflict(values["network_id"], net_uuid, values.get("mac"), mac_given,
                              wanted_text)
            LOG.debug("Address race on network %s (attempt %d); retrying", net_uuid,
                      attempt + 1)
    raise n_exc.IpAddressGenerationFailure(net_id=net_uuid or values["network_id"])


@retry_on_db_error
def port_get(port_uuid: str) -> dict:
    with _session() as s:
        return _port_dicts(s, [_port_row(s, port_uuid)])[0]


@retry_on_db_error
def port_get_all(network_id: int | None = None, device_id: str | None = None,
                 device_owner: str | None = None, binding_host: str | None = None,
                 project_id: str | None = None, network_ids: Iterable[int] | None = None,
                 uuids: Iterable[str] | None = None) -> list[dict]:
    with _session() as s:
        q = sa.select(models.Port).order_by(models.Port.id)
        for key, value in (("network_id", network_id), ("device_id", device_id),
                           ("device_owner", device_owner), ("binding_host", binding_host),
                           ("project_id", project_id)):
            if value is not None:
                q = q.filter_by(**{key: value})
        if network_ids is not None:
            q = q.where(models.Port.network_id.in_(list(network_ids)))
        if uuids is not None:
            q = q.where(models.Port.uuid.in_(list(uuids)))
        return _port_dicts(s, list(s.scalars(q)))


@retry_on_db_error(idempotent=False)
def port_update(port_uuid: str, values: dict, fixed_ips: list[dict] | None = None,
                expected_device_id: str | None = None) -> dict:
    """Update the port; ``fixed_ips`` (not None) replaces its addresses (an
    address it keeps stays its own). ``expected_device_id``: compare-and-swap
    on the device (PortInUse when another device took the port meanwhile)."""
    wanted_text: list[tuple[str, str | None]] = []
    row_network_id, net_uuid = 0, ""
    for attempt in range(ALLOCATE_ATTEMPTS):
        try:
            with _session() as s:
                row = _port_row(s, port_uuid)
                row_network_id = row.network_id
                if expected_device_id is not None and row.device_id != expected_device_id:
                    raise n_exc.PortInUse(port_id=port_uuid, net_id=row.network_id,
                                          device_id=row.device_id)
                for key, value in values.items():
                    setattr(row, key, value)
                if fixed_ips is not None:
                    net = s.get(models.Network, row.network_id)
                    assert net is not None
                    net_uuid = net.uuid
                    wanted = _resolve_fixed_ips(s, net, fixed_ips, row.device_owner)
                    wanted_text = [(sub.uuid, a) for sub, a in wanted]
                    old = set(s.scalars(sa.select(models.IPAllocation.address)
                                        .filter_by(port_id=row.id)))
                    s.execute(sa.delete(models.IPAllocation).filter_by(port_id=row.id))
                    s.flush()
                    _allocate(s, net, row.id, wanted, attempt, keep=old)
                s.flush()
                return _port_dicts(s, [row])[0]
        except sa_exc.OperationalError as e:
            if not _lost_race(e):
                raise
        except sa_exc.IntegrityError:
            _explain_conflict(row_network_id, net_uuid, None, False, wanted_text)
    raise n_exc.IpAddressGenerationFailure(net_id=net_uuid)


@retry_on_db_error(idempotent=False)
def port_delete(port_uuid: str) -> None:
    with _session() as s:
        row = _port_row(s, port_uuid)
        s.execute(sa.delete(models.IPAllocation).filter_by(port_id=row.id))
        s.delete(row)


@retry_on_db_error
def ports_count(project_id: str) -> int:
    with _session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(models.Port)
                            .filter_by(project_id=project_id)) or 0)


@retry_on_db_error
def networks_count(project_id: str) -> int:
    with _session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(models.Network)
                            .filter_by(project_id=project_id, deleted=0)) or 0)


@retry_on_db_error
def subnets_count(project_id: str) -> int:
    with _session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(models.Subnet)
                            .filter_by(project_id=project_id)) or 0)


@retry_on_db_error
def quota_projects_with(prefix: str) -> list[tuple[str, str]]:
    """(project, resource) of every own limit whose resource starts with ``prefix``."""
    with _session() as s:
        q = sa.select(models.Quota.project_id, models.Quota.resource).where(
            models.Quota.resource.like(prefix + "%"))
        return [(p, r) for p, r in s.execute(q)]


@retry_on_db_error(idempotent=False)
def quota_delete_resources(project_id: str, resources: list[str]) -> None:
    with _session() as s:
        s.execute(sa.delete(models.Quota).where(models.Quota.project_id == project_id,
                                                models.Quota.resource.in_(resources)))


@retry_on_db_error
def instance_names(uuids: Iterable[str]) -> dict[str, str]:
    """``{instance uuid: display name}`` of these instances (deleted ones too)."""
    ids = list(uuids)
    if not ids:
        return {}
    with _session() as s:
        q = sa.select(models.Instance.uuid, models.Instance.display_name).where(
            models.Instance.uuid.in_(ids))
        return {u: n or "" for u, n in s.execute(q)}


@retry_on_db_error
def tunnel_endpoints() -> dict[str, str]:
    """``{host: address}``: each compute host's recorded ``host_ip`` (its
    VXLAN endpoint: [network] tunnel_ip, else my_ip)."""
    with _session() as s:
        q = sa.select(models.ComputeNode.host, models.ComputeNode.host_ip).where(
            models.ComputeNode.deleted == 0, models.ComputeNode.host_ip.is_not(None))
        return {h: ip for h, ip in s.execute(q) if ip}


# -- the nova-network view: an instance's addresses ("fixed IPs") -----------------

def _fixed_ip_view(port: dict, alloc: dict, net: dict | None = None) -> dict:
    d: dict[str, Any] = {"id": port["id"], "uuid": port["uuid"],
                         "network_id": port["network_id"], "address": alloc["ip_address"],
                         "mac": port["mac"], "instance_uuid": port["device_id"],
                         "host": port["binding_host"], "created_at": port["created_at"],
                         "updated_at": port["updated_at"]}
    if net is not None:
        d["network"] = net
    return d


def fixed_ip_allocate(network_uuid: str, instance_uuid: str, host: str | None,
                      address: str | None = None, project_id: str | None = None) -> dict:
    """A port for the instance on the network with one address (``address``
    when given): Nova's port, deleted with the instance."""
    net = network_get(network_uuid)
    fixed = [{"ip_address": address}] if address else None
    try:
        port = port_create({"network_id": net["id"], "project_id": project_id,
                            "device_id": instance_uuid, "device_owner": COMPUTE_OWNER,
                            "binding_host": host, "status": "ACTIVE" if host else "DOWN"},
                           fixed)
    except n_exc.IpAddressAlreadyAllocated as e:
        raise exception.FixedIpAlreadyInUse(address=address, net=net["name"]) from e
    except n_exc.IpAddressGenerationFailure as e:
        raise exception.NoMoreFixedIps(net=net["name"]) from e
    except (n_exc.InvalidIpForNetwork, n_exc.InvalidIpForSubnet) as e:
        raise exception.InvalidNetwork(
            reason=f"fixed IP {address} is not a host address of network {net['name']}") from e
    if not port["fixed_ips"]:
        port_delete(port["uuid"])
        raise exception.NoMoreFixedIps(net=net["name"])
    return _fixed_ip_view(port, port["fixed_ips"][0], net)


@retry_on_db_error
def fixed_ip_get_by_address(network_id: int, address: str) -> dict | None:
    with _session() as s:
        port_id = s.scalar(sa.select(models.IPAllocation.port_id).filter_by(
            network_id=network_id, address=address))
        if port_id is None:
            return None
        port = _port_dicts(s, [s.get(models.Port, port_id)])[0]  # type: ignore[list-item]
    alloc = next(a for a in port["fixed_ips"] if a["ip_address"] == address)
    return _fixed_ip_view(port, alloc)


@retry_on_db_error
def fixed_ip_get_by_instance(instance_uuid: str) -> list[dict]:
    """The instance's addresses, each with its network, in allocation order."""
    ports = port_get_all(device_id=instance_uuid)
    nets = {n["id"]: n for n in network_get_all(ids={p["network_id"] for p in ports})}
    return [_fixed_ip_view(p, a, nets.get(p["network_id"]))
            for p in ports for a in p["fixed_ips"]]


@retry_on_db_error
def fixed_ip_get_all(network_id: int | None = None) -> list[dict]:
    """Every allocated address (of any port), in allocation order."""
    ports = port_get_all(network_id=network_id)
    return [_fixed_ip_view(p, a) for p in ports for a in p["fixed_ips"]]


@retry_on_db_error
def fixed_ip_release_by_instance(instance_uuid: str) -> int:
    """Release the instance's ports: the ones Nova made are deleted, the ones
    the user gave (``preserve_on_delete``) are unbound. Returns how many.
    Run again after a COMMIT whose answer was lost, it finds none left and
    changes nothing: the same end state (idempotent; it then returns 0)."""
    with _session() as s:
        rows = list(s.scalars(sa.select(models.Port).filter_by(device_id=instance_uuid)))
        gone = [r.id for r in rows if not r.preserve_on_delete]
        if gone:
            s.execute(sa.delete(models.IPAllocation)
                      .where(models.IPAllocation.port_id.in_(gone)))
            s.execute(sa.delete(models.Port).where(models.Port.id.in_(gone)))
        for r in rows:
            if r.preserve_on_delete:
                r.device_id, r.device_owner, r.binding_host = "", "", None
                r.status, r.preserve_on_delete = "DOWN", False
        return len(rows)


# -- instance actions --------------------------------------------------------------

@retry_on_db_error(idempotent=False)
def action_start(values: dict) -> dict:
    values = dict(values)
    values.setdefault("start_time", timeutils.utcnow())
    with _session() as s:
        row = models.InstanceAction(**values)
        s.add(row)
        s.flush()
        return row.as_dict()


@retry_on_db_error
def action_get_by_request_id(instance_uuid: str, request_id: str) -> dict | None:
    with _session() as s:
        row = s.scalar(sa.select(models.InstanceAction)
                       .filter_by(instance_uuid=instance_uuid, request_id=request_id)
                       .order_by(models.InstanceAction.id.desc()).limit(1))
        return None if row is None else row.as_dict()


@retry_on_db_error
def action_finish(action_id: int, message: str | None = None) -> None:
    with _session() as s:
        row = s.get(models.InstanceAction, action_id)
        if row is not None:
            row.finish_time = timeutils.utcnow()
            if message is not None:
                row.message = message[:255]


@retry_on_db_error
def actions_get(instance_uuid: str) -> list[dict]:
    with _session() as s:
        q = (sa.select(models.InstanceAction).filter_by(instance_uuid=instance_uuid)
             .order_by(models.InstanceAction.start_time.desc(),
                       models.InstanceAction.id.desc()))
        return [r.as_dict() for r in s.scalars(q)]


@retry_on_db_error(idempotent=False)
def action_event_start(action_id: int, event: str, host: str | None) -> dict:
    with _session() as s:
        row = models.InstanceActionEvent(action_id=action_id, event=event, host=host,
                                         start_time=timeutils.utcnow())
        s.add(row)
        s.flush()
        return row.as_dict()


@retry_on_db_error
def action_event_finish(event_id: int, result: str, details: str | None = None,
                        traceback: str | None = None) -> None:
    with _session() as s:
        row = s.get(models.InstanceActionEvent, event_id)
        if row is not None:
            row.finish_time = timeutils.utcnow()
            row.result = result
            row.details = details
            row.traceback = traceback
            if result == "Error":
                action = s.get(models.InstanceAction, row.action_id)
                if action is not None:
                    action.message = "Error"


@retry_on_db_error
def action_events_record(action_values: dict, events: list[dict]) -> None:
    """Finished events (each with its start and finish) of the action of
    ``action_values``' request (made when the request has none yet), in one
    transaction; an Error marks the action's message ``Error``."""
    with _session() as s:
        record_action_events(s, action_values, events)


def record_action_events(s: orm.Session, action_values: dict, events: list[dict]) -> None:
    """``action_events_record`` inside the caller's transaction ``s`` (the
    API writes a new server's first step with the server's records).

    NOTE: SQL expressions, not ORM objects: the timeline writes this for
    every build, on the control plane's hot path."""
    actions = cast(sa.Table, models.InstanceAction.__table__)
    events_table = cast(sa.Table, models.InstanceActionEvent.__table__)
    action_id = None
    if action_values.get("request_id"):
        action_id = s.scalar(
            sa.select(actions.c.id)
            .where(actions.c.instance_uuid == action_values["instance_uuid"],
                   actions.c.request_id == action_values["request_id"])
            .order_by(actions.c.id.desc()).limit(1))
    failed = any(v.get("result") == "Error" for v in events)
    if action_id is None:
        values = {"start_time": timeutils.utcnow(), **action_values}
        if failed:
            values["message"] = "Error"
        inserted = cast(sa.CursorResult[Any], s.execute(sa.insert(actions).values(**values)))
        key = inserted.inserted_primary_key
        assert key is not None
        action_id = key[0]
    elif failed:
        s.execute(sa.update(actions).where(actions.c.id == action_id)
                  .values(message="Error"))
    if events:
        s.execute(sa.insert(events_table), [{"action_id": action_id, **v} for v in events])


@retry_on_db_error
def action_events_get(action_id: int) -> list[dict]:
    with _session() as s:
        q = (sa.select(models.InstanceActionEvent).filter_by(action_id=action_id)
             .order_by(models.InstanceActionEvent.id))
        return [r.as_dict() for r in s.scalars(q)]


@retry_on_db_error
def actions_delete_for_instance(instance_uuid: str) -> None:
    """Tests and purges only: actions outlive the instance, as in Nova."""
    with _session() as s:
        ids = list(s.scalars(sa.select(models.InstanceAction.id)
                             .filter_by(instance_uuid=instance_uuid)))
        if ids:
            s.execute(sa.delete(models.InstanceActionEvent)
                      .where(models.InstanceActionEvent.action_id.in_(ids)))
            s.execute(sa.delete(models.InstanceAction)
                      .where(models.InstanceAction.id.in_(ids)))
