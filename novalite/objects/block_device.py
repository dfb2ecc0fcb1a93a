"""BlockDeviceMapping(List): an instance's block devices, in Nova's shape
(so far only the image-backed local root disk the API records at create)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oslo_versionedobjects import fields

from novalite.db import block_devices as db
from novalite.objects import base

if TYPE_CHECKING:
    from novalite.context import RequestContext

ROOT_DEVICE_NAME = "/dev/vda"


@base.register
class BlockDeviceMapping(base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"

    fields = {
        "id": fields.IntegerField(),
        "instance_uuid": fields.UUIDField(),
        "source_type": fields.StringField(),
        "destination_type": fields.StringField(),
        "boot_index": fields.IntegerField(nullable=True),
        "device_name": fields.StringField(nullable=True),
        "device_type": fields.StringField(nullable=True),
        "disk_bus": fields.StringField(nullable=True),
        "image_id": fields.StringField(nullable=True),
        "volume_id": fields.StringField(nullable=True),
        "volume_size": fields.IntegerField(nullable=True),
        "guest_format": fields.StringField(nullable=True),
        "delete_on_termination": fields.BooleanField(default=False),
    }

    @classmethod
    def image_root(cls, context: RequestContext, instance_uuid: str,
                   image_id: str) -> BlockDeviceMapping:
        """The root disk made from ``image_id`` on the host's local disk."""
        return cls(context=context, instance_uuid=instance_uuid, source_type="image",
                   destination_type="local", boot_index=0, device_name=ROOT_DEVICE_NAME,
                   device_type="disk", disk_bus=None, image_id=image_id, volume_id=None,
                   volume_size=None, guest_format=None, delete_on_termination=True)

    @property
    def is_root(self) -> bool:
        return bool(self.boot_index == 0)

    @base.remotable
    def create(self) -> None:
        values = {n: getattr(self, n) for n in self.fields
                  if n != "id" and self.obj_attr_is_set(n)}
        row = db.block_device_mapping_create(values)
        self.id = row["id"]
        self.obj_reset_changes()


@base.register
class BlockDeviceMappingList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    VERSION = "1.0"
    fields = {"objects": fields.ListOfObjectsField("BlockDeviceMapping")}

    @classmethod
    @base.remotable
    def get_by_instance_uuid(cls, context: RequestContext,
                             instance_uuid: str) -> BlockDeviceMappingList:
        """The instance's mappings, the boot device first."""
        lst: BlockDeviceMappingList = base.obj_make_list(
            context, cls(), BlockDeviceMapping,
            db.block_device_mapping_get_all_by_instance(instance_uuid))
        return lst

    def block_device_info(self) -> dict[str, Any]:
        """What the driver contract takes: the root device's name, and the
        mappings other than an image-backed root (none yet: no volumes)."""
        root = next((b for b in self.objects if b.is_root), None)
        return {"root_device_name": root.device_name if root is not None and root.device_name
                else ROOT_DEVICE_NAME,
                "block_device_mapping": [b.obj_to_primitive()["novalite_object.data"]
                                         for b in self.objects
                                         if b.destination_type == "volume"]}


__all__ = ["BlockDeviceMapping", "BlockDeviceMappingList"]
