"""Server views as Nova's v2.1 shows them, and the state ↔ status mapping.

The status a user sees is derived from ``vm_state`` and ``task_state``
exactly as Nova derives it, so scripts that poll for ``ACTIVE`` or
``SHUTOFF`` behave the same against novalite.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from novalite.api.links import Links
from novalite.api.microversions import MIN_VERSION, APIVersion
from novalite.api.views.common import isotime, naive_isotime
from novalite.compute import naming, task_states, vm_states
from novalite.conf import CONF
from novalite.network import neutron_l3
from novalite.objects.network import FixedIPList

DEFAULT = "default"

_RESIZING: dict[str | None, str] = {
    task_states.RESIZE_PREP: "RESIZE",
    task_states.RESIZE_MIGRATING: "RESIZE",
    task_states.RESIZE_MIGRATED: "RESIZE",
    task_states.RESIZE_FINISH: "RESIZE",
}
_REBUILDING: dict[str | None, str] = {
    task_states.REBUILDING: "REBUILD",
    task_states.REBUILD_BLOCK_DEVICE_MAPPING: "REBUILD",
    task_states.REBUILD_SPAWNING: "REBUILD",
}

# NOTE: Nova's map (nova/api/openstack/common.py), state for state.
_STATE_MAP: dict[str, dict[str | None, str]] = {
    vm_states.ACTIVE: {
        DEFAULT: "ACTIVE",
        task_states.REBOOTING: "REBOOT",
        task_states.REBOOTING_HARD: "HARD_REBOOT",
        task_states.UPDATING_PASSWORD: "PASSWORD",
        task_states.MIGRATING: "MIGRATING",
        **_REBUILDING,
        **_RESIZING,
    },
    vm_states.BUILDING: {DEFAULT: "BUILD"},
    vm_states.STOPPED: {DEFAULT: "SHUTOFF", **_RESIZING, **_REBUILDING},
    vm_states.RESIZED: {DEFAULT: "VERIFY_RESIZE",
                        task_states.RESIZE_REVERTING: "REVERT_RESIZE"},
    vm_states.PAUSED: {DEFAULT: "PAUSED", task_states.MIGRATING: "MIGRATING"},
    vm_states.SUSPENDED: {DEFAULT: "SUSPENDED"},
    vm_states.RESCUED: {DEFAULT: "RESCUE"},
    vm_states.ERROR: {DEFAULT: "ERROR", **_REBUILDING},
    vm_states.DELETED: {DEFAULT: "DELETED"},
    vm_states.SOFT_DELETED: {DEFAULT: "SOFT_DELETED"},
    vm_states.SHELVED: {DEFAULT: "SHELVED"},
    vm_states.SHELVED_OFFLOADED: {DEFAULT: "SHELVED_OFFLOADED"},
}


# NOTE: Nova shows progress only while it can change, a fault only when
# something went wrong.
_PROGRESS_STATUSES = ("ACTIVE", "BUILD")
_FAULT_STATUSES = ("ERROR", "DELETED")


def status_from_state(vm_state: str | None, task_state: str | None = None) -> str:
    """Nova's ``status_from_state``: powering-off stays ACTIVE, powering-on
    stays SHUTOFF, deleting keeps the vm_state's status."""
    task_map = _STATE_MAP.get(vm_state or "", {DEFAULT: "UNKNOWN"})
    return task_map.get(task_state, task_map[DEFAULT])


def states_from_status(statuses: Iterable[str]) -> tuple[list[str], set[str | None]]:
    """The vm_states, and task_states (``DEFAULT`` meaning any), whose status
    is one of ``statuses``; both empty for an unknown status."""
    wanted = {s.upper() for s in statuses}
    vm_found: set[str] = set()
    task_found: set[str | None] = set()
    for vm_state, task_map in _STATE_MAP.items():
        for task_state, status in task_map.items():
            if status in wanted:
                vm_found.add(vm_state)
                task_found.add(task_state)
    return sorted(vm_found), task_found


def host_id(project_id: str | None, host: str | None) -> str:
    """Nova's hostId: the same for one project's servers on one host, and
    says nothing about the host's name to the user."""
    if not host:
        return ""
    return hashlib.sha224(f"{project_id}{host}".encode()).hexdigest()


def instance_name(instance: Any) -> str:
    """The hypervisor's name for the guest, from ``[libvirt] instance_name_template``."""
    return naming.instance_name(instance)


def addresses_of(instances: list[Any]) -> dict[str, list[dict]]:
    """The addresses of the instances: ``{uuid: [{address, mac,
    network_name, type}, ...]}``, fixed ones in allocation order, each
    followed by the floating IPs associated with it (as Nova's view of
    Neutron's floating IPs of the server's ports)."""
    if not instances:
        return {}
    out: dict[str, list[dict]] = {}
    for fip in FixedIPList.get_by_instance_uuids(getattr(instances[0], "_context", None),
                                                 [i.uuid for i in instances]):
        out.setdefault(fip.instance_uuid, []).append(
            {"address": fip.address, "mac": fip.mac, "network_name": fip.network_name,
             "type": "fixed"})
    floating = neutron_l3.server_floating_addresses(list(out))
    for uuid, entries in floating.items():
        addresses = out.get(uuid, [])
        for entry in entries:
            at = next((i for i, a in enumerate(addresses)
                       if a["address"] == entry["fixed_address"]), len(addresses) - 1)
            while at + 1 < len(addresses) and addresses[at + 1]["type"] == "floating":
                at += 1
            addresses.insert(at + 1, {"address": entry["address"], "mac": entry["mac"],
                                      "network_name": entry["network_name"],
                                      "type": "floating"})
    return out


def plain_addresses(ports: list[dict]) -> dict:
    """``addresses`` as ``/servers/{id}/ips`` shows them: version and addr."""
    return _addresses(ports, extended=False)


def _addresses(ports: list[dict], extended: bool = True) -> dict:
    """Nova's ``addresses``: per network name, each address with its version
    (and, ``extended``, its type and MAC)."""
    out: dict[str, list[dict]] = {}
    for port in ports:
        address = port["address"]
        entry: dict[str, Any] = {"version": 6 if ":" in address else 4, "addr": address}
        if extended:
            entry["OS-EXT-IPS:type"] = port.get("type") or "fixed"
            entry["OS-EXT-IPS-MAC:mac_addr"] = port["mac"]
        out.setdefault(port["network_name"], []).append(entry)
    return out


def disk_config(instance: Any) -> str:
    auto = instance.obj_attr_is_set("auto_disk_config") and instance.auto_disk_config
    return "AUTO" if auto else "MANUAL"


def basic(instance: Any, links: Links) -> dict:
    return {"id": instance.uuid, "name": instance.display_name,
            "links": links.resource("servers", instance.uuid)}


def _image(instance: Any, links: Links, extras: Extras | None = None) -> dict | str:
    if not instance.image_ref:
        return ""
    out: dict[str, Any] = {"id": instance.image_ref,
                           "links": [links.bookmark("images", instance.image_ref)]}
    if _at(extras, "2.98"):
        assert extras is not None
        out["properties"] = dict(extras.image_properties.get(instance.image_ref, {}))
    return out


def _flavor(instance: Any, links: Links) -> dict:
    flavorid = instance.flavor.flavorid if instance.flavor else ""
    return {"id": flavorid, "links": [links.bookmark("flavors", flavorid)]}


def _availability_zone(instance: Any) -> str:
    if instance.availability_zone:
        return instance.availability_zone
    return CONF.default_availability_zone if instance.host else ""


# NOTE: an absolute path of two or more parts that is not part of a URL
# ("http://h/v2/images" is left alone) or of a longer word.
_HOST_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+%=,~-]+/)+[\w.@+%=,~-]*")


def without_host_paths(message: str) -> str:
    """``message`` with every absolute path replaced by ``<path>``: the
    messages of faults made anywhere (libvirt, genisoimage, qemu-img) may
    name the host's files, which users must not see."""
    return _HOST_PATH.sub("<path>", message)


def fault(instance: Any, is_admin: bool) -> dict | None:
    """Users see code, created and a message that names no host path; the
    ``details`` (traceback, commands, host paths) are for admins only,
    whatever the code. NOTE: Nova also shows the details of a fault that is
    not a 500 to users; those name host paths and commands."""
    # NOTE: objects that crossed RPC carry only the fields that were set.
    f = instance.fault if instance.obj_attr_is_set("fault") else None
    if not f:
        return None
    message = f.message if is_admin else without_host_paths(f.message or "")
    out = {"code": f.code, "created": isotime(f.created_at), "message": message}
    if f.details and is_admin:
        out["details"] = f.details
    return out


@dataclasses.dataclass
class Extras:
    """What a server view shows beyond Nova's 2.1 fields, by microversion,
    looked up once for every server of an answer (``extras_for``)."""

    version: APIVersion = MIN_VERSION
    # NOTE: host -> UP/DOWN/MAINTENANCE/UNKNOWN; None when the caller may not see it.
    host_status: dict[str, str] | None = None
    tags: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    flavor_extra_specs: bool = False
    image_properties: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    specs: dict[str, Any] = dataclasses.field(default_factory=dict)
    # NOTE: the uuid of the server group each server is a member of (2.71).
    groups: dict[str, str] = dataclasses.field(default_factory=dict)
    # NOTE: the names of the security groups of each server's ports.
    security_groups: dict[str, list[dict]] = dataclasses.field(default_factory=dict)
    # NOTE: each server's volumes: [(volume id, delete_on_termination)].
    volumes: dict[str, list[tuple[str, bool]]] = dataclasses.field(default_factory=dict)
    # NOTE: "show", "detail" (a list) or "update": Nova shows each a little differently.
    view: str = "show"


def _at(extras: Extras | None, version: str) -> bool:
    return extras is not None and extras.version.at_least(version)


def detail(instance: Any, links: Links, is_admin: bool,
           addresses: dict[str, list[dict]] | None = None,
           fault_details: bool | None = None, extras: Extras | None = None) -> dict:
    """Nova's server at the request's microversion (``extras``; 2.1 without);
    ``is_admin``: the caller may see the ``OS-EXT-SRV-ATTR:*`` fields;
    ``fault_details`` (default: ``is_admin``): the caller is an admin, who
    sees a fault's details and host paths."""
    status = status_from_state(instance.vm_state, instance.task_state)
    server = {
        "id": instance.uuid,
        "name": instance.display_name,
        "status": status,
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "metadata": dict(instance.metadata or {}),
        "hostId": host_id(instance.project_id, instance.host),
        "image": _image(instance, links, extras),
        "flavor": _embedded_flavor(instance, extras) if _at(extras, "2.47")
        else _flavor(instance, links),
        "created": isotime(instance.created_at),
        "updated": isotime(instance.updated_at or instance.created_at),
        "addresses": _addresses((addresses or {}).get(instance.uuid, [])),
        "accessIPv4": instance.access_ip_v4 or "",
        "accessIPv6": instance.access_ip_v6 or "",
        "links": links.resource("servers", instance.uuid),
        "OS-DCF:diskConfig": disk_config(instance),
        "OS-EXT-AZ:availability_zone": _availability_zone(instance),
        "config_drive": "True" if instance.config_drive else "",
        "key_name": instance.key_name,
        "OS-SRV-USG:launched_at": naive_isotime(instance.launched_at),
        "OS-SRV-USG:terminated_at": naive_isotime(instance.terminated_at),
        "OS-EXT-STS:task_state": instance.task_state,
        "OS-EXT-STS:vm_state": instance.vm_state,
        "OS-EXT-STS:power_state": instance.power_state or 0,
        "os-extended-volumes:volumes_attached": _volumes_attached(instance, extras),
    }
    # NOTE: as Nova's: the groups of the server's ports, none without.
    groups = extras.security_groups.get(instance.uuid) if extras is not None else None
    if groups:
        server["security_groups"] = groups
    if status in _PROGRESS_STATUSES:
        server["progress"] = 0
    if is_admin:
        server["OS-EXT-SRV-ATTR:host"] = instance.host
        server["OS-EXT-SRV-ATTR:hypervisor_hostname"] = instance.node
        server["OS-EXT-SRV-ATTR:instance_name"] = instance_name(instance)
    if status in _FAULT_STATUSES:
        fault_view = fault(instance, is_admin if fault_details is None else fault_details)
        if fault_view:
            server["fault"] = fault_view
    if extras is not None:
        server.update(_versioned_fields(instance, is_admin, extras))
    return server


def _versioned_fields(instance: Any, is_admin: bool, extras: Extras) -> dict:
    """The fields microversions 2.3 ... 2.100 added to a server, as Nova's
    view adds them (``extras.view``: which answer this is)."""
    at = extras.version.at_least
    full = extras.view != "update" or at("2.75")
    out: dict[str, Any] = {}
    if at("2.3") and is_admin and full:
        out.update({
            "OS-EXT-SRV-ATTR:hostname": instance.hostname,
            # NOTE: novalite boots whole-disk images: no kernel or ramdisk.
            "OS-EXT-SRV-ATTR:kernel_id": "",
            "OS-EXT-SRV-ATTR:launch_index": instance.launch_index,
            "OS-EXT-SRV-ATTR:ramdisk_id": "",
            "OS-EXT-SRV-ATTR:reservation_id": instance.reservation_id,
            "OS-EXT-SRV-ATTR:root_device_name": _root_device_name(instance),
            "OS-EXT-SRV-ATTR:user_data": instance.user_data,
        })
    if at("2.9"):
        out["locked"] = bool(instance.locked)
    if at("2.16") and extras.host_status is not None and full:
        out["host_status"] = extras.host_status.get(instance.host, "") \
            if instance.host else ""
    if at("2.19"):
        out["description"] = _description(instance)
    if at("2.26"):
        out["tags"] = list(extras.tags.get(instance.uuid, []))
    if at("2.63"):
        # NOTE: the ids given at create or rebuild (a JSON list in system_metadata).
        certs = _system_metadata(instance).get("trusted_image_certificates")
        out["trusted_image_certificates"] = json.loads(certs) if certs else None
    spec = extras.specs.get(instance.uuid)
    if at("2.71") and extras.view != "detail":
        group = extras.groups.get(instance.uuid)
        out["server_groups"] = [group] if group else []
    if at("2.73"):
        out["locked_reason"] = _system_metadata(instance).get("locked_reason")
    if at("2.90") and not is_admin:
        out["OS-EXT-SRV-ATTR:hostname"] = instance.hostname
    if at("2.96") and full:
        out["pinned_availability_zone"] = _spec_field(spec, "availability_zone")
    if at("2.100"):
        # NOTE: as Nova shows them: each hint's values as a list.
        out["scheduler_hints"] = dict(_spec_field(spec, "scheduler_hints") or {})
    return out


def _spec_field(spec: Any, name: str) -> Any:
    if spec is None or not spec.obj_attr_is_set(name):
        return None
    return getattr(spec, name)


def _system_metadata(instance: Any) -> dict:
    if not instance.obj_attr_is_set("system_metadata"):
        return {}
    return dict(instance.system_metadata or {})


def _description(instance: Any) -> str | None:
    if "display_description" not in instance.fields or \
            not instance.obj_attr_is_set("display_description"):
        return None
    return instance.display_description


def _volumes_attached(instance: Any, extras: Extras | None) -> list[dict]:
    """Nova's os-extended-volumes:volumes_attached: each volume's id, and
    from 2.3 its delete_on_termination."""
    if extras is None:
        return []
    with_dot = extras.version.at_least("2.3")
    return [{"id": vid, "delete_on_termination": dot} if with_dot else {"id": vid}
            for vid, dot in extras.volumes.get(instance.uuid, [])]


def _root_device_name(instance: Any) -> str | None:
    # NOTE: the libvirt driver's root disk is always the first virtio disk.
    return "/dev/vda" if instance.host else None


def _embedded_flavor(instance: Any, extras: Extras | None) -> dict:
    """The server's copy of its flavor (2.47): no id, its name as
    ``original_name``, extra specs when the caller may list them."""
    flavor = instance.flavor
    if flavor is None:
        return {}
    out: dict[str, Any] = {"vcpus": flavor.vcpus, "ram": flavor.memory_mb,
                           "disk": flavor.root_gb, "ephemeral": flavor.ephemeral_gb,
                           "swap": flavor.swap, "original_name": flavor.name}
    if extras is not None and extras.flavor_extra_specs:
        out["extra_specs"] = dict(flavor.extra_specs or {})
    return out


def updated(instance: Any, links: Links, is_admin: bool,
            addresses: dict[str, list[dict]] | None = None,
            fault_details: bool | None = None, extras: Extras | None = None) -> dict:
    """The 200 answer to ``PUT /servers/{id}``, as Nova's: before 2.75 the
    server without the extensions' fields, from 2.75 the whole server."""
    if extras is not None:
        extras = dataclasses.replace(extras, view="update")
    if _at(extras, "2.75"):
        return detail(instance, links, is_admin, addresses, fault_details, extras)
    full = detail(instance, links, is_admin, fault_details=fault_details, extras=extras)
    keys = _UPDATE_KEYS + _UPDATE_VERSIONED_KEYS
    server = {k: full[k] for k in keys if k in full}
    server["addresses"] = _addresses((addresses or {}).get(instance.uuid, []), extended=False)
    return server


# NOTE: what Nova's update answers with: the server without the
# extensions' fields (no OS-EXT-*, config_drive, key_name, security groups...).
_UPDATE_KEYS = ("id", "name", "status", "tenant_id", "user_id", "metadata", "hostId",
                "image", "flavor", "created", "updated", "addresses", "accessIPv4",
                "accessIPv6", "links", "OS-DCF:diskConfig", "progress", "fault")
# NOTE: what microversions before 2.75 added to the update answer too.
_UPDATE_VERSIONED_KEYS = ("locked", "description", "tags", "trusted_image_certificates",
                          "server_groups", "locked_reason")


def created(instance: Any, links: Links, admin_pass: str,
            security_groups: list[dict] | None = None) -> dict:
    """The 202 answer to a create: enough to poll the server (its security
    groups as asked for, else ``default``, as Nova's)."""
    return {"id": instance.uuid, "links": links.resource("servers", instance.uuid),
            "OS-DCF:diskConfig": disk_config(instance),
            "security_groups": security_groups or [{"name": "default"}],
            "adminPass": admin_pass}


def collection(instances: Iterable[Any], links: Links, is_admin: bool, detailed: bool,
               addresses: dict[str, list[dict]] | None = None,
               fault_details: bool | None = None, extras: Extras | None = None,
               ) -> list[dict]:
    if detailed:
        return [detail(i, links, is_admin, addresses, fault_details, extras)
                for i in instances]
    return [basic(i, links) for i in instances]
