"""Database queries for Neutron's floating IPs. A floating IP's address is
held by a port on the external network (device_owner ``network:floatingip``,
device_id = the floating IP), so the external subnet's allocations (and
their unique constraint) also arbitrate floating addresses."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from oslo_utils import uuidutils
from sqlalchemy import orm

from novalite.db import models
from novalite.db import network as net_db
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error
from novalite.network import l3_exceptions as l3_exc

FLOATING_OWNER = "network:floatingip"


def _dicts(s: orm.Session, rows: list[models.FloatingIP]) -> list[dict]:
    if not rows:
        return []
    port_ids = {r.floating_port_id for r in rows} | {r.fixed_port_id for r in rows
                                                     if r.fixed_port_id}
    ports = dict(s.execute(sa.select(models.Port.id, models.Port.uuid)
                           .where(models.Port.id.in_(port_ids))).all())
    nets = dict(s.execute(sa.select(models.Network.id, models.Network.uuid).where(
        models.Network.id.in_({r.floating_network_id for r in rows}))).all())
    router_ids = {r.router_id for r in rows if r.router_id}
    routers = dict(s.execute(sa.select(models.Router.id, models.Router.uuid)
                             .where(models.Router.id.in_(router_ids))).all()) \
        if router_ids else {}
    out = []
    for r in rows:
        d = r.as_dict()
        d["floating_network_uuid"] = nets.get(r.floating_network_id)
        d["floating_port_uuid"] = ports.get(r.floating_port_id)
        d["port_uuid"] = ports.get(r.fixed_port_id) if r.fixed_port_id else None
        d["router_uuid"] = routers.get(r.router_id) if r.router_id else None
        out.append(d)
    return out


def _row(s: orm.Session, fip_uuid: str) -> models.FloatingIP:
    row = s.scalar(sa.select(models.FloatingIP).filter_by(uuid=fip_uuid))
    if row is None:
        raise l3_exc.FloatingIPNotFound(floatingip_id=fip_uuid)
    return row


def fip_create(project_id: str, network_id: int, address: str | None,
               subnet_uuid: str | None = None, description: str = "") -> dict:
    """A floating IP with an address of the external network (``address``
    when given: 409 when taken)."""
    uuid = uuidutils.generate_uuid()
    fixed = None
    if address or subnet_uuid:
        entry = {}
        if address:
            entry["ip_address"] = address
        if subnet_uuid:
            entry["subnet_id"] = subnet_uuid
        fixed = [entry]
    port = net_db.port_create({"network_id": network_id, "project_id": "",
                               "device_id": uuid, "device_owner": FLOATING_OWNER,
                               "status": "N/A"}, fixed)
    v4 = [a for a in port["fixed_ips"] if ":" not in a["ip_address"]] or port["fixed_ips"]
    if not v4:
        net_db.port_delete(port["uuid"])
        raise l3_exc.BadRequest(resource="floatingip",
                                msg=f"Network {port['network_uuid']} has no subnet")
    try:
        return _insert(uuid, project_id, network_id, port["id"], v4[0]["ip_address"],
                       description)
    except Exception:
        net_db.port_delete(port["uuid"])
        raise


@retry_on_db_error(idempotent=False)
def _insert(uuid: str, project_id: str, network_id: int, port_id: int, address: str,
            description: str) -> dict:
    with _session() as s:
        row = models.FloatingIP(uuid=uuid, project_id=project_id,
                                floating_network_id=network_id, floating_port_id=port_id,
                                floating_ip_address=address, status="DOWN",
                                description=description or "")
        s.add(row)
        s.flush()
        return _dicts(s, [row])[0]


@retry_on_db_error
def fip_get(fip_uuid: str) -> dict:
    with _session() as s:
        return _dicts(s, [_row(s, fip_uuid)])[0]


@retry_on_db_error
def fip_get_all(project_id: str | None = None,
                fixed_port_uuids: Iterable[str] | None = None) -> list[dict]:
    with _session() as s:
        q = sa.select(models.FloatingIP).order_by(models.FloatingIP.id)
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
        if fixed_port_uuids is not None:
            q = q.join(models.Port, models.Port.id == models.FloatingIP.fixed_port_id).where(
                models.Port.uuid.in_(list(fixed_port_uuids)))
        return _dicts(s, list(s.scalars(q)))


@retry_on_db_error(idempotent=False)
def fip_associate(fip_uuid: str, port_uuid: str | None, fixed_ip: str | None,
                  router_uuid: str | None) -> dict:
    """Associate with the port's ``fixed_ip`` through the router, or (port
    None) disassociate. 409 when that fixed IP has another floating IP of
    the same external network."""
    with _session() as s:
        row = _row(s, fip_uuid)
        if port_uuid is None:
            row.fixed_port_id, row.fixed_ip_address, row.router_id = None, None, None
            row.status = "DOWN"
            s.flush()
            return _dicts(s, [row])[0]
        port_id = s.scalar(sa.select(models.Port.id).filter_by(uuid=port_uuid))
        router_id = s.scalar(sa.select(models.Router.id).filter_by(uuid=router_uuid))
        other = s.scalar(sa.select(models.FloatingIP).where(
            models.FloatingIP.fixed_port_id == port_id,
            models.FloatingIP.fixed_ip_address == fixed_ip,
            models.FloatingIP.floating_network_id == row.floating_network_id,
            models.FloatingIP.id != row.id))
        if other is not None:
            net_uuid = s.scalar(sa.select(models.Network.uuid)
                                .filter_by(id=row.floating_network_id))
            raise l3_exc.FloatingIPPortAlreadyAssociated(
                floating_ip_address=row.floating_ip_address, fip_id=row.uuid,
                port_id=port_uuid, fixed_ip=fixed_ip, net_id=net_uuid)
        row.fixed_port_id, row.fixed_ip_address, row.router_id = port_id, fixed_ip, router_id
        row.status = "ACTIVE"
        s.flush()
        return _dicts(s, [row])[0]


@retry_on_db_error(idempotent=False)
def fip_update(fip_uuid: str, values: dict) -> dict:
    with _session() as s:
        row = _row(s, fip_uuid)
        for key, value in values.items():
            setattr(row, key, value)
        s.flush()
        return _dicts(s, [row])[0]


@retry_on_db_error(idempotent=False)
def fip_delete(fip_uuid: str) -> None:
    with _session() as s:
        row = _row(s, fip_uuid)
        port_uuid = s.scalar(sa.select(models.Port.uuid).filter_by(id=row.floating_port_id))
        s.delete(row)
    if port_uuid:
        net_db.port_delete(port_uuid)


@retry_on_db_error(idempotent=False)
def disassociate_port(port_uuid: str) -> int:
    """A port going: its floating IPs stay, disassociated (as Neutron's)."""
    with _session() as s:
        port_id = s.scalar(sa.select(models.Port.id).filter_by(uuid=port_uuid))
        if port_id is None:
            return 0
        rows = list(s.scalars(sa.select(models.FloatingIP).filter_by(fixed_port_id=port_id)))
        for row in rows:
            row.fixed_port_id, row.fixed_ip_address, row.router_id = None, None, None
            row.status = "DOWN"
        return len(rows)


@retry_on_db_error
def floating_of_instances(instance_uuids: Iterable[str]) -> dict[str, list[dict]]:
    """``{instance uuid: [{address, fixed_address, mac, network_name}]}``: the
    floating IPs associated with the instances' ports."""
    ids = list(instance_uuids)
    if not ids:
        return {}
    with _session() as s:
        q = (sa.select(models.Port.device_id, models.FloatingIP.floating_ip_address,
                       models.FloatingIP.fixed_ip_address, models.Port.mac, models.Network.name)
             .join(models.FloatingIP, models.FloatingIP.fixed_port_id == models.Port.id)
             .join(models.Network, models.Network.id == models.Port.network_id)
             .where(models.Port.device_id.in_(ids)).order_by(models.FloatingIP.id))
        out: dict[str, list[dict]] = {}
        for device, address, fixed, mac, net_name in s.execute(q):
            out.setdefault(device, []).append({"address": address, "fixed_address": fixed,
                                               "mac": mac, "network_name": net_name})
        return out


@retry_on_db_error
def fips_count(project_id: str) -> int:
    with _session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(models.FloatingIP)
                            .filter_by(project_id=project_id)) or 0)
