"""/servers/{id}/os-volume_attachments: a server's volumes, as Nova's
VolumeAttachmentController (the Block Storage API's volumes behind it).

- GET: the server's volumes (``volumeAttachments``, ``limit``/``offset``);
  GET .../{volume_id}: one (404 when it is not attached to the server).
- POST: attach ``volumeId`` (200, the attachment with its ``device``);
  ``tag`` from 2.49 (shown from 2.70), ``delete_on_termination`` from 2.79
  (shown from 2.79). The server must be ACTIVE, PAUSED, SHUTOFF, RESIZED,
  SHELVED or (from 2.20) SHELVED_OFFLOADED with no task (409 otherwise); a
  volume not found or another project's is 404, one that is not available
  or already attached 400.
- PUT .../{volume_id}: from 2.85 with the same ``volumeId``: change
  ``delete_on_termination``; another ``volumeId`` (Nova's swap, admins):
  409, novalite does not swap volumes.
- DELETE .../{volume_id}: detach (202); the root volume of a server booted
  from a volume: 400.
- From 2.89 a listed/shown attachment has ``attachment_id`` and
  ``bdm_uuid`` instead of ``id``.
"""

from __future__ import annotations

import copy
from typing import Any

from novalite import policy
from novalite.api import errors, validation, wsgi
from novalite.api.compute.servers import target_of
from novalite.api.schemas import servers as server_schemas
from novalite.api.schemas import types
from novalite.api.wsgi import Request
from novalite.compute import vm_states
from novalite.compute.api_volumes import VolumeActionsAPI
from novalite.policies.volumes_attachments import VOLUME_ATTACHMENTS as VA

# NOTE: Nova's volumes.create_volume_attachment schemas (device: its pattern).
_DEVICE = {"type": ["string", "null"],
           "pattern": "(^/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$"}
create_schema: dict[str, Any] = {
    "type": "object",
    "properties": {
        "volumeAttachment": {
            "type": "object",
            "properties": {
                "volumeId": {"type": "string", "format": "uuid"},
                "device": _DEVICE,
            },
            "required": ["volumeId"],
            "additionalProperties": False,
        },
    },
    "required": ["volumeAttachment"],
    "additionalProperties": False,
}
create_schema_v249 = copy.deepcopy(create_schema)
create_schema_v249["properties"]["volumeAttachment"]["properties"]["tag"] = \
    server_schemas.tag
create_schema_v279 = copy.deepcopy(create_schema_v249)
create_schema_v279["properties"]["volumeAttachment"]["properties"][
    "delete_on_termination"] = types.boolean

update_schema: dict[str, Any] = copy.deepcopy(create_schema)
update_schema["properties"]["volumeAttachment"]["properties"].pop("device")
update_schema_v285: dict[str, Any] = copy.deepcopy(create_schema_v279)
update_schema_v285["properties"]["volumeAttachment"]["properties"].update(
    {"id": {"type": "string", "format": "uuid"},
     "serverId": {"type": "string", "format": "uuid"}})

_ATTACHMENT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"}, "serverId": {"type": "string"},
        "volumeId": {"type": "string"}, "device": {"type": ["string", "null"]},
        "tag": {"type": ["string", "null"]}, "delete_on_termination": {"type": "boolean"},
        "attachment_id": {"type": ["string", "null"]}, "bdm_uuid": {"type": ["string", "null"]},
    },
    "required": ["serverId", "volumeId"],
    "additionalProperties": False,
}
_ONE = {"type": "object", "properties": {"volumeAttachment": _ATTACHMENT},
        "required": ["volumeAttachment"], "additionalProperties": False}
_MANY = {"type": "object",
         "properties": {"volumeAttachments": {"type": "array", "items": _ATTACHMENT}},
         "required": ["volumeAttachments"], "additionalProperties": False}


def attachment_view(bdm: Any, server_id: str, version: Any) -> dict[str, Any]:
    """Nova's _translate_attachment_detail_view at ``version``."""
    view: dict[str, Any] = {"serverId": server_id, "volumeId": bdm.volume_id,
                            "device": bdm.device_name}
    if version.at_least("2.89"):
        view["attachment_id"] = bdm.attachment_id
        view["bdm_uuid"] = bdm.uuid
    else:
        view["id"] = bdm.volume_id
    if version.at_least("2.70"):
        view["tag"] = bdm.tag
    if version.at_least("2.79"):
        view["delete_on_termination"] = bool(bdm.delete_on_termination)
    return view


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1", "on", "yes", "y", "t")


def _int_param(req: Request, name: str, default: int | None) -> int | None:
    value = req.GET.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f"Invalid input for query parameters {name}. Value: "
                                 f"{value}. '{value}' is not an integer") from None
    if number < 0:
        raise errors.bad_request(f"Invalid input for query parameters {name}. Value: "
                                 f"{value}. {value} is less than the minimum of 0")
    return number


class VolumeAttachmentsController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api
        self.volumes = VolumeActionsAPI(compute_api)

    def _instance(self, req: Request, server_id: str, rule: str) -> Any:
        instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, VA % rule, target_of(instance))
        return instance

    @validation.query_schema({"limit": {"type": "integer", "minimum": 0},
                              "offset": {"type": "integer", "minimum": 0}}, validate=False)
    @validation.response_schema(_MANY)
    def index(self, req: Request, server_id: str) -> dict:
        """The server's volumes (``limit`` and ``offset`` as Nova's)."""
        instance = self._instance(req, server_id, "index")
        limit = _int_param(req, "limit", None)
        offset = _int_param(req, "offset", 0) or 0
        bdms = self.volumes.get_volume_mappings(req.context, instance)
        bdms = bdms[offset:offset + limit] if limit is not None else bdms[offset:]
        return {"volumeAttachments": [attachment_view(b, instance.uuid, req.api_version)
                                      for b in bdms]}

    @validation.response_schema(_ONE)
    def show(self, req: Request, server_id: str, id: str) -> dict:
        """One volume of the server (404 when it is not attached to it)."""
        instance = self._instance(req, server_id, "show")
        bdm = self.volumes.get_volume_mapping(req.context, instance, id)
        return {"volumeAttachment": attachment_view(bdm, instance.uuid, req.api_version)}

    @validation.schema(create_schema, "2.1", "2.48")
    @validation.schema(create_schema_v249, "2.49", "2.78")
    @validation.schema(create_schema_v279, "2.79")
    @validation.response_schema(_ONE)
    def create(self, req: Request, server_id: str, body: dict) -> dict:
        """Attach a volume to the server."""
        version = req.api_version
        attachment = body["volumeAttachment"]
        instance = self._instance(req, server_id, "create")
        if instance.vm_state == vm_states.SHELVED_OFFLOADED and not version.at_least("2.20"):
            raise errors.HTTPError(409, f"Cannot 'attach_volume' instance {instance.uuid} "
                                        "while it is in vm_state shelved_offloaded")
        delete_on_termination = _bool(attachment.get("delete_on_termination", False))
        bdm = self.volumes.attach_volume(req.context, instance, attachment["volumeId"],
                                         device=attachment.get("device"),
                                         tag=attachment.get("tag"),
                                         delete_on_termination=delete_on_termination)
        view: dict[str, Any] = {"id": bdm.volume_id, "serverId": instance.uuid,
                                "volumeId": bdm.volume_id, "device": bdm.device_name}
        if version.at_least("2.70"):
            view["tag"] = bdm.tag
        if version.at_least("2.79"):
            view["delete_on_termination"] = bool(bdm.delete_on_termination)
        return {"volumeAttachment": view}

    @validation.schema(update_schema, "2.1", "2.84")
    @validation.schema(update_schema_v285, "2.85")
    @wsgi.response(202)
    def update(self, req: Request, server_id: str, id: str, body: dict) -> None:
        """2.85: change delete_on_termination of an attached volume; a
        different volumeId asks for a swap, which novalite does not do."""
        attachment = body["volumeAttachment"]
        if attachment["volumeId"] != id:
            instance = self._instance(req, server_id, "swap")
            self.volumes.swap_volume(req.context, instance, id, attachment["volumeId"])
            return
        if not req.api_version.at_least("2.85"):
            raise errors.bad_request("The volumeId of the body must differ from the attached "
                                     "volume's to swap it (updating an attachment needs "
                                     "microversion 2.85)")
        instance = self._instance(req, server_id, "update")
        bdm = self.volumes.get_volume_mapping(req.context, instance, id)
        for key, current in (("id", bdm.volume_id), ("serverId", instance.uuid),
                             ("device", bdm.device_name), ("tag", bdm.tag)):
            if key in attachment and attachment[key] != current:
                raise errors.bad_request(f"The '{key}' of a volume attachment cannot be "
                                         f"changed (it is {current!r})")
        if "delete_on_termination" in attachment:
            bdm.delete_on_termination = _bool(attachment["delete_on_termination"])
            bdm.save()

    @wsgi.response(202)
    def delete(self, req: Request, server_id: str, id: str) -> None:
        """Detach the volume from the server."""
        instance = self._instance(req, server_id, "delete")
        if instance.vm_state == vm_states.SHELVED_OFFLOADED and \
                not req.api_version.at_least("2.20"):
            raise errors.HTTPError(409, f"Cannot 'detach_volume' instance {instance.uuid} "
                                        "while it is in vm_state shelved_offloaded")
        self.volumes.detach_volume(req.context, instance, id)
