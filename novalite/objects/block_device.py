"""BlockDeviceMapping(List): an instance's block devices, in Nova's shape:
the image-backed local root disk the API records at create, and volumes
(a root volume for a server booted from one, data volumes) with their
attachment in the volume service and the connection_info the host used."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from oslo_utils import uuidutils
from oslo_versionedobjects import fields

from novalite.db import block_devices as db
from novalite.objects import base

if TYPE_CHECKING:
    from novalite.context import RequestContext

ROOT_DEVICE_NAME = "/dev/vda"
DEVICE_PREFIX = "/dev/vd"


@base.register
class BlockDeviceMapping(base.NovaliteObject):
    # Version 1.0: Initial version
    # Version 1.1: uuid, tag, attachment_id, connection_info, volume_type,
    #              snapshot_id (volumes, issue 14); save, destroy,
    #              get_by_volume_and_instance
    VERSION = "1.1"

    fields = {
        "id": fields.IntegerField(),
        "uuid": fields.UUIDField(nullable=True),
        "instance_uuid": fields.UUIDField(),
        "source_type": fields.StringField(),
        "destination_type": fields.StringField(),
        "boot_index": fields.IntegerField(nullable=True),
        "device_name": fields.StringField(nullable=True),
        "device_type": fields.StringField(nullable=True),
        "disk_bus": fields.StringField(nullable=True),
        "image_id": fields.StringField(nullable=True),
        "snapshot_id": fields.StringField(nullable=True),
        "volume_id": fields.StringField(nullable=True),
        "volume_size": fields.IntegerField(nullable=True),
        "volume_type": fields.StringField(nullable=True),
        "guest_format": fields.StringField(nullable=True),
        "delete_on_termination": fields.BooleanField(default=False),
        "tag": fields.StringField(nullable=True),
        "attachment_id": fields.UUIDField(nullable=True),
        # NOTE: JSON text, as Nova keeps it (it holds the NBD export's
        # secret name: never shown by the API).
        "connection_info": fields.SensitiveStringField(nullable=True),
    }

    def obj_make_compatible(self, primitive: dict[str, Any], target_version: str) -> None:
        super().obj_make_compatible(primitive, target_version)
        if target_version == "1.0":
            for name in ("uuid", "tag", "attachment_id", "connection_info", "volume_type",
                         "snapshot_id"):
                primitive.pop(name, None)

    @classmethod
    def image_root(cls, context: RequestContext, instance_uuid: str,
                   image_id: str) -> BlockDeviceMapping:
        """The root disk made from ``image_id`` on the host's local disk."""
        return cls(context=context, uuid=uuidutils.generate_uuid(),
                   instance_uuid=instance_uuid, source_type="image",
                   destination_type="local", boot_index=0, device_name=ROOT_DEVICE_NAME,
                   device_type="disk", disk_bus=None, image_id=image_id, volume_id=None,
                   volume_size=None, guest_format=None, delete_on_termination=True)

    @property
    def is_root(self) -> bool:
        return bool(self.boot_index == 0)

    @property
    def is_volume(self) -> bool:
        return bool(self.destination_type == "volume")

    def get_connection_info(self) -> dict[str, Any] | None:
        raw = self.connection_info if self.obj_attr_is_set("connection_info") else None
        return json.loads(raw) if raw else None

    def set_connection_info(self, info: dict[str, Any] | None) -> None:
        self.connection_info = json.dumps(info) if info is not None else None

    def driver_bdm(self) -> dict[str, Any]:
        """This volume as block_device_info's ``block_device_mapping``
        entries are (the driver contract's shape)."""
        return {"connection_info": self.get_connection_info(),
                "mount_device": self.device_name,
                "boot_index": self.boot_index, "disk_bus": self.disk_bus or "virtio",
                "device_type": self.device_type or "disk",
                "delete_on_termination": bool(self.delete_on_termination),
                "attachment_id": self.attachment_id}

    @base.remotable
    def create(self) -> None:
        values = {n: getattr(self, n) for n in self.fields
                  if n != "id" and self.obj_attr_is_set(n)}
        if not values.get("uuid"):
            values["uuid"] = self.uuid = uuidutils.generate_uuid()
        row = db.block_device_mapping_create(values)
        self.id = row["id"]
        self.obj_reset_changes()

    @base.remotable
    def save(self) -> None:
        changes = {n: getattr(self, n) for n in self.obj_what_changed() if n != "id"}
        if changes:
            db.block_device_mapping_update(self.id, changes)
        self.obj_reset_changes()

    @base.remotable
    def destroy(self) -> None:
        db.block_device_mapping_destroy(self.id)

    @classmethod
    @base.remotable
    def get_by_volume_and_instance(cls, context: RequestContext, volume_id: str,
                                   instance_uuid: str) -> BlockDeviceMapping:
        """The instance's mapping of ``volume_id``; BlockDeviceMappingNotFound
        when the volume is not attached to it."""
        rows = db.block_device_mapping_get_by_volume(volume_id, instance_uuid)
        if not rows:
            raise db.BlockDeviceMappingNotFound(id=f"of volume {volume_id}")
        obj: BlockDeviceMapping = cls._from_db_object(context, cls(), rows[0])
        return obj


@base.register
class BlockDeviceMappingList(base.ObjectListBase, base.NovaliteObject):
    # Version 1.0: Initial version
    # Version 1.1: BlockDeviceMapping 1.1
    VERSION = "1.1"
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

    @classmethod
    def volumes_by_instance(cls, context: RequestContext,
                            instance_uuids: list[str]) -> dict[str, list[BlockDeviceMapping]]:
        """The API's server views: each instance's volumes, one query."""
        out: dict[str, list[BlockDeviceMapping]] = {}
        for row in db.block_device_mapping_get_volumes(instance_uuids):
            bdm: BlockDeviceMapping = BlockDeviceMapping._from_db_object(
                context, BlockDeviceMapping(), row)
            out.setdefault(row["instance_uuid"], []).append(bdm)
        return out

    @property
    def volumes(self) -> list[BlockDeviceMapping]:
        return [b for b in self.objects if b.is_volume]

    def root_is_volume(self) -> bool:
        return any(b.is_root and b.is_volume for b in self.objects)

    def next_device_name(self) -> str:
        """The first /dev/vdX no mapping of the instance uses (vda is the
        root's, a local disk or a volume)."""
        used = {b.device_name for b in self.objects if b.device_name}
        used.add(ROOT_DEVICE_NAME)
        for letter in "bcdefghijklmnopqrstuvwxyz":
            name = DEVICE_PREFIX + letter
            if name not in used:
                return name
        from novalite import exception

        raise exception.Conflict(reason="the instance has no free device name left "
                                        "(/dev/vdb ... /dev/vdz are all in use)")

    def block_device_info(self) -> dict[str, Any]:
        """What the driver contract takes: the root device's name and the
        instance's volumes (a root volume has boot_index 0 at /dev/vda: the
        driver then makes no local root disk); volumes not yet connected
        (no connection_info) are left out."""
        root = next((b for b in self.objects if b.is_root), None)
        return {"root_device_name": root.device_name if root is not None and root.device_name
                else ROOT_DEVICE_NAME,
                "ephemerals": [], "swap": None,
                "block_device_mapping": [b.driver_bdm() for b in self.volumes
                                         if b.get_connection_info() is not None]}


__all__ = ["BlockDeviceMapping", "BlockDeviceMappingList"]
