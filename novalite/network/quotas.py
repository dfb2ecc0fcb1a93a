"""Neutron's quotas: per-project limits of networks, subnets, ports,
routers, floating IPs, security groups and their rules. Defaults are the
[network] quota_* options; a project's own limits are kept in the quotas
table as ``neutron.<resource>``. Usage counts what the project has (the
ports Nova makes for its servers too, as Neutron counts them)."""

from __future__ import annotations

from novalite.conf import CONF
from novalite.db import network as db
from novalite.db import quotas as quota_db
from novalite.network import exceptions as n_exc
from novalite.network import hooks

RESOURCES = ("network", "subnet", "port", "router", "floatingip", "security_group",
             "security_group_rule")
PREFIX = "neutron."


def defaults() -> dict[str, int]:
    return {r: int(getattr(CONF.network, f"quota_{r}")) for r in RESOURCES}


def limits(project_id: str) -> dict[str, int]:
    own = quota_db.quota_get_all_by_project(project_id)
    out = defaults()
    for resource in RESOURCES:
        if PREFIX + resource in own:
            out[resource] = own[PREFIX + resource]
    return out


def usage(project_id: str, resource: str) -> int:
    counters = {"network": db.networks_count, "subnet": db.subnets_count,
                "port": db.ports_count}
    counter = counters.get(resource) or hooks.USAGE.get(resource)
    return counter(project_id) if counter else 0


def headroom(project_id: str, resource: str) -> int | None:
    """How many more the project may make; None: no limit."""
    limit = limits(project_id)[resource]
    return None if limit < 0 else max(limit - usage(project_id, resource), 0)


def check(project_id: str, resource: str, delta: int = 1) -> None:
    """OverQuota (409) when ``delta`` more would exceed the project's limit."""
    room = headroom(project_id, resource)
    if room is not None and delta > room:
        raise n_exc.OverQuota(overs=f"['{resource}']")
