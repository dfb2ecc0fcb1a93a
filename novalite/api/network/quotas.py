"""Neutron's quotas (``/v2.0/quotas``; the limits and usage are
:mod:`novalite.network.quotas`'s). A create beyond the limit is 409
OverQuota, as Neutron's."""

from __future__ import annotations

from novalite.api import wsgi
from novalite.api.network import common
from novalite.api.wsgi import Request
from novalite.network import neutron as db
from novalite.network import quotas

RESOURCES = quotas.RESOURCES
_PREFIX = quotas.PREFIX
defaults, limits, usage, check = quotas.defaults, quotas.limits, quotas.usage, quotas.check


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
