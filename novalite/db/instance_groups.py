"""Server group queries: groups (one policy, its rules), their members, and
where the members run.

Members are instance uuids recorded when a server is created into a group;
a deleted server stops counting (members, quota, the hosts the scheduler's
affinity filters see) as soon as its instance row is deleted.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from novalite import exception
from novalite.db import models
from novalite.db.api import _session
from novalite.db.retry import retry_on_db_error


class InstanceGroupNotFound(exception.NotFound):
    msg_fmt = "Instance group %(group_uuid)s could not be found."


class InstanceGroupIdExists(exception.Conflict):
    msg_fmt = "Instance group %(group_uuid)s already exists."


def _live_members(s: Any, group_ids: list[int]) -> dict[int, list[str]]:
    """Member uuids per group, servers that still exist only, oldest first."""
    M, Inst = models.InstanceGroupMember, models.Instance
    q = (sa.select(M.group_id, M.instance_uuid)
         .join(Inst, sa.and_(Inst.uuid == M.instance_uuid, Inst.deleted == 0))
         .where(M.group_id.in_(group_ids)).order_by(M.id))
    out: dict[int, list[str]] = {gid: [] for gid in group_ids}
    for gid, uuid in s.execute(q):
        out[gid].append(uuid)
    return out


def _group_dicts(s: Any, rows: list[models.InstanceGroup]) -> list[dict]:
    members = _live_members(s, [r.id for r in rows]) if rows else {}
    out = []
    for r in rows:
        d = r.as_dict()
        d["rules"] = dict(r.rules or {})
        d["members"] = members.get(r.id, [])
        out.append(d)
    return out


@retry_on_db_error(idempotent=False)
def instance_group_create(values: dict) -> dict:
    try:
        with _session() as s:
            row = models.InstanceGroup(**values)
            s.add(row)
            s.flush()
            return _group_dicts(s, [row])[0]
    except sa_exc.IntegrityError:
        raise InstanceGroupIdExists(group_uuid=values.get("uuid")) from None


@retry_on_db_error
def instance_group_get(group_uuid: str, project_id: str | None = None) -> dict:
    """The group; with ``project_id`` only if it is that project's."""
    with _session() as s:
        q = sa.select(models.InstanceGroup).filter_by(uuid=group_uuid)
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
        row = s.scalar(q)
        if row is None:
            raise InstanceGroupNotFound(group_uuid=group_uuid)
        return _group_dicts(s, [row])[0]


@retry_on_db_error
def instance_group_get_by_instance(instance_uuid: str) -> dict:
    """The group ``instance_uuid`` is a member of (InstanceGroupNotFound if none)."""
    with _session() as s:
        q = (sa.select(models.InstanceGroup)
             .join(models.InstanceGroupMember,
                   models.InstanceGroupMember.group_id == models.InstanceGroup.id)
             .where(models.InstanceGroupMember.instance_uuid == instance_uuid))
        row = s.scalar(q)
        if row is None:
            raise InstanceGroupNotFound(group_uuid=f"of instance {instance_uuid}")
        return _group_dicts(s, [row])[0]


@retry_on_db_error
def instance_group_get_all(project_id: str | None = None, limit: int | None = None,
                           offset: int | None = None) -> list[dict]:
    """Groups (of ``project_id``, or all), oldest first."""
    with _session() as s:
        q = sa.select(models.InstanceGroup).order_by(models.InstanceGroup.id)
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
        if offset:
            q = q.offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return _group_dicts(s, list(s.scalars(q)))


@retry_on_db_error
def instance_group_count_by_project(project_id: str) -> int:
    with _session() as s:
        q = sa.select(sa.func.count()).select_from(models.InstanceGroup).filter_by(
            project_id=project_id)
        return int(s.scalar(q) or 0)


@retry_on_db_error(idempotent=False)
def instance_group_destroy(group_uuid: str, project_id: str | None = None) -> None:
    with _session() as s:
        q = sa.select(models.InstanceGroup).filter_by(uuid=group_uuid)
        if project_id is not None:
            q = q.filter_by(project_id=project_id)
        row = s.scalar(q)
        if row is None:
            raise InstanceGroupNotFound(group_uuid=group_uuid)
        s.execute(sa.delete(models.InstanceGroupMember).filter_by(group_id=row.id))
        s.delete(row)


@retry_on_db_error
def instance_group_members_add(group_uuid: str, instance_uuids: list[str]) -> list[str]:
    """Add members (those already in are kept once); the live members after."""
    with _session() as s:
        row = s.scalar(sa.select(models.InstanceGroup).filter_by(uuid=group_uuid))
        if row is None:
            raise InstanceGroupNotFound(group_uuid=group_uuid)
        have = set(s.scalars(sa.select(models.InstanceGroupMember.instance_uuid)
                             .filter_by(group_id=row.id)))
        for uuid in dict.fromkeys(instance_uuids):
            if uuid not in have:
                s.add(models.InstanceGroupMember(group_id=row.id, instance_uuid=uuid))
        s.flush()
        return _live_members(s, [row.id])[row.id]


@retry_on_db_error
def instance_group_member_hosts(group_uuid: str) -> dict[str, str]:
    """``{instance_uuid: host}`` of the live members placed on a host."""
    M, Inst, G = models.InstanceGroupMember, models.Instance, models.InstanceGroup
    with _session() as s:
        q = (sa.select(Inst.uuid, Inst.host)
             .join(M, M.instance_uuid == Inst.uuid).join(G, G.id == M.group_id)
             .where(G.uuid == group_uuid, Inst.deleted == 0, Inst.host.is_not(None)))
        return {uuid: str(host) for uuid, host in s.execute(q)}
