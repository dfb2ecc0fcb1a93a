"""Neutron's core model: networks with a VXLAN segment (VNI), shared and
router:external flags; subnets; ports with their IP allocations. Every
network gets one subnet from its CIDR and gateway; every fixed_ips row
becomes a port (device_id = the instance, device_owner compute:nova) with
its allocation; fixed_ips is dropped.

Revision ID: 017
Revises: 016
Create Date: 2026-12-06 14:30:00
"""

import ipaddress
import uuid as uuidlib

import sqlalchemy as sa
from alembic import op

revision = "017"
down_revision = "016"
branch_labels = None
depends_on = None

# NOTE: the id the read-only /network API gave each network's one subnet
# (uuid5 of the network's uuid): the migrated subnet keeps it.
_SUBNET_NS = uuidlib.UUID("6f1f4e1e-5b0a-4c43-9f4e-0c5b7b1f2a10")
_FIRST_VNI = 1000


def _times() -> list[sa.Column]:
    return [sa.Column("created_at", sa.DateTime(), nullable=True),
            sa.Column("updated_at", sa.DateTime(), nullable=True)]


def _first_vni() -> int:
    try:
        from novalite.conf import CONF

        first = str(CONF.network.vni_ranges[0]).split(":")[0].split("-")[0]
        return int(first)
    except Exception:  # noqa: BLE001 - no option registered: the default range
        return _FIRST_VNI


def _new_id(res: sa.CursorResult) -> int:
    key = res.inserted_primary_key
    assert key is not None
    return int(key[0])


def _pools(cidr: str, gateway: str | None) -> list[dict]:
    """Neutron's default allocation pools: every host address but the gateway."""
    net = ipaddress.ip_network(cidr, strict=False)
    hosts = [net.network_address + 1, net.broadcast_address - 1] if net.version == 4 else \
        [net.network_address + 1, net.broadcast_address]
    first, last = hosts
    if net.num_addresses <= 2:
        return []
    gw = int(ipaddress.ip_address(gateway)) if gateway else None
    lo, hi = int(first), int(last)
    if gw is None or gw < lo or gw > hi:
        return [{"start": str(first), "end": str(last)}]
    pools = []
    if gw > lo:
        pools.append({"start": str(first), "end": str(type(first)(gw - 1))})
    if gw < hi:
        pools.append({"start": str(type(first)(gw + 1)), "end": str(last)})
    return pools


def upgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.add_column(sa.Column("shared", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("router_external", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("admin_state_up", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column("status", sa.String(length=16), nullable=False,
                                   server_default="ACTIVE"))
        batch.add_column(sa.Column("mtu", sa.Integer(), nullable=False,
                                   server_default="1450"))
        batch.add_column(sa.Column("description", sa.String(length=255), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("segmentation_id", sa.Integer(), nullable=True))
        # NOTE: Neutron's network names are not unique.
        batch.drop_constraint("uniq_networks0name0deleted", type_="unique")
        batch.create_unique_constraint("uniq_networks0segmentation_id0deleted",
                                       ["segmentation_id", "deleted"])

    op.create_table(
        "subnets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("gateway_ip", sa.String(length=64), nullable=True),
        sa.Column("enable_dhcp", sa.Boolean(), nullable=False),
        sa.Column("allocation_pools", sa.JSON(), nullable=True),
        sa.Column("dns_nameservers", sa.JSON(), nullable=True),
        sa.Column("host_routes", sa.JSON(), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"],
                                name="fk_subnets0network_id"),
        sa.UniqueConstraint("uuid", name="uniq_subnets0uuid"),
    )
    op.create_index("subnets_network_id_idx", "subnets", ["network_id"])
    op.create_table(
        "ports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=False),
        sa.Column("device_id", sa.String(length=255), nullable=False),
        sa.Column("device_owner", sa.String(length=255), nullable=False),
        sa.Column("admin_state_up", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("port_security_enabled", sa.Boolean(), nullable=False),
        sa.Column("binding_host", sa.String(length=255), nullable=True),
        sa.Column("vnic_type", sa.String(length=64), nullable=False),
        sa.Column("allowed_address_pairs", sa.JSON(), nullable=True),
        sa.Column("description", sa.String(length=255), nullable=False),
        # NOTE: Nova's preserve_on_delete: a port the user made (and gave to
        # a server) is unbound when the server goes, not deleted.
        sa.Column("preserve_on_delete", sa.Boolean(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["network_id"], ["networks.id"], name="fk_ports0network_id"),
        sa.UniqueConstraint("uuid", name="uniq_ports0uuid"),
        sa.UniqueConstraint("mac", name="uniq_ports0mac"),
    )
    op.create_index("ports_network_id_idx", "ports", ["network_id"])
    op.create_index("ports_device_id_idx", "ports", ["device_id"])
    op.create_index("ports_binding_host_idx", "ports", ["binding_host"])
    op.create_table(
        "ip_allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("port_id", sa.Integer(), nullable=False),
        sa.Column("subnet_id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], name="fk_ip_allocations0port_id",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subnet_id"], ["subnets.id"],
                                name="fk_ip_allocations0subnet_id"),
        # NOTE: the race protection: two builds can never both hold an address.
        sa.UniqueConstraint("network_id", "address",
                            name="uniq_ip_allocations0network_id0address"),
    )
    op.create_index("ip_allocations_port_id_idx", "ip_allocations", ["port_id"])
    op.create_index("ip_allocations_subnet_id_idx", "ip_allocations", ["subnet_id"])

    _migrate_data()

    op.drop_table("fixed_ips")
    with op.batch_alter_table("networks") as batch:
        batch.drop_column("cidr")
        batch.drop_column("gateway")


def _json(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.JSON()) for n in names]


def _migrate_data() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    networks = sa.Table("networks", meta, autoload_with=conn)
    # NOTE: reflected JSON columns are text on MariaDB; the JSON ones are
    # spelled out so their values are serialised.
    subnets = sa.Table("subnets", meta, *_json("allocation_pools", "dns_nameservers",
                                               "host_routes"), autoload_with=conn)
    ports = sa.Table("ports", meta, *_json("allowed_address_pairs"), autoload_with=conn)
    allocations = sa.Table("ip_allocations", meta, autoload_with=conn)
    fixed_ips = sa.Table("fixed_ips", meta, autoload_with=conn)
    instances = sa.Table("instances", meta, autoload_with=conn)

    vni = _first_vni()
    subnet_of: dict[int, int] = {}
    for net in conn.execute(sa.select(networks).order_by(networks.c.id)).mappings().all():
        values: dict = {"mtu": 1450, "status": "ACTIVE",
                        "shared": net["project_id"] is None}
        if not net["deleted"]:
            values["segmentation_id"] = vni
            vni += 1
        conn.execute(networks.update().where(networks.c.id == net["id"]).values(**values))
        if net["deleted"]:
            continue
        cidr = str(ipaddress.ip_network(net["cidr"], strict=False))
        res = conn.execute(subnets.insert().values(
            uuid=str(uuidlib.uuid5(_SUBNET_NS, net["uuid"])), network_id=net["id"],
            project_id=net["project_id"], name=net["name"], cidr=cidr,
            ip_version=ipaddress.ip_network(cidr).version, gateway_ip=net["gateway"],
            enable_dhcp=True, allocation_pools=_pools(cidr, net["gateway"]),
            dns_nameservers=[], host_routes=[], description="",
            created_at=net["created_at"]))
        subnet_of[net["id"]] = _new_id(res)

    owners = dict(conn.execute(sa.select(instances.c.uuid, instances.c.project_id)).all())
    for fip in conn.execute(sa.select(fixed_ips).order_by(fixed_ips.c.id)).mappings().all():
        if fip["network_id"] not in subnet_of:
            continue
        res = conn.execute(ports.insert().values(
            uuid=fip["uuid"], network_id=fip["network_id"],
            project_id=owners.get(fip["instance_uuid"]), name="", mac=fip["mac"],
            device_id=fip["instance_uuid"], device_owner="compute:nova",
            admin_state_up=True, status="ACTIVE" if fip["host"] else "DOWN",
            port_security_enabled=True, binding_host=fip["host"], vnic_type="normal",
            allowed_address_pairs=[], description="", preserve_on_delete=False,
            created_at=fip["created_at"]))
        conn.execute(allocations.insert().values(
            port_id=_new_id(res), subnet_id=subnet_of[fip["network_id"]],
            network_id=fip["network_id"], address=fip["address"],
            created_at=fip["created_at"]))


def downgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.add_column(sa.Column("cidr", sa.String(length=43), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("gateway", sa.String(length=39), nullable=False,
                                   server_default=""))
    op.create_table(
        "fixed_ips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=39), nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=False),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("network_id", "address", name="uniq_fixed_ips0network_id0address"),
        sa.UniqueConstraint("mac", name="uniq_fixed_ips0mac"),
        sa.UniqueConstraint("uuid", name="uniq_fixed_ips0uuid"),
    )
    op.create_index("fixed_ips_instance_uuid_idx", "fixed_ips", ["instance_uuid"])

    conn = op.get_bind()
    meta = sa.MetaData()
    networks = sa.Table("networks", meta, autoload_with=conn)
    subnets = sa.Table("subnets", meta, autoload_with=conn)
    ports = sa.Table("ports", meta, *_json("allowed_address_pairs"), autoload_with=conn)
    allocations = sa.Table("ip_allocations", meta, autoload_with=conn)
    fixed_ips = sa.Table("fixed_ips", meta, autoload_with=conn)
    first: dict[int, dict] = {}
    for row in conn.execute(sa.select(subnets).order_by(subnets.c.id)).mappings().all():
        first.setdefault(row["network_id"], dict(row))
    for net_id, sub in first.items():
        conn.execute(networks.update().where(networks.c.id == net_id).values(
            cidr=sub["cidr"], gateway=sub["gateway_ip"] or ""))
    q = (sa.select(ports.c.uuid, ports.c.network_id, ports.c.mac, ports.c.device_id,
                   ports.c.binding_host, ports.c.created_at, allocations.c.address)
         .join(allocations, allocations.c.port_id == ports.c.id)
         .where(ports.c.device_owner.like("compute:%"), ports.c.device_id != "")
         .order_by(ports.c.id))
    seen: set[str] = set()
    for row in conn.execute(q).mappings().all():
        if row["uuid"] in seen:
            continue
        seen.add(row["uuid"])
        conn.execute(fixed_ips.insert().values(
            uuid=row["uuid"], network_id=row["network_id"], address=row["address"],
            mac=row["mac"], instance_uuid=row["device_id"], host=row["binding_host"],
            created_at=row["created_at"]))

    op.drop_table("ip_allocations")
    op.drop_table("ports")
    op.drop_table("subnets")
    with op.batch_alter_table("networks") as batch:
        batch.drop_constraint("uniq_networks0segmentation_id0deleted", type_="unique")
        batch.create_unique_constraint("uniq_networks0name0deleted", ["name", "deleted"])
        for col in ("segmentation_id", "description", "mtu", "status", "admin_state_up",
                    "router_external", "shared"):
            batch.drop_column(col)
