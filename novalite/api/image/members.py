"""/image/v2/images/{id}/members: Glance's image sharing. The owner offers
a shared image to another project (``POST``, pending), that project accepts
or rejects it (``PUT``; an accepted image appears in its default image list,
any offered one can be shown), and the owner withdraws it (``DELETE``)."""

from __future__ import annotations

from typing import Any

from novalite.api import validation, wsgi
from novalite.api.image import documents
from novalite.api.views.common import isotime
from novalite.api.wsgi import Request

_MEMBER_ID = {"type": "string", "minLength": 1, "maxLength": 255}
CREATE = {"type": "object", "properties": {"member": _MEMBER_ID}, "required": ["member"],
          "additionalProperties": False}
UPDATE = {"type": "object",
          "properties": {"status": {"type": "string", "enum": list(documents.MEMBER_STATUSES)}},
          "required": ["status"], "additionalProperties": False}
MEMBER_RESPONSE = {
    "type": "object", "additionalProperties": False,
    "required": ["image_id", "member_id", "status", "created_at", "updated_at", "schema"],
    "properties": {k: {"type": "string"} for k in ("image_id", "member_id", "status",
                                                   "created_at", "updated_at", "schema")},
}
MEMBERS_RESPONSE = {
    "type": "object", "required": ["members", "schema"], "additionalProperties": False,
    "properties": {"members": {"type": "array", "items": MEMBER_RESPONSE},
                   "schema": {"type": "string"}},
}


def _view(member: dict) -> dict:
    return {"image_id": member["image_id"], "member_id": member["member"],
            "status": member["status"], "created_at": isotime(member["created_at"]),
            "updated_at": isotime(member["updated_at"] or member["created_at"]),
            "schema": "/v2/schemas/member"}


class MembersController:
    def __init__(self, image_api: Any) -> None:
        self.image_api = image_api

    @validation.response_schema(MEMBERS_RESPONSE)
    def index(self, req: Request, image_id: str) -> dict:
        """The image's members (a member sees only its own membership)."""
        members = self.image_api.members(req.context, image_id)
        return {"members": [_view(m) for m in members], "schema": "/v2/schemas/members"}

    @validation.schema(CREATE)
    @validation.response_schema(MEMBER_RESPONSE)
    def create(self, req: Request, image_id: str, body: dict) -> dict:
        """Offer the image to a project (200, pending, as Glance answers)."""
        return _view(self.image_api.add_member(req.context, image_id, body["member"]))

    @validation.response_schema(MEMBER_RESPONSE)
    def show(self, req: Request, image_id: str, member_id: str) -> dict:
        return _view(self.image_api.member(req.context, image_id, member_id))

    @validation.schema(UPDATE)
    @validation.response_schema(MEMBER_RESPONSE)
    def update(self, req: Request, image_id: str, member_id: str, body: dict) -> dict:
        """The member's answer: accepted, rejected or pending again."""
        return _view(self.image_api.set_member_status(req.context, image_id, member_id,
                                                      body["status"]))

    @wsgi.response(204)
    def delete(self, req: Request, image_id: str, member_id: str) -> None:
        """Stop sharing the image with the project."""
        self.image_api.remove_member(req.context, image_id, member_id)
