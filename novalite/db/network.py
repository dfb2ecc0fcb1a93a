"""Database queries for networks, fixed IPs (ports) and instance actions.

Addresses are allocated by inserting a ``fixed_ips`` row: the unique
constraints on (network, address) and on the MAC make the database the
arbiter, so two builds racing for one address, on one host or on two, can
never both win; the loser picks another free address and tries again.
"""

from __future__ import annotations

import ipaddress
import random

import sqlalchemy as sa
from oslo_log import log as logging
from oslo_utils import timeutils, uuidutils
from sqlalchemy import exc as sa_exc

from novalite import exception
from novalite.db import models
from novalite.db.api import _session, _soft_delete
from novalite.db.retry import retry_on_db_error

LOG = logging.getLogger(__name__)

# NOTE: OpenStack's locally administered OUI for guest NICs.
MAC_PREFIX = "fa:16:3e"
ALLOCATE_ATTEMPTS = 30


# -- networks ------------------------------------------------------------------

@retry_on_db_error(idempotent=False)
def network_create(values: dict) -> dict:
    values = dict(values)
    values.setdefault("uuid", uuidutils.generate_uuid())
    try:
        with _session() as s:
            row = models.Network(**values)
            s.add(row)
            s.flush()
            return row.as_dict()
    except sa_exc.IntegrityError as e:
        raise exception.NetworkExists(name=values.get("name"), bridge=values.get("bridge")) from e


@retry_on_db_error
def network_get(network_uuid: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Network).filter_by(uuid=network_uuid, deleted=0))
        if row is None:
            raise exception.NetworkNotFound(network_id=network_uuid)
        return row.as_dict()


@retry_on_db_error
def network_get_by_id(network_id: int) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.Network).filter_by(id=network_id, deleted=0))
        if row is None:
            raise exception.NetworkNotFound(network_id=network_id)
        return row.as_dict()


@retry_on_db_error
def network_get_all(name: str | None = None, uuid: str | None = None) -> list[dict]:
    with _session() as s:
        q = sa.select(models.Network).filter_by(deleted=0).order_by(models.Network.id)
        if name is not None:
            q = q.filter_by(name=name)
        if uuid is not None:
            q = q.filter_by(uuid=uuid)
        return [r.as_dict() for r in s.scalars(q)]


@retry_on_db_error(idempotent=False)
def network_delete(network_uuid: str) -> None:
    with _session() as s:
        row = s.scalar(sa.select(models.Network).filter_by(uuid=network_uuid, deleted=0))
        if row is None:
            raise exception.NetworkNotFound(network_id=network_uuid)
        used = s.scalar(sa.select(sa.func.count()).select_from(models.FixedIP)
                        .filter_by(network_id=row.id))
        if used:
            raise exception.Conflict(reason=f"network {network_uuid} still has {used} "
                                            "allocated address(es)")
        _soft_delete(row)


# -- fixed IPs -------------------------------------------------------------------

def _random_mac() -> str:
    tail = random.SystemRandom().getrandbits(24)
    return f"{MAC_PREFIX}:{tail >> 16:02x}:{(tail >> 8) & 0xff:02x}:{tail & 0xff:02x}"


def _free_addresses(net: dict, used: set[str], limit: int) -> list[str]:
    network = ipaddress.ip_network(net["cidr"], strict=False)
    free = []
    for addr in network.hosts():
        text = str(addr)
        if text != net["gateway"] and text not in used:
            free.append(text)
            if len(free) >= limit:
                break
    return free


def _check_requested(net: dict, address: str) -> str:
    try:
        addr = ipaddress.ip_address(address)
    except ValueError as e:
        raise exception.InvalidNetwork(reason=f"{address!r} is not an IP address") from e
    network = ipaddress.ip_network(net["cidr"], strict=False)
    if addr not in network or addr in (network.network_address, network.broadcast_address):
        raise exception.InvalidNetwork(
            reason=f"fixed IP {address} is not a host address of network {net['name']} "
                   f"({net['cidr']})")
    if str(addr) == net["gateway"]:
        raise exception.FixedIpAlreadyInUse(address=address, net=net["name"])
    return str(addr)


@retry_on_db_error(idempotent=False)
def fixed_ip_allocate(network_uuid: str, instance_uuid: str, host: str | None,
                      address: str | None = None) -> dict:
    """Allocate one address (and a MAC) of the network to the instance."""
    net = network_get(network_uuid)
    wanted = _check_requested(net, address) if address else None
    rng = random.SystemRandom()
    for attempt in range(ALLOCATE_ATTEMPTS):
        values = {"uuid": uuidutils.generate_uuid(), "network_id": net["id"],
                  "mac": _random_mac(), "instance_uuid": instance_uuid, "host": host}
        try:
            with _session() as s:
                if wanted:
                    values["address"] = wanted
                else:
                    used = set(s.scalars(sa.select(models.FixedIP.address)
                                         .filter_by(network_id=net["id"])))
                    # NOTE: after a lost race, spread over the next free
                    # addresses so racing builds stop colliding on the lowest.
                    free = _free_addresses(net, used, 1 + min(attempt, 8) * 4)
                    if not free:
                        raise exception.NoMoreFixedIps(net=net["name"])
                    values["address"] = free[0] if attempt == 0 else rng.choice(free)
                row = models.FixedIP(**values)
                s.add(row)
                s.flush()
                result = row.as_dict()
        except sa_exc.OperationalError as e:
            # NOTE: InnoDB may resolve two racing inserts as a deadlock; the
            # loser retries like any other lost race.
            if "deadlock" not in str(e).lower() and "locked" not in str(e).lower():
                raise
            LOG.debug("Deadlock allocating on network %s (attempt %d); retrying",
                      net["name"], attempt + 1)
            continue
        except sa_exc.IntegrityError:
            if wanted and fixed_ip_get_by_address(net["id"], wanted) is not None:
                raise exception.FixedIpAlreadyInUse(address=wanted, net=net["name"]) from None
            LOG.debug("Address race on network %s (attempt %d); retrying", net["name"],
                      attempt + 1)
            continue
        result["network"] = net
        return result
    raise exception.NoMoreFixedIps(net=net["name"])


@retry_on_db_error
def fixed_ip_get_by_address(network_id: int, address: str) -> dict | None:
    with _session() as s:
        row = s.scalar(sa.select(models.FixedIP).filter_by(network_id=network_id,
                                                             address=address))
        return None if row is None else row.as_dict()


@retry_on_db_error
def fixed_ip_get_by_instance(instance_uuid: str) -> list[dict]:
    """The instance's ports, each with its network, in allocation order."""
    with _session() as s:
        q = (sa.select(models.FixedIP, models.Network)
             .join(models.Network, models.Network.id == models.FixedIP.network_id)
             .filter(models.FixedIP.instance_uuid == instance_uuid)
             .order_by(models.FixedIP.id))
        out = []
        for fip, net in s.execute(q):
            d = fip.as_dict()
            d["network"] = net.as_dict()
            out.append(d)
        return out


@retry_on_db_error
def fixed_ip_get_all(network_id: int | None = None) -> list[dict]:
    with _session() as s:
        q = sa.select(models.FixedIP).order_by(models.FixedIP.id)
        if network_id is not None:
            q = q.filter_by(network_id=network_id)
        return [r.as_dict() for r in s.scalars(q)]


@retry_on_db_error
def fixed_ip_release_by_instance(instance_uuid: str) -> int:
    """Release every address of the instance; returns how many."""
    with _session() as s:
        res = s.execute(sa.delete(models.FixedIP).filter_by(instance_uuid=instance_uuid))
        return int(getattr(res, "rowcount", 0) or 0)


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
