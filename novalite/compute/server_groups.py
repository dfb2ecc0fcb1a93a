"""Server create's part in server groups: the group the ``group`` hint
names, its members quota, and recording the new servers as members (as
Nova's compute API does while provisioning instances)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from novalite import exception, quota
from novalite.objects.instance import InstanceList
from novalite.objects.instance_group import InstanceGroup, InstanceGroupNotFound

if TYPE_CHECKING:
    from novalite.context import RequestContext


class ServerGroupMembersOverQuota(exception.QuotaError):
    msg_fmt = "Quota exceeded, too many servers in group"


def requested_group(context: RequestContext,
                    hints: dict[str, list[str]] | None) -> InstanceGroup | None:
    """The group of the ``group`` hint (400 when there is no such group)."""
    uuids = (hints or {}).get("group") or []
    if not uuids:
        return None
    try:
        return InstanceGroup.get_by_uuid(context, uuids[0])
    except InstanceGroupNotFound as e:
        raise exception.Invalid(reason=e.format_message()) from None


def check_members_quota(context: RequestContext, group: InstanceGroup, count: int) -> None:
    """403 when ``count`` more servers would take the group over the
    ``server_group_members`` quota of the caller's project (as Nova counts
    it: the group's servers that belong to the caller)."""
    limit = quota.get_project_quotas(str(context.project_id))["server_group_members"]
    if limit == quota.UNLIMITED:
        return
    mine = len(InstanceList.get_by_filters(
        context, {"uuids": list(group.members), "user_id": context.user_id},
        sort_key="id")) if group.members else 0
    if mine + count > limit:
        raise ServerGroupMembersOverQuota()


def add_members(context: RequestContext, group: InstanceGroup,
                instance_uuids: list[str]) -> None:
    group.members = InstanceGroup.add_members(context, group.uuid, instance_uuids)
