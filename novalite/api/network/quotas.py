"""Neutron's quotas (``/v2.0/quotas``): per-project limits of networks,
subnets, ports, routers, floating IPs, security groups and their rules.
Defaults are the [network] quota_* options; a project's own limits are kept
in the quotas table as ``neutron.<resource>``. A create beyond the limit is
409 OverQuota, as Neutron's."""

from __future__ import annotations

from novalite.api import wsgi
from novalite.api.network import common
from novalite.api.wsgi import Request
from novalite.conf import CONF
from novalite.network import exceptions as n_exc
from novalite.network import hooks
from novalite.network import neutron as db

RESOURCES = ("network", "subnet", "port", "router", "floatingip", "security_group",
             "security_group_rule")
_PREFIX = "neutron."


def defaults() -> dict[str, int]:
    return {r: int(getattr(CONF.network, f"quota_{r}")) for r in RESOURCES}


def limits(project_id: str) -> dict[str, int]:
    own = db.quota_get_all_by_project(project_id)
    out = defaults()
    for resource in RESOURCES:
        if _PREFIX + resource in own:
            out[resource] = own[_PREFIX + resource]
    return out


def usage(project_id: str, resource: str) -> int:
    counters = {"network": db.networks_count, "subnet": db.subnets_count,
                "port": db.ports_count}
    counter = counters.get(resource) or hooks.USAGE.get(resource)
    return counter(project_id) if counter else 0


def check(project_id: str, resource: str, delta: int = 1) -> None:
    """OverQuota (409) when ``delta`` more would exceed the project's limit."""
    limit = limits(project_id)[resource]
    if limit >= 0 and usage(project_id, resource) + delta > limit:
        raise n_exc.OverQuota(overs=f"['{resource}']")


def _may_read(req: Request, project_id: str) -> None:
    if not common.is_admin(req) and project_id != common.project_of(req):
        raise common.forbidden("get_quota")


class QuotasController:
    def index(self, req: Request) -> dict:
        """Projects with limits of their own (admin only)."""
        if not common.is_admin(req):
            raise common.forbidden("get_quota")
        projects = sorted({p for p, r in db.quota_projects_with(_PREFIX)})
        out = []
        for project in projects:
            entry = dict(limits(project), project_id=project, tenant_id=project)
            out.append(entry)
        return {"quotas": out}

    def show(self, req: Request, project_id: str) -> dict:
        _may_read(req, project_id)
        return {"quota": limits(project_id)}

    def default(self, req: Request, project_id: str) -> dict:
        _may_read(req, project_id)
        return {"quota": defaults()}

    def details(self, req: Request, project_id: str) -> dict:
        _may_read(req, project_id)
        own = limits(project_id)
        return {"quota": {r: {"limit": own[r], "used": usage(project_id, r), "reserved": 0}
                          for r in RESOURCES}}

    def update(self, req: Request, project_id: str) -> dict:
        if not common.is_admin(req):
            raise common.forbidden("update_quota")
        body = common.body_of(req, "quota")
        unknown = [k for k in body if k not in RESOURCES]
        if unknown:
            raise common.bad_request(f"Unrecognized attribute(s) '{', '.join(sorted(unknown))}'")
        values = {}
        for key, value in body.items():
            values[_PREFIX + key] = common.v_int(-1, 2 ** 31 - 1)(key, value)
        db.quota_set(project_id, values)
        return {"quota": limits(project_id)}

    @wsgi.response(204)
    def delete(self, req: Request, project_id: str) -> None:
        if not common.is_admin(req):
            raise common.forbidden("delete_quota")
        db.quota_delete_resources(project_id, [_PREFIX + r for r in RESOURCES])
