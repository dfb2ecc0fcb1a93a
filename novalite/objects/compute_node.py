"""ComputeNode: the resources a compute host reports."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from oslo_versionedobjects import fields

from novalite.db import api as db
from novalite.objects import base

if TYPE_CHECKING:
    from novalite.context import RequestContext

_SKIP = ("id", "created_at", "updated_at")


@base.register
class ComputeNode(base.NovaliteObject, base.NovaliteObjectDictCompat):
    # Version 1.0: Initial version
    # Version 1.1: Added hypervisor_description (e.g. 'QEMU 7.2.22, qemu (TCG)')
    VERSION = "1.1"

    fields = {
        "id": fields.IntegerField(),
        "host": fields.StringField(),
        "hypervisor_description": fields.StringField(nullable=True),
        "hypervisor_hostname": fields.StringField(),
        "hypervisor_type": fields.StringField(),
        "hypervisor_version": fields.IntegerField(default=0),
        "vcpus": fields.IntegerField(),
        "memory_mb": fields.IntegerField(),
        "local_gb": fields.IntegerField(),
        "vcpus_used": fields.IntegerField(default=0),
        "memory_mb_used": fields.IntegerField(default=0),
        "local_gb_used": fields.IntegerField(default=0),
        "running_vms": fields.IntegerField(default=0),
        "cpu_allocation_ratio": fields.FloatField(),
        "ram_allocation_ratio": fields.FloatField(),
        "disk_allocation_ratio": fields.FloatField(),
        "host_ip": fields.StringField(nullable=True),
        "created_at": fields.DateTimeField(nullable=True),
        "updated_at": fields.DateTimeField(nullable=True),
    }

    @base.remotable
    def create(self) -> None:
        values = {n: getattr(self, n) for n in self.fields
                  if self.obj_attr_is_set(n) and n not in _SKIP}
        self._from_db_object(self._context, self, db.compute_node_create(values))

    @base.remotable
    def save(self) -> None:
        values = {n: getattr(self, n) for n in self.obj_what_changed() if n not in _SKIP}
        if values:
            self._from_db_object(self._context, self, db.compute_node_update(self.id, values))


@base.register
class ComputeNodeList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("ComputeNode")}

    @classmethod
    @base.remotable
    def get_all(cls, context: RequestContext, host: str | None = None) -> ComputeNodeList:
        return cast("ComputeNodeList", base.obj_make_list(context, cls(), ComputeNode, db.compute_node_get_all(host)))
