"""The rest of the Block Storage API the clients read: the version
documents, volume types (the one default), quota sets, limits,
availability zones and the (empty) extension list."""

from __future__ import annotations

import uuid
from typing import Any

from novalite.api import errors, wsgi
from novalite.api.volume import common
from novalite.api.wsgi import Request
from novalite.volume import api as volume_api
from novalite.volume import quotas, views

UPDATED = "2026-12-06T00:00:00Z"


def _version_entry(req: Request) -> dict[str, Any]:
    return {"id": "v3.0", "status": "CURRENT", "version": common.text(common.MAX_VERSION),
            "min_version": common.text(common.MIN_VERSION), "updated": UPDATED,
            "links": [{"rel": "describedby", "type": "text/html",
                       "href": "https://docs.openstack.org/"},
                      {"rel": "self", "href": f"{req.links.root}{common.PREFIX}/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.volume+json;version=3"}]}


class VersionsController:
    """``/volume/`` and ``/volume/v3/``: Cinder's version documents (public)."""

    def index(self, req: Request) -> dict[str, Any]:
        return {"versions": [_version_entry(req)]}

    @wsgi.response(300)
    def root(self, req: Request) -> dict[str, Any]:
        """``/volume/``: Cinder answers its root 300 Multiple Choices."""
        return self.index(req)


class TypesController:
    def __init__(self) -> None:
        self.api = volume_api.API()

    def index(self, req: Request) -> dict[str, Any]:
        common.authorize(req, "volume_extension:types_get")
        return {"volume_types": [views.volume_type(t, common.is_admin(req))
                                 for t in self.api.get_types(req.context)]}

    def show(self, req: Request, id: str) -> dict[str, Any]:
        common.authorize(req, "volume_extension:types_get")
        return {"volume_type": views.volume_type(self.api.get_type(req.context, id),
                                                 common.is_admin(req))}

    def default(self, req: Request) -> dict[str, Any]:
        common.authorize(req, "volume_extension:types_get")
        return {"volume_type": views.volume_type(
            self.api.get_type(req.context, "__DEFAULT__"), common.is_admin(req))}

    def extra_specs(self, req: Request, id: str) -> dict[str, Any]:
        common.authorize(req, "volume_extension:types_get")
        return {"extra_specs": dict(self.api.get_type(req.context, id).get("extra_specs")
                                    or {})}


_SHOWN = ("volumes", "snapshots", "gigabytes", "per_volume_gigabytes")
# NOTE: Cinder shows these too; novalite has no backups or groups (0 used,
# the defaults Cinder has) and one volume type, whose per-type quotas are
# the project's.
_FIXED = {"backups": 10, "backup_gigabytes": 1000, "groups": 10}


def _quota_view(project_id: str, limits: dict[str, int], usage: dict[str, int] | None
                ) -> dict[str, Any]:
    values: dict[str, Any] = {k: limits[k] for k in _SHOWN}
    values.update(_FIXED)
    for resource in ("volumes", "snapshots", "gigabytes"):
        values[f"{resource}___DEFAULT__"] = limits[resource]
    if usage is not None:
        used = dict(usage)
        for resource in ("volumes", "snapshots", "gigabytes"):
            used[f"{resource}___DEFAULT__"] = usage[resource]
        values = {k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0,
                      "allocated": 0} for k, v in values.items()}
    values["id"] = project_id
    return values


class QuotaSetsController:
    def _target(self, req: Request, target_id: str, rule: str) -> str:
        if target_id != req.context.project_id and not common.is_admin(req):
            raise errors.HTTPError(403, "Policy doesn't allow "
                                        f"{rule} to be performed.")
        common.authorize(req, rule, target_id)
        return target_id

    def show(self, req: Request, target_id: str) -> dict[str, Any]:
        project = self._target(req, target_id, "volume_extension:quotas:show")
        usage = quotas.usage(project) if common.as_bool(
            "usage", req.GET.get("usage", "false")) else None
        return {"quota_set": _quota_view(project, quotas.limits(project), usage)}

    def defaults(self, req: Request, target_id: str) -> dict[str, Any]:
        common.authorize(req, "volume_extension:quotas:show", req.context.project_id)
        return {"quota_set": _quota_view(target_id, quotas.defaults(), None)}

    def update(self, req: Request, target_id: str) -> dict[str, Any]:
        common.authorize(req, "volume_extension:quotas:update", target_id)
        body = common.body_of(req, "quota_set")
        values: dict[str, int] = {}
        for key, value in body.items():
            if key in ("tenant_id", "id"):
                continue
            resource = key.removesuffix("___DEFAULT__")
            # NOTE: a quota set read back as it was shown (clients restore
            # one so, tempest's quota tests among them) sets the fixed
            # resources to what they are: accepted, nothing to change.
            if resource in _FIXED and common.as_int(key, value, low=-1) == _FIXED[resource]:
                continue
            if resource in _FIXED:
                raise errors.bad_request(f"Invalid input received: novalite has no "
                                         f"{resource}; its quota cannot be set.")
            if resource not in _SHOWN:
                raise errors.bad_request(f"Bad key(s) in quota set: {key}")
            values[resource] = common.as_int(key, value, low=-1)
        quotas.set_limits(target_id, values)
        return {"quota_set": {k: v for k, v in _quota_view(
            target_id, quotas.limits(target_id), None).items() if k != "id"}}

    def delete(self, req: Request, target_id: str) -> None:
        common.authorize(req, "volume_extension:quotas:delete", target_id)
        quotas.reset(target_id)


class LimitsController:
    def index(self, req: Request) -> dict[str, Any]:
        project = req.context.project_id
        wanted = req.GET.get("project_id")
        if wanted and wanted != project:
            if not common.is_admin(req):
                raise errors.HTTPError(403, "Policy doesn't allow limits_extension:"
                                            "used_limits to be performed.")
            project = wanted
        common.authorize(req, "limits_extension:used_limits", project)
        limits = quotas.limits(project)
        used = quotas.usage(project)
        return {"limits": {"rate": [], "absolute": {
            "maxTotalVolumes": limits["volumes"], "maxTotalSnapshots": limits["snapshots"],
            "maxTotalVolumeGigabytes": limits["gigabytes"],
            "maxTotalBackups": _FIXED["backups"],
            "maxTotalBackupGigabytes": _FIXED["backup_gigabytes"],
            "totalVolumesUsed": used["volumes"], "totalSnapshotsUsed": used["snapshots"],
            "totalGigabytesUsed": used["gigabytes"], "totalBackupsUsed": 0,
            "totalBackupGigabytesUsed": 0}}}


class AvailabilityZonesController:
    def index(self, req: Request) -> dict[str, Any]:
        from novalite.conf import CONF

        return {"availabilityZoneInfo": [{"zoneName": CONF.volume.availability_zone,
                                          "zoneState": {"available": True}}]}


class ExtensionsController:
    def index(self, req: Request) -> dict[str, Any]:
        return {"extensions": []}


_MESSAGE_NS = uuid.UUID("6b0a3c55-7a52-4bd4-9f1e-2f1d1e7c9a10")


def _messages(req: Request) -> list[dict[str, Any]]:
    """Cinder's user messages (3.3), from the reasons of the volumes and
    snapshots that went to an error state."""
    api = volume_api.API()
    out = []
    everyone = common.all_projects(req)
    for kind, rows in (("VOLUME", api.get_all(req.context, all_projects=everyone)),
                       ("SNAPSHOT", api.get_all_snapshots(req.context,
                                                          all_projects=everyone))):
        for row in rows:
            if not row.get("fault") or not str(row.get("status", "")).startswith("error"):
                continue
            when = views.timestamp(row.get("updated_at") or row.get("created_at"))
            out.append({"id": str(uuid.uuid5(_MESSAGE_NS, f"{row['id']}:{when}")),
                        "event_id": "VOLUME_VOLUME_001_002" if kind == "VOLUME"
                        else "VOLUME_SNAPSHOT_001_001",
                        "user_message": f"{row['status']}: {row['fault']}",
                        "message_level": "ERROR", "resource_type": kind,
                        "resource_uuid": row["id"], "created_at": when,
                        "guaranteed_until": None, "request_id": None,
                        "links": common.resource_links(req, "messages", row["id"])})
    return out


class MessagesController:
    def _need(self, req: Request) -> None:
        if common.version(req) < (3, 3):
            raise errors.HTTPError(404, "Messages need microversion 3.3 or later.")

    def index(self, req: Request) -> dict[str, Any]:
        self._need(req)
        common.authorize(req, "volume:get_all")
        return {"messages": _messages(req)}

    def show(self, req: Request, id: str) -> dict[str, Any]:
        self._need(req)
        common.authorize(req, "volume:get_all")
        for message in _messages(req):
            if message["id"] == id:
                return {"message": message}
        raise errors.not_found(f"Message {id} could not be found.")


class ServicesController:
    """``/os-services`` (admins): the volume services, as Cinder names them
    (``cinder-volume``, host ``<host>@<backend>``)."""

    def index(self, req: Request) -> dict[str, Any]:
        from novalite.conf import CONF
        from novalite.objects.service import ServiceList

        common.authorize(req, "volume_extension:services:index")
        out = []
        for svc in ServiceList.get_all(req.context, binary=volume_api.BINARY):
            host = f"{svc.host}@{CONF.volume.backend}"
            if req.GET.get("host") and req.GET["host"] not in (svc.host, host):
                continue
            if req.GET.get("binary") and req.GET["binary"] != "cinder-volume":
                continue
            seen = svc.last_seen_up
            out.append({"binary": "cinder-volume", "host": host,
                        "zone": CONF.volume.availability_zone,
                        "status": "disabled" if svc.disabled else "enabled",
                        "state": "up" if svc.is_up() else "down",
                        "updated_at": views.timestamp(seen.replace(tzinfo=None)
                                                      if seen else None),
                        "disabled_reason": svc.disabled_reason,
                        "frozen": False, "replication_status": "disabled",
                        "active_backend_id": None, "backend_state": "up"})
            # NOTE: as Cinder: the cluster from 3.7 on.
            if common.version(req) >= (3, 7):
                out[-1]["cluster"] = None
        return {"services": out}


class PoolsController:
    """``/scheduler-stats/get_pools`` (admins): each up volume service's pool
    (``<host>@<backend>#<pool>``) with its capacity with ``detail``."""

    def index(self, req: Request) -> dict[str, Any]:
        from novalite.conf import CONF
        from novalite.objects.service import ServiceList
        from novalite.volume import rpcapi

        common.authorize(req, "scheduler_extension:scheduler_stats:get_pools")
        client = rpcapi.VolumeAPI()
        detail = common.as_bool("detail", req.GET.get("detail", "false"))
        pools = []
        for svc in ServiceList.get_all(req.context, binary=volume_api.BINARY):
            if not svc.is_up():
                continue
            backend = CONF.volume.backend
            pool: dict[str, Any] = {"name": f"{svc.host}@{backend}#{backend}"}
            if detail:
                pool["capabilities"] = client.get_stats(req.context, svc.host)
            pools.append(pool)
        return {"pools": pools}
