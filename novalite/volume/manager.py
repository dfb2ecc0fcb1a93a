"""The volume service's manager (``novalite-volume``, topic [volume] topic,
server = its host), as Cinder's volume manager: it owns this host's backend
(the volumes' data) and NBD exports, and serves two kinds of RPC:

- the contract compute uses (it has no database): ``get``, ``create``,
  ``delete`` and the attachment steps, run through ``novalite.volume.api``
  (the database, then the volume's host for the backend part);
- the host part, addressed to ``volume.<host>``: make, delete, extend and
  snapshot the data, and connect or disconnect an attachment (a local path
  when the compute is this host and [volume] local_attach, else an NBD
  export by qemu-storage-daemon for the compute's address only).

A failure puts the volume (or snapshot) in Cinder's error state with the
reason in ``fault``. ``init_host`` settles what a restart interrupted, as
Cinder's does: creating -> error, deleting -> deleted again, extending ->
back as it was; an attachment left connecting without connection_info goes
back to reserved (its compute, whose call failed, deletes or retries it);
one left detaching is detached; the exports of connected attachments are
ensured (their compute's NBD client reconnects).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from typing import Any

import oslo_messaging as messaging
from oslo_concurrency import lockutils
from oslo_log import log as logging
from oslo_utils import timeutils

from novalite import context as nl_context
from novalite import manager
from novalite.conf import CONF
from novalite.db import volumes as db
from novalite.volume import api as volume_api
from novalite.volume import backends, views
from novalite.volume import exceptions as v_exc

LOG = logging.getLogger(__name__)

GiB = 1024 ** 3
CONNECTED = ("attaching", "attached")


def _lock(kind: str, ident: str) -> Any:
    return lockutils.lock(f"{kind}-{ident}")


def _reason(e: BaseException) -> str:
    text = e.format_message() if hasattr(e, "format_message") else str(e)
    return text or type(e).__name__


class VolumeManager(manager.Manager):
    target = messaging.Target(version="1.2")

    def __init__(self, host: str | None = None, service_name: str = "novalite-volume",
                 **kwargs: Any) -> None:
        super().__init__(host=host, service_name=service_name)
        self.backend = backends.load()
        self.api = volume_api.API(local=self)
        self._exports: Any = None

    # -- start: settle what a restart interrupted ------------------------------------------

    def init_host(self) -> None:
        self.backend.setup()
        ctxt = nl_context.get_admin_context()
        self._recover_volumes(ctxt)
        self._recover_snapshots(ctxt)
        self._recover_attachments()
        self._ensure_exports()

    def _recover_volumes(self, ctxt: Any) -> None:
        for vol in db.volume_get_all(host=self.host, statuses=["creating", "deleting",
                                                               "extending", "detaching",
                                                               "reverting"]):
            status = vol["status"]
            LOG.warning("Volume %s was %s when the volume service stopped", vol["id"], status)
            if status == "creating":
                self._error(vol["id"], "error", "the volume service restarted while the "
                                                "volume was being created")
            elif status == "deleting":
                self.delete_volume(ctxt, vol["id"])
            elif status == "reverting":
                self._error(vol["id"], "error", "the volume service restarted while the "
                                                "volume was being reverted to a snapshot")
            elif status == "extending":
                db.volume_update(vol["id"], {"status": vol["previous_status"] or "available"})
            elif status == "detaching" and not vol["attachments"]:
                db.volume_update(vol["id"], {"status": "available",
                                             "attach_status": "detached"})

    def _recover_snapshots(self, ctxt: Any) -> None:
        for snap in db.snapshot_get_all(host=self.host):
            if snap["status"] == "creating":
                self.backend.delete_snapshot(snap)
                db.snapshot_update(snap["id"], {"status": "error", "fault": (
                    "the volume service restarted while the snapshot was being created")})
            elif snap["status"] == "deleting":
                self.delete_snapshot(ctxt, snap["id"])
            elif snap["status"] == "restoring":
                db.snapshot_update(snap["id"], {"status": "available"})

    def _recover_attachments(self) -> None:
        for att in db.attachment_get_all(host=self.host):
            if att["attach_status"] in ("attaching", "error_attaching") and \
                    not att.get("connection_info"):
                LOG.warning("Attachment %s of volume %s was being connected when the volume "
                            "service stopped: reserved again", att["id"], att["volume_id"])
                db.attachment_update(att["id"], {"attach_status": "reserved"})
                self._settle_volume(att["volume_id"])
            elif att["attach_status"] in ("detaching", "error_detaching"):
                LOG.warning("Attachment %s of volume %s was being detached when the volume "
                            "service stopped: detached", att["id"], att["volume_id"])
                self._unexport(att["id"])
                db.attachment_destroy(att["id"])

    @staticmethod
    def _settle_volume(volume_id: str) -> None:
        """The volume's status from its attachments (after a recovery)."""
        db.volume_settle(volume_id)

    def _ensure_exports(self) -> None:
        wanted: dict[str, tuple[str, str, str]] = {}
        for att in db.attachment_get_all(host=self.host):
            info = att.get("connection_info") or {}
            if att["attach_status"] in CONNECTED and info.get("driver_volume_type") == "nbd":
                vol = db.volume_get(att["volume_id"])
                client = (att.get("connector") or {}).get("ip")
                if client:
                    wanted[att["id"]] = (self.backend.local_path(vol),
                                         self.backend.volume_format, client)
        if wanted or self._exports_possible():
            exports = self.exports()
            if exports is not None:
                exports.ensure(wanted)

    # -- the contract compute uses ---------------------------------------------------

    def get(self, context: Any, volume_id: str) -> dict[str, Any]:
        return self._view(context, self.api.get(context, volume_id))

    def create(self, context: Any, size: int, name: str | None = None,
               image_id: str | None = None, snapshot_id: str | None = None,
               source_volid: str | None = None, availability_zone: str | None = None,
               description: str | None = None) -> dict[str, Any]:
        """Make a volume and answer once it is available (boot from volume);
        VolumeBackendError with the reason when it ended in error."""
        vol = self.api.create(context, size, name=name, description=description,
                              image_id=image_id, snapshot_id=snapshot_id,
                              source_volid=source_volid,
                              availability_zone=availability_zone)
        deadline = time.monotonic() + int(CONF.volume.create_timeout)
        while vol["status"] == "creating" and time.monotonic() < deadline:
            time.sleep(0.2)
            vol = db.volume_get(vol["id"])
        if vol["status"] != "available":
            raise v_exc.VolumeBackendError(
                reason=f"volume {vol['id']} is {vol['status']}: {vol.get('fault') or ''}")
        return self._view(context, vol)

    def delete(self, context: Any, volume_id: str) -> None:
        self.api.delete(context, volume_id)

    def attachment_create(self, context: Any, volume_id: str, instance_uuid: str,
                          connector: dict[str, Any] | None = None) -> dict[str, Any]:
        return views.attachment(self.api.attachment_create(context, volume_id, instance_uuid,
                                                           connector))

    def attachment_update(self, context: Any, attachment_id: str,
                          connector: dict[str, Any]) -> dict[str, Any]:
        return views.attachment(self.api.attachment_update(context, attachment_id, connector))

    def attachment_complete(self, context: Any, attachment_id: str) -> None:
        self.api.attachment_complete(context, attachment_id)

    def attachment_delete(self, context: Any, attachment_id: str) -> None:
        self.api.attachment_delete(context, attachment_id)

    @staticmethod
    def _view(context: Any, vol: dict[str, Any]) -> dict[str, Any]:
        return views.volume(vol, admin=volume_api.is_admin(context), version=(3, 65))

    # -- this host's part: the data ---------------------------------------------------

    def create_volume(self, context: Any, volume_id: str) -> None:
        with _lock("volume", volume_id):
            vol = db.volume_get(volume_id)
            if vol["status"] != "creating":
                LOG.info("Volume %s is %s, not creating: nothing to make", volume_id,
                         vol["status"])
                return
            try:
                self._check_capacity(vol)
                location = self._make(context, vol)
            except Exception as e:
                LOG.warning("Creating volume %s failed: %s", volume_id, _reason(e))
                self._error(volume_id, "error", _reason(e))
                return
            db.volume_update(volume_id, {"status": "available", "provider_location": location,
                                         "launched_at": timeutils.utcnow(), "fault": None},
                             expected={"status": ["creating"]})
            LOG.info("Volume %s (%d GiB) is available on %s", volume_id, vol["size"],
                     self.host)

    def _check_capacity(self, vol: dict[str, Any]) -> None:
        virtual = int(CONF.volume.capacity_gb * CONF.volume.max_over_subscription_ratio)
        # NOTE: the new volume's row is already counted in allocated_gb.
        allocated = db.allocated_gb(self.host)
        if allocated > virtual:
            raise v_exc.NoValidVolumeHost(
                reason=f"Insufficient free virtual space ({virtual - allocated + vol['size']}"
                       f"GB) to accommodate thin provisioned {vol['size']}GB volume on "
                       f"{self.host} (capacity {CONF.volume.capacity_gb}GB x "
                       f"{CONF.volume.max_over_subscription_ratio}).")

    def _make(self, context: Any, vol: dict[str, Any]) -> str:
        if vol.get("snapshot_id"):
            return self.backend.create_from_snapshot(vol, db.snapshot_get(vol["snapshot_id"]))
        if vol.get("source_volid"):
            return self.backend.clone(vol, db.volume_get(vol["source_volid"]))
        if vol.get("image_id"):
            path, fmt, temporary = self._image_file(context, vol["image_id"])
            try:
                return self.backend.create_from_image(vol, path, fmt)
            finally:
                if temporary:
                    os.unlink(path)
        return self.backend.create(vol)

    def _image_file(self, context: Any, image_id: str) -> tuple[str, str, bool]:
        """The image's data as a file here: the image store's own file when
        this host has it, else a download through the Image API."""
        from novalite.db import api as db_api

        row = db_api.image_get(image_id)
        fmt = row.get("disk_format") or "raw"
        location = row.get("location")
        if CONF.volume.image_local_read and location and os.path.exists(location):
            return location, fmt, False
        from novalite import filemodes
        from novalite.image.client import ImageClient

        path = os.path.join(self.backend_dir(), f".image-{image_id}-{os.getpid()}")
        # NOTE: the client's request helper streams the body with the
        # caller's token, as a compute host downloads an image.
        resp = ImageClient()._request(context, "GET", f"/v2/images/{image_id}/file")
        try:
            with resp, filemodes.private_file(path, "wb") as f:
                while chunk := resp.read(1024 * 1024):
                    f.write(chunk)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise
        return path, fmt, True

    def backend_dir(self) -> str:
        return str(getattr(self.backend, "directory", CONF.state_path))

    def delete_volume(self, context: Any, volume_id: str) -> None:
        with _lock("volume", volume_id):
            try:
                vol = db.volume_get(volume_id)
            except v_exc.VolumeNotFound:
                return
            if vol["status"] != "deleting":
                return
            try:
                for snap in db.snapshot_get_all(volume_id=volume_id):
                    self.backend.delete_snapshot(snap)
                    db.snapshot_destroy(snap["id"])
                self.backend.delete(vol)
            except Exception as e:
                LOG.warning("Deleting volume %s failed: %s", volume_id, _reason(e))
                self._error(volume_id, "error_deleting", _reason(e))
                return
            db.volume_destroy(volume_id)
            LOG.info("Volume %s deleted from %s (its data discarded)", volume_id, self.host)

    def extend_volume(self, context: Any, volume_id: str, new_size: int) -> None:
        with _lock("volume", volume_id):
            vol = db.volume_get(volume_id)
            if vol["status"] != "extending":
                return
            back = vol["previous_status"] or "available"
            try:
                self.backend.extend(vol, new_size)
                for att in vol["attachments"]:
                    if (att.get("connection_info") or {}).get("driver_volume_type") == "nbd":
                        exports = self.exports()
                        if exports is not None:
                            exports.resize(att["id"], new_size * GiB)
            except Exception as e:
                LOG.warning("Extending volume %s failed: %s", volume_id, _reason(e))
                self._error(volume_id, "error_extending", _reason(e))
                return
            db.volume_update(volume_id, {"status": back, "size": new_size})
        if back == "in-use":
            self._notify_extended(context, vol)

    def _notify_extended(self, context: Any, vol: dict[str, Any]) -> None:
        """Nova's os-server-external-events 'volume-extended' for each
        server the volume is attached to: its compute resizes the guest's disk."""
        from novalite.compute import rpcapi as compute_rpcapi
        from novalite.objects.instance import Instance

        client = compute_rpcapi.ComputeAPI()
        send = getattr(client, "external_instance_event", None)
        for att in vol["attachments"]:
            if att["attach_status"] != "attached" or not att.get("instance_uuid"):
                continue
            if send is None:
                LOG.warning("Compute has no external_instance_event: server %s does not "
                            "learn that volume %s grew", att["instance_uuid"], vol["id"])
                continue
            try:
                instance = Instance.get_by_uuid(context.elevated(), att["instance_uuid"])
                send(context, instance, "volume-extended", vol["id"])
            except Exception as e:
                LOG.warning("Telling server %s that volume %s grew failed: %s",
                            att["instance_uuid"], vol["id"], e)

    def revert_to_snapshot(self, context: Any, volume_id: str, snapshot_id: str) -> None:
        with _lock("volume", volume_id):
            vol = db.volume_get(volume_id)
            snap = db.snapshot_get(snapshot_id)
            if vol["status"] != "reverting":
                return
            try:
                self.backend.revert_to_snapshot(vol, snap)
            except Exception as e:
                LOG.warning("Reverting volume %s to snapshot %s failed: %s", volume_id,
                            snapshot_id, _reason(e))
                self._error(volume_id, "error", _reason(e))
                db.snapshot_update(snapshot_id, {"status": "available"})
                return
            db.volume_update(volume_id, {"status": "available"})
            db.snapshot_update(snapshot_id, {"status": "available"})
            LOG.info("Volume %s reverted to snapshot %s", volume_id, snapshot_id)

    def create_snapshot(self, context: Any, snapshot_id: str) -> None:
        snap = db.snapshot_get(snapshot_id)
        with _lock("volume", snap["volume_id"]):
            if snap["status"] != "creating":
                return
            try:
                location = self.backend.create_snapshot(snap, db.volume_get(snap["volume_id"]))
            except Exception as e:
                LOG.warning("Snapshot %s failed: %s", snapshot_id, _reason(e))
                db.snapshot_update(snapshot_id, {"status": "error", "fault": _reason(e)})
                return
            db.snapshot_update(snapshot_id, {"status": "available", "progress": "100%",
                                             "provider_location": location},
                               expected=["creating"])

    def delete_snapshot(self, context: Any, snapshot_id: str) -> None:
        try:
            snap = db.snapshot_get(snapshot_id)
        except v_exc.SnapshotNotFound:
            return
        with _lock("volume", snap["volume_id"]):
            try:
                self.backend.delete_snapshot(snap)
            except Exception as e:
                db.snapshot_update(snapshot_id, {"status": "error_deleting",
                                                 "fault": _reason(e)})
                return
            db.snapshot_destroy(snapshot_id)

    def get_stats(self, context: Any) -> dict[str, Any]:
        """Cinder's pool stats of this host's backend."""
        stats = dict(self.backend.stats())
        allocated = db.allocated_gb(self.host)
        stats.update(allocated_capacity_gb=allocated, provisioned_capacity_gb=allocated,
                     reserved_percentage=0, driver_version="1.0",
                     pool_name=CONF.volume.backend)
        return stats

    # -- this host's part: connections ------------------------------------------------

    def initialize_connection(self, context: Any, attachment_id: str,
                              connector: dict[str, Any]) -> dict[str, Any]:
        att = db.attachment_get(attachment_id)
        vol = db.volume_get(att["volume_id"])
        path = self.backend.local_path(vol)
        data: dict[str, Any] = {"format": self.backend.volume_format, "volume_id": vol["id"],
                                "access_mode": att.get("attach_mode") or "rw"}
        if CONF.volume.local_attach and connector.get("host") == self.host:
            data["device_path"] = path
            return {"driver_volume_type": "local", "data": data, "serial": vol["id"]}
        client = connector.get("ip")
        if not client:
            raise v_exc.InvalidInput(reason="the connector has no 'ip' for the NBD export")
        exports = self.exports()
        if exports is None:
            raise v_exc.VolumeBackendError(reason=f"host {self.host} cannot export volumes "
                                                  "over NBD (no novalite.volume.exports)")
        export = exports.export(attachment_id, path, self.backend.volume_format, client)
        data.update(host=export["host"], port=export["port"], name=export["name"])
        LOG.info("Volume %s exported for attachment %s to %s at %s:%s", vol["id"],
                 attachment_id, client, export["host"], export["port"])
        return {"driver_volume_type": "nbd", "data": data, "serial": vol["id"]}

    def terminate_connection(self, context: Any, attachment_id: str) -> None:
        self._unexport(attachment_id)

    def _unexport(self, attachment_id: str) -> None:
        exports = self.exports()
        if exports is not None:
            exports.unexport(attachment_id)

    def _exports_possible(self) -> bool:
        try:
            from novalite.volume import exports  # noqa: F401
        except ImportError:
            return False
        return True

    def exports(self) -> Any:
        """HV1's NBD exports of this host (None where the module is missing)."""
        if self._exports is None:
            try:
                from novalite.volume.exports import Exports
            except ImportError:
                return None
            address = CONF.volume.export_address or CONF.my_ip
            # NOTE: per host (state and nftables table): several volume
            # services on one machine (tests) must not stop each other's.
            tag = re.sub(r"[^A-Za-z0-9_]", "_", self.host)[:22]
            self._exports = Exports(os.path.join(CONF.state_path, "volume-exports", self.host),
                                    address,
                                    (CONF.volume.export_port_min, CONF.volume.export_port_max),
                                    nft_prefix=f"novalite_{tag}")
        return self._exports

    # -- helpers -----------------------------------------------------------------------

    @staticmethod
    def _error(volume_id: str, status: str, reason: str) -> None:
        try:
            db.volume_update(volume_id, {"status": status, "fault": reason[:65535]})
        except v_exc.VolumeNotFound:
            pass
