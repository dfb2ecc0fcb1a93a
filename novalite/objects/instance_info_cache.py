"""InstanceInfoCache: an instance's network_info (its VIFs, Nova's shape),
as the network allocation recorded it (Nova's object of the same name)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from oslo_versionedobjects import fields

from novalite.db import info_caches as db
from novalite.objects import base

if TYPE_CHECKING:
    from novalite.context import RequestContext


@base.register
class InstanceInfoCache(base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "instance_uuid": fields.UUIDField(),
        # NOTE: JSON text, as Nova's NetworkModel field puts it on the wire.
        "network_info": fields.StringField(default="[]"),
    }

    @property
    def vifs(self) -> list[dict[str, Any]]:
        """The VIFs ([] when there are none or the text is not a list)."""
        try:
            value = json.loads(self.network_info or "[]")
        except ValueError:
            return []
        return value if isinstance(value, list) else []

    @classmethod
    @base.remotable
    def get_by_instance_uuid(cls, context: RequestContext,
                             instance_uuid: str) -> InstanceInfoCache:
        """The instance's cache; an empty one when it never had ports."""
        cache = cls(context=context, instance_uuid=instance_uuid,
                    network_info=db.info_cache_get(instance_uuid) or "[]")
        cache.obj_reset_changes()
        return cache


__all__ = ["InstanceInfoCache"]
