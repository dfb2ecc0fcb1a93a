"""Neutron v2.0 security groups and rules (``/v2.0/security-groups``,
``/v2.0/security-group-rules``).

Each project has a ``default`` group, made on first use (any egress; ingress
only from members of the group, IPv4 and IPv6); every new group gets the two
egress rules. Policy as Neutron's defaults: a project sees and changes its
own groups (an admin: all); another project's are 404. The default group
cannot be renamed, nor deleted by its owner (409); a group a port uses is
409 SecurityGroupInUse."""

from __future__ import annotations

import ipaddress
from typing import Any

from novalite.api import wsgi
from novalite.api.network import common, quotas
from novalite.api.network.common import Attr
from novalite.api.wsgi import Request
from novalite.network import l3_exceptions as l3_exc
from novalite.network import neutron_l3

sgdb = neutron_l3.security_groups
DIRECTIONS = ("ingress", "egress")
ETHERTYPES = ("IPv4", "IPv6")
# NOTE: Neutron's SG_PORT_PROTO_NAMES / numbers: the protocols with ports.
PORT_PROTOCOLS = {"6": "tcp", "17": "udp", "33": "dccp", "132": "sctp", "136": "udplite"}
ICMP_NUMBERS = ("1", "58")
IPV6_ONLY = ("ipv6-encap", "ipv6-frag", "ipv6-icmp", "icmpv6", "ipv6-nonxt", "ipv6-opts",
             "ipv6-route", "41", "44", "58", "59", "60", "43")


def rule_view(rule: dict, default_ids: set[str] | None = None) -> dict:
    project = rule.get("project_id") or ""
    prefix = rule["remote_ip_prefix"]
    return {
        "id": rule["uuid"], "tenant_id": project, "project_id": project,
        "security_group_id": rule["security_group_uuid"], "direction": rule["direction"],
        "ethertype": rule["ethertype"], "protocol": rule["protocol"],
        "port_range_min": rule["port_range_min"], "port_range_max": rule["port_range_max"],
        "remote_ip_prefix": prefix, "remote_group_id": rule["remote_group_id"],
        "remote_address_group_id": None,
        "normalized_cidr": str(ipaddress.ip_network(prefix, strict=False)) if prefix else None,
        "description": rule.get("description") or "",
        "belongs_to_default_sg": rule["security_group_uuid"] in (default_ids or set()),
        "tags": [], "revision_number": 0,
        "created_at": common.timestamp(rule.get("created_at")),
        "updated_at": common.timestamp(rule.get("updated_at") or rule.get("created_at")),
    }


def group_view(group: dict) -> dict:
    project = group.get("project_id") or ""
    defaults = {group["uuid"]} if group.get("is_default") else set()
    return {
        "id": group["uuid"], "name": group["name"], "description": group["description"],
        "tenant_id": project, "project_id": project,
        "security_group_rules": [rule_view(r, defaults) for r in group["rules"]],
        "stateful": True, "shared": False,
        "tags": [], "revision_number": 0,
        "created_at": common.timestamp(group.get("created_at")),
        "updated_at": common.timestamp(group.get("updated_at") or group.get("created_at")),
    }


def get_visible(req: Request, group_id: str) -> dict:
    group = sgdb.group_get(group_id)
    if not common.is_admin(req) and group["project_id"] != common.project_of(req):
        raise l3_exc.SecurityGroupNotFound(id=group_id)
    return group


GROUP_ATTRS = {
    "name": Attr(common.v_string(255)),
    "description": Attr(common.v_string(255)),
    "tenant_id": Attr(common.v_string(255), put=False),
    "project_id": Attr(common.v_string(255), put=False),
    "stateful": Attr(common.v_bool),
    "tags": Attr(common.v_list_of(common.v_string(255))),
}


def _name_not_default(values: dict) -> None:
    """Neutron's name validator: no group is (re)named "default", any case."""
    if str(values.get("name") or "").lower() == sgdb.DEFAULT_NAME:
        raise l3_exc.SecurityGroupDefaultAlreadyExists()


def _ensure_own_default(req: Request) -> None:
    if common.project_of(req):
        sgdb.ensure_default(common.project_of(req))


class SecurityGroupsController:
    def index(self, req: Request) -> dict:
        _ensure_own_default(req)
        groups = sgdb.group_get_all(project_id=None if common.is_admin(req)
                                    else common.project_of(req))
        return common.listing(req, "security_groups", [group_view(g) for g in groups])

    def show(self, req: Request, id: str) -> dict:
        _ensure_own_default(req)
        return {"security_group": common.shown(req, group_view(get_visible(req, id)))}

    @wsgi.response(201)
    def create(self, req: Request) -> dict:
        body = common.body_of(req, "security_group")
        values = common.check_attrs(req, "security_group", body, GROUP_ATTRS)
        project = common.owner_of_request(req, values, "security_group")
        if not values.get("stateful", True):
            raise common.bad_request("novalite's security groups are stateful only")
        _name_not_default(values)
        sgdb.ensure_default(project)
        quotas.check(project, "security_group", 1)
        group = sgdb.group_create(project, values.get("name") or "",
                                  values.get("description") or "")
        return {"security_group": group_view(group)}

    def update(self, req: Request, id: str) -> dict:
        group = get_visible(req, id)
        body = common.body_of(req, "security_group")
        values = common.check_attrs(req, "security_group", body, GROUP_ATTRS, updating=True)
        if not values.pop("stateful", True):
            raise common.bad_request("novalite's security groups are stateful only")
        values.pop("tags", None)
        _name_not_default(values)
        # NOTE: as Neutron's, naming the default group at all is refused.
        if group["name"] == sgdb.DEFAULT_NAME and "name" in values:
            raise l3_exc.SecurityGroupCannotUpdateDefault()
        return {"security_group": group_view(sgdb.group_update(id, values))}

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        group = get_visible(req, id)
        if sgdb.group_in_use(id):
            raise l3_exc.SecurityGroupInUse(id=id, reason="in use")
        if group["name"] == sgdb.DEFAULT_NAME and not common.is_admin(req):
            raise l3_exc.SecurityGroupCannotRemoveDefault()
        sgdb.group_delete(id)


# -- rules -------------------------------------------------------------------------

def _direction(name: str, value: Any) -> str:
    if value not in DIRECTIONS:
        raise common.invalid(name, value, f"{value} is not in {list(DIRECTIONS)}")
    return str(value)


def _ethertype(name: str, value: Any) -> str:
    # NOTE: Neutron accepts any case ("ipv4") and keeps its own spelling.
    for known in ETHERTYPES:
        if isinstance(value, str) and value.lower() == known.lower():
            return known
    raise l3_exc.SecurityGroupRuleInvalidEtherType(ethertype=value, values=list(ETHERTYPES))


def _protocol(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).lower() if isinstance(value, str) else value
    if isinstance(text, str) and text in sgdb.PROTOCOLS:
        return text
    if text == "any":
        return None
    try:
        number = int(text)
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or not 0 <= number <= 255:
        raise l3_exc.SecurityGroupRuleInvalidProtocol(protocol=value,
                                                      values=sorted(sgdb.PROTOCOLS))
    return str(number)


def _port(name: str, value: Any) -> int | None:
    if value is None:
        return None
    # NOTE: Neutron's convert_validate_port_value: anything but a port
    # number 0-65535 is SecurityGroupInvalidPortValue, naming the value.
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise l3_exc.SecurityGroupInvalidPortValue(port=value) from None
    if isinstance(value, bool) or not 0 <= number <= 65535:
        raise l3_exc.SecurityGroupInvalidPortValue(port=value)
    return number


def _prefix(name: str, value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_network(str(value), strict=False))
    except ValueError:
        raise common.invalid(name, value, f"'{value}' is not a valid IP subnet") from None


def _remote_group(name: str, value: Any) -> str | None:
    # NOTE: Neutron validates no UUID here: a remote group that is not a
    # group's id, UUID-shaped or not, is SecurityGroupNotFound (404).
    if value is None:
        return None
    if not isinstance(value, str):
        raise common.invalid(name, value, f"'{value}' is not a valid string")
    return value


RULE_ATTRS = {
    "security_group_id": Attr(common.v_uuid, put=False),
    "direction": Attr(_direction, put=False),
    "ethertype": Attr(_ethertype, put=False),
    "protocol": Attr(_protocol, put=False),
    "port_range_min": Attr(_port, put=False),
    "port_range_max": Attr(_port, put=False),
    "remote_ip_prefix": Attr(_prefix, put=False),
    "remote_group_id": Attr(_remote_group, put=False),
    "remote_address_group_id": Attr(_remote_group, put=False),
    "description": Attr(common.v_string(255)),
    "tenant_id": Attr(common.v_string(255), put=False),
    "project_id": Attr(common.v_string(255), put=False),
}


def validate_rule(rule: dict) -> None:
    """Neutron's checks of a rule (after its attributes' own)."""
    protocol = rule.get("protocol")
    ethertype = rule["ethertype"]
    if ethertype == "IPv6" and protocol in ("icmp", "icmpv6"):
        rule["protocol"] = protocol = "ipv6-icmp"
    elif ethertype == "IPv6" and protocol == "1":
        rule["protocol"] = protocol = "58"
    lo, hi = rule.get("port_range_min"), rule.get("port_range_max")
    if lo is not None or hi is not None:
        if not protocol:
            raise l3_exc.SecurityGroupProtocolRequiredWithPorts()
        number = sgdb.protocol_number(protocol, ethertype)
        if number in PORT_PROTOCOLS:
            if lo == 0 or hi == 0:
                raise l3_exc.SecurityGroupInvalidPortValue(port=0)
            if lo is None or hi is None or lo > hi:
                raise l3_exc.SecurityGroupInvalidPortRange()
        elif number in ICMP_NUMBERS:
            for attr, field, value in (("port_range_min", "type", lo),
                                       ("port_range_max", "code", hi)):
                if value is not None and not 0 <= value <= 255:
                    raise l3_exc.SecurityGroupInvalidIcmpValue(field=field, attr=attr,
                                                               value=value)
            if lo is None and hi is not None:
                raise l3_exc.SecurityGroupMissingIcmpType(value=hi)
        else:
            raise l3_exc.SecurityGroupInvalidProtocolForPort(
                protocol=number, valid_port_protocols=", ".join(
                    p.upper() for p in PORT_PROTOCOLS.values()))
    prefix = rule.get("remote_ip_prefix")
    if prefix and f"IPv{ipaddress.ip_network(prefix).version}" != ethertype:
        raise l3_exc.SecurityGroupRuleParameterConflict(ethertype=ethertype, cidr=prefix)
    if protocol in IPV6_ONLY and ethertype == "IPv4":
        raise l3_exc.SecurityGroupEthertypeConflictWithProtocol(ethertype=ethertype,
                                                                protocol=protocol)
    if prefix and rule.get("remote_group_id"):
        raise l3_exc.SecurityGroupRemoteGroupAndRemoteIpPrefix()


def _rule_visible(req: Request, rule: dict) -> None:
    if common.is_admin(req):
        return
    group = sgdb.group_get(rule["security_group_uuid"])
    if common.project_of(req) not in (rule.get("project_id"), group["project_id"]):
        raise l3_exc.SecurityGroupRuleNotFound(id=rule["uuid"])


class SecurityGroupRulesController:
    def index(self, req: Request) -> dict:
        _ensure_own_default(req)
        rules = sgdb.rule_get_all(project_id=None if common.is_admin(req)
                                  else common.project_of(req))
        defaults = {g["uuid"] for g in sgdb.group_get_all(
            uuids={r["security_group_uuid"] for r in rules}) if g["is_default"]} \
            if rules else set()
        return common.listing(req, "security_group_rules",
                              [rule_view(r, defaults) for r in rules])

    def show(self, req: Request, id: str) -> dict:
        rule = sgdb.rule_get(id)
        _rule_visible(req, rule)
        group = sgdb.group_get(rule["security_group_uuid"])
        defaults = {group["uuid"]} if group["is_default"] else set()
        return {"security_group_rule": common.shown(req, rule_view(rule, defaults))}

    @wsgi.response(201)
    def create(self, req: Request) -> dict:
        body = common.body_of(req, "security_group_rule")
        values = common.check_attrs(req, "security_group_rule", body, RULE_ATTRS)
        for required in ("security_group_id", "direction"):
            if required not in values:
                raise common.bad_request(f"Failed to parse request. Required attribute "
                                         f"'{required}' not specified")
        if values.pop("remote_address_group_id", None):
            raise common.bad_request("novalite has no address groups")
        values.setdefault("ethertype", "IPv4")
        for key in ("protocol", "port_range_min", "port_range_max", "remote_ip_prefix",
                    "remote_group_id"):
            values.setdefault(key, None)
        group = get_visible(req, values.pop("security_group_id"))
        project = common.owner_of_request(req, values, "security_group_rule")
        validate_rule(values)
        if values["remote_group_id"]:
            get_visible(req, values["remote_group_id"])
        quotas.check(project, "security_group_rule", 1)
        values["project_id"] = project
        rule = sgdb.rule_create(group["uuid"], values,
                                protocol_key=sgdb.protocol_number(values["protocol"],
                                                                  values["ethertype"]))
        defaults = {group["uuid"]} if group["is_default"] else set()
        return {"security_group_rule": rule_view(rule, defaults)}

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        rule = sgdb.rule_get(id)
        _rule_visible(req, rule)
        sgdb.rule_delete(id)
