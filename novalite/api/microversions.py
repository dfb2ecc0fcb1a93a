"""The Compute API's microversions: the one place that lists them.

A client picks a version per request with ``OpenStack-API-Version: compute
X.Y`` (or the legacy ``X-OpenStack-Nova-API-Version: X.Y``); without a
header it gets the minimum, so old clients keep the behaviour they were
written against. Every compute response names the version that served it.

Controllers and views ask ``req.api_version.at_least("2.47")``; a method
that exists only in a range of versions is marked ``@versioned(min, max)``
(404 outside it, as Nova's ``VersionNotFoundForAPIMethod``), and a body
schema that holds only in a range is given one with
``@validation.schema(schema, min_version, max_version)``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from novalite.api import errors

F = TypeVar("F", bound=Callable[..., Any])

_NOT_YET = "no change in novalite: {} not implemented yet (issue 12)"

# NOTE: append here when the API changes in a way a client can observe;
# each entry says what the version changed in novalite, after Nova's
# rest_api_version_history. An API novalite does not have answers 404 at
# every version, as Nova answers for a missing extension.
SUPPORTED: list[tuple[str, str]] = [
    ("2.1", "Initial version: servers (create, list, show, update, delete, "
            "os-stop, os-start, reboot, os-getConsoleOutput), flavors, images "
            "(proxy), os-services, os-hypervisors, as in Nova's v2.1."),
    ("2.2", "os-keypairs: 'type' (ssh, x509) on create and in the views; create "
            "answers 201 and delete 204."),
    ("2.3", "Servers: admins also see OS-EXT-SRV-ATTR:reservation_id, launch_index, "
            "kernel_id, ramdisk_id, hostname, root_device_name, user_data; "
            "os-extended-volumes:volumes_attached shows each volume's "
            "delete_on_termination."),
    ("2.4", "no change in novalite: os-fixed-ips (a nova-network proxy) does not exist "
            "(404 at every version)."),
    ("2.5", "GET /servers: ip6 is a user filter (admins' only before); it matches the "
            "fixed addresses as ip does."),
    ("2.6", "POST /servers/{id}/remote-consoles (protocol and type serial: a one-time "
            "websocket URL of the serial console proxy; other protocols 400 'Unavailable "
            "console type'); the os-getSerialConsole action is 404 from here (2.1-2.5)."),
    ("2.7", "os-flavor-access addTenantAccess on a public flavor answers 409 (novalite "
            "refuses it at every version: a public flavor has no access list)."),
    ("2.8", "remote-consoles: protocol mks and type webmks pass the schema (400 "
            "'Unavailable console type': novalite has no VMware consoles)."),
    ("2.9", "Servers: 'locked' in show, detail and update answers."),
    ("2.10", "os-keypairs: admins may pass user_id (query on list/show/delete, body "
             "on create) to act on another user's key pairs; views show user_id."),
    ("2.11", "os-services: 'forced_down' in the view; PUT /os-services/force-down "
             "(until 2.52)."),
    ("2.12", "no change in novalite: os-virtual-interfaces (nova-network) does not exist "
             "(404 at every version)."),
    ("2.13", "os-server-groups: project_id and user_id in the view."),
    ("2.14", "evacuate: no onSharedStorage in the body; the answer is 200 without a "
             "body (adminPass only before)."),
    ("2.15", "os-server-groups: soft-affinity and soft-anti-affinity policies."),
    ("2.16", "Servers: host_status (UP, DOWN, MAINTENANCE, UNKNOWN or '') in show and "
             "detail, for callers the os_compute_api:servers:show:host_status rule "
             "allows (admins)."),
    ("2.17", "The trigger_crash_dump server action (an NMI to the guest; 404 before)."),
    ("2.18", "The project id in the URL is optional (novalite's URLs never had one)."),
    ("2.19", "Servers: 'description' on create and update and in show, detail and "
             "update answers; rebuild takes it too."),
    ("2.20", "os-volume_attachments: a SHELVED_OFFLOADED server's volumes may be "
             "attached and detached (409 before); nothing is connected until unshelve."),
    ("2.21", "os-instance-actions: the actions of a deleted server are listed and "
             "shown."),
    ("2.22", "POST /servers/{id}/migrations/{id}/action {'force_complete': null} (admins): "
             "the running live migration finishes now (202; 400 for a migration that is "
             "not running or not the server's, 409 unless the server is ACTIVE and "
             "migrating). The FakeDriver ends its copy at once; the libvirt driver does "
             "not implement it yet (the action's event records the error)."),
    ("2.23", "GET /os-migrations: migration_type, and links for an in-progress live "
             "migration; GET /servers/{id}/migrations and /servers/{id}/migrations/{id}: "
             "a server's in-progress live migrations (admin)."),
    ("2.24", "DELETE /servers/{id}/migrations/{id} (admins): abort the running live "
             "migration (202; 400 when it is not running, 404 for a migration that is not "
             "the server's, 409 unless the server is migrating): it is cancelled and the "
             "server stays on its host, ACTIVE, without a fault (FakeDriver; libvirt not "
             "yet)."),
    ("2.25", "os-migrateLive: block_migration may be 'auto'; disk_over_commit is gone "
             "(400). Live migration runs on the FakeDriver; the libvirt driver refuses it "
             "naming itself (the migration ends in error)."),
    ("2.26", "Server tags: /servers/{id}/tags (list, replace, add, check, delete one, "
             "delete all), 'tags' in show and detail, and the tags, tags-any, not-tags, "
             "not-tags-any filters of GET /servers."),
    ("2.27", "The OpenStack-API-Version header (always accepted by novalite)."),
    ("2.28", "os-hypervisors: cpu_info is an object instead of a JSON string."),
    ("2.29", "evacuate: 'force' with a host skips the scheduler."),
    ("2.30", "os-migrateLive: 'force' with a host skips the scheduler."),
    ("2.31", _NOT_YET.format("os-console-auth-tokens")),
    ("2.32", "POST /servers: an optional 'tag' on networks and block_device_mapping_v2 "
             "entries (accepted; device tags are not in the guest's metadata yet)."),
    ("2.33", "os-hypervisors: limit and marker; block_device_mapping_v2 entries take "
             "no 'tag' again (as Nova's bug, until 2.42)."),
    ("2.34", _NOT_YET.format("the os-migrateLive action")),
    ("2.35", "os-keypairs: limit and marker (key pair name), sorted by name."),
    ("2.36", "The proxy APIs answer 404: /images, /images/{id}/metadata, os-networks, "
             "os-volumes, os-security-groups and the other proxies (the ones novalite "
             "has are the /images ones and os-networks); network quotas (floating_ips, fixed_ips, "
             "security_groups, security_group_rules, networks) leave os-quota-sets and "
             "/limits."),
    ("2.37", "POST /servers: 'networks' is required ('auto', 'none' or a list), network "
             "uuids must be UUIDs, and networks take no 'tag' (until 2.42)."),
    ("2.38", "GET /servers: an unknown status filter is 400 (was an empty list)."),
    ("2.39", "/images/{id}/metadata answers 404 (already so from 2.36); maxImageMeta "
             "leaves /limits; createImage and createBackup no longer check their "
             "metadata against the metadata_items quota (403 before)."),
    ("2.40", "os-simple-tenant-usage: limit and marker (an instance uuid)."),
    ("2.41", "os-aggregates: 'uuid' in the view."),
    ("2.42", "POST /servers: 'tag' on networks and block_device_mapping_v2 entries "
             "again."),
    ("2.43", "os-hosts answers 404 (served until 2.42)."),
    ("2.44", "The addFixedIp, removeFixedIp, addFloatingIp, removeFloatingIp actions "
             "and os-virtual-interfaces answer 404 (novalite never had them)."),
    ("2.45", "createImage/createBackup answer {image_id} instead of a Location header."),
    ("2.46", "X-OpenStack-Request-ID on every answer (novalite always sent it)."),
    ("2.47", "Servers: 'flavor' is the embedded flavor (vcpus, ram, disk, ephemeral, "
             "swap, original_name, extra_specs for callers the flavor extra specs "
             "index rule allows) instead of id and links."),
    ("2.48", "GET /servers/{id}/diagnostics answers Nova's standard format (state, "
             "driver, hypervisor, cpu/nic/disk/memory details), the flat libvirt-style "
             "form before."),
    ("2.49", "POST /servers/{id}/os-interface and POST /servers/{id}/os-volume_attachments "
             "take a 'tag' (a device role tag, as networks' tags at 2.32)."),
    ("2.50", "os-quota-class-sets: server_groups and server_group_members shown and "
             "taken; fixed_ips, floating_ips, security_groups and security_group_rules "
             "no longer."),
    ("2.51", "os-instance-actions: every caller sees an action's events (tracebacks "
             "stay for admins); POST /os-server-external-events takes 'volume-extended' "
             "(the server's host shows the guest the volume's new size)."),
    ("2.52", "POST /servers: 'tags' (up to 50, the 2.26 rules)."),
    ("2.53", "os-services and os-hypervisors: ids are uuids (name-based, stable, "
             "derived from the row); PUT /os-services/{uuid} "
             "(status, disabled_reason, forced_down) replaces enable, disable, "
             "disable-log-reason and force-down (404 from 2.53); DELETE takes the uuid; "
             "hypervisors take hypervisor_hostname_pattern and with_servers instead of "
             "/search and /servers (404 from 2.53), and any other query parameter is "
             "400."),
    ("2.54", "rebuild: 'key_name' (null unsets it) sets the server's key pair."),
    ("2.55", "Flavors: 'description' on create, in every view, and PUT /flavors/{id} "
             "to change it."),
    ("2.56", "migrate: optional 'host' (it must exist and not be the server's: 400)."),
    ("2.57", "POST /servers: no 'personality' (400); injected_files, "
             "injected_file_content_bytes and injected_file_path_bytes leave "
             "os-quota-sets and os-quota-class-sets; maxPersonality and maxPersonalitySize leave /limits; "
             "rebuild: no 'personality', 'user_data' instead (in its answer too)."),
    ("2.58", "os-instance-actions: limit, marker (request id) and changes-since, any "
             "other query parameter 400; "
             "'updated_at' in the view (an action's finish time, else its start: novalite "
             "records no other update time)."),
    ("2.59", "GET /os-migrations: 'uuid' in the view, newest first, limit/marker "
             "paging (migrations_links), changes-since; /servers/{id}/migrations: 'uuid'."),
    ("2.60", _NOT_YET.format("multiattach volumes")),
    ("2.61", "Flavors: 'extra_specs' in detail, show, create and update answers (for "
             "callers the extra specs index rule allows)."),
    ("2.62", "os-instance-actions: events carry 'hostId' (and 'host' for admins)."),
    ("2.63", "POST /servers and rebuild: trusted_image_certificates (1-50 unique "
             "non-empty strings; on rebuild null unsets them, a list replaces them, none "
             "keeps them), recorded on the server and shown as "
             "trusted_image_certificates in show, detail, update and rebuild answers "
             "(null when none). As Nova with [glance] verify_glance_signatures off (its "
             "default, novalite's only mode) they do not change the boot."),
    ("2.64", "os-server-groups: 'policy' and 'rules' (max_server_per_host) instead of "
             "'policies' and 'metadata'."),
    ("2.65", "DELETE /servers/{id}/migrations/{id}: a queued or preparing live migration "
             "may be aborted too (400 before): the source cancels it before it copies."),
    ("2.66", "GET /servers and os-instance-actions: changes-before filter (400 when "
             "before changes-since); GET /os-migrations: changes-before."),
    ("2.67", "POST /servers: 'volume_type' in block_device_mapping_v2 (a volume the "
             "server's host makes; 400 with destination_type local or an existing "
             "volume, or a type that does not exist)."),
    ("2.68", "evacuate and os-migrateLive: no 'force' (400)."),
    ("2.69", "Minimal constructs for down cells: novalite has one cell, which is never "
             "down (no change)."),
    ("2.70", "os-interface and os-volume_attachments: every attachment shows its 'tag' "
             "(null when it has none)."),
    ("2.71", "Servers: 'server_groups' (the uuid of the server group the server is a "
             "member of, else []) in show and update answers."),
    ("2.72", "Servers with ports that have a resource request (novalite has no ports: "
             "no change)."),
    ("2.73", "Servers: 'locked_reason' in show, detail and update answers; 'locked' "
             "filter and sort key for GET /servers (the sort key is ignored before); the "
             "lock action takes {'locked_reason': ...} (its body is null before)."),
    ("2.74", "POST /servers: 'host' and/or 'hypervisor_hostname' (admins by the "
             "compute:servers:create:requested_destination rule, else 403): 400 'Compute "
             "host X could not be found.' when no compute node matches; the scheduler "
             "considers only that host (the server is ERROR with NoValidHost when it "
             "cannot take it)."),
    ("2.75", "Unknown query parameters of GET /servers, /servers/detail, /flavors, "
             "/flavors/detail, /limits, os-keypairs, os-quota-sets (show, detail, "
             "update, delete), /os-server-groups and /os-simple-tenant-usage are 400; "
             "PUT /servers/{id} answers the whole server as GET does; flavors show swap "
             "0 instead of ''; os-hypervisors always show 'servers' when asked with "
             "with_servers."),
    ("2.76", _NOT_YET.format("os-server-external-events (power-update)")),
    ("2.77", "unshelve of a shelved offloaded server may name an availability_zone "
             "(409 for a server that is only shelved)."),
    ("2.78", _NOT_YET.format("GET /servers/{id}/topology")),
    ("2.79", "os-volume_attachments: POST takes 'delete_on_termination' and every "
             "attachment shows it."),
    ("2.80", "GET /os-migrations: user_id and project_id in the view and as filters; "
             "/servers/{id}/migrations: user_id and project_id."),
    ("2.81", _NOT_YET.format("aggregate image cache")),
    ("2.82", _NOT_YET.format("os-server-external-events (accelerator-request-bound)")),
    ("2.83", "GET /servers: user_id is a user filter; Nova's other new user filters "
             "(availability_zone, config_drive, key_name, created_at, launched_at, "
             "terminated_at, power_state, task_state, vm_state, progress) are accepted "
             "and ignored, as novalite ignores them for admins too."),
    ("2.84", "os-instance-actions: events carry 'details' (a failed event's fault "
             "message) for admins."),
    ("2.85", "PUT /servers/{id}/os-volume_attachments/{volume_id} with the same volumeId "
             "changes delete_on_termination (202; 400 before); another volumeId (a swap) is "
             "409: novalite does not swap volumes."),
    ("2.86", "Flavor extra specs (create, update) are validated as Nova's: known keys "
             "(hw:, hw_rng:, hw_video:, quota:, os:, pci_passthrough:, group_policy, "
             "hide_hypervisor_id, trait:/resources: with a request group, standard or "
             "CUSTOM_ names) need a valid value, unknown keys in those namespaces (and "
             "accel:, capabilities:, vmware:) are 400; other keys stay free-form."),
    ("2.87", "no change in novalite: rescue of volume-backed servers is not "
             "distinguished (rescue exists at every version)."),
    ("2.88", "os-hypervisors: detail and show drop the statistics fields (vcpus, "
             "memory, disk, running_vms, cpu_info, current_workload ...) and show "
             "'uptime' (null: novalite's drivers report none); /os-hypervisors/statistics "
             "and /{id}/uptime answer 404."),
    ("2.89", "os-volume_attachments: list and show give 'attachment_id' and 'bdm_uuid' "
             "instead of 'id'."),
    ("2.90", "Servers: 'hostname' on create and update; OS-EXT-SRV-ATTR:hostname shown "
             "to every caller; rebuild takes 'hostname'."),
    ("2.91", "unshelve: 'host' (admins) and a null availability_zone (unpin)."),
    ("2.92", "os-keypairs: create needs public_key (no generation) and names may also "
             "hold '@' and '.' (only letters, digits, '_', '-', ' ', '@', '.')."),
    ("2.93", _NOT_YET.format("volume-backed rebuild")),
    ("2.94", "Servers: 'hostname' may be an FQDN."),
    ("2.95", "evacuate: the server is STOPPED on its new host."),
    ("2.96", "Servers: 'pinned_availability_zone' (the zone asked for at create, else "
             "null) in show and detail answers, and update from 2.75."),
    ("2.97", _NOT_YET.format("server shares")),
    ("2.98", "Servers: the image carries the boot image's 'properties' (as recorded at "
             "create) in show, detail and update answers."),
    ("2.99", _NOT_YET.format("spice-direct consoles")),
    ("2.100", "Servers: 'scheduler_hints' (those given at create) in show, detail and "
              "update answers."),
    ("2.101", "no change in novalite: attaching a volume answers 202 without a body "
              "(novalite has no os-volume_attachments: 404 at every version)."),
    ("2.102", "Flavors: a 'name' filter (a regular expression searched in the name) on "
              "GET /flavors and /flavors/detail, no rxtx_factor sort key; flavor answers "
              "drop rxtx_factor and OS-FLV-DISABLED:disabled; flavor create takes no "
              "rxtx_factor (400). Every GET of the compute API refuses an unknown query "
              "parameter (400), as 2.75 began."),
    ("2.103", "no change in novalite: /os-volumes_boot (an old alias of /servers) is "
              "removed; novalite never had it (404 at every version)."),
    ("2.104", "PUT /servers/{id}: 'pinned_availability_zone' (null unpins; pinning to the "
              "zone the server is in, else 409; one pinned zone to another without "
              "unpinning first 409; the same value again 200)."),
]

# NOTE: the last version of the APIs that proxy another service (/images,
# /images/{id}/metadata ...): 404 from 2.36, as Nova's MAX_PROXY_API_SUPPORT_VERSION.
PROXY_MAX = "2.35"

HEADER = "OpenStack-API-Version"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
SERVICE_TYPE = "compute"
VARY = f"{HEADER}, {LEGACY_HEADER}"

_FORMAT = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@dataclasses.dataclass(frozen=True, order=True)
class APIVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        match = _FORMAT.match(text.strip())
        if not match:
            raise errors.HTTPError(
                400, f"API Version String {text} is of invalid format. Must be of "
                     "format MajorNum.MinorNum.")
        return cls(int(match.group(1)), int(match.group(2)))

    def at_least(self, version: str) -> bool:
        """Whether this request's version is ``version`` or newer."""
        return self >= _parsed(version)

    def matches(self, min_version: str | None, max_version: str | None = None) -> bool:
        """Whether this version lies in [min_version, max_version] (None: open end)."""
        if min_version is not None and self < _parsed(min_version):
            return False
        return max_version is None or self <= _parsed(max_version)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


@functools.cache
def _parsed(text: str) -> APIVersion:
    return APIVersion.parse(text)


MIN_VERSION = APIVersion.parse(SUPPORTED[0][0])
MAX_VERSION = APIVersion.parse(SUPPORTED[-1][0])


def changes() -> dict[str, str]:
    """What each version changed: ``{"2.47": "..."}`` (docs and tests read it)."""
    return dict(SUPPORTED)


def markdown() -> str:
    """``docs/microversions.md``: the table of SUPPORTED (a test keeps the file in step)."""
    lines = ["# Compute API microversions in novalite", "",
             f"novalite serves compute microversions {MIN_VERSION} to {MAX_VERSION}. This "
             "file is generated from `SUPPORTED` in `novalite/api/microversions.py` "
             "(`python3 -m novalite.api.microversions > docs/microversions.md`).", "",
             "| Version | What it changes in novalite |", "| --- | --- |"]
    lines += [f"| {version} | {text.replace('|', '/')} |" for version, text in SUPPORTED]
    return "\n".join(lines) + "\n"


def versioned(min_version: str | None = None, max_version: str | None = None,
              ) -> Callable[[F], F]:
    """The controller method exists only from ``min_version`` to
    ``max_version``; other versions get Nova's 404 for a method a version
    does not have."""
    def decorator(fn: F) -> F:
        fn.wsgi_versions = (min_version, max_version)  # type: ignore[attr-defined]
        return fn
    return decorator


def check_method(fn: Any, version: APIVersion) -> None:
    """404 when ``fn`` is ``@versioned`` and ``version`` is outside its range."""
    bounds = getattr(fn, "wsgi_versions", None)
    if bounds is not None and not version.matches(*bounds):
        raise method_not_supported(version)


def method_not_supported(version: APIVersion) -> errors.HTTPError:
    return errors.not_found(f"API version {version} is not supported on this method.")


def requested(headers: Mapping[str, str]) -> str | None:
    """The version string a client asked for, or None.

    ``OpenStack-API-Version`` may list several services
    (``compute 2.1, identity 3``); only the compute entry counts, and it
    wins over the legacy header, as in Nova's microversion_parse.
    """
    value = headers.get(HEADER)
    if value:
        for item in value.split(","):
            parts = item.strip().split(None, 1)
            if len(parts) == 2 and parts[0].lower() == SERVICE_TYPE:
                return parts[1].strip()
    legacy = headers.get(LEGACY_HEADER)
    return legacy.strip() if legacy else None


def negotiate(headers: Mapping[str, str]) -> APIVersion:
    """The version that serves this request; 400 for a malformed string,
    406 for one outside [MIN_VERSION, MAX_VERSION]."""
    text = requested(headers)
    if text is None:
        return MIN_VERSION
    if text.lower() == "latest":
        return MAX_VERSION
    version = APIVersion.parse(text)
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise errors.HTTPError(
            406, f"Version {text} is not supported by the API. Minimum is "
                 f"{MIN_VERSION} and maximum is {MAX_VERSION}.")
    return version


def response_headers(version: APIVersion) -> dict[str, str]:
    """What every compute response carries, errors included."""
    return {HEADER: f"{SERVICE_TYPE} {version}", LEGACY_HEADER: str(version), "Vary": VARY}


if __name__ == "__main__":
    print(markdown(), end="")
