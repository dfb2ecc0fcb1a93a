"""The Compute API's route table: every ``/compute`` path, its method, controller
and action.

NOTE: kept out of the package's ``__init__`` so a controller module imports
only leaf modules; ``novalite.api.app`` assembles the app from the route
modules of each API.
"""

from __future__ import annotations

from typing import Any

from novalite.api import common
from novalite.api.compute.aggregates import AggregatesController
from novalite.api.compute.availability_zones import AvailabilityZonesController
from novalite.api.compute.extensions import ExtensionsController
from novalite.api.compute.flavor_access import FlavorAccessController
from novalite.api.compute.flavor_extra_specs import FlavorExtraSpecsController
from novalite.api.compute.flavors import FlavorsController
from novalite.api.compute.hosts import HostsController
from novalite.api.compute.image_metadata import ImageMetadataController
from novalite.api.compute.images import ImagesController
from novalite.api.compute.instance_actions import InstanceActionsController
from novalite.api.compute.instance_usage_audit_log import InstanceUsageAuditLogController
from novalite.api.compute.interfaces import InterfacesController
from novalite.api.compute.keypairs import KeypairsController
from novalite.api.compute.limits import LimitsController
from novalite.api.compute.migrations import MigrationsController
from novalite.api.compute.networks import NetworksController
from novalite.api.compute.quota_classes import QuotaClassSetsController
from novalite.api.compute.quota_sets import QuotaSetsController
from novalite.api.compute.remote_consoles import RemoteConsolesController
from novalite.api.compute.server_actions import ServerActionsController
from novalite.api.compute.server_diagnostics import ServerDiagnosticsController
from novalite.api.compute.server_external_events import ServerExternalEventsController
from novalite.api.compute.server_groups import ServerGroupsController
from novalite.api.compute.server_ips import ServerIpsController
from novalite.api.compute.server_metadata import ServerMetadataController
from novalite.api.compute.server_security_groups import ServerSecurityGroupsController
from novalite.api.compute.server_tags import ServerTagsController
from novalite.api.compute.servers import ServersController
from novalite.api.compute.services import HypervisorsController, ServicesController
from novalite.api.compute.simple_tenant_usage import SimpleTenantUsageController
from novalite.api.compute.versions import VersionsController
from novalite.api.compute.volume_attachments import VolumeAttachmentsController
from novalite.api.links import COMPUTE_PREFIX, COMPUTE_VERSION
from novalite.api.router import Router


def _compute_api() -> Any:
    from novalite.compute import api

    return api.API()


def _image_api() -> Any:
    from novalite.image import api

    return api.API()


def connect(router: Router, compute_api: Any = None, image_api: Any = None) -> None:
    compute_api = compute_api if compute_api is not None else common.Lazy(_compute_api)
    image_api = image_api if image_api is not None else common.Lazy(_image_api)
    versions = VersionsController()
    servers = ServersController(compute_api)
    actions = ServerActionsController(compute_api)
    server_metadata = ServerMetadataController(compute_api)
    server_ips = ServerIpsController(compute_api)
    server_tags = ServerTagsController(compute_api)
    instance_actions = InstanceActionsController(compute_api)
    remote_consoles = RemoteConsolesController(compute_api)
    flavors = FlavorsController()
    extra_specs = FlavorExtraSpecsController()
    flavor_access = FlavorAccessController()
    zones = AvailabilityZonesController()
    aggregates = AggregatesController()
    server_groups = ServerGroupsController()
    usage = SimpleTenantUsageController()
    images = ImagesController(image_api)
    image_metadata = ImageMetadataController(image_api)
    services = ServicesController()
    hypervisors = HypervisorsController(compute_api)
    keypairs = KeypairsController()
    quota_sets = QuotaSetsController()
    quota_classes = QuotaClassSetsController()
    limits = LimitsController()
    migrations = MigrationsController(compute_api)
    extensions = ExtensionsController()
    hosts = HostsController()
    audit_log = InstanceUsageAuditLogController()
    networks = NetworksController()
    server_diagnostics = ServerDiagnosticsController(compute_api)
    server_groups_of = ServerSecurityGroupsController(compute_api)
    volume_attachments = VolumeAttachmentsController(compute_api)
    external_events = ServerExternalEventsController(compute_api)
    interfaces = InterfacesController(compute_api)

    v = f"{COMPUTE_PREFIX}/{COMPUTE_VERSION}"
    table: list[tuple[str, str, Any, str]] = [
        ("/servers", "GET", servers, "index"),
        ("/servers", "POST", servers, "create"),
        ("/servers/detail", "GET", servers, "detail"),
        ("/servers/{id}", "GET", servers, "show"),
        ("/servers/{id}", "PUT", servers, "update"),
        ("/servers/{id}", "DELETE", servers, "delete"),
        ("/servers/{id}/action", "POST", actions, "action"),
        ("/servers/{server_id}/os-security-groups", "GET", server_groups_of, "index"),
        ("/servers/{server_id}/os-interface", "GET", interfaces, "index"),
        ("/servers/{server_id}/os-interface", "POST", interfaces, "create"),
        ("/servers/{server_id}/os-interface/{id}", "GET", interfaces, "show"),
        ("/servers/{server_id}/os-interface/{id}", "DELETE", interfaces, "delete"),
        ("/servers/{server_id}/os-volume_attachments", "GET", volume_attachments, "index"),
        ("/servers/{server_id}/os-volume_attachments", "POST", volume_attachments, "create"),
        ("/servers/{server_id}/os-volume_attachments/{id}", "GET", volume_attachments,
         "show"),
        ("/servers/{server_id}/os-volume_attachments/{id}", "PUT", volume_attachments,
         "update"),
        ("/servers/{server_id}/os-volume_attachments/{id}", "DELETE", volume_attachments,
         "delete"),
        ("/os-server-external-events", "POST", external_events, "create"),
        ("/servers/{server_id}/os-instance-actions", "GET", instance_actions, "index"),
        ("/servers/{server_id}/os-instance-actions/{id}", "GET", instance_actions, "show"),
        ("/servers/{server_id}/remote-consoles", "POST", remote_consoles, "create"),
        ("/servers/{server_id}/ips", "GET", server_ips, "index"),
        ("/servers/{server_id}/ips/{network_label}", "GET", server_ips, "show"),
        ("/servers/{server_id}/metadata", "GET", server_metadata, "index"),
        ("/servers/{server_id}/metadata", "POST", server_metadata, "create"),
        ("/servers/{server_id}/metadata", "PUT", server_metadata, "update_all"),
        ("/servers/{server_id}/metadata/{key}", "GET", server_metadata, "show"),
        ("/servers/{server_id}/metadata/{key}", "PUT", server_metadata, "update"),
        ("/servers/{server_id}/metadata/{key}", "DELETE", server_metadata, "delete"),
        ("/servers/{server_id}/tags", "GET", server_tags, "index"),
        ("/servers/{server_id}/tags", "PUT", server_tags, "update_all"),
        ("/servers/{server_id}/tags", "DELETE", server_tags, "delete_all"),
        ("/servers/{server_id}/tags/{tag}", "GET", server_tags, "show"),
        ("/servers/{server_id}/tags/{tag}", "PUT", server_tags, "update"),
        ("/servers/{server_id}/tags/{tag}", "DELETE", server_tags, "delete"),
        ("/flavors", "GET", flavors, "index"),
        ("/flavors/detail", "GET", flavors, "detail"),
        ("/flavors/{id}", "GET", flavors, "show"),
        ("/flavors", "POST", flavors, "create"),
        ("/flavors/{id}", "PUT", flavors, "update"),
        ("/flavors/{id}", "DELETE", flavors, "delete"),
        ("/flavors/{flavor_id}/os-flavor-access", "GET", flavor_access, "index"),
        ("/flavors/{flavor_id}/action", "POST", flavor_access, "action"),
        ("/flavors/{flavor_id}/os-extra_specs", "GET", extra_specs, "index"),
        ("/flavors/{flavor_id}/os-extra_specs", "POST", extra_specs, "create"),
        ("/flavors/{flavor_id}/os-extra_specs/{id}", "GET", extra_specs, "show"),
        ("/flavors/{flavor_id}/os-extra_specs/{id}", "PUT", extra_specs, "update"),
        ("/flavors/{flavor_id}/os-extra_specs/{id}", "DELETE", extra_specs, "delete"),
        ("/images", "GET", images, "index"),
        ("/images/detail", "GET", images, "detail"),
        ("/images/{id}", "GET", images, "show"),
        ("/images/{id}", "DELETE", images, "delete"),
        ("/images/{image_id}/metadata", "GET", image_metadata, "index"),
        ("/images/{image_id}/metadata", "POST", image_metadata, "create"),
        ("/images/{image_id}/metadata", "PUT", image_metadata, "update_all"),
        ("/images/{image_id}/metadata/{id}", "GET", image_metadata, "show"),
        ("/images/{image_id}/metadata/{id}", "PUT", image_metadata, "update"),
        ("/images/{image_id}/metadata/{id}", "DELETE", image_metadata, "delete"),
        ("/os-services", "GET", services, "index"),
        ("/os-services/enable", "PUT", services, "enable"),
        ("/os-services/disable", "PUT", services, "disable"),
        ("/os-services/disable-log-reason", "PUT", services, "disable_log_reason"),
        ("/os-services/force-down", "PUT", services, "force_down"),
        ("/os-services/{id}", "PUT", services, "update"),
        ("/os-services/{id}", "DELETE", services, "delete"),
        ("/os-hypervisors", "GET", hypervisors, "index"),
        ("/os-hypervisors/detail", "GET", hypervisors, "detail"),
        ("/os-hypervisors/statistics", "GET", hypervisors, "statistics"),
        ("/os-hypervisors/{id}", "GET", hypervisors, "show"),
        ("/os-hypervisors/{id}/search", "GET", hypervisors, "search"),
        ("/os-hypervisors/{id}/uptime", "GET", hypervisors, "uptime"),
        ("/os-aggregates", "GET", aggregates, "index"),
        ("/os-aggregates", "POST", aggregates, "create"),
        ("/os-aggregates/{id}", "GET", aggregates, "show"),
        ("/os-aggregates/{id}", "PUT", aggregates, "update"),
        ("/os-aggregates/{id}", "DELETE", aggregates, "delete"),
        ("/os-aggregates/{id}/action", "POST", aggregates, "action"),
        ("/os-server-groups", "GET", server_groups, "index"),
        ("/os-server-groups", "POST", server_groups, "create"),
        ("/os-server-groups/{id}", "GET", server_groups, "show"),
        ("/os-server-groups/{id}", "DELETE", server_groups, "delete"),
        ("/os-simple-tenant-usage", "GET", usage, "index"),
        ("/os-simple-tenant-usage/{id}", "GET", usage, "show"),
        ("/os-hypervisors/{id}/servers", "GET", hypervisors, "servers"),
        ("/os-availability-zone", "GET", zones, "index"),
        ("/os-availability-zone/detail", "GET", zones, "detail"),
        ("/os-keypairs", "GET", keypairs, "index"),
        ("/os-keypairs", "POST", keypairs, "create"),
        ("/os-keypairs/{id}", "GET", keypairs, "show"),
        ("/os-keypairs/{id}", "DELETE", keypairs, "delete"),
        ("/os-quota-sets/{id}", "GET", quota_sets, "show"),
        ("/os-quota-sets/{id}", "PUT", quota_sets, "update"),
        ("/os-quota-sets/{id}", "DELETE", quota_sets, "delete"),
        ("/os-quota-sets/{id}/detail", "GET", quota_sets, "detail"),
        ("/os-quota-sets/{id}/defaults", "GET", quota_sets, "defaults"),
        ("/os-quota-class-sets/{id}", "GET", quota_classes, "show"),
        ("/os-quota-class-sets/{id}", "PUT", quota_classes, "update"),
        ("/limits", "GET", limits, "index"),
        ("/os-migrations", "GET", migrations, "index"),
        ("/servers/{server_id}/migrations", "GET", migrations, "server_index"),
        ("/servers/{server_id}/migrations/{id}", "GET", migrations, "server_show"),
        ("/servers/{server_id}/migrations/{id}", "DELETE", migrations, "delete"),
        ("/servers/{server_id}/migrations/{id}/action", "POST", migrations, "action"),
        ("/extensions", "GET", extensions, "index"),
        ("/extensions/{id}", "GET", extensions, "show"),
        ("/os-hosts", "GET", hosts, "index"),
        ("/os-hosts/{id}", "GET", hosts, "show"),
        ("/os-hosts/{id}", "PUT", hosts, "update"),
        ("/os-hosts/{id}/startup", "GET", hosts, "startup"),
        ("/os-hosts/{id}/shutdown", "GET", hosts, "shutdown"),
        ("/os-hosts/{id}/reboot", "GET", hosts, "reboot"),
        ("/os-instance_usage_audit_log", "GET", audit_log, "index"),
        ("/os-instance_usage_audit_log/{id}", "GET", audit_log, "show"),
        ("/os-networks", "GET", networks, "index"),
        ("/os-networks/{id}", "GET", networks, "show"),
        ("/os-networks", "POST", networks, "gone"),
        ("/os-networks/add", "POST", networks, "gone"),
        ("/os-networks/{id}", "DELETE", networks, "gone"),
        ("/os-networks/{id}/action", "POST", networks, "gone"),
        ("/servers/{server_id}/diagnostics", "GET", server_diagnostics, "index"),
    ]
    router.connect(COMPUTE_PREFIX, "GET", versions, "index", public=True)
    router.connect(v, "GET", versions, "show", public=True)
    router.connect(f"{COMPUTE_PREFIX}/v2", "GET", versions, "show_v20", public=True)
    for path, method, controller, action in table:
        router.connect(v + path, method, controller, action)
