"""Cinder v3 volumes and snapshots (``/volumes``, ``/snapshots``): CRUD,
lists with Cinder's filters and paging, metadata, and the volume actions
(``os-extend``, ``os-reset_status``, ``os-set_bootable``,
``os-update_readonly_flag``, ``os-force_delete``)."""

from __future__ import annotations

from typing import Any

from novalite.api import errors, wsgi
from novalite.api.volume import common
from novalite.api.wsgi import Request
from novalite.volume import api as volume_api
from novalite.volume import views

VOLUME_SORT_KEYS = ("created_at", "updated_at", "id", "name", "size", "status",
                    "availability_zone", "bootable")
VOLUME_STATUSES = ("creating", "available", "reserved", "attaching", "in-use", "detaching",
                   "extending", "deleting", "error", "error_deleting", "error_extending",
                   "error_attaching", "error_detaching", "maintenance", "reverting")
_IGNORED = ("limit", "marker", "sort", "sort_key", "sort_dir", "with_count", "all_tenants",
            "all_projects", "offset")


def _type_names() -> dict[str, str]:
    return volume_api.type_names()


def _detail(req: Request, vol: dict[str, Any], names: dict[str, str] | None = None
            ) -> dict[str, Any]:
    names = names if names is not None else _type_names()
    view = views.volume(vol, admin=common.is_admin(req), version=common.version(req),
                        type_name=names.get(vol.get("volume_type_id") or "", "__DEFAULT__"))
    view["links"] = common.resource_links(req, "volumes", vol["id"])
    return view


# NOTE: Cinder adds these through API extensions of GET show and detail
# only (volume_tenant_attribute, volume_host_attribute, volume_mig_status_
# attribute, volume_image_metadata): its create and update answers lack
# them (tempest's create_volume/update_volume schemas refuse them).
_GET_ONLY = ("os-vol-tenant-attr:tenant_id", "os-vol-host-attr:host",
             "os-vol-mig-status-attr:migstat", "os-vol-mig-status-attr:name_id",
             "volume_image_metadata")


def _written(req: Request, vol: dict[str, Any]) -> dict[str, Any]:
    """The view a create or update answers with: the detail view without
    the GET extensions' attributes."""
    view = _detail(req, vol)
    for key in _GET_ONLY:
        view.pop(key, None)
    return view


def _filter_volumes(req: Request, vols: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cinder's volume filters: name, status, bootable, metadata (a JSON
    or Python-literal dict), availability_zone, project/user ids; with 3.34
    ``name~`` etc. match parts. Unknown filters match nothing, as Cinder
    ignores no filter it was given."""
    import ast
    import json

    out = vols
    for key, value in req.GET.items():
        if key in _IGNORED:
            continue
        like = key.endswith("~")
        field = key.rstrip("~")
        if field == "metadata":
            try:
                wanted = json.loads(value)
            except ValueError:
                try:
                    wanted = ast.literal_eval(value)
                except (ValueError, SyntaxError):
                    raise errors.bad_request(f"Invalid input received: metadata filter "
                                             f"{value!r} is not a dict") from None
            if not isinstance(wanted, dict):
                raise errors.bad_request("Invalid input received: metadata filter must be a "
                                         "dict")
            out = [v for v in out if all((v.get("volume_metadata") or {}).get(str(k)) == str(w)
                                         for k, w in wanted.items())]
            continue
        if field == "bootable":
            flag = common.as_bool("bootable", value)
            out = [v for v in out if bool(v.get("bootable")) == flag]
            continue
        column = {"project_id": "project_id", "tenant_id": "project_id"}.get(field, field)
        if column not in ("name", "status", "availability_zone", "project_id", "user_id",
                          "id", "size", "description", "host", "volume_type_id",
                          "snapshot_id", "source_volid", "image_id"):
            raise errors.bad_request(f"Invalid input received: Invalid filter keys: {key}")
        if like:
            out = [v for v in out if value.lower() in str(v.get(column) or "").lower()]
        else:
            out = [v for v in out if str(v.get(column) if v.get(column) is not None else "")
                   == value]
    return out


class VolumesController:
    def __init__(self) -> None:
        self.api = volume_api.API()

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        common.authorize(req, "volume:get_all")
        vols = self.api.get_all(req.context, all_projects=common.all_projects(req))
        vols = _filter_volumes(req, vols)
        page = common.paginate(req, vols, "volumes", req.path_info, VOLUME_SORT_KEYS,
                               lambda v, k: v.get(k))
        names = _type_names()
        page["volumes"] = [_detail(req, v, names) if detail else
                           {"id": v["id"], "name": v.get("name"),
                            "links": common.resource_links(req, "volumes", v["id"])}
                           for v in page["volumes"]]
        return page

    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=False)

    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=True)

    def show(self, req: Request, id: str) -> dict[str, Any]:
        vol = self.api.get(req.context, id)
        common.authorize(req, "volume:get", vol["project_id"])
        return {"volume": _detail(req, vol)}

    def summary(self, req: Request) -> dict[str, Any]:
        """3.12: the count and total size of the volumes listed."""
        common.authorize(req, "volume:get_all")
        vols = self.api.get_all(req.context, all_projects=common.all_projects(req))
        metadata: dict[str, list[str]] = {}
        for v in vols:
            for k, val in (v.get("volume_metadata") or {}).items():
                metadata.setdefault(k, [])
                if val not in metadata[k]:
                    metadata[k].append(val)
        out: dict[str, Any] = {"total_size": sum(v["size"] for v in vols),
                               "total_count": len(vols)}
        if common.version(req) >= (3, 36):
            out["metadata"] = metadata
        return {"volume-summary": out}

    @wsgi.response(202)
    def create(self, req: Request) -> dict[str, Any]:
        body = common.body_of(req, "volume")
        common.authorize(req, "volume:create")
        for unsupported, what in (("backup_id", "backups"),
                                  ("consistencygroup_id", "consistency groups"),
                                  ("group_id", "groups")):
            if body.get(unsupported):
                raise errors.bad_request(f"Invalid input received: novalite has no "
                                         f"{what} ({unsupported}).")
        if body.get("multiattach") and common.as_bool("multiattach", body["multiattach"]):
            raise errors.bad_request("Invalid input received: multiattach volumes are not "
                                     "supported (the only volume type is not multiattach).")
        size = body.get("size")
        size = None if size is None else common.as_int("size", size, low=1)
        image = body.get("imageRef") or body.get("image_id")
        vol = self.api.create(
            req.context, size, name=common.as_text("name", body.get("name") or
                                                   body.get("display_name")),
            description=common.as_text("description", body.get("description") or
                                       body.get("display_description")),
            image_id=str(image) if image else None,
            snapshot_id=_id_or_none("snapshot_id", body.get("snapshot_id")),
            source_volid=_id_or_none("source_volid", body.get("source_volid")),
            availability_zone=common.as_text("availability_zone",
                                             body.get("availability_zone")),
            metadata=common.as_metadata(body.get("metadata")),
            volume_type=common.as_text("volume_type", body.get("volume_type")))
        return {"volume": _written(req, vol)}

    def update(self, req: Request, id: str) -> dict[str, Any]:
        body = common.body_of(req, "volume")
        vol = self.api.get(req.context, id)
        common.authorize(req, "volume:update", vol["project_id"])
        values = _update_values(body, "volume_metadata",
                                "the volume has nothing to update (name, description or "
                                "metadata).")
        return {"volume": _written(req, self.api.update(req.context, id, values))}

    @wsgi.response(202)
    def delete(self, req: Request, id: str) -> None:
        vol = self.api.get(req.context, id)
        common.authorize(req, "volume:delete", vol["project_id"])
        force = common.as_bool("force", req.GET.get("force", "false"))
        if force and not common.is_admin(req):
            common.authorize(req, "volume_extension:volume_admin_actions:reset_status")
        self.api.delete(req.context, id, force=force,
                        cascade=common.as_bool("cascade", req.GET.get("cascade", "false")))

    # -- metadata ----------------------------------------------------------------------

    def metadata_index(self, req: Request, id: str) -> dict[str, Any]:
        vol = self.api.get(req.context, id)
        common.authorize(req, "volume:get", vol["project_id"])
        return {"metadata": dict(vol.get("volume_metadata") or {})}

    def metadata_create(self, req: Request, id: str) -> dict[str, Any]:
        """POST: merge the given items into the metadata."""
        return self._set_metadata(req, id, replace=False)

    def metadata_update_all(self, req: Request, id: str) -> dict[str, Any]:
        """PUT: replace the metadata."""
        return self._set_metadata(req, id, replace=True)

    def _set_metadata(self, req: Request, id: str, replace: bool) -> dict[str, Any]:
        body = common.body_of(req)
        if not isinstance(body, dict) or "metadata" not in body:
            raise errors.bad_request("Malformed request body: 'metadata' is required")
        items = common.as_metadata(body["metadata"])
        vol = self.api.get(req.context, id)
        common.authorize(req, "volume:update", vol["project_id"])
        merged = items if replace else {**(vol.get("volume_metadata") or {}), **items}
        vol = self.api.update(req.context, id, {"volume_metadata": merged})
        return {"metadata": dict(vol.get("volume_metadata") or {})}

    def metadata_show(self, req: Request, id: str, key: str) -> dict[str, Any]:
        vol = self.api.get(req.context, id)
        common.authorize(req, "volume:get", vol["project_id"])
        meta = vol.get("volume_metadata") or {}
        if key not in meta:
            raise errors.not_found(f"Metadata item was not found: {key}")
        return {"meta": {key: meta[key]}}

    def metadata_update(self, req: Request, id: str, key: str) -> dict[str, Any]:
        body = common.body_of(req)
        meta = body.get("meta") if isinstance(body, dict) else None
        if not isinstance(meta, dict) or len(meta) != 1 or key not in meta:
            raise errors.bad_request("Request body and URI mismatch")
        items = common.as_metadata(meta)
        vol = self.api.get(req.context, id)
        common.authorize(req, "volume:update", vol["project_id"])
        self.api.update(req.context, id, {"volume_metadata": {
            **(vol.get("volume_metadata") or {}), **items}})
        return {"meta": items}

    def metadata_delete(self, req: Request, id: str, key: str) -> None:
        vol = self.api.get(req.context, id)
        common.authorize(req, "volume:update", vol["project_id"])
        meta = dict(vol.get("volume_metadata") or {})
        if key not in meta:
            raise errors.not_found(f"Metadata item was not found: {key}")
        del meta[key]
        self.api.update(req.context, id, {"volume_metadata": meta})

    # -- actions -----------------------------------------------------------------------

    def action(self, req: Request, id: str) -> Any:
        body = common.body_of(req)
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.bad_request("Malformed request body: one action is required")
        name, args = next(iter(body.items()))
        handler = _VOLUME_ACTIONS.get(name)
        if handler is None:
            raise errors.bad_request(f"There is no such action: {name}")
        vol = self.api.get(req.context, id)
        return handler(self, req, vol, args if isinstance(args, dict) else {})

    def _extend(self, req: Request, vol: dict[str, Any], args: dict) -> Any:
        common.authorize(req, "volume:extend", vol["project_id"])
        if "new_size" not in args:
            raise errors.bad_request("Invalid input received: new_size is required")
        new_size = common.as_int("new_size", args["new_size"], low=1)
        in_use = vol["status"] == "in-use"
        if in_use:
            if common.version(req) < (3, 42):
                raise errors.bad_request(f"Invalid volume: Volume {vol['id']} status must be "
                                         f"'available' to extend, but current status is: "
                                         f"in-use (attached volumes need 3.42).")
            common.authorize(req, "volume:extend_attached_volume", vol["project_id"])
        self.api.extend(req.context, vol["id"], new_size, attached_allowed=in_use)
        return _accepted()

    def _reset_status(self, req: Request, vol: dict[str, Any], args: dict) -> Any:
        common.authorize(req, "volume_extension:volume_admin_actions:reset_status",
                         vol["project_id"])
        status = args.get("status")
        attach_status = args.get("attach_status")
        migration_status = args.get("migration_status")
        if status is not None and status not in VOLUME_STATUSES:
            raise errors.bad_request(f"Invalid input received: status {status!r} is not one "
                                     f"of {', '.join(VOLUME_STATUSES)}")
        if attach_status is not None and attach_status not in ("attached", "detached"):
            raise errors.bad_request("Invalid input received: attach_status must be attached "
                                     "or detached")
        if not (status or attach_status or migration_status):
            raise errors.bad_request("Invalid input received: Must specify 'status', "
                                     "'attach_status' or 'migration_status' for update.")
        self.api.reset_status(req.context, vol["id"], status, attach_status, migration_status)
        return _accepted()

    def _set_bootable(self, req: Request, vol: dict[str, Any], args: dict) -> Any:
        common.authorize(req, "volume_extension:volume_actions:set_bootable",
                         vol["project_id"])
        if "bootable" not in args:
            raise errors.bad_request("Invalid input received: bootable is required")
        self.api.set_bootable(req.context, vol["id"], common.as_bool("bootable",
                                                                     args["bootable"]))
        return None

    def _readonly(self, req: Request, vol: dict[str, Any], args: dict) -> Any:
        common.authorize(req, "volume:update", vol["project_id"])
        if "readonly" not in args:
            raise errors.bad_request("Invalid input received: readonly is required")
        if common.as_bool("readonly", args["readonly"]):
            raise errors.bad_request("Invalid input received: novalite volumes are attached "
                                     "read-write; a read-only flag is not supported.")
        return None

    def _force_delete(self, req: Request, vol: dict[str, Any], args: dict) -> Any:
        common.authorize(req, "volume_extension:volume_admin_actions:reset_status",
                         vol["project_id"])
        self.api.delete(req.context, vol["id"], force=True)
        return _accepted()

    def _revert(self, req: Request, vol: dict[str, Any], args: dict) -> Any:
        if common.version(req) < (3, 40):
            raise errors.bad_request("There is no such action: revert (needs 3.40)")
        common.authorize(req, "volume:revert_to_snapshot", vol["project_id"])
        snapshot_id = args.get("snapshot_id")
        if not isinstance(snapshot_id, str) or not snapshot_id:
            raise errors.bad_request("Invalid input received: snapshot_id is required")
        self.api.revert_to_snapshot(req.context, vol["id"], snapshot_id)
        return _accepted()

    def _old_attach_api(self, req: Request, vol: dict[str, Any], args: dict) -> Any:
        raise errors.bad_request("Invalid input received: novalite attaches volumes with the "
                                 "attachments API (3.27+, /attachments), not the old "
                                 "os-attach/os-initialize_connection actions.")


def _accepted() -> Any:
    import webob

    return webob.Response(status=202)


def _id_or_none(name: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise errors.bad_request(f"Invalid input received: {name} must be a string")
    return value


_VOLUME_ACTIONS: dict[str, Any] = {
    "os-extend": VolumesController._extend,
    "os-reset_status": VolumesController._reset_status,
    "os-set_bootable": VolumesController._set_bootable,
    "os-update_readonly_flag": VolumesController._readonly,
    "os-force_delete": VolumesController._force_delete,
    "revert": VolumesController._revert,
    **{name: VolumesController._old_attach_api for name in (
        "os-attach", "os-detach", "os-reserve", "os-unreserve", "os-begin_detaching",
        "os-roll_detaching", "os-initialize_connection", "os-terminate_connection")},
}


# -- snapshots -------------------------------------------------------------------------------

# NOTE: Cinder sorts snapshots by its model's columns, display_name
# (the name) among them; tempest's snapshot list tests do.
SNAPSHOT_SORT_KEYS = ("created_at", "updated_at", "id", "name", "display_name", "size",
                      "status", "volume_id")


def _snapshot_view(req: Request, snap: dict[str, Any], extended: bool = True
                   ) -> dict[str, Any]:
    return views.snapshot(snap, extended=extended, version=common.version(req))


class SnapshotsController:
    def __init__(self) -> None:
        self.api = volume_api.API()

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        common.authorize(req, "volume:get_all_snapshots")
        snaps = self.api.get_all_snapshots(req.context, all_projects=common.all_projects(req))
        for key, value in req.GET.items():
            if key in _IGNORED:
                continue
            if key not in ("name", "status", "volume_id", "project_id"):
                raise errors.bad_request(f"Invalid input received: Invalid filter keys: {key}")
            snaps = [s for s in snaps if str(s.get(key) or "") == value]
        page = common.paginate(req, snaps, "snapshots", req.path_info, SNAPSHOT_SORT_KEYS,
                               lambda s, k: s.get("name" if k == "display_name" else k))
        page["snapshots"] = [_snapshot_view(req, s) if detail else
                             {k: v for k, v in _snapshot_view(req, s).items()
                              if k in ("id", "name", "volume_id", "size", "status",
                                       "created_at", "updated_at", "description",
                                       "metadata")}
                             for s in page["snapshots"]]
        return page

    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=False)

    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=True)

    def show(self, req: Request, id: str) -> dict[str, Any]:
        snap = self.api.get_snapshot(req.context, id)
        common.authorize(req, "volume:get_snapshot", snap["project_id"])
        return {"snapshot": _snapshot_view(req, snap)}

    @wsgi.response(202)
    def create(self, req: Request) -> dict[str, Any]:
        body = common.body_of(req, "snapshot")
        volume_id = body.get("volume_id")
        # NOTE: as Cinder's schema (uuid_allow_null, required): a null
        # volume_id is looked up and not found (404), a missing one is 400.
        if "volume_id" not in body or (volume_id is not None and
                                       (not isinstance(volume_id, str) or not volume_id)):
            raise errors.bad_request("Invalid input received: volume_id is required")
        volume_id = str(volume_id)
        vol = self.api.get(req.context, volume_id)
        common.authorize(req, "volume:create_snapshot", vol["project_id"])
        force = common.as_bool("force", body.get("force", False))
        if common.version(req) >= (3, 66):
            force = True
        snap = self.api.create_snapshot(
            req.context, volume_id,
            name=common.as_text("name", body.get("name") or body.get("display_name")),
            description=common.as_text("description", body.get("description") or
                                       body.get("display_description")),
            force=force, metadata=common.as_metadata(body.get("metadata")))
        return {"snapshot": _snapshot_view(req, snap, extended=False)}

    def update(self, req: Request, id: str) -> dict[str, Any]:
        body = common.body_of(req, "snapshot")
        snap = self.api.get_snapshot(req.context, id)
        common.authorize(req, "volume:update_snapshot", snap["project_id"])
        values = _update_values(body, "snapshot_metadata",
                                "the snapshot has nothing to update (name or description).")
        return {"snapshot": _snapshot_view(req, self.api.update_snapshot(req.context, id,
                                                                         values),
                                           extended=False)}

    @wsgi.response(202)
    def delete(self, req: Request, id: str) -> None:
        snap = self.api.get_snapshot(req.context, id)
        common.authorize(req, "volume:delete_snapshot", snap["project_id"])
        self.api.delete_snapshot(req.context, id)

    def action(self, req: Request, id: str) -> Any:
        body = common.body_of(req)
        snap = self.api.get_snapshot(req.context, id)
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.bad_request("Malformed request body: one action is required")
        name, args = next(iter(body.items()))
        if name == "os-reset_status":
            common.authorize(req, "volume_extension:snapshot_admin_actions:reset_status",
                             snap["project_id"])
            status = (args or {}).get("status") if isinstance(args, dict) else None
            if status not in ("available", "error", "creating", "deleting",
                              "error_deleting"):
                raise errors.bad_request(f"Invalid input received: snapshot status "
                                         f"{status!r} is not valid")
            self.api.reset_snapshot_status(req.context, id, status)
            return _accepted()
        if name == "os-force_delete":
            common.authorize(req, "volume_extension:snapshot_admin_actions:reset_status",
                             snap["project_id"])
            self.api.reset_snapshot_status(req.context, id, "error")
            self.api.delete_snapshot(req.context, id)
            return _accepted()
        raise errors.bad_request(f"There is no such action: {name}")


def _update_values(body: dict[str, Any], metadata_column: str, nothing: str) -> dict[str, Any]:
    """The columns a PUT of a volume or snapshot changes: name and description
    (also by their v1 names display_name/display_description) and metadata;
    400 naming ``nothing`` when the body changes none."""
    values: dict[str, Any] = {}
    for key, column in (("name", "name"), ("display_name", "name"),
                        ("description", "description"),
                        ("display_description", "description")):
        if key in body:
            values[column] = common.as_text(key, body[key])
    if "metadata" in body:
        values[metadata_column] = common.as_metadata(body["metadata"])
    if not values:
        raise errors.bad_request(f"Invalid input received: {nothing}")
    return values
