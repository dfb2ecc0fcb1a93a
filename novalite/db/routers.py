"""Database queries for Neutron's routers: the router row, its gateway port
on an external network (device_owner ``network:router_gateway``) and its
interface ports (``network:router_interface``, device_id = the router)."""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa
from oslo_utils import uuidutils
from sqlalchemy import orm

from novalite.db import models
from novalite.db import network as net_db
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error
from novalite.network import exceptions as n_exc
from novalite.network import l3_exceptions as l3_exc

INTERFACE_OWNER = "network:router_interface"
GATEWAY_OWNER = "network:router_gateway"


def _router_row(s: orm.Session, router_uuid: str) -> models.Router:
    row = s.scalar(sa.select(models.Router).filter_by(uuid=router_uuid))
    if row is None:
        raise l3_exc.RouterNotFound(router_id=router_uuid)
    return row


def _router_dicts(rows: list[models.Router]) -> list[dict]:
    if not rows:
        return []
    gw_ids = [r.gw_port_id for r in rows if r.gw_port_id]
    gw_ports: dict[int, dict] = {}
    if gw_ids:
        for port in net_db.port_get_all(uuids=_port_uuids(gw_ids)):
            gw_ports[port["id"]] = port
    interfaces: dict[str, list[dict]] = {}
    for port in net_db.port_get_all(device_owner=INTERFACE_OWNER):
        interfaces.setdefault(port["device_id"], []).append(port)
    out = []
    for r in rows:
        d = r.as_dict()
        d["gateway_port"] = gw_ports.get(r.gw_port_id) if r.gw_port_id else None
        d["interfaces"] = interfaces.get(r.uuid, [])
        out.append(d)
    return out


def _port_uuids(ids: list[int]) -> list[str]:
    with _session() as s:
        return list(s.scalars(sa.select(models.Port.uuid).where(models.Port.id.in_(ids))))


@retry_on_db_error(idempotent=False)
def router_create(values: dict) -> dict:
    values = dict(values)
    values.setdefault("uuid", uuidutils.generate_uuid())
    values.setdefault("routes", [])
    with _session() as s:
        row = models.Router(**values)
        s.add(row)
        s.flush()
        uuid = row.uuid
    return router_get(uuid)


@retry_on_db_error
def router_get(router_uuid: str) -> dict:
    with _session() as s:
        row = _router_row(s, router_uuid)
        s.expunge(row)
    return _router_dicts([row])[0]


@retry_on_db_error
def router_get_all(project_id: str | None = None) -> list[dict]:
    with _session() as s:
        q = sa.select(models.Router).order_by(models.Router.id)
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
        rows = list(s.scalars(q))
        for row in rows:
            s.expunge(row)
    return _router_dicts(rows)


@retry_on_db_error(idempotent=False)
def router_update(router_uuid: str, values: dict) -> dict:
    with _session() as s:
        row = _router_row(s, router_uuid)
        for key, value in values.items():
            setattr(row, key, value)
    return router_get(router_uuid)


def _fips_via(router_id: int) -> int:
    with _session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(models.FloatingIP)
                            .filter_by(router_id=router_id)) or 0)


@retry_on_db_error(idempotent=False)
def router_delete(router_uuid: str) -> None:
    """RouterInUse (409) while it has interfaces; its gateway port goes with it."""
    router = router_get(router_uuid)
    if router["interfaces"]:
        raise l3_exc.RouterInUse(router_id=router_uuid, reason="still has ports")
    if _fips_via(router["id"]):
        raise l3_exc.RouterInUse(router_id=router_uuid,
                                 reason="still has floating IPs associated through it")
    with _session() as s:
        row = _router_row(s, router_uuid)
        gw = row.gw_port_id
        s.delete(row)
    if gw:
        net_db.port_delete(_port_uuids([gw])[0])


@retry_on_db_error(idempotent=False)
def set_gateway(router_uuid: str, network_id: int, enable_snat: bool,
                fixed_ips: list[dict] | None = None) -> dict:
    """The router's gateway becomes a port on the external network (its old
    one, elsewhere, goes; the same network keeps its port unless addresses
    are asked for)."""
    router = router_get(router_uuid)
    old = router["gateway_port"]
    if old is not None and old["network_id"] == network_id and fixed_ips is None:
        return router_update(router_uuid, {"enable_snat": enable_snat})
    if old is not None and old["network_id"] != network_id and _fips_via(router["id"]):
        raise l3_exc.RouterExternalGatewayInUseByFloatingIp(router_id=router_uuid,
                                                            net_id=old["network_uuid"])
    port = net_db.port_create({"network_id": network_id, "project_id": "",
                               "device_id": router_uuid, "device_owner": GATEWAY_OWNER,
                               "status": "ACTIVE"}, fixed_ips)
    if not port["fixed_ips"]:
        net_db.port_delete(port["uuid"])
        raise n_exc.IpAddressGenerationFailure(net_id=port["network_uuid"])
    with _session() as s:
        row = _router_row(s, router_uuid)
        row.gw_port_id = port["id"]
        row.enable_snat = enable_snat
    if old is not None:
        net_db.port_delete(old["uuid"])
    return router_get(router_uuid)


@retry_on_db_error(idempotent=False)
def clear_gateway(router_uuid: str) -> dict:
    router = router_get(router_uuid)
    old = router["gateway_port"]
    if old is None:
        return router
    if _fips_via(router["id"]):
        raise l3_exc.RouterExternalGatewayInUseByFloatingIp(router_id=router_uuid,
                                                            net_id=old["network_uuid"])
    with _session() as s:
        row = _router_row(s, router_uuid)
        row.gw_port_id = None
    net_db.port_delete(old["uuid"])
    return router_get(router_uuid)


def _bad(msg: str) -> l3_exc.BadRequest:
    return l3_exc.BadRequest(resource="router", msg=msg)


def _check_overlap(router: dict, new_subnets: list[dict]) -> None:
    """400 when a new subnet is already on the router or overlaps one of its
    interfaces' subnets."""
    existing = [net_db.subnet_get(a["subnet_id"]) for p in router["interfaces"]
                for a in p["fixed_ips"]]
    for new in new_subnets:
        cidr = ipaddress.ip_network(new["cidr"])
        for sub in existing:
            if sub["uuid"] == new["uuid"]:
                raise _bad(f"Router already has a port on subnet {new['uuid']}")
            if ipaddress.ip_network(sub["cidr"]).overlaps(cidr):
                raise _bad(f"Cidr {new['cidr']} of subnet {new['uuid']} overlaps with cidr "
                           f"{sub['cidr']} of subnet {sub['uuid']}")


def add_interface_subnet(router_uuid: str, subnet_uuid: str) -> dict:
    """A port holding the subnet's gateway address becomes the router's."""
    router = router_get(router_uuid)
    sub = net_db.subnet_get(subnet_uuid)
    if not sub["gateway_ip"]:
        raise _bad("Subnet for router interface must have a gateway IP")
    _check_overlap(router, [sub])
    return net_db.port_create(
        {"network_id": sub["network_id"], "project_id": router["project_id"], "name": "",
         "device_id": router_uuid, "device_owner": INTERFACE_OWNER, "status": "ACTIVE"},
        [{"subnet_id": subnet_uuid, "ip_address": sub["gateway_ip"]}])


def add_interface_port(router_uuid: str, port_uuid: str) -> dict:
    """The (unused) port becomes the router's interface on its subnets."""
    router = router_get(router_uuid)
    port = net_db.port_get(port_uuid)
    if port["device_id"] or port["device_owner"]:
        raise n_exc.PortInUse(port_id=port_uuid, net_id=port["network_uuid"],
                              device_id=port["device_id"])
    if not port["fixed_ips"]:
        raise _bad("Router port must have at least one fixed IP")
    _check_overlap(router, [net_db.subnet_get(a["subnet_id"]) for a in port["fixed_ips"]])
    return net_db.port_update(port_uuid, {"device_id": router_uuid,
                                          "device_owner": INTERFACE_OWNER,
                                          "status": "ACTIVE"}, expected_device_id="")


def remove_interface(router_uuid: str, subnet_uuid: str | None,
                     port_uuid: str | None) -> tuple[dict, list[str]]:
    """Removes (deletes) the interface port; returns it and the subnets it
    had. 404 when the router has no such interface; 409 while a floating IP
    is associated through it."""
    router = router_get(router_uuid)
    ports = router["interfaces"]
    if port_uuid:
        found = [p for p in ports if p["uuid"] == port_uuid]
        if not found:
            raise l3_exc.RouterInterfaceNotFound(router_id=router_uuid, port_id=port_uuid)
        if subnet_uuid and not any(a["subnet_id"] == subnet_uuid
                                   for a in found[0]["fixed_ips"]):
            raise l3_exc.RouterInterfaceNotFoundForSubnet(router_id=router_uuid,
                                                          subnet_id=subnet_uuid)
    else:
        found = [p for p in ports if any(a["subnet_id"] == subnet_uuid
                                         for a in p["fixed_ips"])]
        if not found:
            raise l3_exc.RouterInterfaceNotFoundForSubnet(router_id=router_uuid,
                                                          subnet_id=subnet_uuid)
    port = found[0]
    subnets = [a["subnet_id"] for a in port["fixed_ips"]]
    if _fips_through(router["id"], [a["subnet_db_id"] for a in port["fixed_ips"]]):
        raise l3_exc.RouterInterfaceInUseByFloatingIP(router_id=router_uuid,
                                                      subnet_id=subnets[0])
    net_db.port_delete(port["uuid"])
    return port, subnets


def _fips_through(router_id: int, subnet_ids: list[int]) -> bool:
    """Whether a floating IP is associated with an address of these subnets
    through this router."""
    with _session() as s:
        q = (sa.select(sa.func.count()).select_from(models.FloatingIP)
             .join(models.IPAllocation, sa.and_(
                 models.IPAllocation.port_id == models.FloatingIP.fixed_port_id,
                 models.IPAllocation.address == models.FloatingIP.fixed_ip_address))
             .where(models.FloatingIP.router_id == router_id,
                    models.IPAllocation.subnet_id.in_(subnet_ids)))
        return bool(s.scalar(q))


@retry_on_db_error
def routers_count(project_id: str) -> int:
    with _session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(models.Router)
                            .filter_by(project_id=project_id)) or 0)


@retry_on_db_error
def router_for(external_network_id: int, subnet_uuid: str) -> Any:
    """A router with a gateway on the external network and an interface on
    the subnet (what a floating IP is associated through), else None."""
    for router in router_get_all():
        gw = router["gateway_port"]
        if gw is None or gw["network_id"] != external_network_id:
            continue
        if any(a["subnet_id"] == subnet_uuid for p in router["interfaces"]
               for a in p["fixed_ips"]):
            return router
    return None
