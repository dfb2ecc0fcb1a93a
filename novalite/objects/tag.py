"""Tag and TagList: a server's tags (Nova's objects of the same names,
microversion 2.26). The API reaches the ``tags`` table only through these."""

from __future__ import annotations

from typing import TYPE_CHECKING

from oslo_versionedobjects import fields

from novalite import exception
from novalite.db import tags as db
from novalite.objects import base

if TYPE_CHECKING:
    from novalite.context import RequestContext


@base.register
class Tag(base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "resource_id": fields.StringField(),
        "tag": fields.StringField(),
    }

    @base.remotable
    def create(self, limit: int) -> bool:
        """Add the tag; False when the server had it already. Raises
        Invalid when the server has ``limit`` tags already (checked first,
        as Nova does)."""
        try:
            return bool(db.tag_add(self.resource_id, self.tag, limit))
        except ValueError:
            raise exception.Invalid(
                reason=f"server {self.resource_id} has {limit} tags already") from None

    @classmethod
    @base.remotable
    def exists(cls, context: RequestContext, resource_id: str, tag: str) -> bool:
        return bool(db.tag_exists(resource_id, tag))

    @classmethod
    @base.remotable
    def destroy(cls, context: RequestContext, resource_id: str, tag: str) -> bool:
        """Remove the tag; False when the server did not have it."""
        return bool(db.tag_delete(resource_id, tag))


@base.register
class TagList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("Tag")}

    @classmethod
    @base.remotable
    def get_by_resource_ids(cls, context: RequestContext,
                            resource_ids: list[str]) -> dict[str, list[str]]:
        """``{server uuid: [tag, ...]}`` (sorted) for the servers that have tags."""
        return dict(db.tag_get_by_instance_uuids(list(resource_ids)))

    @classmethod
    @base.remotable
    def create(cls, context: RequestContext, resource_id: str, tags: list[str]) -> list[str]:
        """Replace the server's tags with ``tags``; the new set, sorted."""
        return list(db.tag_set(resource_id, list(tags)))

    @classmethod
    @base.remotable
    def destroy(cls, context: RequestContext, resource_id: str) -> None:
        db.tag_delete_all(resource_id)


__all__ = ["Tag", "TagList"]
