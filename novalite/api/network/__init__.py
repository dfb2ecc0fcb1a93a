"""The Network API (``/network``): the part of Neutron's v2.0 API the
OpenStack clients need to find networks by name (``openstack server create
--network NAME``), read-only over novalite's flat networks."""

from __future__ import annotations

from novalite.api.links import NETWORK_PREFIX
from novalite.api.network.networks import NetworksController, VersionsController, neutron_body
from novalite.api.router import Router
from novalite.identity import catalog

__all__ = ["connect", "neutron_body"]

catalog.register("network", "neutron", NETWORK_PREFIX)


def connect(router: Router) -> None:
    versions = VersionsController()
    networks = NetworksController()
    router.connect(NETWORK_PREFIX, "GET", versions, "index", public=True)
    router.connect(f"{NETWORK_PREFIX}/", "GET", versions, "index", public=True)
    v2 = f"{NETWORK_PREFIX}/v2.0"
    for path, action in (("/networks", "index"), ("/networks/{id}", "show"),
                         ("/subnets", "subnets"), ("/ports", "ports"),
                         ("/security-groups", "security_groups"),
                         ("/extensions", "extensions")):
        router.connect(v2 + path, "GET", networks, action)
    for path, action in (("/quotas/{project_id}", "quota"),
                         ("/quotas/{project_id}/default", "quota_default"),
                         ("/quotas/{project_id}/details", "quota_details"),
                         ("/quotas/{project_id}/details.json", "quota_details")):
        router.connect(v2 + path, "GET", networks, action)
