"""Allocation and release of an instance's ports. Runs where the database
is (the conductor, which compute asks over RPC; the API, to check requested
networks and ports).

Nova's rules with Neutron: a port Nova makes for a server (``networks:
[{"uuid"}]``, ``auto``) is deleted with it; a port the user made and gave
(``networks: [{"port"}]``, ``--nic port-id=``) must be on a network the
project may use and have no device, is bound to the server, and is only
unbound when the server goes (Nova's ``preserve_on_delete``)."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from oslo_log import log as logging

from novalite import exception
from novalite.conf import CONF
from novalite.db import api as db_api
from novalite.db import info_caches
from novalite.db import network as db
from novalite.network import exceptions as n_exc
from novalite.network import hooks, model, quotas

LOG = logging.getLogger(__name__)

REQUESTED_KEY = "requested_networks"


def parse_requested(raw: str | None) -> Any:
    """``system_metadata["requested_networks"]``: "auto", "none", or a list
    of {"uuid", "fixed_ip", "port"}; absent means "auto"."""
    if not raw:
        return "auto"
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if value in ("auto", "none") or isinstance(value, list):
        return value
    raise exception.InvalidNetwork(reason=f"requested networks {raw!r} are not understood")


def usable(net: dict, project_id: str | None, is_admin: bool = False) -> bool:
    """Whether a project may put a server on the network: its own or a
    shared one (an admin: any)."""
    return is_admin or project_id is None or bool(net.get("shared")) or \
        net.get("project_id") == project_id


def default_network(project_id: str | None = None) -> dict | None:
    """The network "auto" means, among those the project may use (not
    external ones): the one named [network] default_network_name, else the
    only one there is; None when there is none (the instance then gets no
    port, as with "none")."""
    every = [n for n in db.network_get_all(visible_to=project_id)
             if not n.get("router_external") or n.get("shared")] if project_id else \
        db.network_get_all()
    named = [n for n in every if n["name"] == CONF.network.default_network_name]
    if named:
        # NOTE: the operator's (shared) one before a project's own of that name.
        named.sort(key=lambda n: (not n.get("shared"), n["id"]))
        return named[0]
    return every[0] if len(every) == 1 else None


def _network_of(req: dict, project_id: str | None = None, is_admin: bool = False) -> dict:
    """The network an entry names: by uuid, else the one with a subnet that
    holds its fixed_ip; another project's private network is not found."""
    if req.get("uuid"):
        net = db.network_get(req["uuid"])
        if not usable(net, project_id, is_admin):
            raise exception.NetworkNotFound(network_id=req["uuid"])
        return net
    addr = ipaddress.ip_address(req["fixed_ip"])
    for net in db.network_get_all(visible_to=None if is_admin else project_id):
        for sub in db.subnet_get_all(network_id=net["id"]):
            if addr in ipaddress.ip_network(sub["cidr"], strict=False):
                return net
    raise exception.InvalidNetwork(reason=f"no network holds fixed IP {req['fixed_ip']}")


def _usable_port(port_uuid: str, project_id: str | None, is_admin: bool) -> dict:
    """A port the project may give a server: its own (an admin: any), with
    no device, on a network it may use."""
    port = db.port_get(port_uuid)
    if not is_admin and project_id is not None and port["project_id"] != project_id:
        raise n_exc.PortNotFound(port_id=port_uuid)
    if port["device_id"]:
        raise n_exc.PortInUse(port_id=port_uuid, net_id=port["network_uuid"],
                              device_id=port["device_id"])
    net = db.network_get_by_id(port["network_id"])
    if not usable(net, project_id, is_admin):
        raise n_exc.PortNotFound(port_id=port_uuid)
    return port


def validate_requested(requested: Any, project_id: str | None = None,
                       is_admin: bool = False, count: int = 1) -> None:
    """Unknown network → NetworkNotFound (the API answers 400 with it); a
    fixed IP outside its network or already taken → InvalidNetwork /
    FixedIpAlreadyInUse; a port not found → PortNotFound, in use → PortInUse;
    the ports ``count`` servers need beyond the project's port quota →
    PortLimitExceeded (403), as Nova checks before it builds."""
    if project_id is not None and requested != "none":
        needed = count * (sum(1 for r in requested if not r.get("port"))
                          if isinstance(requested, list) else
                          (0 if default_network(project_id) is None else 1))
        room = quotas.headroom(project_id, "port") if needed else None
        if room is not None and needed > room:
            raise n_exc.PortLimitExceeded()
    if not isinstance(requested, list):
        return
    for req in requested:
        if req.get("port"):
            _usable_port(req["port"], project_id, is_admin)
            continue
        net = _network_of(req, project_id, is_admin)
        if req.get("fixed_ip"):
            subs = [s for s in db.subnet_get_all(network_id=net["id"])
                    if ipaddress.ip_address(req["fixed_ip"]) in ipaddress.ip_network(s["cidr"])]
            if not subs:
                raise exception.InvalidNetwork(
                    reason=f"fixed IP {req['fixed_ip']} is not a host address of network "
                           f"{net['name']}")
            try:
                address = db.check_address(subs[0], req["fixed_ip"])
            except n_exc.InvalidIpForSubnet as e:
                raise exception.InvalidNetwork(reason=e.format_message()) from e
            except n_exc.IpAddressAlreadyAllocated as e:
                raise exception.FixedIpAlreadyInUse(address=req["fixed_ip"],
                                                    net=net["name"]) from e
            if db.fixed_ip_get_by_address(net["id"], address) is not None:
                raise exception.FixedIpAlreadyInUse(address=address, net=net["name"])


def _instance_project(instance_uuid: str) -> str | None:
    try:
        return db_api.instance_get_by_uuid(instance_uuid, read_deleted=True).get("project_id")
    except exception.NotFound:
        return None


def network_info_of(ports: list[dict]) -> list[dict]:
    """The VIFs of these ports, in this order."""
    nets = {n["id"]: n for n in db.network_get_all(ids={p["network_id"] for p in ports})}
    subnets = {s["uuid"]: s for s in db.subnet_get_all(network_ids=list(nets))}
    groups = security_groups_of([p["uuid"] for p in ports])
    return [model.vif_from_port(p, nets[p["network_id"]], subnets, groups.get(p["uuid"]))
            for p in ports if p["network_id"] in nets]


def security_groups_of(port_uuids: list[str]) -> dict[str, list[str]]:
    """Each port's security group ids, from whoever keeps them (the security
    group module registers :data:`SECURITY_GROUPS_OF`); none without it."""
    if SECURITY_GROUPS_OF is None or not port_uuids:
        return {}
    return SECURITY_GROUPS_OF(port_uuids)


# NOTE: a hook, not an import: security groups live in their own module,
# which sets this to its ``{port uuid: [group ids]}`` query.
SECURITY_GROUPS_OF: Any = None

# NOTE: security groups, routers and floating IPs register their hooks.
from novalite.network import neutron_l3  # noqa: E402

SECURITY_GROUPS_OF = neutron_l3.security_groups_of


def allocate_for_instance(instance_uuid: str, requested: Any, host: str | None,
                          project_id: str | None = None) -> list[dict]:
    """Allocate the instance's ports; all or nothing. The instance's info
    cache (``instance_info_caches``) records the network_info made."""
    if requested == "none":
        info_caches.info_cache_update(instance_uuid, model.dumps([]))
        return []
    if project_id is None:
        project_id = _instance_project(instance_uuid)
    if requested == "auto":
        net = default_network(project_id)
        wanted = [] if net is None else [{"uuid": net["uuid"]}]
    else:
        wanted = list(requested)
    ports: list[dict] = []
    status = "ACTIVE" if host else "DOWN"
    try:
        for req in wanted:
            if req.get("port"):
                # NOTE: the port was checked at the API; the compare-and-swap
                # on its (empty) device keeps two servers from both taking it.
                ports.append(db.port_update(
                    req["port"], {"device_id": instance_uuid, "device_owner": db.COMPUTE_OWNER,
                                  "binding_host": host, "status": status,
                                  "preserve_on_delete": True},
                    expected_device_id=""))
                continue
            net = _network_of(req, None)
            fip = db.fixed_ip_allocate(net["uuid"], instance_uuid, host, req.get("fixed_ip"),
                                       project_id=project_id)
            port = db.port_get(fip["uuid"])
            # NOTE: e.g. the project's default security group, as Neutron
            # gives a port made without any.
            hooks.port_created(None, port, {})
            ports.append(port)
    except Exception:
        db.fixed_ip_release_by_instance(instance_uuid)
        raise
    network_info = network_info_of(ports)
    info_caches.info_cache_update(instance_uuid, model.dumps(network_info))
    LOG.info("Instance %s on %s: %s", instance_uuid, host,
             ", ".join(f"{ip['address']} on {v['network']['label']}"
                       for v in network_info for ip in model.fixed_ips(v)) or "no network")
    if ports:
        hooks.network_changed()
    return network_info


def deallocate_for_instance(instance_uuid: str) -> int:
    ports = db.port_get_all(device_id=instance_uuid)
    for port in ports:
        if not port["preserve_on_delete"]:
            hooks.port_deleting(port)
    # NOTE: the ports read above, not the count: a release retried after
    # its COMMIT's answer was lost counts 0, yet the data plane must follow.
    released = db.fixed_ip_release_by_instance(instance_uuid) or len(ports)
    if released:
        LOG.info("Released %d port(s) of instance %s", released, instance_uuid)
        hooks.network_changed()
    return released


def setup_instance_network_on_host(instance_uuid: str, host: str | None) -> list[dict]:
    """Nova's setup_instance_network_on_host (``host``) and unbind_ports
    (None): every port of the instance bound to ``host`` (ACTIVE) or to no
    host (DOWN), its info cache refreshed; returns its network_info."""
    ports = [db.port_update(port["uuid"], {"binding_host": host,
                                           "status": "ACTIVE" if host else "DOWN"})
             for port in db.port_get_all(device_id=instance_uuid)]
    network_info = _cached_order(instance_uuid, ports)
    info_caches.info_cache_update(instance_uuid, model.dumps(network_info))
    if ports:
        LOG.info("Ports of instance %s bound to %s", instance_uuid, host or "no host")
        hooks.network_changed()
    return network_info


def get_network_info(instance_uuid: str) -> list[dict]:
    """The instance's VIFs from its ports, in its info cache's order (a port
    attached later comes after those it booted with)."""
    return _cached_order(instance_uuid, db.port_get_all(device_id=instance_uuid))


# -- os-interface: one port attached to or detached from a running server -----

def _cached_order(instance_uuid: str, ports: list[dict],
                  tags: dict[str, str | None] | None = None) -> list[dict]:
    """network_info of ``ports`` in the order of the instance's info cache
    (a port new to it last), each VIF with the ``tag`` it was attached with
    (microversion 2.49): the guest's NICs keep their order when its
    definition is made again (hard reboot, resize, unshelve)."""
    cached = _cached_vifs(instance_uuid)
    order = {v["id"]: i for i, v in enumerate(cached)}
    old_tags = interface_tags(instance_uuid, cached)
    old_tags.update(tags or {})
    network_info = network_info_of(ports)
    network_info.sort(key=lambda v: order.get(v["id"], len(order)))
    for vif in network_info:
        if old_tags.get(vif["id"]):
            vif["tag"] = old_tags[vif["id"]]
    return network_info


def _owner(availability_zone: str | None) -> str:
    """Nova's device_owner of a server's port: ``compute:<its zone>``."""
    return f"compute:{availability_zone or CONF.default_availability_zone}"


def validate_interface(project_id: str | None, is_admin: bool, network_id: str | None,
                       port_id: str | None, requested_ip: str | None) -> None:
    """Before an attach is handed to compute (the API, where the database
    is): another project's port or network → PortNotFound /
    NetworkNotFound (404), a port with a device → PortInUse (409), an
    address taken → FixedIpAlreadyInUse (409), a new port beyond the
    project's port quota → OverQuota (409, Neutron's answer), no network
    to take one from → InvalidNetwork (400)."""
    if port_id:
        _usable_port(port_id, project_id, is_admin)
        return
    net = default_network(project_id) if network_id is None else None
    if network_id is None and net is None:
        raise exception.InvalidNetwork(
            reason="no network was given and there is no single network this project may "
                   "use to attach an interface from")
    req = {"uuid": network_id or net["uuid"], "fixed_ip": requested_ip}  # type: ignore[index]
    _network_of(req, project_id, is_admin)
    validate_requested([req], None, is_admin)
    if project_id is not None:
        quotas.check(project_id, "port")


def allocate_port_for_instance(instance_uuid: str, host: str | None, network_id: str | None,
                               port_id: str | None, requested_ip: str | None,
                               tag: str | None = None,
                               availability_zone: str | None = None) -> dict:
    """Nova's allocate_port_for_instance (os-interface attach): bind the
    user's port to the server (device_id, device_owner ``compute:<az>``,
    binding:host_id; kept when detached: preserve_on_delete), or make one
    on ``network_id`` (the project's default network when None) with
    ``requested_ip`` (deleted when detached). The info cache gets the new
    VIF last; returns it."""
    project_id = _instance_project(instance_uuid)
    status = "ACTIVE" if host else "DOWN"
    if port_id:
        # NOTE: compare-and-swap on the empty device: two servers asking for
        # one port at once, one wins and the other gets PortInUse.
        port = db.port_update(port_id, {"device_id": instance_uuid,
                                        "device_owner": _owner(availability_zone),
                                        "binding_host": host, "status": status,
                                        "preserve_on_delete": True}, expected_device_id="")
    else:
        net = db.network_get(network_id) if network_id else default_network(project_id)
        if net is None:
            raise exception.InvalidNetwork(reason="no network to attach an interface from")
        fip = db.fixed_ip_allocate(net["uuid"], instance_uuid, host, requested_ip,
                                   project_id=project_id)
        port = db.port_update(fip["uuid"], {"device_owner": _owner(availability_zone)})
        hooks.port_created(None, port, {})
    ports = db.port_get_all(device_id=instance_uuid)
    network_info = _cached_order(instance_uuid, ports, {port["uuid"]: tag})
    info_caches.info_cache_update(instance_uuid, model.dumps(network_info))
    LOG.info("Port %s attached to instance %s on %s", port["uuid"], instance_uuid, host)
    hooks.network_changed()
    return next(v for v in network_info if v["id"] == port["uuid"])


def deallocate_port_for_instance(instance_uuid: str, port_id: str) -> list[dict]:
    """Nova's deallocate_port_for_instance (os-interface detach): a port
    Nova made is deleted, the user's is unbound (no device, no host, DOWN)
    and kept. PortNotFound when the server has no such port. The info cache
    loses the VIF; returns the instance's network_info."""
    port = db.port_get(port_id)
    if port["device_id"] != instance_uuid:
        raise n_exc.PortNotFound(port_id=port_id)
    if port["preserve_on_delete"]:
        db.port_update(port_id, {"device_id": "", "device_owner": "", "binding_host": None,
                                 "status": "DOWN", "preserve_on_delete": False},
                       expected_device_id=instance_uuid)
    else:
        hooks.port_deleting(port)
        db.port_delete(port_id)
    network_info = _cached_order(instance_uuid, db.port_get_all(device_id=instance_uuid))
    info_caches.info_cache_update(instance_uuid, model.dumps(network_info))
    LOG.info("Port %s detached from instance %s (%s)", port_id, instance_uuid,
             "kept" if port["preserve_on_delete"] else "deleted")
    hooks.network_changed()
    return network_info


def _cached_vifs(instance_uuid: str) -> list[dict]:
    """The VIFs of the instance's info cache (those with an id)."""
    try:
        cached = json.loads(info_caches.info_cache_get(instance_uuid) or "[]")
    except ValueError:
        return []
    return [v for v in cached if isinstance(v, dict) and v.get("id")] \
        if isinstance(cached, list) else []


def interface_tags(instance_uuid: str, cached: list[dict] | None = None
                   ) -> dict[str, str | None]:
    """{port id: tag} of the instance's VIFs, from its info cache."""
    vifs = _cached_vifs(instance_uuid) if cached is None else cached
    return {str(v["id"]): v.get("tag") for v in vifs}
