"""The Network API's route table (``/network``, Neutron v2.0 paths)."""

from __future__ import annotations

from novalite.api.links import NETWORK_PREFIX
from novalite.api.network.networks import NetworksController, VersionsController
from novalite.api.router import Router


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
