"""/servers: create, list, show, update, delete.

Every lookup of one server is made within the caller's project (admins:
any project), so another project's server is 404 on every verb, and only
then is the policy asked whether the caller may do this to it (readers
read, members act, admins act anywhere).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import posixpath
import secrets
from typing import Any

from oslo_utils import strutils, timeutils

from novalite import exception, policy, quota
from novalite.api import common, errors, validation, wsgi
from novalite.api.compute.flavors import get_flavor
from novalite.api.schemas import scheduler_hints
from novalite.api.schemas import server_queries as queries
from novalite.api.schemas import server_responses as responses
from novalite.api.schemas import servers as schemas
from novalite.api.views import servers as views
from novalite.api.wsgi import Request
from novalite.policies import servers as sp

# NOTE: Nova tells a client about a bad flavorRef/imageRef on create with 400
# (the request is wrong), not 404 (the server URL exists).
_BAD_REFERENCE = (exception.FlavorNotFound, exception.ImageNotFound)

MAX_USER_DATA_LENGTH = 65535

# NOTE: any user may filter by Nova's 2.1 user filters (name, status, image,
# flavor, ip, reservation_id, changes-since); these need the
# os_compute_api:servers:allow_all_filters rule (admins), else are ignored.
_ADMIN_FILTERS = {"host": "host", "node": "node", "user_id": "user_id", "uuid": "uuids"}


def target_of(instance: Any) -> dict:
    return {"project_id": instance.project_id, "user_id": instance.user_id}


def show_extended(ctx: Any) -> bool:
    return policy.authorize(ctx, sp.EXTENDED_ATTRS, do_raise=False)


def show_fault_details(ctx: Any) -> bool:
    """A fault's ``details`` (tracebacks, host paths, commands) are for
    admins only, whatever the fault's code."""
    return policy.check_is_admin(ctx)


class ServersController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    # -- read ------------------------------------------------------------------

    @validation.query_schema(queries.list_query, validate=False)
    @validation.response_schema(responses.index_response)
    def index(self, req: Request) -> dict:
        policy.authorize(req.context, sp.SERVERS % "index")
        return self._list(req, detailed=False)

    @validation.query_schema(queries.list_query, validate=False)
    @validation.response_schema(responses.detail_response)
    def detail(self, req: Request) -> dict:
        policy.authorize(req.context, sp.SERVERS % "detail")
        return self._list(req, detailed=True)

    @validation.response_schema(responses.show_response)
    def show(self, req: Request, id: str) -> dict:
        ctx = req.context
        instance = self.compute_api.get(ctx, id)
        policy.authorize(ctx, sp.SERVERS % "show", target_of(instance))
        return {"server": views.detail(instance, req.links, show_extended(ctx),
                                       views.addresses_of([instance]),
                                       fault_details=show_fault_details(ctx))}

    def _list(self, req: Request, detailed: bool) -> dict:
        ctx = req.context
        search_opts = search_options(req.GET, ctx, detailed)
        if search_opts is None:
            return {"servers": []}
        limit, marker = common.limit_and_marker(req.GET)
        sort_key, sort_dir = common.sort_params(req.GET)
        sort_key = _SORT_KEYS.get(sort_key, sort_key)
        try:
            instances = list(self.compute_api.get_all(ctx, search_opts, limit=limit,
                                                      marker=marker, sort_key=sort_key,
                                                      sort_dir=sort_dir))
        except exception.Invalid as e:
            raise errors.bad_request(e.format_message()) from None
        if detailed:
            servers = views.collection(instances, req.links, show_extended(ctx), True,
                                       views.addresses_of(instances),
                                       fault_details=show_fault_details(ctx))
        else:
            servers = views.collection(instances, req.links, False, False)
        body: dict = {"servers": servers}
        if instances and len(instances) == limit:
            path = "servers/detail" if detailed else "servers"
            body["servers_links"] = [req.links.next_link(path, req.GET.items(),
                                                         instances[-1].uuid)]
        return body

    # -- create ----------------------------------------------------------------

    @wsgi.response(202)
    @validation.schema(schemas.create)
    @validation.response_schema(responses.create_response)
    def create(self, req: Request, body: dict) -> Any:
        ctx = req.context
        server = body["server"]
        policy.authorize(ctx, sp.SERVERS % "create",
                         {"project_id": ctx.project_id, "user_id": ctx.user_id,
                          "availability_zone": server.get("availability_zone")})
        min_count, max_count = _counts(server)
        _check_security_groups(server.get("security_groups") or [])
        metadata = server.get("metadata") or {}
        check_metadata_quota(ctx.project_id, metadata)
        try:
            flavor = _flavor(ctx, server["flavorRef"])
            instances, reservation_id = self.compute_api.create(
                ctx, flavor=flavor, image_id=_image_id(server),
                display_name=server["name"], min_count=min_count, max_count=max_count,
                availability_zone=server.get("availability_zone"),
                metadata=metadata,
                access_ip_v4=server.get("accessIPv4"),
                access_ip_v6=_canonical_ipv6(server.get("accessIPv6")),
                key_name=server.get("key_name"),
                config_drive=_true(server.get("config_drive", False)),
                user_data=_user_data(server.get("user_data")),
                injected_files=_personality(ctx, server.get("personality")),
                requested_networks=_networks(server.get("networks")),
                disk_config=server.get("OS-DCF:diskConfig", "MANUAL"),
                scheduler_hints=scheduler_hints.parse(body))
        except _BAD_REFERENCE as e:
            raise errors.bad_request(e.format_message()) from None
        if _true(server.get("return_reservation_id", False)):
            return wsgi.json_response({"reservation_id": reservation_id}, 202)
        # NOTE: no guest agent sets it yet; returned as Nova does, for clients
        # that expect the key.
        admin_pass = server.get("adminPass") or secrets.token_urlsafe(9)
        view = views.created(instances[0], req.links, admin_pass)
        return wsgi.json_response({"server": view}, 202,
                                  headers={"Location": view["links"][0]["href"]})

    # -- update, delete --------------------------------------------------------

    @validation.schema(schemas.update)
    @validation.response_schema(responses.update_response)
    def update(self, req: Request, id: str, body: dict) -> dict:
        ctx = req.context
        instance = self.compute_api.get(ctx, id)
        policy.authorize(ctx, sp.SERVERS % "update", target_of(instance))
        changes = body["server"]
        if "name" in changes:
            instance.display_name = changes["name"]
        if "accessIPv4" in changes:
            instance.access_ip_v4 = changes["accessIPv4"]
        if "accessIPv6" in changes:
            instance.access_ip_v6 = _canonical_ipv6(changes["accessIPv6"])
        if "OS-DCF:diskConfig" in changes:
            instance.auto_disk_config = changes["OS-DCF:diskConfig"] == "AUTO"
        instance.save()
        return {"server": views.updated(instance, req.links, show_extended(ctx),
                                        views.addresses_of([instance]),
                                        fault_details=show_fault_details(ctx))}

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        ctx = req.context
        instance = self.compute_api.get(ctx, id)
        policy.authorize(ctx, sp.SERVERS % "delete", target_of(instance))
        self.compute_api.delete(ctx, instance)


# NOTE: Nova's sort keys by their API names where they differ from columns.
_SORT_KEYS = {"name": "display_name", "display_name": "display_name"}


def search_options(params: Any, ctx: Any, detailed: bool) -> dict | None:
    """The compute API's search_opts from the query, as Nova builds them;
    None when a status is unknown (Nova answers an empty list at 2.1).

    NOTE: unknown parameters are ignored (the CLI sends ``deleted=False``),
    and filters other than Nova's user filters only count for callers the
    ``allow_all_filters`` rule lets through.
    """
    opts: dict[str, Any] = {}
    if params.get("name"):
        opts["display_name"] = _regex("name", params["name"])
    statuses = params.getall("status")
    if statuses:
        vm_states, tasks = views.states_from_status(statuses)
        if not vm_states:
            return None
        opts["vm_state"] = vm_states
        if views.DEFAULT not in tasks:
            opts["task_state"] = sorted(tasks, key=str)
        if vm_states == ["deleted"]:
            if not policy.check_is_admin(ctx):
                raise errors.HTTPError(403, "Only administrators may list deleted instances")
            opts["deleted"] = True
    if params.get("image"):
        opts["image_ref"] = common.last_segment(params["image"])
    if params.get("flavor"):
        opts["flavor_id"] = common.last_segment(params["flavor"])
    if params.get("ip"):
        opts["ip"] = _regex("ip", params["ip"])
    if params.get("reservation_id"):
        opts["reservation_id"] = params["reservation_id"]
    if "changes-since" in params:
        opts["changes_since"] = _changes_since(params["changes-since"])
    if policy.authorize(ctx, sp.SERVERS % "allow_all_filters", do_raise=False):
        for name, key in _ADMIN_FILTERS.items():
            if params.get(name):
                opts[key] = [params[name]] if key == "uuids" else params[name]
        # NOTE: as Nova: deleted=true lists only deleted servers (the CLI
        # sends deleted=False, the default).
        if strutils.bool_from_string(params.get("deleted"), default=False):
            opts.update(deleted=True, only_deleted=True)
    all_tenants = common.bool_param(params, "all_tenants")
    tenant = params.get("tenant_id")
    if tenant and tenant != ctx.project_id and "all_tenants" not in params:
        # NOTE: as Nova: asking for another project implies all_tenants.
        all_tenants = True
    if all_tenants:
        rule = "detail:get_all_tenants" if detailed else "index:get_all_tenants"
        policy.authorize(ctx, sp.SERVERS % rule)
        opts["all_tenants"] = True
        project = tenant or (params.get("project_id") if policy.authorize(
            ctx, sp.SERVERS % "allow_all_filters", do_raise=False) else None)
        if project:
            opts["project_id"] = project
    return opts


def _regex(name: str, value: str) -> str:
    import re

    try:
        re.compile(value)
    except re.error as e:
        raise validation.query_error(name, value, f"'{value}' is not a 'regex' ({e})") from None
    return value


def _changes_since(value: str) -> Any:
    try:
        return timeutils.normalize_time(timeutils.parse_isotime(value))
    except ValueError:
        raise validation.query_error("changes-since", value,
                                     f"'{value}' is not a 'date-time'") from None


def check_metadata_quota(project_id: str, metadata: dict) -> None:
    """The project's ``metadata_items`` quota (403 as Nova)."""
    quota.enforce_metadata_items(project_id, len(metadata))


def _check_security_groups(groups: list[dict]) -> None:
    """novalite's guests have one security group, ``default`` (no rules)."""
    for group in groups:
        name = group.get("name")
        if name != "default":
            raise errors.bad_request(f"Security group {name} not found.")


def _counts(server: dict) -> tuple[int, int]:
    """Nova's defaults: one count given means exactly that many."""
    min_count = int(server.get("min_count", 1))
    max_count = int(server.get("max_count", min_count))
    # NOTE: the schema's minimum does not apply to digit strings ("0").
    for name, value in (("min_count", min_count), ("max_count", max_count)):
        if value < 1:
            raise errors.bad_request(f"Invalid input for field/attribute {name}. "
                                     f"Value: {value}. {value} is less than the minimum of 1")
    if min_count > max_count:
        raise errors.bad_request(f"min_count ({min_count}) must be <= max_count "
                                 f"({max_count})")
    return min_count, max_count


def _flavor(ctx: Any, flavor_ref: str | int) -> Any:
    """The flavor, if the caller may see it (as ``GET /flavors/{id}``): a
    private flavor of another project is "not found" (400 on create)."""
    flavor: Any = get_flavor(ctx, common.last_segment(flavor_ref))
    if flavor.disabled:
        raise errors.bad_request(f"Flavor {flavor.flavorid} is disabled and cannot be used "
                                 "to create a server.")
    return flavor


def _image_id(server: dict) -> str:
    """The image from ``imageRef``, or from the boot entry of
    ``block_device_mapping_v2`` (the CLI sends both); volumes are refused."""
    bdms = server.get("block_device_mapping_v2") or []
    for bdm in bdms:
        if bdm.get("source_type") != "image" or bdm.get("destination_type",
                                                          "local") != "local":
            raise errors.bad_request(
                "block_device_mapping_v2: only image-backed local boot disks are supported "
                f"(got source_type={bdm.get('source_type')!r}, "
                f"destination_type={bdm.get('destination_type')!r}); novalite has no volumes.")
    image_ref = server.get("imageRef")
    if image_ref:
        return common.last_segment(image_ref)
    for bdm in bdms:
        if str(bdm.get("boot_index")) == "0" and bdm.get("uuid"):
            return str(bdm["uuid"])
    if bdms:
        raise errors.bad_request("block_device_mapping_v2: the image entry needs "
                                 "boot_index 0 and the image's uuid")
    raise errors.bad_request("Missing imageRef attribute")


def _canonical_ipv6(value: str | None) -> str | None:
    """``0:0:0:0:0:0:0:1`` → ``::1``, as Nova stores it."""
    if not value:
        return value
    return str(ipaddress.IPv6Address(value))


def _b64decode(value: str) -> bytes:
    return base64.b64decode(value.encode("ascii"), validate=True)


def _user_data(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_USER_DATA_LENGTH:
        raise errors.bad_request(f"Invalid input for field/attribute user_data. user_data is "
                                 f"{len(value)} bytes base64-encoded; at most "
                                 f"{MAX_USER_DATA_LENGTH} are allowed.")
    try:
        _b64decode(value)
    except (binascii.Error, ValueError):
        raise errors.bad_request("Invalid input for field/attribute user_data. "
                                 "User data needs to be valid base 64.") from None
    return value


def _personality(ctx: Any, files: list[dict] | None) -> list[dict] | None:
    """Injected files as stored: ``[{path, contents (base64)}]``; over the
    project's injected file quotas is 403, as Nova."""
    if not files:
        return None
    limits = quota.get_project_quotas(ctx.project_id)
    max_files = limits["injected_files"]
    max_path = limits["injected_file_path_bytes"]
    max_bytes = limits["injected_file_content_bytes"]
    if max_files != quota.UNLIMITED and len(files) > max_files:
        raise errors.HTTPError(403, f"Personality file limit exceeded: {len(files)} files "
                                    f"given, at most {max_files} allowed.")
    out = []
    for item in files:
        path, contents = item["path"], item.get("contents", "")
        if max_path != quota.UNLIMITED and len(path.encode()) > max_path:
            raise errors.HTTPError(403, f"Personality file path too long: {len(path)} "
                                        f"characters, at most {max_path}.")
        if not path.startswith("/") or ".." in path.split("/") or "\0" in path:
            raise errors.bad_request(f"Invalid input for field/attribute personality. The "
                                     f"path {path!r} must be absolute, without '..'.")
        try:
            data = _b64decode(contents)
        except (binascii.Error, ValueError):
            raise errors.bad_request(f"Personality content for {path} cannot be "
                                     "decoded") from None
        if max_bytes != quota.UNLIMITED and len(data) > max_bytes:
            raise errors.HTTPError(403, f"Personality file content too long: {path} has "
                                        f"{len(data)} bytes, at most {max_bytes}.")
        out.append({"path": posixpath.normpath(path), "contents": contents})
    return out


def _networks(value: Any) -> str | list[dict]:
    """``networks`` as stored: ``"auto"`` (absent or ``[]``), ``"none"``, or
    ``[{uuid, fixed_ip}]``."""
    if value is None or value == [] or value == "auto":
        return "auto"
    if value == "none":
        return "none"
    out = []
    for entry in value:
        if entry.get("port"):
            raise errors.bad_request("Invalid input for field/attribute networks. Ports "
                                     f"({entry['port']}) are not supported: novalite has no "
                                     "port service; give a network 'uuid' and/or 'fixed_ip'.")
        out.append({"uuid": entry.get("uuid"), "fixed_ip": entry.get("fixed_ip")})
    return out


def _true(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1", "on", "yes", "y", "t")
