"""Cinder's attachment API (3.27+; ``os-complete`` 3.44+), as Nova drives
it: create (reserve, no connector), update with the host's connector (the
connection_info comes back), complete, delete (the export closes, the
volume is available again)."""

from __future__ import annotations

from typing import Any

from novalite.api import errors, wsgi
from novalite.api.volume import common
from novalite.api.wsgi import Request
from novalite.volume import api as volume_api
from novalite.volume import views

SORT_KEYS = ("created_at", "updated_at", "id", "status", "instance", "volume_id")


def _need(req: Request, version: tuple[int, int]) -> None:
    if common.version(req) < version:
        raise errors.HTTPError(404, f"The attachments API needs microversion "
                                    f"{common.text(version)} or later "
                                    f"(OpenStack-API-Version: volume {common.text(version)}).")


class AttachmentsController:
    def __init__(self) -> None:
        self.api = volume_api.API()

    def _list(self, req: Request, detail: bool) -> dict[str, Any]:
        _need(req, (3, 27))
        common.authorize(req, "volume:attachment_get")
        atts = self.api.get_all_attachments(req.context, all_projects=common.all_projects(req),
                                            volume_id=req.GET.get("volume_id"),
                                            instance_uuid=req.GET.get("instance_id"))
        if req.GET.get("status"):
            atts = [a for a in atts if a["attach_status"] == req.GET["status"]]
        page = common.paginate(req, atts, "attachments", req.path_info, SORT_KEYS,
                               lambda a, k: a.get({"status": "attach_status",
                                                   "instance": "instance_uuid"}.get(k, k)))
        page["attachments"] = [views.attachment(a, detail=detail) for a in page["attachments"]]
        return page

    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=False)

    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, detail=True)

    def show(self, req: Request, id: str) -> dict[str, Any]:
        _need(req, (3, 27))
        att = self.api.get_attachment(req.context, id)
        common.authorize(req, "volume:attachment_get")
        return {"attachment": views.attachment(att)}

    def create(self, req: Request) -> dict[str, Any]:
        _need(req, (3, 27))
        body = common.body_of(req, "attachment")
        volume_id = body.get("volume_uuid") or body.get("volume_id")
        instance = body.get("instance_uuid")
        if not isinstance(volume_id, str) or not isinstance(instance, str):
            raise errors.bad_request("Invalid input received: volume_uuid and instance_uuid "
                                     "are required")
        connector = body.get("connector")
        if connector is not None and not isinstance(connector, dict):
            raise errors.bad_request("Invalid input received: connector must be an object")
        mode = body.get("mode", "rw") if common.version(req) >= (3, 54) else "rw"
        vol = self.api.get(req.context, volume_id)
        common.authorize(req, "volume:attachment_create", vol["project_id"])
        att = self.api.attachment_create(req.context, volume_id, instance, connector,
                                         mode=mode)
        return {"attachment": views.attachment(att)}

    def update(self, req: Request, id: str) -> dict[str, Any]:
        _need(req, (3, 27))
        body = common.body_of(req, "attachment")
        connector = body.get("connector")
        if not isinstance(connector, dict) or not connector:
            raise errors.bad_request("Invalid input received: connector is required")
        self.api.get_attachment(req.context, id)
        common.authorize(req, "volume:attachment_update")
        att = self.api.attachment_update(req.context, id, connector)
        return {"attachment": views.attachment(att)}

    @wsgi.response(204)
    def action(self, req: Request, id: str) -> None:
        _need(req, (3, 44))
        body = common.body_of(req)
        if not isinstance(body, dict) or "os-complete" not in body:
            raise errors.bad_request("There is no such action (os-complete is the "
                                     "attachments' one)")
        self.api.get_attachment(req.context, id)
        common.authorize(req, "volume:attachment_complete")
        self.api.attachment_complete(req.context, id)

    def delete(self, req: Request, id: str) -> dict[str, Any]:
        _need(req, (3, 27))
        self.api.get_attachment(req.context, id)
        common.authorize(req, "volume:attachment_delete")
        vol = self.api.attachment_delete(req.context, id)
        return {"attachments": [views.attachment(a, detail=False)
                                for a in vol.get("attachments") or []]}
