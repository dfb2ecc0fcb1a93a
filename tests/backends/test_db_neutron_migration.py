"""Migration 017 (Neutron's networks, subnets, ports) on SQLite, PostgreSQL
and MariaDB: nova-network style rows (networks with one CIDR, fixed_ips)
become networks with a VNI, one subnet each, ports and IP allocations; the
downgrade gives the old rows back."""

import uuid

import pytest
import sqlalchemy as sa
from alembic import command

from novalite.conf import CONF
from novalite.db import api as db_api
from novalite.db import migration
from novalite.db import network as network_db

SUBNET_NS = uuid.UUID("6f1f4e1e-5b0a-4c43-9f4e-0c5b7b1f2a10")


@pytest.fixture
def at_016(database_url, tmp_path):
    CONF.set_override("connection", database_url, group="database")
    CONF.set_override("state_path", str(tmp_path))
    db_api.dispose()
    try:
        with db_api.get_engine().begin() as conn:
            command.upgrade(migration._alembic_config(conn), "016")
        yield database_url
    finally:
        db_api.dispose()
        CONF.clear_override("connection", group="database")
        CONF.clear_override("state_path")


def _insert_instance(conn, uuid_: str, project_id: str) -> None:
    """An instances row at revision 016: every NOT NULL column filled."""
    import datetime

    table = sa.Table("instances", sa.MetaData(), autoload_with=conn)
    values: dict = {"uuid": uuid_, "project_id": project_id}
    for col in table.columns:
        if col.name in values or col.nullable or col.primary_key or col.server_default:
            continue
        kind = col.type.python_type if not isinstance(col.type, sa.JSON) else dict
        values[col.name] = {str: "", int: 0, bool: False, dict: {},
                            datetime.datetime: datetime.datetime(2026, 1, 1)}.get(kind, 0)
    conn.execute(table.insert().values(**values))


def _old_rows(conn) -> dict:
    net_a, net_b, inst = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    conn.execute(sa.text(
        "INSERT INTO networks (uuid, name, cidr, gateway, bridge, project_id, deleted) "
        "VALUES (:u, 'private', '10.9.0.0/24', '10.9.0.1', 'nlbr0', NULL, 0), "
        "(:v, 'proj', '10.9.1.0/24', '10.9.1.1', 'nlbr1', 'p1', 0)"),
        {"u": net_a, "v": net_b})
    ids = dict(conn.execute(sa.text("SELECT uuid, id FROM networks")).all())
    _insert_instance(conn, inst, "p1")
    port = str(uuid.uuid4())
    conn.execute(sa.text(
        "INSERT INTO fixed_ips (uuid, network_id, address, mac, instance_uuid, host) "
        "VALUES (:p, :n, '10.9.0.2', 'fa:16:3e:00:00:01', :i, 'host-a')"),
        {"p": port, "n": ids[net_a], "i": inst})
    return {"net_a": net_a, "net_b": net_b, "inst": inst, "port": port}


def test_fixed_ips_become_ports_and_back(at_016):
    with db_api.get_engine().begin() as conn:
        old = _old_rows(conn)
    migration.db_sync()
    assert migration.db_version() == migration.head_version()

    nets = {n["uuid"]: n for n in network_db.network_get_all()}
    a, b = nets[old["net_a"]], nets[old["net_b"]]
    assert a["shared"] is True and b["shared"] is False
    assert a["segmentation_id"] != b["segmentation_id"]
    assert {a["segmentation_id"], b["segmentation_id"]} <= set(range(1000, 65001))
    assert a["bridge"] == "nlbr0" and a["mtu"] == 1450 and a["status"] == "ACTIVE"
    subnets = network_db.subnet_get_all(network_id=a["id"])
    assert [(s["uuid"], s["cidr"], s["gateway_ip"], s["allocation_pools"])
            for s in subnets] == [(str(uuid.uuid5(SUBNET_NS, old["net_a"])), "10.9.0.0/24",
                                   "10.9.0.1", [{"start": "10.9.0.2", "end": "10.9.0.254"}])]
    (port,) = network_db.port_get_all(device_id=old["inst"])
    assert port["uuid"] == old["port"] and port["device_owner"] == "compute:nova"
    assert port["project_id"] == "p1" and port["binding_host"] == "host-a"
    assert port["mac"] == "fa:16:3e:00:00:01"
    assert [(ip["subnet_id"], ip["ip_address"]) for ip in port["fixed_ips"]] == [
        (subnets[0]["uuid"], "10.9.0.2")]
    # The compatibility view the older callers read.
    assert [(f["address"], f["instance_uuid"], f["host"])
            for f in network_db.fixed_ip_get_by_instance(old["inst"])] == [
        ("10.9.0.2", old["inst"], "host-a")]
    # The race protection stays in the database.
    with pytest.raises(Exception):  # noqa: B017 - any backend's IntegrityError
        with db_api.get_engine().begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO ip_allocations (port_id, subnet_id, network_id, address) "
                "VALUES (:p, :s, :n, '10.9.0.2')"),
                {"p": port["id"], "s": subnets[0]["id"], "n": a["id"]})

    with db_api.get_engine().begin() as conn:
        command.downgrade(migration._alembic_config(conn), "016")
    with db_api.get_engine().connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT n.uuid, n.cidr, n.gateway, f.uuid, f.address, f.instance_uuid, f.host "
            "FROM fixed_ips f JOIN networks n ON n.id = f.network_id")).all()
        assert [tuple(r) for r in rows] == [(old["net_a"], "10.9.0.0/24", "10.9.0.1",
                                             old["port"], "10.9.0.2", old["inst"], "host-a")]
    migration.db_sync()
    assert len(network_db.port_get_all(device_id=old["inst"])) == 1


def test_ports_subnets_and_visibility_queries_on_every_backend(synced):
    from novalite.network import exceptions as n_exc

    own = network_db.network_create({"name": "own", "project_id": "p1", "cidr": "10.5.0.0/24",
                                     "gateway": "10.5.0.1"})
    shared = network_db.network_create({"name": "sh", "project_id": "admin", "shared": True})
    network_db.network_create({"name": "other", "project_id": "p2"})
    ext = network_db.network_create({"name": "ext", "project_id": "admin",
                                     "router_external": True})
    assert {n["name"] for n in network_db.network_get_all(visible_to="p1")} == {
        "own", "sh", "ext"}
    assert len({n["segmentation_id"] for n in (own, shared, ext)}) == 3
    with pytest.raises(n_exc.InvalidInput):
        network_db.subnet_create({"network_id": own["id"], "name": "x", "cidr": "10.5.0.0/25",
                                  "ip_version": 4, "gateway_ip": None, "enable_dhcp": True,
                                  "allocation_pools": [], "dns_nameservers": [],
                                  "host_routes": [], "description": ""})
    port = network_db.port_create({"network_id": own["id"], "project_id": "p1",
                                   "allowed_address_pairs": [{"ip_address": "10.5.0.99"}]},
                                  [{"ip_address": "10.5.0.7"}])
    assert port["fixed_ips"][0]["ip_address"] == "10.5.0.7"
    assert network_db.port_get(port["uuid"])["allowed_address_pairs"] == [
        {"ip_address": "10.5.0.99"}]
    with pytest.raises(n_exc.IpAddressAlreadyAllocated):
        network_db.port_create({"network_id": own["id"], "project_id": "p1"},
                               [{"ip_address": "10.5.0.7"}])
    with pytest.raises(n_exc.NetworkInUse):
        network_db.network_delete(own["uuid"])
    with pytest.raises(n_exc.PortInUse):
        network_db.port_update(port["uuid"], {"device_id": "x"}, expected_device_id="y")
    network_db.port_update(port["uuid"], {"device_id": "vm"}, expected_device_id="")
    moved = network_db.port_update(port["uuid"], {}, [{"ip_address": "10.5.0.8"}])
    assert [a["ip_address"] for a in moved["fixed_ips"]] == ["10.5.0.8"]
    network_db.port_delete(port["uuid"])
    network_db.network_delete(own["uuid"])
    assert network_db.subnet_get_all(network_id=own["id"]) == []
    # The VNI of a deleted network is free again.
    again = network_db.network_create({"name": "again", "project_id": "p1",
                                       "segmentation_id": own["segmentation_id"]})
    assert again["segmentation_id"] == own["segmentation_id"]
