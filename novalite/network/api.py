"""Allocation and release of an instance's addresses. Runs where the
database is (the conductor, which compute asks over RPC; the API, to check
requested networks)."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from oslo_log import log as logging

from novalite import exception
from novalite.conf import CONF
from novalite.db import info_caches
from novalite.db import network as db
from novalite.network import model

LOG = logging.getLogger(__name__)

REQUESTED_KEY = "requested_networks"


def parse_requested(raw: str | None) -> Any:
    """``system_metadata["requested_networks"]``: "auto", "none", or a list
    of {"uuid", "fixed_ip"}; absent means "auto"."""
    if not raw:
        return "auto"
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if value in ("auto", "none") or isinstance(value, list):
        return value
    raise exception.InvalidNetwork(reason=f"requested networks {raw!r} are not understood")


def default_network() -> dict | None:
    """The network "auto" means: the one named [network] default_network_name,
    else the only network there is; None when there is no network at all
    (the instance then gets no port, as with "none")."""
    named = db.network_get_all(name=CONF.network.default_network_name)
    if named:
        return named[0]
    every = db.network_get_all()
    return every[0] if len(every) == 1 else None


def _network_of(req: dict) -> dict:
    """The network an entry names: by uuid, else the one whose CIDR holds
    its fixed_ip."""
    if req.get("uuid"):
        return db.network_get(req["uuid"])
    addr = ipaddress.ip_address(req["fixed_ip"])
    for net in db.network_get_all():
        if addr in ipaddress.ip_network(net["cidr"], strict=False):
            return net
    raise exception.InvalidNetwork(reason=f"no network holds fixed IP {req['fixed_ip']}")


def validate_requested(requested: Any) -> None:
    """Unknown network → NetworkNotFound (the API answers 400 with it); a
    fixed IP outside its network or already taken → InvalidNetwork /
    FixedIpAlreadyInUse."""
    if not isinstance(requested, list):
        return
    for req in requested:
        net = _network_of(req)
        if req.get("fixed_ip"):
            address = db._check_requested(net, req["fixed_ip"])
            if db.fixed_ip_get_by_address(net["id"], address) is not None:
                raise exception.FixedIpAlreadyInUse(address=address, net=net["name"])


def allocate_for_instance(instance_uuid: str, requested: Any, host: str | None) -> list[dict]:
    """Allocate the instance's ports; all or nothing. The instance's info
    cache (``instance_info_caches``) records the network_info made."""
    if requested == "none":
        info_caches.info_cache_update(instance_uuid, model.dumps([]))
        return []
    if requested == "auto":
        net = default_network()
        wanted = [] if net is None else [{"uuid": net["uuid"]}]
    else:
        wanted = list(requested)
    network_info = []
    try:
        for req in wanted:
            fip = db.fixed_ip_allocate(_network_of(req)["uuid"], instance_uuid, host,
                                       req.get("fixed_ip"))
            network_info.append(model.vif_from_fixed_ip(fip))
    except Exception:
        db.fixed_ip_release_by_instance(instance_uuid)
        raise
    info_caches.info_cache_update(instance_uuid, model.dumps(network_info))
    LOG.info("Instance %s on %s: %s", instance_uuid, host,
             ", ".join(f"{ip['address']} on {v['network']['label']}"
                       for v in network_info for ip in model.fixed_ips(v)) or "no network")
    return network_info


def deallocate_for_instance(instance_uuid: str) -> int:
    released = db.fixed_ip_release_by_instance(instance_uuid)
    if released:
        LOG.info("Released %d address(es) of instance %s", released, instance_uuid)
    return released


def get_network_info(instance_uuid: str) -> list[dict]:
    return [model.vif_from_fixed_ip(f) for f in db.fixed_ip_get_by_instance(instance_uuid)]
