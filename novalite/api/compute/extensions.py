"""/extensions: the v2.0-era extension list Nova still answers.

Extensions stopped meaning anything with v2.1 (microversions replaced them);
Nova keeps a fixed list so that old clients probing for a feature by alias
still find it. novalite lists only the aliases whose API it serves, with
Nova's fixed namespace and date (the fields have had no meaning since v2.1).
"""

from __future__ import annotations

from novalite import policy
from novalite.api import errors
from novalite.api.wsgi import Request
from novalite.policies.extensions import EXTENSIONS

_NAMESPACE = "http://docs.openstack.org/compute/ext/fake_xml"
_UPDATED = "2014-12-03T00:00:00Z"

# NOTE: (alias, name, description) of each API novalite serves under an
# extension alias Nova lists; an alias for an API novalite lacks is left out
# so a client probing it learns the truth.
_EXTENSIONS: list[tuple[str, str, str]] = [
    ("os-admin-actions", "AdminActions", "Enable admin-only server actions."),
    ("os-aggregates", "Aggregates", "Admin-only aggregate administration."),
    ("os-availability-zone", "AvailabilityZone", "1. Add availability_zone to the Create "
     "Server API. 2. Add availability zones describing."),
    ("os-consoles", "Consoles", "Interactive Console support."),
    ("os-create-backup", "CreateBackup", "Create a backup of a server."),
    ("OS-DCF", "DiskConfig", "Disk Management Extension."),
    ("OS-EXT-AZ", "ExtendedAvailabilityZone", "Extended Availability Zone support."),
    ("OS-EXT-IMG-SIZE", "ImageSize", "Adds image size to image listings."),
    ("OS-EXT-IPS", "ExtendedIps", "Adds type parameter to the ip list."),
    ("OS-EXT-IPS-MAC", "ExtendedIpsMac", "Adds mac address parameter to the ip list."),
    ("OS-EXT-SRV-ATTR", "ExtendedServerAttributes", "Extended Server Attributes support."),
    ("OS-EXT-STS", "ExtendedStatus", "Extended Status support."),
    ("OS-FLV-DISABLED", "FlavorDisabled", "Support to show the disabled status of a "
     "flavor."),
    ("OS-FLV-EXT-DATA", "FlavorExtraData", "Provide additional data for flavors."),
    ("os-flavor-access", "FlavorAccess", "Flavor access support."),
    ("os-flavor-extra-specs", "FlavorExtraSpecs", "Flavors extra specs support."),
    ("os-flavor-manage", "FlavorManage", "Flavor create/delete API support."),
    ("os-flavor-rxtx", "FlavorRxtx", "Support to show the rxtx status of a flavor."),
    ("os-flavor-swap", "FlavorSwap", "Support to show the swap status of a flavor."),
    ("os-hosts", "Hosts", "Admin-only host administration."),
    ("os-hypervisors", "Hypervisors", "Admin-only hypervisor administration."),
    ("os-instance-actions", "InstanceActions", "View a log of actions and events taken on "
     "an instance."),
    ("os-instance_usage_audit_log", "OSInstanceUsageAuditLog", "Admin-only Task Log "
     "Monitoring."),
    ("os-keypairs", "Keypairs", "Keypair Support."),
    ("os-lock-server", "LockServer", "Enable lock/unlock server actions."),
    ("os-migrate-server", "MigrateServer", "Enable migrate and live-migrate server "
     "actions."),
    ("os-migrations", "Migrations", "Provide data on migrations."),
    ("os-networks", "Networks", "Admin-only Network Management Extension."),
    ("os-pause-server", "PauseServer", "Enable pause/unpause server actions."),
    ("os-quota-sets", "Quotas", "Quotas management support."),
    ("os-remote-consoles", "RemoteConsoles", "Interactive Console support."),
    ("os-rescue", "Rescue", "Instance rescue mode."),
    ("os-server-diagnostics", "ServerDiagnostics", "Allow Admins to view server "
     "diagnostics through server id."),
    ("os-server-groups", "ServerGroups", "Server group support."),
    ("os-server-start-stop", "ServerStartStop", "Start/Stop instance compute API support."),
    ("os-services", "Services", "Services support."),
    ("os-shelve", "Shelve", "Instance shelve mode."),
    ("os-simple-tenant-usage", "SimpleTenantUsage", "Simple tenant usage extension."),
    ("os-suspend-server", "SuspendServer", "Enable suspend/resume server actions."),
    ("os-used-limits", "UsedLimits", "Provide data on limited resources that are being "
     "used."),
]


def _view(alias: str, name: str, description: str) -> dict:
    return {"alias": alias, "name": name, "description": description,
            "namespace": _NAMESPACE, "updated": _UPDATED, "links": []}


class ExtensionsController:
    def index(self, req: Request) -> dict:
        """List the extension aliases novalite serves, sorted by alias."""
        policy.authorize(req.context, EXTENSIONS, {})
        return {"extensions": [_view(*ext) for ext in sorted(_EXTENSIONS)]}

    def show(self, req: Request, id: str) -> dict:
        """One extension by its alias (404 for an alias novalite does not serve)."""
        policy.authorize(req.context, EXTENSIONS, {})
        for ext in _EXTENSIONS:
            if ext[0] == id:
                return {"extension": _view(*ext)}
        raise errors.not_found(f"Extension {id} could not be found.")
