"""The volume operations the API side runs (Cinder's ``volume/api.py``):
validate, check quota and record in the database, then ask the volume's
host for the backend part over RPC. The Block Storage API's controllers,
the Compute API's os-volume_attachments and the volume service's own RPC
endpoints (for compute, which has no database) all use this class.

Status machine (Cinder's): creating -> available -> reserved (an attachment
without a connector) -> attaching (connector given, connection_info made)
-> in-use (completed) -> detaching -> available; extending, deleting;
error, error_deleting, error_extending with the reason in ``fault``.
Status changes are compare-and-swap updates: of two racing requests one
wins and the other gets Cinder's 400 "Invalid volume" naming the status.

Isolation: a volume, snapshot or attachment of another project is
VolumeNotFound (404) for anyone but an admin, on every verb.
"""

from __future__ import annotations

from typing import Any

from oslo_log import log as logging
from oslo_utils import timeutils, uuidutils

from novalite import exception, policy
from novalite.conf import CONF
from novalite.db import volumes as db
from novalite.volume import exceptions as v_exc
from novalite.volume import quotas, rpcapi

LOG = logging.getLogger(__name__)

BINARY = "novalite-volume"
MAX_SIZE = 2 ** 31 - 1
DELETABLE = ("available", "error", "error_restoring", "error_extending", "error_managing")
SNAPSHOT_DELETABLE = ("available", "error", "error_deleting")
ATTACH_STATUSES = ("reserved", "attaching", "attached", "detaching", "error_attaching")


def is_admin(context: Any) -> bool:
    return bool(getattr(context, "is_admin", False)) or policy.check_is_admin(context)


def _owned(context: Any, row: dict[str, Any]) -> bool:
    return is_admin(context) or row.get("project_id") == context.project_id


def type_names() -> dict[str, str]:
    """Volume type id -> name."""
    return {t["id"]: t["name"] for t in db.volume_type_get_all()}


def pick_host(context: Any, availability_zone: str | None = None) -> str:
    """The volume service a new volume goes to: among those up, the one
    holding the fewest gibibytes (Cinder's capacity weigher, by allocation)."""
    from novalite.objects.service import ServiceList

    zone = CONF.volume.availability_zone
    if availability_zone and availability_zone != zone:
        raise v_exc.InvalidInput(reason=f"Availability zone '{availability_zone}' is invalid.")
    up = sorted(s.host for s in ServiceList.get_all(context, binary=BINARY) if s.is_up())
    if not up:
        raise v_exc.NoValidVolumeHost(reason="No volume service (novalite-volume) is up.")
    return min(up, key=db.allocated_gb)


class _HostPart:
    """The host part of an operation: the volume service of ``host`` over
    RPC, or ``local`` (a volume service's own manager) directly when the
    volume is its own, so a volume service never waits on a call to itself."""

    def __init__(self, client: rpcapi.VolumeAPI, local: Any = None) -> None:
        self.client, self.local = client, local

    def _here(self, host: str | None) -> bool:
        return self.local is not None and host == self.local.host

    def create_volume(self, context: Any, host: str, volume_id: str) -> None:
        self.client.create_volume(context, host, volume_id)

    def delete_volume(self, context: Any, host: str, volume_id: str) -> None:
        self.client.delete_volume(context, host, volume_id)

    def extend_volume(self, context: Any, host: str, volume_id: str, new_size: int) -> None:
        self.client.extend_volume(context, host, volume_id, new_size)

    def create_snapshot(self, context: Any, host: str, snapshot_id: str) -> None:
        self.client.create_snapshot(context, host, snapshot_id)

    def delete_snapshot(self, context: Any, host: str, snapshot_id: str) -> None:
        self.client.delete_snapshot(context, host, snapshot_id)

    def initialize_connection(self, context: Any, host: str, attachment_id: str,
                              connector: dict[str, Any]) -> dict[str, Any]:
        if self._here(host):
            result: dict[str, Any] = self.local.initialize_connection(context, attachment_id,
                                                                      connector)
            return result
        return self.client.initialize_connection(context, host, attachment_id, connector)

    def revert_to_snapshot(self, context: Any, host: str, volume_id: str,
                           snapshot_id: str) -> None:
        self.client.revert_to_snapshot(context, host, volume_id, snapshot_id)

    def terminate_connection(self, context: Any, host: str, attachment_id: str) -> None:
        if self._here(host):
            self.local.terminate_connection(context, attachment_id)
            return
        self.client.terminate_connection(context, host, attachment_id)


class API:
    def __init__(self, local: Any = None) -> None:
        """``local``: the volume service's manager when this runs in one."""
        self.rpc = _HostPart(rpcapi.VolumeAPI(), local)

    # -- volumes -----------------------------------------------------------------

    def get(self, context: Any, volume_id: str) -> dict[str, Any]:
        vol = db.volume_get(volume_id)
        if not _owned(context, vol):
            raise v_exc.VolumeNotFound(volume_id=volume_id)
        return vol

    def get_all(self, context: Any, all_projects: bool = False,
                project_id: str | None = None) -> list[dict[str, Any]]:
        if not is_admin(context):
            return db.volume_get_all(project_id=context.project_id)
        if project_id:
            return db.volume_get_all(project_id=project_id)
        return db.volume_get_all(None if all_projects else context.project_id)

    def create(self, context: Any, size: int | None, name: str | None = None,
               description: str | None = None, image_id: str | None = None,
               snapshot_id: str | None = None, source_volid: str | None = None,
               availability_zone: str | None = None, metadata: dict | None = None,
               volume_type: str | None = None, host: str | None = None,
               cast: bool = True) -> dict[str, Any]:
        """Record a new volume (``creating``) and cast its making to its
        host; with ``cast=False`` the caller makes it (the volume service's
        own RPC create). A volume no host can take is recorded in ``error``."""
        vtype = db.volume_type_get(volume_type or db.DEFAULT_TYPE_NAME)
        values: dict[str, Any] = {"name": name, "description": description,
                                  "volume_metadata": dict(metadata or {}),
                                  "volume_type_id": vtype["id"],
                                  "project_id": context.project_id,
                                  "user_id": context.user_id, "status": "creating",
                                  "availability_zone": availability_zone or
                                  CONF.volume.availability_zone}
        sources = [s for s in (image_id, snapshot_id, source_volid) if s]
        if len(sources) > 1:
            raise v_exc.InvalidInput(reason="only one of imageRef, snapshot_id and "
                                            "source_volid may be given")
        if snapshot_id:
            snap = self.get_snapshot(context, snapshot_id)
            if snap["status"] != "available":
                raise v_exc.InvalidSnapshot(reason=f"Originating snapshot status must be "
                                                   f"one of 'available' values, it is "
                                                   f"'{snap['status']}'")
            size = size or snap["size"]
            if size < snap["size"]:
                raise v_exc.InvalidInput(reason=f"Volume size '{size}'GB cannot be smaller "
                                                f"than the snapshot size {snap['size']}GB. "
                                                "They must be >= original snapshot size.")
            parent = db.volume_get(snap["volume_id"])
            host = parent["host"]
            values.update(snapshot_id=snapshot_id, bootable=parent["bootable"],
                          volume_image_metadata=parent.get("volume_image_metadata"))
        if source_volid:
            src = self.get(context, source_volid)
            if src["status"] not in ("available", "in-use"):
                raise v_exc.InvalidVolume(reason=f"Unable to clone volumes that are in "
                                                 f"'{src['status']}' state")
            size = size or src["size"]
            if size < src["size"]:
                raise v_exc.InvalidInput(reason=f"Volume size '{size}'GB cannot be smaller "
                                                f"than original volume size {src['size']}GB. "
                                                "They must be >= original volume size.")
            host = src["host"]
            values.update(source_volid=source_volid, bootable=src["bootable"],
                          volume_image_metadata=src.get("volume_image_metadata"))
        if image_id:
            values.update(self._image_values(context, image_id, size))
        if size is None or isinstance(size, bool) or not isinstance(size, int) or \
                not 0 < size <= MAX_SIZE:
            raise v_exc.InvalidInput(reason=f"Volume size '{size}' must be an integer and "
                                            "greater than 0")
        values["size"] = size
        fault = None
        if host is None:
            try:
                host = pick_host(context, availability_zone)
            except v_exc.NoValidVolumeHost as e:
                fault = e.format_message()
        if fault:
            values.update(status="error", fault=fault)
        values["host"] = host
        with quotas.reserve(context.project_id, volumes=1, gigabytes=size):
            vol = db.volume_create(values)
        if host and cast:
            self.rpc.create_volume(context, host, vol["id"])
        return vol

    def _image_values(self, context: Any, image_id: str, size: int | None) -> dict[str, Any]:
        from novalite.image import api as image_api

        try:
            image = image_api.API().get(context, image_id)
        except exception.NotFound:
            raise v_exc.InvalidInput(reason="Invalid image identifier or unable to access "
                                            "requested image.") from None
        if image["status"] != "active":
            raise v_exc.InvalidInput(reason=f"Image {image_id} is not active.")
        gib = 1024 ** 3
        needed = max(int(image.get("min_disk") or 0),
                     -(-int(image.get("virtual_size") or image.get("size") or 0) // gib))
        if size is not None and size < needed:
            raise v_exc.InvalidInput(reason=f"Volume size {size}GB cannot be smaller than the "
                                            f"image minDisk size {needed}GB.")
        meta = {"image_id": image_id, "image_name": image.get("name"),
                "disk_format": image.get("disk_format"),
                "container_format": image.get("container_format"),
                "min_disk": str(image.get("min_disk") or 0),
                "min_ram": str(image.get("min_ram") or 0),
                "size": str(image.get("size") or 0), "checksum": image.get("checksum")}
        meta.update({k: str(v) for k, v in (image.get("properties") or {}).items()})
        return {"image_id": image_id, "bootable": True,
                "volume_image_metadata": {k: v for k, v in meta.items() if v is not None}}

    def update(self, context: Any, volume_id: str, values: dict[str, Any]) -> dict[str, Any]:
        self.get(context, volume_id)
        return db.volume_update(volume_id, values)

    def delete(self, context: Any, volume_id: str, force: bool = False,
               cascade: bool = False) -> None:
        """Cinder's delete: not while attached, nor with snapshots (unless
        ``cascade``: they go first); the data is discarded on the volume's
        host (the row goes once it is)."""
        vol = self.get(context, volume_id)
        snapshots = db.snapshot_get_all(volume_id=volume_id)
        if snapshots and not cascade:
            raise v_exc.InvalidVolume(reason="Volume has snapshots, volume status must be "
                                             "available or error, and must not be part of a "
                                             "group")
        for snap in snapshots:
            db.snapshot_update(snap["id"], {"status": "deleting"},
                               expected=list(SNAPSHOT_DELETABLE) + ["deleting"])
        allowed = list(DELETABLE) + (["creating", "deleting", "error_deleting"] if force
                                     else ["error_deleting"])
        vol = db.volume_update(volume_id, {"status": "deleting", "previous_status":
                                           vol["status"]},
                               expected={"status": allowed, "attach_status": ["detached"]})
        if not vol["host"]:
            db.volume_destroy(volume_id)
            return
        self.rpc.delete_volume(context, vol["host"], volume_id)

    def extend(self, context: Any, volume_id: str, new_size: int,
               attached_allowed: bool = True) -> dict[str, Any]:
        vol = self.get(context, volume_id)
        if not isinstance(new_size, int) or isinstance(new_size, bool) or \
                new_size <= vol["size"] or new_size > MAX_SIZE:
            raise v_exc.InvalidInput(reason=f"New size for extend must be greater than current "
                                            f"size. (current: {vol['size']}, extended: "
                                            f"{new_size}).")
        statuses = ["available"] + (["in-use"] if attached_allowed else [])
        with quotas.reserve(vol["project_id"], gigabytes=new_size - vol["size"]):
            vol = db.volume_update(volume_id, {"status": "extending",
                                               "previous_status": vol["status"]},
                                   expected={"status": statuses})
        self.rpc.extend_volume(context, vol["host"], volume_id, new_size)
        return vol

    def revert_to_snapshot(self, context: Any, volume_id: str, snapshot_id: str) -> None:
        """Cinder's revert (3.40): to the volume's latest snapshot, the
        volume available and its size the snapshot's."""
        vol = self.get(context, volume_id)
        snap = self.get_snapshot(context, snapshot_id)
        if snap["volume_id"] != volume_id:
            raise v_exc.InvalidSnapshot(reason=f"snapshot {snapshot_id} is not a snapshot of "
                                               f"volume {volume_id}")
        latest = db.snapshot_get_all(volume_id=volume_id)[-1]
        if latest["id"] != snapshot_id:
            raise v_exc.InvalidSnapshot(reason=f"Cannot revert volume {volume_id} to snapshot "
                                               f"{snapshot_id}: it is not the volume's latest "
                                               f"snapshot ({latest['id']})")
        if vol["size"] != snap["size"]:
            raise v_exc.InvalidVolume(reason=f"volume {volume_id} is {vol['size']}GB and the "
                                             f"snapshot {snap['size']}GB: a volume extended "
                                             "since its snapshot cannot be reverted")
        db.snapshot_update(snapshot_id, {"status": "restoring"}, expected=["available"])
        try:
            db.volume_update(volume_id, {"status": "reverting"},
                             expected={"status": ["available"]})
        except v_exc.InvalidVolume:
            db.snapshot_update(snapshot_id, {"status": "available"})
            raise
        self.rpc.revert_to_snapshot(context, vol["host"], volume_id, snapshot_id)

    def set_bootable(self, context: Any, volume_id: str, bootable: bool) -> dict[str, Any]:
        self.get(context, volume_id)
        return db.volume_update(volume_id, {"bootable": bootable})

    def reset_status(self, context: Any, volume_id: str, status: str | None,
                     attach_status: str | None = None,
                     migration_status: str | None = None) -> dict[str, Any]:
        self.get(context, volume_id)
        values: dict[str, Any] = {}
        if status:
            values["status"] = status
            if status not in ("error", "error_deleting", "error_extending"):
                values["fault"] = None
        if attach_status:
            values["attach_status"] = attach_status
        if migration_status:
            values["migration_status"] = None if migration_status == "none" \
                else migration_status
        return db.volume_update(volume_id, values)

    # -- snapshots ---------------------------------------------------------------

    def get_snapshot(self, context: Any, snapshot_id: str) -> dict[str, Any]:
        snap = db.snapshot_get(snapshot_id)
        if not _owned(context, snap):
            raise v_exc.SnapshotNotFound(snapshot_id=snapshot_id)
        return snap

    def get_all_snapshots(self, context: Any, all_projects: bool = False
                          ) -> list[dict[str, Any]]:
        if is_admin(context) and all_projects:
            return db.snapshot_get_all()
        return db.snapshot_get_all(project_id=context.project_id)

    def create_snapshot(self, context: Any, volume_id: str, name: str | None = None,
                        description: str | None = None, force: bool = False,
                        metadata: dict | None = None) -> dict[str, Any]:
        """Cinder's: an available volume, or an in-use one (``force``, which
        3.66 no longer needs); a crash-consistent copy of an in-use one."""
        vol = self.get(context, volume_id)
        allowed = ["available"] + (["in-use"] if force else [])
        if vol["status"] not in allowed:
            raise v_exc.InvalidVolume(reason=f"Volume {volume_id} status must be "
                                             f"{' or '.join(allowed)}, but current status is: "
                                             f"{vol['status']}.")
        with quotas.reserve(vol["project_id"], snapshots=1, gigabytes=vol["size"]):
            snap = db.snapshot_create({"volume_id": volume_id, "project_id": vol["project_id"],
                                       "user_id": context.user_id, "name": name,
                                       "description": description, "size": vol["size"],
                                       "status": "creating", "progress": "0%",
                                       "snapshot_metadata": dict(metadata or {})})
        self.rpc.create_snapshot(context, vol["host"], snap["id"])
        return snap

    def update_snapshot(self, context: Any, snapshot_id: str,
                        values: dict[str, Any]) -> dict[str, Any]:
        self.get_snapshot(context, snapshot_id)
        return db.snapshot_update(snapshot_id, values)

    def delete_snapshot(self, context: Any, snapshot_id: str) -> None:
        snap = self.get_snapshot(context, snapshot_id)
        db.snapshot_update(snapshot_id, {"status": "deleting"},
                           expected=list(SNAPSHOT_DELETABLE))
        vol = db.volume_get(snap["volume_id"])
        self.rpc.delete_snapshot(context, vol["host"], snapshot_id)

    def reset_snapshot_status(self, context: Any, snapshot_id: str,
                              status: str) -> dict[str, Any]:
        self.get_snapshot(context, snapshot_id)
        return db.snapshot_update(snapshot_id, {"status": status})

    # -- attachments (Cinder >= 3.27/3.44) ------------------------------------------------

    def get_attachment(self, context: Any, attachment_id: str) -> dict[str, Any]:
        att = db.attachment_get(attachment_id)
        vol = db.volume_get(att["volume_id"])
        if not _owned(context, vol):
            raise v_exc.VolumeAttachmentNotFound(attachment_id=attachment_id)
        return att

    def get_all_attachments(self, context: Any, all_projects: bool = False,
                            volume_id: str | None = None,
                            instance_uuid: str | None = None) -> list[dict[str, Any]]:
        project = None if is_admin(context) and all_projects else context.project_id
        return db.attachment_get_all(volume_id=volume_id, instance_uuid=instance_uuid,
                                     project_id=project)

    def attachment_create(self, context: Any, volume_id: str, instance_uuid: str,
                          connector: dict[str, Any] | None = None,
                          mode: str = "rw") -> dict[str, Any]:
        """Reserve the volume for the server; with a connector, connect it
        too (Cinder's attachment_create)."""
        if mode not in ("rw", "ro"):
            raise v_exc.InvalidVolumeAttachMode(mode=mode, volume_id=volume_id)
        vol = self.get(context, volume_id)
        if not uuidutils.is_uuid_like(instance_uuid):
            raise v_exc.InvalidInput(reason=f"instance_uuid {instance_uuid!r} is not a UUID")
        _vol, att = db.attachment_reserve(volume_id, instance_uuid, vol["project_id"],
                                          attach_mode=mode)
        if connector:
            return self.attachment_update(context, att["id"], connector)
        return att

    def attachment_update(self, context: Any, attachment_id: str,
                          connector: dict[str, Any]) -> dict[str, Any]:
        """Connect the attachment for the host of ``connector``: the
        volume's host makes the export (or names the file for a local
        attach) and the attachment records the connection_info."""
        if not isinstance(connector, dict) or not connector:
            raise v_exc.InvalidInput(reason="a connector is required")
        att = self.get_attachment(context, attachment_id)
        vol = db.volume_get(att["volume_id"])
        if att["attach_status"] not in ("reserved", "attaching", "attached",
                                        "error_attaching"):
            raise v_exc.InvalidVolume(reason=f"attachment {attachment_id} is "
                                             f"{att['attach_status']}")
        status = "attaching" if vol["status"] in ("reserved", "attaching") else vol["status"]
        # NOTE: an attached attachment connected again (same host) stays attached.
        state = "attached" if att["attach_status"] == "attached" else "attaching"
        db.attachment_update(attachment_id, {"attach_status": state,
                                             "connector": connector,
                                             "attached_host": connector.get("host")},
                             volume_values={"status": status},
                             volume_expected=["reserved", "attaching", "in-use"])
        try:
            info = self.rpc.initialize_connection(context, vol["host"], attachment_id,
                                                  connector)
        except Exception as e:
            LOG.warning("Connecting attachment %s of volume %s failed: %s", attachment_id,
                        vol["id"], e)
            db.attachment_update(attachment_id, {"attach_status": "error_attaching"})
            db.volume_settle(vol["id"])
            raise
        return db.attachment_update(attachment_id, {"connection_info": info})

    def attachment_complete(self, context: Any, attachment_id: str) -> dict[str, Any]:
        att = self.get_attachment(context, attachment_id)
        if att["attach_status"] == "attached":
            return att
        if not att.get("connection_info"):
            raise v_exc.InvalidVolume(reason=f"attachment {attachment_id} has no connector "
                                             "yet (update it before completing)")
        return db.attachment_update(attachment_id, {"attach_status": "attached",
                                                    "attach_time": timeutils.utcnow()},
                                    volume_values={"status": "in-use",
                                                   "attach_status": "attached"},
                                    volume_expected=["attaching", "in-use", "reserved"])

    def attachment_delete(self, context: Any, attachment_id: str) -> dict[str, Any]:
        """Close the attachment's connection (the export goes) and remove
        it; the volume is available again when it was the last. The
        volume after."""
        att = self.get_attachment(context, attachment_id)
        vol = db.volume_get(att["volume_id"])
        if att.get("connection_info") or att["attach_status"] in ("attaching", "attached"):
            if vol["status"] == "in-use" and len(vol["attachments"]) == 1:
                db.volume_update(vol["id"], {"status": "detaching"})
            db.attachment_update(attachment_id, {"attach_status": "detaching"})
            try:
                self.rpc.terminate_connection(context, vol["host"], attachment_id)
            except Exception:
                db.attachment_update(attachment_id, {"attach_status": "error_detaching"},
                                     volume_values={"status": "error_detaching"})
                raise
        return db.attachment_destroy(attachment_id)

    # -- volume types ------------------------------------------------------------

    def get_types(self, context: Any) -> list[dict[str, Any]]:
        return db.volume_type_get_all()

    def get_type(self, context: Any, type_id: str) -> dict[str, Any]:
        return db.volume_type_get(type_id)
