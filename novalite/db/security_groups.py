"""Database queries for Neutron's security groups, their rules, each
project's ``default`` group and the ports' memberships.

A project's default group is made on first use; the primary key of
``default_security_groups`` on the project makes the database the arbiter
when two requests make it at once (the loser reads the winner's)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from oslo_utils import uuidutils
from sqlalchemy import exc as sa_exc
from sqlalchemy import orm

from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error
from novalite.network import exceptions as n_exc
from novalite.network import l3_exceptions as l3_exc

DEFAULT_NAME = "default"
DEFAULT_DESCRIPTION = "Default security group"
RULE_KEYS = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max",
             "remote_ip_prefix", "remote_group_id")


def _group_dicts(s: orm.Session, rows: list[models.SecurityGroup]) -> list[dict]:
    if not rows:
        return []
    ids = [r.id for r in rows]
    rules: dict[int, list[dict]] = {i: [] for i in ids}
    q = (sa.select(models.SecurityGroupRule)
         .where(models.SecurityGroupRule.security_group_id.in_(ids))
         .order_by(models.SecurityGroupRule.id))
    uuids = {r.id: r.uuid for r in rows}
    for rule in s.scalars(q):
        d = rule.as_dict()
        d["security_group_uuid"] = uuids[rule.security_group_id]
        rules[rule.security_group_id].append(d)
    defaults = set(s.scalars(sa.select(models.DefaultSecurityGroup.security_group_id)
                             .where(models.DefaultSecurityGroup.security_group_id.in_(ids))))
    out = []
    for r in rows:
        d = r.as_dict()
        d["rules"] = rules[r.id]
        d["is_default"] = r.id in defaults
        out.append(d)
    return out


def _group_row(s: orm.Session, group_uuid: str) -> models.SecurityGroup:
    row = s.scalar(sa.select(models.SecurityGroup).filter_by(uuid=group_uuid))
    if row is None:
        raise l3_exc.SecurityGroupNotFound(id=group_uuid)
    return row


def _add_rule(s: orm.Session, group: models.SecurityGroup, values: dict) -> models.SecurityGroupRule:
    row = models.SecurityGroupRule(uuid=uuidutils.generate_uuid(), project_id=group.project_id,
                                   security_group_id=group.id, description="")
    for key in RULE_KEYS + ("description",):
        if key in values:
            setattr(row, key, values[key])
    s.add(row)
    return row


def _egress_rules(s: orm.Session, group: models.SecurityGroup) -> None:
    """Neutron's rules of every new group: any egress, IPv4 and IPv6."""
    for ethertype in ("IPv4", "IPv6"):
        _add_rule(s, group, {"direction": "egress", "ethertype": ethertype})


@retry_on_db_error(idempotent=False)
def group_create(project_id: str, name: str, description: str = "") -> dict:
    """A group with Neutron's default egress rules."""
    with _session() as s:
        row = models.SecurityGroup(uuid=uuidutils.generate_uuid(), project_id=project_id,
                                   name=name, description=description or "")
        s.add(row)
        s.flush()
        _egress_rules(s, row)
        s.flush()
        return _group_dicts(s, [row])[0]


def _default_of(s: orm.Session, project_id: str) -> models.SecurityGroup | None:
    q = (sa.select(models.SecurityGroup)
         .join(models.DefaultSecurityGroup,
               models.DefaultSecurityGroup.security_group_id == models.SecurityGroup.id)
         .where(models.DefaultSecurityGroup.project_id == project_id))
    return s.scalar(q)


@retry_on_db_error(idempotent=False)
def ensure_default(project_id: str) -> dict:
    """The project's ``default`` group, made on first use: any egress, and
    ingress only from members of the group itself (IPv4 and IPv6)."""
    with _session() as s:
        row = _default_of(s, project_id)
        if row is not None:
            return _group_dicts(s, [row])[0]
    try:
        with _session() as s:
            row = models.SecurityGroup(uuid=uuidutils.generate_uuid(), project_id=project_id,
                                       name=DEFAULT_NAME, description=DEFAULT_DESCRIPTION)
            s.add(row)
            s.flush()
            s.add(models.DefaultSecurityGroup(project_id=project_id, security_group_id=row.id))
            s.flush()
            _egress_rules(s, row)
            for ethertype in ("IPv4", "IPv6"):
                _add_rule(s, row, {"direction": "ingress", "ethertype": ethertype,
                                   "remote_group_id": row.uuid})
            s.flush()
            return _group_dicts(s, [row])[0]
    except sa_exc.IntegrityError:
        # NOTE: another request made it first: theirs is the one.
        with _session() as s:
            row = _default_of(s, project_id)
            assert row is not None
            return _group_dicts(s, [row])[0]


@retry_on_db_error
def default_get(project_id: str) -> dict | None:
    with _session() as s:
        row = _default_of(s, project_id)
        return None if row is None else _group_dicts(s, [row])[0]


@retry_on_db_error
def group_get(group_uuid: str) -> dict:
    with _session() as s:
        return _group_dicts(s, [_group_row(s, group_uuid)])[0]


@retry_on_db_error
def group_get_all(project_id: str | None = None, uuids: Iterable[str] | None = None,
                  name: str | None = None) -> list[dict]:
    with _session() as s:
        q = sa.select(models.SecurityGroup).order_by(models.SecurityGroup.id)
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
        if name is not None:
            q = q.filter_by(name=name)
        if uuids is not None:
            q = q.where(models.SecurityGroup.uuid.in_(list(uuids)))
        return _group_dicts(s, list(s.scalars(q)))


@retry_on_db_error(idempotent=False)
def group_update(group_uuid: str, values: dict) -> dict:
    with _session() as s:
        row = _group_row(s, group_uuid)
        for key, value in values.items():
            setattr(row, key, value)
        s.flush()
        return _group_dicts(s, [row])[0]


@retry_on_db_error
def group_in_use(group_uuid: str) -> bool:
    """Whether a port is a member of the group."""
    with _session() as s:
        row = _group_row(s, group_uuid)
        return bool(s.scalar(sa.select(sa.func.count())
                             .select_from(models.SecurityGroupPortBinding)
                             .filter_by(security_group_id=row.id)))


@retry_on_db_error(idempotent=False)
def group_delete(group_uuid: str) -> None:
    """SecurityGroupInUse (409) while a port is a member."""
    with _session() as s:
        row = _group_row(s, group_uuid)
        used = s.scalar(sa.select(sa.func.count())
                        .select_from(models.SecurityGroupPortBinding)
                        .filter_by(security_group_id=row.id))
        if used:
            raise l3_exc.SecurityGroupInUse(id=group_uuid, reason="in use")
        s.execute(sa.delete(models.SecurityGroupRule).filter_by(security_group_id=row.id))
        # NOTE: as Neutron's cascade: other groups' rules naming it go too.
        s.execute(sa.delete(models.SecurityGroupRule).filter_by(remote_group_id=group_uuid))
        s.execute(sa.delete(models.DefaultSecurityGroup).filter_by(security_group_id=row.id))
        s.delete(row)


def rule_key(rule: dict) -> tuple:
    """What makes two rules the same (Neutron's: any address is no address)."""
    prefix = rule.get("remote_ip_prefix")
    if prefix in ("0.0.0.0/0", "::/0"):
        prefix = None
    return (rule.get("direction"), rule.get("ethertype"), rule.get("protocol"),
            rule.get("port_range_min"), rule.get("port_range_max"), prefix,
            rule.get("remote_group_id"))


@retry_on_db_error(idempotent=False)
def rule_create(group_uuid: str, values: dict, protocol_key: str | None = None) -> dict:
    """A rule of the group; SecurityGroupRuleExists (409) when the group has
    the same one (``protocol_key``: the protocol as number, so "tcp" and "6"
    are one)."""
    with _session() as s:
        group = _group_row(s, group_uuid)
        wanted = rule_key(dict(values, protocol=protocol_key or values.get("protocol")))
        for other in s.scalars(sa.select(models.SecurityGroupRule)
                               .filter_by(security_group_id=group.id)):
            d = other.as_dict()
            d["protocol"] = protocol_number(d["protocol"], d["ethertype"])
            if rule_key(d) == wanted:
                raise l3_exc.SecurityGroupRuleExists(rule_id=other.uuid)
        row = _add_rule(s, group, values)
        if values.get("project_id"):
            row.project_id = values["project_id"]
        s.flush()
        d = row.as_dict()
        d["security_group_uuid"] = group.uuid
        return d


# NOTE: Neutron's protocol names and numbers (neutron_lib.constants).
PROTOCOLS = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1,
    "igmp": 2, "ip": 4, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
    "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89,
    "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}


def protocol_number(protocol: str | None, ethertype: str = "IPv4") -> str | None:
    """The protocol as its number's text (None: any)."""
    if protocol is None or protocol in ("", "any"):
        return None
    text = str(protocol).lower()
    number = str(PROTOCOLS[text]) if text in PROTOCOLS else text
    if ethertype == "IPv6" and number == "1":
        number = "58"
    return number


@retry_on_db_error
def rule_get(rule_uuid: str) -> dict:
    with _session() as s:
        row = s.scalar(sa.select(models.SecurityGroupRule).filter_by(uuid=rule_uuid))
        if row is None:
            raise l3_exc.SecurityGroupRuleNotFound(id=rule_uuid)
        d = row.as_dict()
        d["security_group_uuid"] = s.scalar(sa.select(models.SecurityGroup.uuid)
                                            .filter_by(id=row.security_group_id))
        return d


@retry_on_db_error
def rule_get_all(project_id: str | None = None,
                 group_uuids: Iterable[str] | None = None) -> list[dict]:
    with _session() as s:
        q = (sa.select(models.SecurityGroupRule, models.SecurityGroup.uuid)
             .join(models.SecurityGroup,
                   models.SecurityGroup.id == models.SecurityGroupRule.security_group_id)
             .order_by(models.SecurityGroupRule.id))
        if project_id is not None:
            q = q.where(sa.or_(models.SecurityGroupRule.project_id == project_id,
                               models.SecurityGroup.project_id == project_id))
        if group_uuids is not None:
            q = q.where(models.SecurityGroup.uuid.in_(list(group_uuids)))
        out = []
        for row, group_uuid in s.execute(q):
            d = row.as_dict()
            d["security_group_uuid"] = group_uuid
            out.append(d)
        return out


@retry_on_db_error(idempotent=False)
def rule_delete(rule_uuid: str) -> None:
    with _session() as s:
        row = s.scalar(sa.select(models.SecurityGroupRule).filter_by(uuid=rule_uuid))
        if row is None:
            raise l3_exc.SecurityGroupRuleNotFound(id=rule_uuid)
        s.delete(row)


# -- ports' memberships ----------------------------------------------------------

@retry_on_db_error
def groups_of_ports(port_uuids: Iterable[str]) -> dict[str, list[str]]:
    """``{port uuid: [group uuids]}`` (ports without a group are left out)."""
    ids = list(port_uuids)
    if not ids:
        return {}
    with _session() as s:
        q = (sa.select(models.Port.uuid, models.SecurityGroup.uuid)
             .join(models.SecurityGroupPortBinding,
                   models.SecurityGroupPortBinding.port_id == models.Port.id)
             .join(models.SecurityGroup,
                   models.SecurityGroup.id == models.SecurityGroupPortBinding.security_group_id)
             .where(models.Port.uuid.in_(ids))
             .order_by(models.Port.id, models.SecurityGroup.id))
        out: dict[str, list[str]] = {}
        for port_uuid, group_uuid in s.execute(q):
            out.setdefault(port_uuid, []).append(group_uuid)
        return out


@retry_on_db_error
def group_names_of_devices(device_ids: Iterable[str]) -> dict[str, list[dict]]:
    """``{device id: [{"name": group name}]}`` of the groups of the devices'
    ports (devices whose ports have none are left out)."""
    ids = list(device_ids)
    if not ids:
        return {}
    with _session() as s:
        q = (sa.select(models.Port.device_id, models.SecurityGroup.name)
             .join(models.SecurityGroupPortBinding,
                   models.SecurityGroupPortBinding.port_id == models.Port.id)
             .join(models.SecurityGroup,
                   models.SecurityGroup.id == models.SecurityGroupPortBinding.security_group_id)
             .where(models.Port.device_id.in_(ids))
             .order_by(models.Port.id, models.SecurityGroup.id))
        out: dict[str, list[dict]] = {}
        for device, name in s.execute(q):
            entries = out.setdefault(device, [])
            if {"name": name} not in entries:
                entries.append({"name": name})
        return out


@retry_on_db_error(idempotent=False)
def port_set_groups(port_uuid: str, group_uuids: list[str]) -> None:
    """The port's groups become exactly these."""
    with _session() as s:
        port = s.scalar(sa.select(models.Port).filter_by(uuid=port_uuid))
        if port is None:
            raise n_exc.PortNotFound(port_id=port_uuid)
        groups = [_group_row(s, u) for u in dict.fromkeys(group_uuids)]
        s.execute(sa.delete(models.SecurityGroupPortBinding).filter_by(port_id=port.id))
        for group in groups:
            s.add(models.SecurityGroupPortBinding(port_id=port.id, security_group_id=group.id))


@retry_on_db_error(idempotent=False)
def port_clear_groups(port_uuid: str) -> None:
    with _session() as s:
        port_id = s.scalar(sa.select(models.Port.id).filter_by(uuid=port_uuid))
        if port_id is not None:
            s.execute(sa.delete(models.SecurityGroupPortBinding).filter_by(port_id=port_id))


@retry_on_db_error
def member_addresses(group_uuids: Iterable[str]) -> dict[str, list[str]]:
    """``{group uuid: [addresses of every member port, any host]}``."""
    ids = list(group_uuids)
    if not ids:
        return {}
    with _session() as s:
        q = (sa.select(models.SecurityGroup.uuid, models.IPAllocation.address)
             .join(models.SecurityGroupPortBinding,
                   models.SecurityGroupPortBinding.security_group_id == models.SecurityGroup.id)
             .join(models.IPAllocation,
                   models.IPAllocation.port_id == models.SecurityGroupPortBinding.port_id)
             .where(models.SecurityGroup.uuid.in_(ids))
             .order_by(models.IPAllocation.id))
        out: dict[str, list[str]] = {u: [] for u in ids}
        for group_uuid, address in s.execute(q):
            out[group_uuid].append(address)
        return out


@retry_on_db_error
def groups_count(project_id: str) -> int:
    with _session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(models.SecurityGroup)
                            .filter_by(project_id=project_id)) or 0)


@retry_on_db_error
def rules_count(project_id: str) -> int:
    with _session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(models.SecurityGroupRule)
                            .filter_by(project_id=project_id)) or 0)
