"""The compute API as the REST layer uses it: validates against state,
records instances, and hands work to the conductor or the compute host."""

from __future__ import annotations

import datetime
import secrets
import time
from typing import TYPE_CHECKING, Any, cast

from oslo_log import log as logging
from oslo_utils import timeutils, uuidutils

from novalite import exception, notifications, policy, quota
from novalite.compute import api_volumes, rpcapi, server_groups, task_states, vm_states
from novalite.compute.api_images import ImageActionsAPI
from novalite.compute.api_moves import MoveActionsAPI
from novalite.compute.api_power import PowerActionsAPI, check_instance_lock
from novalite.compute.resource_tracker import IMAGE_VIRTUAL_SIZE_KEY
from novalite.compute.timeline import API_ACCEPTED, SUCCESS, Timeline
from novalite.conductor import rpcapi as conductor_rpcapi
from novalite.conf import CONF
from novalite.image import api as image_api
from novalite.network import api as network_api
from novalite.objects import server_records
from novalite.objects.block_device import BlockDeviceMapping
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance, InstanceList
from novalite.objects.instance_action import InstanceActionEventList
from novalite.objects.keypair import KeyPair
from novalite.objects.request_spec import InjectedFileList, NetworkRequestList, RequestSpec
from novalite.objects.service import Service, ServiceList
from novalite.policies import servers as server_policies
from novalite.virt import power_state

if TYPE_CHECKING:
    from novalite.context import RequestContext

LOG = logging.getLogger(__name__)


def _check_state(instance: Instance, action: str, vm_state: tuple[Any, ...] | None = None,
                 task_state: tuple[Any, ...] | None = (None,)) -> None:
    if vm_state is not None and instance.vm_state not in vm_state:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="vm_state", state=instance.vm_state)
    if task_state is not None and instance.task_state not in task_state:
        raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                             attr="task_state", state=instance.task_state)


class API(PowerActionsAPI, ImageActionsAPI, MoveActionsAPI):
    def __init__(self) -> None:
        self.conductor = conductor_rpcapi.ConductorAPI()
        self.compute_rpcapi = rpcapi.ComputeAPI()
        self.image_api = image_api.API()

    # -- create ----------------------------------------------------------------

    def create(self, context: RequestContext, *, flavor: Flavor, image_id: str | None,
               display_name: str,
               min_count: int = 1, max_count: int = 1, availability_zone: str | None = None,
               metadata: dict[str, Any] | None = None, access_ip_v4: str | None = None,
               access_ip_v6: str | None = None, key_name: str | None = None,
               config_drive: bool = False, user_data: str | None = None,
               injected_files: list[dict[str, Any]] | None = None,
               requested_networks: str | list[dict[str, Any]] | None = None,
               disk_config: str = "MANUAL",
               scheduler_hints: dict[str, list[str]] | None = None,
               requested_host: str | None = None,
               requested_hypervisor_hostname: str | None = None,
               system_metadata: dict[str, str] | None = None,
               block_device_mapping: list[dict[str, Any]] | None = None,
               ) -> tuple[list[Instance], str]:
        """Validate, check quota, record ``max_count`` instances and ask the
        conductor to build them.

        What the build needs (flavor, image, requested networks, zone) is
        a RequestSpec, recorded per instance and sent to the conductor;
        the personality files go with the build request only (as Nova's).
        The instance keeps ``key_data`` (the key pair's public key),
        ``user_data`` (base64 text) and ``auto_disk_config``; and in
        ``system_metadata``, for a flavor whose root disk is 0 GB,
        ``image_virtual_size`` (bytes), the size that root disk takes and
        the host claims (Nova keeps image properties there too), and what
        the caller adds (``system_metadata``).

        ``requested_host``/``requested_hypervisor_hostname`` (2.74) must name
        a compute node (HostNotFound otherwise); the scheduler then ignores
        every other host, so the server lands there or fails NoValidHost.

        ``block_device_mapping`` (block_device_mapping_v2): a root volume
        (boot from a new volume made from an image, or from an existing
        bootable volume) and data volumes (api_volumes.plan_block_devices);
        existing volumes are reserved for the servers before they are
        recorded, the host makes the new ones before it spawns. A
        volume-backed server's image_ref is '' (as Nova's); its flavor's
        disk size is not compared with the image.
        """
        started, began = timeutils.utcnow(), time.monotonic()
        if min_count > max_count:
            raise exception.Invalid(reason="min_count must be <= max_count")
        plan = (api_volumes.plan_block_devices(context, self.image_api, block_device_mapping,
                                               image_id, min_count, max_count)
                if block_device_mapping else None)
        if plan is not None and plan.volume_backed:
            image = plan.image or {"id": None, "status": "active", "properties": {}}
            _check_volume_backed_image(image, flavor)
        else:
            if not image_id:
                raise exception.Invalid(reason="Missing imageRef attribute")
            image = self.image_api.get(context, image_id)
            self._check_image(context, image, flavor)
        if availability_zone:
            self._check_availability_zone(context, availability_zone)
        ignore_hosts = None
        if requested_host or requested_hypervisor_hostname:
            ignore_hosts = _other_hosts(context, requested_host, requested_hypervisor_hostname)
        networks = "auto" if not requested_networks else requested_networks
        _validate_requested_networks(context, networks, min_count, max_count)
        group = server_groups.requested_group(context, scheduler_hints)
        system_metadata = dict(system_metadata or {})
        key_data = _key_data(context, key_name) if key_name is not None else None
        volume_backed = plan is not None and plan.volume_backed
        if not flavor.root_gb and not volume_backed:
            system_metadata[IMAGE_VIRTUAL_SIZE_KEY] = str(image["virtual_size"])
        max_count = _allowed_count(context, min_count, max_count, flavor)
        if group is not None:
            server_groups.check_members_quota(context, group, max_count)
        reservation_id = "r-" + secrets.token_hex(4)
        instances = []
        for index in range(max_count):
            name = display_name if max_count == 1 else f"{display_name}-{index + 1}"
            instances.append(Instance(
                context=context, uuid=uuidutils.generate_uuid(), display_name=name,
                hostname=_hostname(name),
                project_id=context.project_id, user_id=context.user_id,
                availability_zone=availability_zone,
                image_ref="" if volume_backed else image["id"], flavor=flavor,
                vm_state=vm_states.BUILDING, task_state=task_states.SCHEDULING,
                power_state=power_state.NOSTATE, launch_index=index,
                reservation_id=reservation_id, access_ip_v4=access_ip_v4,
                access_ip_v6=access_ip_v6, key_name=key_name, key_data=key_data,
                user_data=user_data, auto_disk_config=disk_config == "AUTO",
                metadata=metadata or {},
                config_drive=bool(config_drive),
                system_metadata=dict(system_metadata), build_attempts=[]))
        request_spec = RequestSpec.from_components(
            context, flavor=flavor, image=image,
            requested_networks=NetworkRequestList.from_api(networks),
            availability_zone=availability_zone, num_instances=len(instances),
            scheduler_hints=scheduler_hints)
        if group is not None:
            request_spec.instance_group = group.uuid
        if ignore_hosts is not None:
            request_spec.ignore_hosts = ignore_hosts
        mappings = [m for inst in instances for m in (
            plan.mappings(context, inst.uuid, image["id"]) if plan is not None
            else [BlockDeviceMapping.image_root(context, inst.uuid, image["id"])])]
        # NOTE: as Nova: the existing volumes are reserved for the server
        # before it is recorded (and unreserved if it is not).
        api_volumes.reserve_volumes(context, mappings)
        # NOTE: instances, their specs and root disks in one transaction, with
        # the quota recheck (racing creates may have taken the project over
        # its quota): refused, nothing stays recorded.
        try:
            server_records.create_servers(
                context, instances, request_spec, mappings, _project_id(context),
                quota.server_create_check(context, _project_id(context), max_count,
                                          max_count * flavor.vcpus,
                                          max_count * flavor.memory_mb),
                first_events=_accepted_step(context, instances, flavor, started,
                                            time.monotonic() - began))
        except BaseException:
            api_volumes.unreserve_volumes(context, mappings)
            raise
        if group is not None:
            server_groups.add_members(context, group, [i.uuid for i in instances])
        self.conductor.build_instances(context, [i.uuid for i in instances], request_spec,
                                       InjectedFileList.from_api(injected_files))
        return instances, reservation_id

    @staticmethod
    def _check_image(context: RequestContext, image: dict[str, Any], flavor: Flavor) -> None:
        if image.get("status") != "active":
            raise exception.Invalid(reason=f"image {image['id']} is not active "
                                           f"(status {image.get('status')})")
        if (image.get("min_ram") or 0) > flavor.memory_mb:
            raise exception.Invalid(reason=f"flavor {flavor.name}'s memory is too small for "
                                           f"image {image['id']} (needs {image['min_ram']} MiB)")
        if not flavor.root_gb:
            _check_zero_disk(context, image, flavor)
        elif (image.get("min_disk") or 0) > flavor.root_gb:
            raise exception.Invalid(reason=f"flavor {flavor.name}'s disk is too small for "
                                           f"image {image['id']} (needs {image['min_disk']} GiB)")

    @staticmethod
    def _check_availability_zone(context: RequestContext, zone: str) -> None:
        zones = {s.availability_zone or CONF.default_availability_zone
                 for s in ServiceList.get_all(context, binary="novalite-compute")}
        if zone not in zones:
            raise exception.Invalid(reason=f"availability zone {zone!r} does not exist "
                                           f"(known: {', '.join(sorted(zones)) or 'none'})")

    # -- read ------------------------------------------------------------------

    def get(self, context: RequestContext, instance_id: str) -> Instance:
        """The instance, looked up within the caller's project unless the
        caller is an admin: another project's server is "not found", so its
        existence is not revealed."""
        project_id = None if policy.check_is_admin(context) else context.project_id
        return Instance.get_by_uuid(context, instance_id, project_id=project_id)

    def get_all(self, context: RequestContext, search_opts: dict[str, Any] | None = None, limit: int | None = None,
                marker: str | None = None, sort_key: str = "created_at",
                sort_dir: str = "desc") -> InstanceList:
        """Servers matching ``search_opts``; the caller's project's only,
        unless ``all_tenants`` (the controller checked the policy)."""
        filters = dict(search_opts or {})
        if not filters.pop("all_tenants", False):
            filters["project_id"] = context.project_id
        return InstanceList.get_by_filters(context, filters, sort_key=sort_key,
                                           sort_dir=sort_dir, limit=limit, marker=marker,
                                           with_faults=True)

    # -- delete ----------------------------------------------------------------

    def delete(self, context: RequestContext, instance: Instance) -> None:
        """Delete in any state: unscheduled or on a down host → locally,
        otherwise the host destroys the guest (a build in flight aborts).
        A locked instance: 409 for non-admins (Nova's check_instance_lock)."""
        check_instance_lock(context, instance)
        if instance.vm_state == vm_states.RESIZED:
            # NOTE: Nova's _confirm_resize_on_deleting: the source drops what
            # it kept for a revert (api_moves.py).
            self._confirm_resize_on_deleting(context, instance)
        if instance.vm_state in (vm_states.SHELVED, vm_states.SHELVED_OFFLOADED):
            # NOTE: as Nova: the shelved image goes with the server (api_images.py).
            self._delete_shelved_image(context, instance)
        if instance.task_state == task_states.DELETING and instance.host:
            if self._host_is_up(context, instance.host):
                # NOTE: repeat the cast; terminate is idempotent on the host.
                self.compute_rpcapi.terminate_instance(context, instance)
                return
        instance.task_state = task_states.DELETING
        try:
            instance.save()
        except exception.InstanceNotFound:
            return
        if not instance.host or not self._host_is_up(context, instance.host):
            LOG.info("Deleting %s locally (host %s)", instance.uuid, instance.host or "none")
            notifications.instance_action(context, instance, "delete", "start",
                                          binary=notifications.API)
            # NOTE: as Nova's local delete: the addresses (and, with the row,
            # the quota) are free at once; the host, when it comes back,
            # destroys the guest ([compute] running_deleted_instance_action).
            network_api.deallocate_for_instance(instance.uuid)
            api_volumes.VolumeActionsAPI.detach_volumes_locally(context, instance)
            try:
                instance.destroy()
            except exception.InstanceNotFound:
                pass
            notifications.instance_action(context, instance, "delete", "end",
                                          binary=notifications.API)
            return
        self.compute_rpcapi.terminate_instance(context, instance)

    def force_delete(self, context: RequestContext, instance: Instance) -> None:
        """Nova's forceDelete: delete at once in any vm_state and task_state
        (it also skips a soft delete's grace period; novalite has none)."""
        self.delete(context, instance)

    def restore(self, context: RequestContext, instance: Instance) -> None:
        """Nova's restore of a soft-deleted server. novalite deletes at once
        (it has no reclaim_instance_interval), so no server is ever
        soft-deleted: every restore is refused as Nova refuses a live
        server's (InstanceInvalidState, 409); a locked one's first
        (check_instance_lock)."""
        check_instance_lock(context, instance)
        _check_state(instance, "restore", vm_state=(vm_states.SOFT_DELETED,), task_state=None)
        raise exception.Conflict(reason=f"Instance {instance.uuid} is soft-deleted, which "
                                        "novalite never does; nothing to restore.")

    def reset_state(self, context: RequestContext, instance: Instance, state: str) -> None:
        """Admin ``os-resetState``: vm_state ``state``, no task state, as
        Nova's (in any state; the caller checked the policy)."""
        LOG.warning("Resetting the state of %s from %s/%s to %s", instance.uuid,
                    instance.vm_state, instance.task_state, state)
        instance.vm_state = vm_states.ACTIVE if state == "active" else vm_states.ERROR
        instance.task_state = None
        instance.save()

    def _host_is_up(self, context: RequestContext, host: str) -> bool:
        try:
            svc = Service.get_by_host_and_binary(context, host, "novalite-compute")
        except exception.ServiceNotFound:
            return False
        return svc.is_up()

    # -- power -----------------------------------------------------------------

    def _power(self, context: RequestContext, instance: Instance, action: str, allowed: tuple[Any, ...],
               new_task: str, expected: tuple[Any, ...] = (None,)) -> None:
        check_instance_lock(context, instance)
        _check_state(instance, action, vm_state=allowed, task_state=expected)
        if not instance.host:
            raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                                 attr="host", state="none (never scheduled)")
        instance.task_state = new_task
        try:
            instance.save(expected_task_state=list(expected))
        except exception.Conflict as e:
            raise exception.InstanceInvalidState(action=action, instance_uuid=instance.uuid,
                                                 attr="task_state", state="changing") from e

    def stop(self, context: RequestContext, instance: Instance) -> None:
        self._power(context, instance, "stop", (vm_states.ACTIVE, vm_states.ERROR),
                    task_states.POWERING_OFF)
        self.compute_rpcapi.stop_instance(context, instance)

    def start(self, context: RequestContext, instance: Instance) -> None:
        self._power(context, instance, "start", (vm_states.STOPPED,), task_states.POWERING_ON)
        self.compute_rpcapi.start_instance(context, instance)

    def reboot(self, context: RequestContext, instance: Instance, reboot_type: str) -> None:
        if reboot_type == "SOFT":
            self._power(context, instance, "reboot", vm_states.ALLOW_SOFT_REBOOT,
                        task_states.REBOOTING)
        else:
            self._power(context, instance, "reboot", vm_states.ALLOW_HARD_REBOOT,
                        task_states.REBOOTING_HARD,
                        expected=(None, task_states.REBOOTING))
        self.compute_rpcapi.reboot_instance(context, instance, reboot_type)

    def get_host_uptime(self, context: RequestContext, host: str) -> str:
        """The ``uptime`` line of a compute host (a call to it)."""
        return self.compute_rpcapi.get_host_uptime(context, host)

    def get_instance_diagnostics(self, context: RequestContext,
                                 instance: Instance) -> dict[str, Any]:
        """Nova's: the guest's diagnostics from its host (409 before it has
        one, or when it is not running)."""
        if not instance.host:
            raise exception.Conflict(reason=f"Instance {instance.uuid} is not ready: it "
                                            "has no host yet.")
        return self.compute_rpcapi.get_instance_diagnostics(context, instance)

    def get_console_output(self, context: RequestContext, instance: Instance, length: int | None) -> str:
        _check_state(instance, "get console output", vm_state=(vm_states.ACTIVE,
                                                                vm_states.STOPPED),
                     task_state=None)
        return self.compute_rpcapi.get_console_output(context, instance, length)


def _check_volume_backed_image(image: dict[str, Any], flavor: Flavor) -> None:
    """A volume-backed server's image: its memory need only (the root is the
    volume, whose size was checked against min_disk)."""
    if (image.get("min_ram") or 0) > flavor.memory_mb:
        raise exception.Invalid(reason=f"flavor {flavor.name}'s memory is too small for "
                                       f"image {image['id']} (needs {image['min_ram']} MiB)")


def _check_zero_disk(context: RequestContext, image: dict[str, Any], flavor: Flavor) -> None:
    """As Nova: an image-backed server on a 0 GB flavor needs the
    ``create:zero_disk_flavor`` rule (admins by default), else 403. Its root
    disk takes the image's virtual size, which must be known to be claimed.

    NOTE: only for image-backed servers (a volume-backed one's root is its
    volume); as in Nova the image's min_disk is not compared with a 0 GB
    flavor.
    """
    target = {"project_id": context.project_id, "user_id": context.user_id}
    if not policy.authorize(context, server_policies.ZERO_DISK_FLAVOR, target,
                            do_raise=False):
        raise exception.BootFromVolumeRequiredForZeroDiskFlavor()
    if image.get("virtual_size") is None:
        raise exception.ZeroDiskImageSizeUnknown(flavor=flavor.name, image_id=image["id"],
                                                 disk_format=image.get("disk_format"))


def _validate_requested_networks(context: RequestContext, requested: str | list[dict[str, Any]],
                                 min_count: int = 1, max_count: int = 1) -> None:
    """Check the shape of ``networks`` (``"auto"``, ``"none"`` or a list of
    ``{uuid, fixed_ip}``); raise ``Invalid`` (400) naming the bad entry.

    NOTE: the existence of each network is checked by the network side
    (a hook for it: a network uuid nobody knows is 400 "Network X could not
    be found.").
    """
    from novalite.network import exceptions as n_exc

    if requested in ("auto", "none"):
        # NOTE: "auto" still needs room for a port per server.
        network_api.validate_requested(requested, context.project_id,
                                       policy.check_is_admin(context), min_count)
        return
    if not isinstance(requested, list):
        raise exception.Invalid(reason=f"Bad networks format: {requested!r}")
    for entry in requested:
        if not isinstance(entry, dict) or not (set(entry) <= {"uuid", "fixed_ip", "port"}):
            raise exception.Invalid(reason=f"Bad networks format: {entry!r}")
        uuid = entry.get("uuid")
        if uuid is not None and not uuidutils.is_uuid_like(uuid):
            raise exception.Invalid(reason="Bad networks format: network uuid is not in "
                                           f"proper format ({uuid})")
        if uuid is None and entry.get("fixed_ip") is None and entry.get("port") is None:
            raise exception.Invalid(reason="Bad networks format: an entry needs a network "
                                           "'uuid', a 'fixed_ip' or a 'port'")
    ports = [e["port"] for e in requested if e.get("port")]
    if len(ports) != len(set(ports)):
        raise exception.Invalid(reason="Port id is used more than once in the request")
    if ports and max_count > 1:
        raise exception.Invalid(reason="Unable to launch multiple instances with a single "
                                       "configured port ID. Please launch your instance one "
                                       "by one with different ports.")
    try:
        network_api.validate_requested(requested, context.project_id,
                                       policy.check_is_admin(context), min_count)
    except n_exc.PortNotFound as e:
        # NOTE: Nova's own words for it (its PortNotFound), a 400 at create.
        raise exception.Invalid(f"Port id {e.kwargs.get('port_id')} could not be "
                                "found.") from e
    except (exception.NetworkNotFound, exception.FixedIpAlreadyInUse) as e:
        raise exception.Invalid(e.format_message()) from e


def _key_data(context: RequestContext, key_name: str) -> str:
    """The public key of the caller's key pair ``key_name`` (400 as Nova when
    the caller has none by that name)."""
    try:
        keypair = KeyPair.get_by_name(context, _user_id(context), key_name)
    except exception.NotFound:
        raise exception.Invalid("Invalid key_name provided.") from None
    return str(keypair.public_key)


def _accepted_step(context: RequestContext, instances: list[Instance], flavor: Flavor,
                   started: datetime.datetime, seconds: float
                   ) -> dict[str, InstanceActionEventList]:
    """Each new server's first timeline step, by instance uuid: the request
    validated and the quota checked (the build's ``create`` action starts
    here, under the request's id, as Nova's API records it); written in the
    transaction that records the servers (no transaction of its own)."""
    count = len(instances)
    details = (f"request accepted; quota checked for {count} server(s): "
               f"{count * flavor.vcpus} vCPU(s), {count * flavor.memory_mb} MiB RAM")
    first = {}
    for inst in instances:
        steps = Timeline()
        steps.add(API_ACCEPTED, started, seconds, SUCCESS, details, host=None)
        first[inst.uuid] = steps.events(context)
    return first


def _allowed_count(context: RequestContext, min_count: int, max_count: int, flavor: Flavor) -> int:
    """How many of ``min_count``..``max_count`` servers the project's quota
    allows: as Nova, as many as fit; 403 "Quota exceeded for ..." when not
    even ``min_count`` do."""
    if min_count == max_count and quota.checked_when_recorded():
        # NOTE: the check in the transaction that records the servers is
        # exact on this backend and gives the same answer and message; one
        # before it would read the same figures once more.
        return max_count
    count = max_count
    if min_count < max_count:
        limits = quota.get_project_quotas(_project_id(context))
        used = quota.get_usages(_project_id(context))
        for resource, each in (("instances", 1), ("cores", flavor.vcpus),
                               ("ram", flavor.memory_mb)):
            if limits[resource] != quota.UNLIMITED and each > 0:
                count = min(count, max((limits[resource] - used[resource]) // each, 0))
        count = max(count, min_count)
    quota.enforce_server_create(context, _project_id(context), count,
                                count * flavor.vcpus, count * flavor.memory_mb)
    return count


def _project_id(context: RequestContext) -> str:
    """The caller's project: every request the API passes here has one
    (its authentication set it)."""
    return cast(str, context.project_id)


def _user_id(context: RequestContext) -> str:
    return cast(str, context.user_id)


def _hostname(name: str) -> str:
    """An RFC 952 hostname from a display name."""
    import re

    host = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return host or "server"


def _other_hosts(context: RequestContext, host: str | None, node: str | None) -> list[str]:
    """2.74: every compute host but the one ``host`` and/or ``node`` name (the
    scheduler's ignore list); HostNotFound (Nova's ComputeHostNotFound, the
    API's 400) when no compute node matches."""
    from novalite.objects.compute_node import ComputeNodeList

    nodes = list(ComputeNodeList.get_all(context))
    chosen = {n.host for n in nodes if (not host or n.host == host)
              and (not node or n.hypervisor_hostname == node)}
    if not chosen:
        raise exception.HostNotFound(host=host or node)
    return sorted({n.host for n in nodes} - chosen)
