"""/servers: create, list, show, update, delete."""

from __future__ import annotations

import secrets
from typing import Any

from oslo_utils import timeutils

from novalite import exception
from novalite.api import common, errors, validation, wsgi
from novalite.api.schemas import servers as schemas
from novalite.api.views import servers as views
from novalite.api.wsgi import Request
from novalite.objects.flavor import Flavor

# NOTE: Nova tells a client about a bad flavorRef/imageRef on create with 400
# (the request is wrong), not 404 (the server URL exists).
_BAD_REFERENCE = (exception.FlavorNotFound, exception.ImageNotFound)


class ServersController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    # -- read ------------------------------------------------------------------

    def index(self, req: Request) -> dict:
        return self._list(req, detailed=False)

    def detail(self, req: Request) -> dict:
        return self._list(req, detailed=True)

    def show(self, req: Request, id: str) -> dict:
        instance = self.compute_api.get(req.context, id)
        return {"server": views.detail(instance, req.links, req.context.is_admin)}

    def _list(self, req: Request, detailed: bool) -> dict:
        ctx = req.context
        search = search_options(req.GET, ctx.is_admin)
        if search is None:
            return {"servers": []}
        search_opts, task_states = search
        limit, marker = common.limit_and_marker(req.GET)
        sort_key, sort_dir = common.sort_params(req.GET)
        try:
            instances = list(self.compute_api.get_all(ctx, search_opts, limit=limit,
                                                      marker=marker, sort_key=sort_key,
                                                      sort_dir=sort_dir))
        except exception.InstanceNotFound:
            if marker is None:
                raise
            raise common.marker_not_found(marker) from None
        page_full = bool(instances) and len(instances) == limit
        last = instances[-1].uuid if instances else None
        if task_states is not None:
            instances = [i for i in instances if i.task_state in task_states]
        body: dict = {"servers": views.collection(instances, req.links, ctx.is_admin,
                                                  detailed)}
        if page_full and last:
            path = "servers/detail" if detailed else "servers"
            body["servers_links"] = [req.links.next_link(path, req.GET.items(), last)]
        return body

    # -- create ----------------------------------------------------------------

    @validation.schema(schemas.create)
    def create(self, req: Request, body: dict) -> Any:
        ctx = req.context
        server = body["server"]
        min_count, max_count = _counts(server)
        try:
            flavor = _flavor(ctx, server["flavorRef"])
            instances, reservation_id = self.compute_api.create(
                ctx, flavor=flavor, image_id=_image_id(server),
                display_name=server["name"], min_count=min_count, max_count=max_count,
                availability_zone=server.get("availability_zone"),
                metadata=server.get("metadata") or {},
                access_ip_v4=server.get("accessIPv4"), access_ip_v6=server.get("accessIPv6"),
                key_name=server.get("key_name"))
        except _BAD_REFERENCE as e:
            raise errors.bad_request(e.format_message()) from None
        if _true(server.get("return_reservation_id")):
            return wsgi.json_response({"reservation_id": reservation_id}, 202)
        # NOTE: no guest agent sets it yet; returned as Nova does, for clients
        # that expect the key.
        admin_pass = server.get("adminPass") or secrets.token_urlsafe(9)
        view = views.created(instances[0], req.links, admin_pass)
        return wsgi.json_response({"server": view}, 202,
                                  headers={"Location": view["links"][0]["href"]})

    # -- update, delete --------------------------------------------------------

    @validation.schema(schemas.update)
    def update(self, req: Request, id: str, body: dict) -> dict:
        ctx = req.context
        instance = self.compute_api.get(ctx, id)
        changes = body["server"]
        if "name" in changes:
            instance.display_name = changes["name"]
        if "accessIPv4" in changes:
            instance.access_ip_v4 = changes["accessIPv4"]
        if "accessIPv6" in changes:
            instance.access_ip_v6 = changes["accessIPv6"]
        instance.save()
        return {"server": views.detail(instance, req.links, ctx.is_admin)}

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        ctx = req.context
        self.compute_api.delete(ctx, self.compute_api.get(ctx, id))


def search_options(params: Any, is_admin: bool) -> tuple[dict, set | None] | None:
    """The compute API's search_opts from the query, and the task states to
    keep (None: any); None when a status is unknown (Nova answers an empty
    list at 2.1).

    NOTE: unknown parameters are ignored (the CLI sends ``deleted=False``),
    and admin-only filters are dropped for others, as Nova does.
    """
    opts: dict[str, Any] = {}
    task_states: set | None = None
    if params.get("name"):
        opts["display_name"] = params["name"]
    statuses = params.getall("status")
    if statuses:
        vm_states, tasks = views.states_from_status(statuses)
        if not vm_states:
            return None
        opts["vm_state"] = vm_states
        if views.DEFAULT not in tasks:
            task_states = tasks
        if vm_states == ["deleted"]:
            if not is_admin:
                raise exception.Forbidden(action="servers:index:status=DELETED")
            opts["deleted"] = True
    if params.get("image"):
        opts["image_ref"] = common.last_segment(params["image"])
    if params.get("flavor"):
        opts["flavor_id"] = common.last_segment(params["flavor"])
    if "changes-since" in params:
        opts["changes_since"] = _changes_since(params["changes-since"])
    if common.bool_param(params, "all_tenants"):
        if not is_admin:
            raise exception.Forbidden(action="os_compute_api:servers:index:get_all_tenants")
        opts["all_tenants"] = True
    if is_admin and params.get("host"):
        opts["host"] = params["host"]
    return opts, task_states


def _changes_since(value: str) -> Any:
    try:
        return timeutils.normalize_time(timeutils.parse_isotime(value))
    except ValueError:
        raise validation.query_error("changes-since", value,
                                     f"'{value}' is not a 'date-time'") from None


def _counts(server: dict) -> tuple[int, int]:
    """Nova's defaults: one count given means exactly that many."""
    min_count = int(server.get("min_count", 1))
    max_count = int(server.get("max_count", min_count))
    if min_count > max_count:
        raise errors.bad_request(f"min_count ({min_count}) must be <= max_count "
                                 f"({max_count})")
    return min_count, max_count


def _flavor(ctx: Any, flavor_ref: str | int) -> Any:
    flavor: Any = Flavor.get_by_flavor_id(ctx, common.last_segment(flavor_ref))
    if flavor.disabled:
        raise errors.bad_request(f"Flavor {flavor.flavorid} is disabled and cannot be used "
                                 "to create a server.")
    return flavor


def _image_id(server: dict) -> str:
    """The image from ``imageRef``, or from the boot entry of
    ``block_device_mapping_v2`` (the CLI sends both); volumes are refused."""
    for bdm in server.get("block_device_mapping_v2") or []:
        if bdm.get("source_type") != "image" or bdm.get("destination_type",
                                                          "local") != "local":
            raise errors.bad_request(
                "block_device_mapping_v2: only image-backed local boot disks are supported "
                f"(got source_type={bdm.get('source_type')!r}, "
                f"destination_type={bdm.get('destination_type')!r}); novalite has no volumes.")
    image_ref = server.get("imageRef")
    if image_ref:
        return common.last_segment(image_ref)
    for bdm in server.get("block_device_mapping_v2") or []:
        if str(bdm.get("boot_index")) == "0" and bdm.get("uuid"):
            return bdm["uuid"]
    raise errors.bad_request("Missing imageRef attribute")


def _true(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1", "on", "yes", "y", "t")
