"""Cinder's JSON views of volumes, snapshots, attachments and volume types,
shared by the Block Storage API and the volume service's RPC answers (the
compute side reads the same fields Nova reads from Cinder)."""

from __future__ import annotations

import datetime
from typing import Any

AZ = "nova"


def timestamp(value: datetime.datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def attachment_summary(volume: dict[str, Any], att: dict[str, Any]) -> dict[str, Any]:
    """An attachment as a volume's ``attachments`` list shows it."""
    return {"id": att["id"], "attachment_id": att["id"], "volume_id": volume["id"],
            "server_id": att.get("instance_uuid"), "host_name": att.get("attached_host"),
            "device": att.get("mountpoint"),
            "attached_at": timestamp(att.get("attach_time"))}


def volume(vol: dict[str, Any], admin: bool = False, version: tuple[int, int] = (3, 0),
           type_name: str = "__DEFAULT__") -> dict[str, Any]:
    """The detail view (``GET /volumes/{id}``, ``/volumes/detail``)."""
    attached = [a for a in vol.get("attachments") or [] if a.get("attach_status") == "attached"]
    view: dict[str, Any] = {
        "id": vol["id"], "name": vol.get("name"), "description": vol.get("description"),
        "size": vol["size"], "status": vol["status"],
        "availability_zone": vol.get("availability_zone") or AZ,
        "created_at": timestamp(vol.get("created_at")),
        "updated_at": timestamp(vol.get("updated_at")),
        "attachments": [attachment_summary(vol, a) for a in attached],
        "bootable": "true" if vol.get("bootable") else "false",
        "encrypted": False, "multiattach": bool(vol.get("multiattach")),
        "metadata": dict(vol.get("volume_metadata") or {}),
        "volume_type": type_name, "snapshot_id": vol.get("snapshot_id"),
        "source_volid": vol.get("source_volid"), "user_id": vol.get("user_id"),
        "os-vol-tenant-attr:tenant_id": vol.get("project_id"),
        "replication_status": None, "consistencygroup_id": None,
        "migration_status": vol.get("migration_status"),
    }
    if vol.get("volume_image_metadata"):
        view["volume_image_metadata"] = dict(vol["volume_image_metadata"])
    if admin:
        # NOTE: Cinder's host attribute names host, backend and pool
        # (``host@backend#pool``, as get_pools lists them).
        host = vol.get("host")
        if host and "@" not in host:
            from novalite.conf import CONF

            host = f"{host}@{CONF.volume.backend}#{CONF.volume.backend}"
        view["os-vol-host-attr:host"] = host
        view["os-vol-mig-status-attr:migstat"] = vol.get("migration_status")
        view["os-vol-mig-status-attr:name_id"] = None
    if version >= (3, 13):
        view["group_id"] = None
    if version >= (3, 21):
        view["provider_id"] = None
    if version >= (3, 48):
        view["shared_targets"] = False
        view["service_uuid"] = None
    if version >= (3, 61) and admin:
        view["cluster_name"] = None
    if version >= (3, 63):
        view["volume_type_id"] = vol.get("volume_type_id")
    if version >= (3, 65):
        view["consumes_quota"] = True
    return view


def volume_summary(vol: dict[str, Any]) -> dict[str, Any]:
    return {"id": vol["id"], "name": vol.get("name")}


def snapshot(snap: dict[str, Any], extended: bool = False,
             version: tuple[int, int] = (3, 0)) -> dict[str, Any]:
    """``extended``: with Cinder's extended_snapshot_attributes, which its
    show and detail answers carry for whoever sees the snapshot (owner or
    admin), its create and update answers never."""
    view: dict[str, Any] = {
        "id": snap["id"], "name": snap.get("name"), "description": snap.get("description"),
        "volume_id": snap["volume_id"], "size": snap["size"], "status": snap["status"],
        "created_at": timestamp(snap.get("created_at")),
        "updated_at": timestamp(snap.get("updated_at")),
        "metadata": dict(snap.get("snapshot_metadata") or {}),
    }
    if extended:
        view["os-extended-snapshot-attributes:project_id"] = snap.get("project_id")
        view["os-extended-snapshot-attributes:progress"] = snap.get("progress") or "0%"
    if version >= (3, 41):
        view["user_id"] = snap.get("user_id")
    if version >= (3, 14):
        view["group_snapshot_id"] = None
    if version >= (3, 65):
        view["consumes_quota"] = True
    return view


def attachment(att: dict[str, Any], detail: bool = True) -> dict[str, Any]:
    """Cinder's attachment view (3.27+)."""
    view: dict[str, Any] = {"id": att["id"], "status": att["attach_status"],
                            "instance": att.get("instance_uuid"),
                            "volume_id": att["volume_id"]}
    if detail:
        view.update({"attached_at": timestamp(att.get("attach_time")),
                     "detached_at": timestamp(att.get("detach_time")),
                     "attach_mode": att.get("attach_mode") or "rw",
                     "connection_info": att.get("connection_info") or {}})
    return view


def volume_type(vtype: dict[str, Any], admin: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {"id": vtype["id"], "name": vtype["name"],
                            "description": vtype.get("description"),
                            "is_public": bool(vtype.get("is_public", True)),
                            "os-volume-type-access:is_public": bool(vtype.get("is_public",
                                                                              True)),
                            "qos_specs_id": None}
    if admin:
        view["extra_specs"] = dict(vtype.get("extra_specs") or {})
    return view
