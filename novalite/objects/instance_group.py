"""InstanceGroup: a server group, as Nova's object of that name.

A group has one policy (``affinity``, ``anti-affinity`` and their ``soft-``
variants) and, for ``anti-affinity``, optional rules
(``max_server_per_host``). Servers join at create with the ``group``
scheduler hint; the scheduler's ServerGroup* filters and weighers read
where the members run (``member_hosts``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from oslo_utils import uuidutils
from oslo_versionedobjects import fields

from novalite.db import instance_groups as db
from novalite.objects import base

if TYPE_CHECKING:
    from novalite.context import RequestContext

AFFINITY = "affinity"
ANTI_AFFINITY = "anti-affinity"
SOFT_AFFINITY = "soft-affinity"
SOFT_ANTI_AFFINITY = "soft-anti-affinity"
POLICIES = (AFFINITY, ANTI_AFFINITY, SOFT_AFFINITY, SOFT_ANTI_AFFINITY)
MAX_SERVER_PER_HOST = "max_server_per_host"

InstanceGroupNotFound = db.InstanceGroupNotFound


@base.register
class InstanceGroup(base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(),
        "uuid": fields.UUIDField(),
        "name": fields.StringField(nullable=True),
        "project_id": fields.StringField(nullable=True),
        "user_id": fields.StringField(nullable=True),
        "policy": fields.StringField(),
        "rules": fields.DictOfIntegersField(default={}),
        "members": fields.ListOfStringsField(default=[]),
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
    }

    @property
    def max_server_per_host(self) -> int:
        """How many members an anti-affinity group allows on one host (1 unless a rule says)."""
        return int(self.rules.get(MAX_SERVER_PER_HOST, 1)) if self.rules else 1

    @base.remotable
    def create(self) -> None:
        values = {n: getattr(self, n) for n in ("name", "project_id", "user_id", "policy",
                                                "rules") if self.obj_attr_is_set(n)}
        values["uuid"] = self.uuid if self.obj_attr_is_set("uuid") else uuidutils.generate_uuid()
        self._from_db_object(self._context, self, db.instance_group_create(values))

    @base.remotable
    def destroy(self) -> None:
        db.instance_group_destroy(self.uuid)

    @classmethod
    @base.remotable
    def get_by_uuid(cls, context: RequestContext, uuid: str,
                    project_id: str | None = None) -> InstanceGroup:
        """The group; with ``project_id`` only that project's (else InstanceGroupNotFound)."""
        return cast("InstanceGroup", cls._from_db_object(
            context, cls(), db.instance_group_get(uuid, project_id)))

    @classmethod
    @base.remotable
    def get_by_instance_uuid(cls, context: RequestContext, instance_uuid: str) -> InstanceGroup:
        return cast("InstanceGroup", cls._from_db_object(
            context, cls(), db.instance_group_get_by_instance(instance_uuid)))

    @classmethod
    @base.remotable
    def add_members(cls, context: RequestContext, group_uuid: str,
                    instance_uuids: list[str]) -> list[str]:
        """Record servers as members; the group's members after."""
        return list(db.instance_group_members_add(group_uuid, instance_uuids))

    @classmethod
    @base.remotable
    def get_member_hosts(cls, context: RequestContext, group_uuid: str) -> dict[str, str]:
        """``{member uuid: host}`` of the members that have a host."""
        return dict(db.instance_group_member_hosts(group_uuid))


@base.register
class InstanceGroupList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("InstanceGroup")}

    @classmethod
    @base.remotable
    def get_all(cls, context: RequestContext, project_id: str | None = None,
                limit: int | None = None, offset: int | None = None) -> InstanceGroupList:
        """Every group, or ``project_id``'s, oldest first."""
        return cast("InstanceGroupList", base.obj_make_list(
            context, cls(), InstanceGroup, db.instance_group_get_all(project_id, limit, offset)))

    @classmethod
    @base.remotable
    def get_count_by_project(cls, context: RequestContext, project_id: str) -> int:
        return int(db.instance_group_count_by_project(project_id))


__all__ = ["InstanceGroup", "InstanceGroupList", "InstanceGroupNotFound", "POLICIES"]
