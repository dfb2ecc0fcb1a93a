"""/servers/{id}/os-interface: a server's port interfaces, as Nova's
attach_interfaces API (Neutron ports behind it).

- GET: the server's ports (``interfaceAttachments``); GET .../{port_id}: one
  (404 when the server has no such port).
- POST: attach the user's port (``port_id``) or a new port on a network
  (``net_id``, optionally with one ``fixed_ips`` address; neither: the
  project's only network); from 2.49 a ``tag``, shown from 2.70. Answers
  the attachment (200). Errors as Nova's: both port and network, or an
  address without a network 400; a port or network not found (or another
  project's) 404; a port in use, an address taken, the port quota full, a
  locked server or one not ACTIVE/PAUSED/SHUTOFF 409; the host failing to
  plug it 500.
- DELETE .../{port_id}: detach (202); the port is kept if the user made
  it, deleted if it was made for the server.
"""

from __future__ import annotations

import copy
from typing import Any

from novalite import policy
from novalite.api import errors, validation, wsgi
from novalite.api.compute.servers import target_of
from novalite.api.schemas import servers as server_schemas
from novalite.api.wsgi import Request
from novalite.compute.api_interfaces import InterfacesAPI
from novalite.policies import attach_interfaces as aip

_IP = {"type": "string", "oneOf": [{"format": "ipv4"}, {"format": "ipv6"}]}

# NOTE: Nova's attach_interfaces.create (and create_v249, with a tag).
create_schema: dict[str, Any] = {
    "type": "object",
    "properties": {
        "interfaceAttachment": {
            "type": "object",
            "properties": {
                "net_id": {"type": "string", "format": "uuid"},
                "port_id": {"type": "string", "format": "uuid"},
                "fixed_ips": {
                    "type": "array", "minItems": 1, "maxItems": 1,
                    "items": {"type": "object",
                              "properties": {"ip_address": _IP},
                              "required": ["ip_address"],
                              "additionalProperties": False},
                },
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
create_schema_v249 = copy.deepcopy(create_schema)
create_schema_v249["properties"]["interfaceAttachment"]["properties"]["tag"] = \
    server_schemas.tag


def attachment_view(port: dict[str, Any], show_tag: bool) -> dict[str, Any]:
    """Nova's _translate_interface_attachment_view of a port."""
    view = {"net_id": port["network_uuid"], "port_id": port["uuid"],
            "mac_addr": port["mac"], "port_state": port["status"],
            "fixed_ips": [{"subnet_id": a["subnet_id"], "ip_address": a["ip_address"]}
                          for a in port.get("fixed_ips") or []]}
    if show_tag:
        view["tag"] = port.get("tag")
    return view


class InterfacesController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api
        self.interfaces = InterfacesAPI(compute_api)

    def _instance(self, req: Request, server_id: str, rule: str) -> Any:
        instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, rule, target_of(instance))
        return instance

    def index(self, req: Request, server_id: str) -> dict:
        """The server's interface attachments."""
        instance = self._instance(req, server_id, aip.LIST)
        show_tag = req.api_version.at_least("2.70")
        return {"interfaceAttachments": [attachment_view(p, show_tag) for p in
                                         self.interfaces.list_ports(instance)]}

    def show(self, req: Request, server_id: str, id: str) -> dict:
        """One interface attachment of the server."""
        instance = self._instance(req, server_id, aip.SHOW)
        return {"interfaceAttachment": attachment_view(
            self.interfaces.show_port(instance, id), req.api_version.at_least("2.70"))}

    @validation.schema(create_schema, "2.1", "2.48")
    @validation.schema(create_schema_v249, "2.49")
    def create(self, req: Request, server_id: str, body: dict) -> dict:
        """Attach a port, or a new port on a network, to the server."""
        attachment = (body or {}).get("interfaceAttachment") or {}
        network_id = attachment.get("net_id")
        port_id = attachment.get("port_id")
        fixed_ips = attachment.get("fixed_ips") or []
        requested_ip = fixed_ips[0]["ip_address"] if fixed_ips else None
        if network_id and port_id:
            raise errors.bad_request("Must not input both network_id and port_id")
        if requested_ip and not network_id:
            raise errors.bad_request("Must input network_id when request IP address")
        instance = self._instance(req, server_id, aip.CREATE)
        vif = self.interfaces.attach_interface(req.context, instance, network_id, port_id,
                                               requested_ip, attachment.get("tag"))
        return self.show(req, server_id, vif["id"])

    @wsgi.response(202)
    def delete(self, req: Request, server_id: str, id: str) -> None:
        """Detach the port from the server."""
        instance = self._instance(req, server_id, aip.DELETE)
        self.interfaces.detach_interface(req.context, instance, id)
