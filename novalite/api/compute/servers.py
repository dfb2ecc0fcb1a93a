"""/servers: create, list, show, update, delete.

Every lookup of one server is made within the caller's project (admins:
any project), so another project's server is 404 on every verb, and only
then is the policy asked whether the caller may do this to it (readers
read, members act, admins act anywhere).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import json
import posixpath
import secrets
from typing import Any

from oslo_utils import strutils, timeutils

from novalite import exception, policy, quota
from novalite.api import common, errors, microversions, validation, wsgi
from novalite.api.compute.flavors import get_flavor
from novalite.api.schemas import scheduler_hints
from novalite.api.schemas import server_queries as queries
from novalite.api.schemas import server_responses as responses
from novalite.api.schemas import servers as schemas
from novalite.api.views import servers as views
from novalite.api.wsgi import Request
from novalite.conf import CONF
from novalite.network import neutron_l3
from novalite.objects.block_device import BlockDeviceMappingList
from novalite.objects.request_spec import RequestSpec
from novalite.objects.tag import TagList
from novalite.policies import server_microversions as mvp
from novalite.policies import servers as sp

# NOTE: Nova tells a client about a bad flavorRef/imageRef on create with 400
# (the request is wrong), not 404 (the server URL exists).
# NOTE: HostNotFound: 2.74's host/hypervisor_hostname name no compute node
# (Nova's ComputeHostNotFound, a 400 too).
_BAD_REFERENCE = (exception.FlavorNotFound, exception.ImageNotFound, exception.HostNotFound)

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
    @validation.own_query_check
    @validation.response_schema(responses.index_response)
    def index(self, req: Request) -> dict:
        policy.authorize(req.context, sp.SERVERS % "index")
        return self._list(req, detailed=False)

    @validation.query_schema(queries.list_query, validate=False)
    @validation.own_query_check
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
                                       fault_details=show_fault_details(ctx),
                                       extras=extras_for(req, [instance], "show"))}

    def _list(self, req: Request, detailed: bool) -> dict:
        ctx = req.context
        version = req.api_version
        if version.at_least("2.75"):
            _check_known_params(req.GET, version)
        search_opts = search_options(req.GET, ctx, detailed, version)
        if search_opts is None:
            return {"servers": []}
        limit, marker = common.limit_and_marker(req.GET)
        sort_key, sort_dir = common.sort_params(req.GET)
        sort_key = _SORT_KEYS.get(sort_key, sort_key)
        if sort_key == "locked" and not version.at_least("2.73"):
            # NOTE: as Nova: a sort key only from 2.73, ignored before.
            sort_key, sort_dir = "created_at", "desc"
        try:
            instances = list(self.compute_api.get_all(ctx, search_opts, limit=limit,
                                                      marker=marker, sort_key=sort_key,
                                                      sort_dir=sort_dir))
        except exception.Invalid as e:
            raise errors.bad_request(e.format_message()) from None
        if detailed:
            servers = views.collection(instances, req.links, show_extended(ctx), True,
                                       views.addresses_of(instances),
                                       fault_details=show_fault_details(ctx),
                                       extras=extras_for(req, instances, "detail"))
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
    @validation.versioned_schemas(schemas.CREATE_VERSIONS)
    @validation.response_schema(responses.create_response)
    def create(self, req: Request, body: dict) -> Any:
        ctx = req.context
        server = body["server"]
        policy.authorize(ctx, sp.SERVERS % "create",
                         {"project_id": ctx.project_id, "user_id": ctx.user_id,
                          "availability_zone": server.get("availability_zone")})
        _check_unsupported_create(ctx, server)
        min_count, max_count = _counts(server)
        if server.get("hostname") and max_count > 1:
            raise errors.bad_request("Unable to allocate a single hostname to multiple "
                                     "instances")
        group_ids = _check_security_groups(ctx, server.get("security_groups") or [])
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
                scheduler_hints=scheduler_hints.parse(body),
                requested_host=server.get("host"),
                requested_hypervisor_hostname=server.get("hypervisor_hostname"),
                block_device_mapping=_block_devices(server),
                system_metadata=trusted_certs_metadata(
                    _security_groups_metadata(group_ids),
                    server.get("trusted_image_certificates")))
        except _BAD_REFERENCE as e:
            raise errors.bad_request(e.format_message()) from None
        _record_create_extras(instances, server)
        if _true(server.get("return_reservation_id", False)):
            return wsgi.json_response({"reservation_id": reservation_id}, 202)
        # NOTE: no guest agent sets it yet; returned as Nova does, for clients
        # that expect the key.
        admin_pass = server.get("adminPass") or secrets.token_urlsafe(9)
        view = views.created(instances[0], req.links, admin_pass,
                             server.get("security_groups"))
        return wsgi.json_response({"server": view}, 202,
                                  headers={"Location": view["links"][0]["href"]})

    # -- update, delete --------------------------------------------------------

    @validation.versioned_schemas(schemas.UPDATE_VERSIONS)
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
        if "description" in changes:
            instance.display_description = changes["description"]
        if "hostname" in changes:
            instance.hostname = changes["hostname"]
        if "pinned_availability_zone" in changes:
            _repin(ctx, instance, changes["pinned_availability_zone"])
        instance.save()
        return {"server": views.updated(instance, req.links, show_extended(ctx),
                                        views.addresses_of([instance]),
                                        fault_details=show_fault_details(ctx),
                                        extras=extras_for(req, [instance], "update"))}

    @wsgi.response(204)
    def delete(self, req: Request, id: str) -> None:
        ctx = req.context
        instance = self.compute_api.get(ctx, id)
        policy.authorize(ctx, sp.SERVERS % "delete", target_of(instance))
        self.compute_api.delete(ctx, instance)


# NOTE: Nova's sort keys by their API names where they differ from columns.
_SORT_KEYS = {"name": "display_name", "display_name": "display_name"}


def search_options(params: Any, ctx: Any, detailed: bool,
                   version: microversions.APIVersion = microversions.MIN_VERSION,
                   ) -> dict | None:
    """The compute API's search_opts from the query, as Nova builds them;
    None when a status is unknown (Nova answers an empty list at 2.1; 400
    from 2.38).

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
            if version.at_least("2.38"):
                raise errors.bad_request(f"Invalid status value: {statuses[-1]}")
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
    elif params.get("ip6") and (version.at_least("2.5") or policy.authorize(
            ctx, sp.SERVERS % "allow_all_filters", do_raise=False)):
        # NOTE: ip6 is a user filter from 2.5 (admins' before); it matches
        # the same fixed addresses as ip.
        opts["ip"] = _regex("ip6", params["ip6"])
    if params.get("reservation_id"):
        opts["reservation_id"] = params["reservation_id"]
    if "changes-since" in params:
        opts["changes_since"] = _changes_since(params["changes-since"])
    if version.at_least("2.66") and "changes-before" in params:
        before = _changes_since(params["changes-before"], "changes-before")
        since = opts.get("changes_since")
        if since is not None and before < since:
            raise errors.bad_request("The value of changes-since must be less than or equal "
                                     "to changes-before.")
        # NOTE: "updated at or before": the filter below is strict.
        opts["updated_before"] = before + datetime.timedelta(microseconds=1)
    if version.at_least("2.73") and "locked" in params:
        opts["locked"] = common.bool_param(params, "locked")
    if version.at_least("2.83") and params.get("user_id"):
        # NOTE: 2.83 made user_id a user filter (it was for admins only).
        opts["user_id"] = params["user_id"]
    if version.at_least("2.26"):
        for name in _TAG_FILTERS:
            if params.get(name):
                opts[name] = [t for t in params[name].split(",") if t]
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


def _changes_since(value: str, name: str = "changes-since") -> Any:
    try:
        return timeutils.normalize_time(timeutils.parse_isotime(value))
    except ValueError:
        raise validation.query_error(name, value, f"'{value}' is not a 'date-time'") from None


def check_metadata_quota(project_id: str, metadata: dict) -> None:
    """The project's ``metadata_items`` quota (403 as Nova)."""
    quota.enforce_metadata_items(project_id, len(metadata))


def _check_security_groups(ctx: Any, groups: list[dict]) -> list[str] | None:
    """The ids of the (Neutron) security groups asked for by name or id,
    the project's own (400 for one not found, 409 for an ambiguous name, as
    Nova's); None when none were asked for (the ports get the default)."""
    if not groups:
        return None
    names = [str(g.get("name")) for g in groups]
    try:
        return neutron_l3.resolve_groups(str(ctx.project_id or ""), names)
    except exception.NotFound as e:
        missing = getattr(e, "kwargs", {}).get("id", "")
        raise errors.bad_request(f"Security group {missing} not found.") from None
    except exception.Conflict as e:
        raise errors.HTTPError(409, e.format_message()) from None


def _security_groups_metadata(group_ids: list[str] | None) -> dict:
    """What the conductor's port allocation reads: the groups asked for."""
    return {} if group_ids is None else {neutron_l3.SERVER_GROUPS_KEY: json.dumps(group_ids)}


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


def _image_id(server: dict) -> str | None:
    """The image from ``imageRef``, or from the boot entry of
    ``block_device_mapping_v2`` that puts an image on the host's disk (the
    CLI sends both); None for a server that boots from a volume (the
    compute API checks the mappings)."""
    image_ref = server.get("imageRef")
    if image_ref:
        return common.last_segment(image_ref)
    for bdm in server.get("block_device_mapping_v2") or []:
        if (str(bdm.get("boot_index")) == "0" and bdm.get("source_type") == "image"
                and (bdm.get("destination_type") or "local") == "local" and bdm.get("uuid")):
            return str(bdm["uuid"])
    if not server.get("block_device_mapping_v2"):
        raise errors.bad_request("Missing imageRef attribute")
    return None


def _block_devices(server: dict) -> list[dict] | None:
    """``block_device_mapping_v2`` for the compute API when it asks for
    more than the image on the host's disk (volumes), its booleans made
    booleans; None otherwise."""
    bdms = server.get("block_device_mapping_v2") or []
    if all(b.get("source_type") == "image"
           and (b.get("destination_type") or "local") == "local" for b in bdms):
        return None
    out = []
    for bdm in bdms:
        entry = dict(bdm)
        if "delete_on_termination" in entry:
            entry["delete_on_termination"] = _true(entry["delete_on_termination"])
        out.append(entry)
    return out


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
    ``[{uuid, fixed_ip}]`` / ``[{port}]``."""
    if value is None or value == [] or value == "auto":
        return "auto"
    if value == "none":
        return "none"
    out = []
    for entry in value:
        if entry.get("port"):
            # NOTE: as Nova: a port brings its network and addresses.
            if entry.get("fixed_ip"):
                raise errors.bad_request(f"Port {entry['port']} and fixed_ip "
                                         f"{entry['fixed_ip']} cannot both be given.")
            out.append({"uuid": None, "fixed_ip": None, "port": entry["port"]})
            continue
        out.append({"uuid": entry.get("uuid"), "fixed_ip": entry.get("fixed_ip")})
    return out


def _true(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1", "on", "yes", "y", "t")


# -- microversions ---------------------------------------------------------------

_TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")

# NOTE: what Nova's index_query_v275 knows (any other parameter is 400 from
# 2.75): its properties, the joined-table names and pagination.
_KNOWN_LIST_PARAMS = frozenset({
    "user_id", "project_id", "tenant_id", "launch_index", "image_ref", "image", "kernel_id",
    "ramdisk_id", "hostname", "key_name", "power_state", "vm_state", "task_state", "host",
    "node", "flavor", "reservation_id", "launched_at", "terminated_at",
    "availability_zone", "name", "display_name", "description", "display_description",
    "locked_by", "uuid", "root_device_name", "config_drive", "access_ip_v4",
    "access_ip_v6", "auto_disk_config", "progress", "sort_key", "sort_dir", "all_tenants",
    "soft_deleted", "deleted", "status", "changes-since", "ip", "ip6", "created_at",
    "block_device_mapping", "services", "metadata", "system_metadata", "info_cache",
    "security_groups", "pci_devices", "limit", "marker", *_TAG_FILTERS, "changes-before",
    "locked",
})


def _check_known_params(params: Any, version: microversions.APIVersion) -> None:
    """From 2.75 an unknown query parameter is 400, as Nova's schema
    (``additionalProperties: False``)."""
    unknown = sorted(k for k in params if k not in _KNOWN_LIST_PARAMS)
    if unknown:
        raise errors.bad_request(
            "Invalid input for query parameters. Additional properties are not allowed "
            f"({', '.join(repr(k) for k in unknown)} "
            f"{'was' if len(unknown) == 1 else 'were'} unexpected)")


def extras_for(req: Request, instances: list[Any], view: str) -> views.Extras:
    """What the server views of this request's version need beyond 2.1,
    looked up once for all ``instances``."""
    version = req.api_version
    ctx = req.context
    extras = views.Extras(version=version, view=view)
    extras.security_groups = neutron_l3.server_security_groups([i.uuid for i in instances])
    extras.volumes = {uuid: [(b.volume_id, bool(b.delete_on_termination)) for b in bdms]
                      for uuid, bdms in BlockDeviceMappingList.volumes_by_instance(
                          ctx, [i.uuid for i in instances]).items()}
    if version.at_least("2.16") and policy.authorize(ctx, mvp.HOST_STATUS, do_raise=False):
        extras.host_status = host_statuses(ctx, instances)
    if version.at_least("2.26"):
        extras.tags = TagList.get_by_resource_ids(ctx, [i.uuid for i in instances])
    if version.at_least("2.47"):
        extras.flavor_extra_specs = policy.authorize(ctx, mvp.FLAVOR_EXTRA_SPECS,
                                                     do_raise=False)
    if version.at_least("2.71") and view != "detail":
        extras.groups = _server_groups(ctx, instances)
    # NOTE: the request specs hold the zone asked for (2.96), the image's
    # properties (2.98) and the hints (2.100).
    if version.at_least("2.96"):
        extras.specs = _request_specs(ctx, instances)
    if version.at_least("2.98"):
        for spec in extras.specs.values():
            image = spec.image if spec.obj_attr_is_set("image") else None
            if image is not None and image.obj_attr_is_set("id") and image.id:
                extras.image_properties[image.id] = dict(image.properties or {})
    return extras


def _server_groups(ctx: Any, instances: list[Any]) -> dict[str, str]:
    """The uuid of the server group each instance is a member of (show and
    update only: one instance)."""
    from novalite.objects.instance_group import InstanceGroup

    groups = {}
    for instance in instances:
        try:
            groups[instance.uuid] = InstanceGroup.get_by_instance_uuid(ctx, instance.uuid).uuid
        except exception.NotFound:
            continue
    return groups


def _request_specs(ctx: Any, instances: list[Any]) -> dict[str, Any]:
    from novalite.objects.request_spec import RequestSpec

    return RequestSpec.get_by_instance_uuids(ctx, [i.uuid for i in instances])


def host_statuses(ctx: Any, instances: list[Any]) -> dict[str, str]:
    """Nova's host_status of each host the instances are on: DOWN when
    forced down, MAINTENANCE when disabled, UP when its compute service
    reports, UNKNOWN when it does not; '' for a host without a compute service."""
    from novalite.objects.service import ServiceList

    hosts = {i.host for i in instances if i.host}
    if not hosts:
        return {}
    out = {}
    for service in ServiceList.get_all(ctx, binary="novalite-compute"):
        if service.host not in hosts:
            continue
        if service.forced_down:
            out[service.host] = "DOWN"
        elif service.disabled:
            out[service.host] = "MAINTENANCE"
        else:
            out[service.host] = "UP" if service.is_up() else "UNKNOWN"
    return out


# NOTE: where the 2.63 trusted image certificate ids live (Nova keeps them in
# instance_extra.trusted_certs): a JSON list in system_metadata.
TRUSTED_CERTS_KEY = "trusted_image_certificates"


def trusted_certs_metadata(system_metadata: dict, certs: list[str] | None) -> dict:
    """``system_metadata`` with the ids recorded, or removed for none."""
    out = dict(system_metadata)
    if certs:
        out[TRUSTED_CERTS_KEY] = json.dumps(list(certs))
    else:
        out.pop(TRUSTED_CERTS_KEY, None)
    return out


def _repin(ctx: Any, instance: Any, requested: str | None) -> None:
    """2.104: unpin (null) or pin the server to the zone it is in, as Nova's
    update: 409 to pin to another zone, or to change one pinned zone into
    another without unpinning first; the same value again changes nothing."""
    try:
        spec = RequestSpec.get_by_instance_uuid(ctx, instance.uuid)
    except exception.RequestSpecNotFound:
        raise errors.HTTPError(409, f"Server {instance.uuid} has no request spec to "
                                    "pin or unpin.") from None
    pinned = spec.availability_zone
    if requested is None:
        if pinned is not None:
            spec.availability_zone = None
            spec.save()
        return
    if pinned is not None:
        if requested != pinned:
            raise errors.HTTPError(409, "Cannot change pinned availability zone directly. "
                                        "Unpin first by setting pinned_availability_zone "
                                        "to null.")
        return
    current = instance.availability_zone or (
        CONF.default_availability_zone if instance.host else "")
    if requested != current:
        raise errors.HTTPError(409, f"Server can only be pinned to its current availability "
                                    f"zone '{current}', but '{requested}' was requested.")
    spec.availability_zone = requested
    spec.save()


def _check_unsupported_create(ctx: Any, server: dict) -> None:
    """What a later version's create accepts but novalite cannot do yet,
    refused before anything is made."""
    if server.get("trusted_image_certificates"):
        # NOTE: 2.63: recorded and shown (trusted_certs_metadata); with
        # [glance] verify_glance_signatures off, Nova's default and the only
        # mode novalite has, they do not change the boot.
        policy.authorize(ctx, mvp.TRUSTED_CERTS_CREATE, {"project_id": ctx.project_id})
    if server.get("host") or server.get("hypervisor_hostname"):
        # NOTE: 2.74 (admins by default); the compute API places the server there.
        policy.authorize(ctx, mvp.REQUESTED_DESTINATION, {"project_id": ctx.project_id})


def _record_create_extras(instances: list[Any], server: dict) -> None:
    """What later versions let a create set that the compute API does not
    take (description 2.19, tags 2.52, hostname 2.90), recorded on every
    instance of the request before the answer."""
    for instance in instances:
        changed = False
        if server.get("description") is not None:
            instance.display_description = server["description"]
            changed = True
        if server.get("hostname"):
            instance.hostname = server["hostname"]
            changed = True
        if changed:
            instance.save()
        if server.get("tags"):
            TagList.create(instance._context, instance.uuid, server["tags"])
