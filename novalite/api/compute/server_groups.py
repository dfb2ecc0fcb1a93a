"""/os-server-groups: create, list, show, delete, as Nova's.

The view changes with the microversion: ``project_id``/``user_id`` from
2.13; ``policy`` and ``rules`` instead of ``policies`` and ``metadata``
from 2.64. Members are the group's servers that still exist. Quotas:
``server_groups`` per project here, ``server_group_members`` at server
create (novalite.compute.server_groups).
"""

from __future__ import annotations

from typing import Any

from novalite import exception, policy, quota
from novalite.api import common, errors, microversions, validation, wsgi
from novalite.api.schemas import server_groups as schemas
from novalite.api.wsgi import Request
from novalite.objects.instance_group import (
    ANTI_AFFINITY,
    MAX_SERVER_PER_HOST,
    InstanceGroup,
    InstanceGroupList,
    InstanceGroupNotFound,
)
from novalite.policies.server_groups import SERVER_GROUPS

V213 = microversions.APIVersion(2, 13)
V215 = microversions.APIVersion(2, 15)
V264 = microversions.APIVersion(2, 64)
V275 = microversions.APIVersion(2, 75)
_INDEX_PARAMS = ("all_projects", "limit", "offset")


class ServerGroupsOverQuota(exception.QuotaError):
    msg_fmt = "Quota exceeded, too many server groups."


def view(group: InstanceGroup, version: microversions.APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {"id": group.uuid, "name": group.name}
    if version >= V264:
        body["policy"] = group.policy
        body["rules"] = dict(group.rules or {})
    else:
        body["policies"] = [group.policy]
        body["metadata"] = {}
    body["members"] = list(group.members)
    if version >= V213:
        body["project_id"] = group.project_id
        body["user_id"] = group.user_id
    return body


def _validator(version: microversions.APIVersion) -> Any:
    if version >= V264:
        return schemas.VALIDATORS["2.64"]
    return schemas.VALIDATORS["2.15" if version >= V215 else "2.1"]


class ServerGroupsController:
    def _get(self, req: Request, id: str, action: str) -> InstanceGroup:
        try:
            group = InstanceGroup.get_by_uuid(req.context, id)
        except InstanceGroupNotFound as e:
            raise errors.not_found(e.format_message()) from None
        policy.authorize(req.context, SERVER_GROUPS % action,
                         {"project_id": group.project_id, "user_id": group.user_id})
        return group

    @validation.own_query_check
    def index(self, req: Request) -> dict:
        """The project's groups; every project's with ``all_projects`` (admins)."""
        ctx = req.context
        policy.authorize(ctx, SERVER_GROUPS % "index", {"project_id": ctx.project_id})
        if req.api_version >= V275:
            unknown = sorted(set(req.GET) - set(_INDEX_PARAMS))
            if unknown:
                raise errors.bad_request(
                    f"Invalid input for query parameters {unknown[0]}. Additional properties "
                    f"are not allowed ('{unknown[0]}' was unexpected)")
        project_id: str | None = ctx.project_id
        if "all_projects" in req.GET:
            policy.authorize(ctx, SERVER_GROUPS % "index:all_projects",
                             {"project_id": ctx.project_id})
            project_id = None
        limit = common.int_param(req.GET, "limit")
        offset = common.int_param(req.GET, "offset")
        groups = InstanceGroupList.get_all(ctx, project_id, limit=limit, offset=offset)
        return {"server_groups": [view(g, req.api_version) for g in groups]}

    def show(self, req: Request, id: str) -> dict:
        return {"server_group": view(self._get(req, id, "show"), req.api_version)}

    @validation.schema(schemas.create)
    def create(self, req: Request, body: dict) -> dict:
        """200 with the new group, as Nova (not 201)."""
        ctx = req.context
        policy.authorize(ctx, SERVER_GROUPS % "create",
                         {"project_id": ctx.project_id, "user_id": ctx.user_id})
        validation.validate(_validator(req.api_version), body)
        params = body["server_group"]
        if req.api_version >= V264:
            group_policy = params["policy"]
            rules = {k: int(v) for k, v in (params.get("rules") or {}).items()}
            if rules and group_policy != ANTI_AFFINITY:
                raise errors.bad_request("Only anti-affinity policy supports rules.")
        else:
            group_policy, rules = params["policies"][0], {}
        self._check_quota(ctx)
        group = InstanceGroup(context=ctx, name=params["name"], project_id=ctx.project_id,
                              user_id=ctx.user_id, policy=group_policy,
                              rules={k: v for k, v in rules.items()
                                     if k == MAX_SERVER_PER_HOST})
        group.create()
        return {"server_group": view(group, req.api_version)}

    @staticmethod
    def _check_quota(ctx: Any) -> None:
        limit = quota.get_project_quotas(ctx.project_id)["server_groups"]
        if limit == quota.UNLIMITED:
            return
        if InstanceGroupList.get_count_by_project(ctx, ctx.project_id) + 1 > limit:
            raise ServerGroupsOverQuota()

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        self._get(req, id, "delete").destroy()
