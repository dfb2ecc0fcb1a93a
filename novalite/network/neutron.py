"""What the Network API (``novalite.api.network``) reads and writes: the
network queries and the per-project quota rows, so that the API package
itself imports no database module (as every other API)."""

from __future__ import annotations

from novalite.db.network import (
    AUTO_DELETE_OWNERS,
    COMPUTE_OWNER,
    default_pools,
    network_create,
    network_delete,
    network_get,
    network_get_all,
    network_get_by_id,
    network_update,
    networks_count,
    port_create,
    port_delete,
    port_get,
    port_get_all,
    port_update,
    ports_count,
    quota_delete_resources,
    quota_projects_with,
    subnet_create,
    subnet_delete,
    subnet_get,
    subnet_get_all,
    subnet_update,
    subnets_count,
)
from novalite.db.quotas import quota_get_all_by_project, quota_set

__all__ = [
    "AUTO_DELETE_OWNERS", "COMPUTE_OWNER", "default_pools", "network_create",
    "network_delete", "network_get", "network_get_all", "network_get_by_id", "network_update",
    "networks_count", "port_create", "port_delete", "port_get", "port_get_all", "port_update",
    "ports_count", "quota_delete_resources", "quota_get_all_by_project",
    "quota_projects_with", "quota_set", "subnet_create", "subnet_delete", "subnet_get",
    "subnet_get_all", "subnet_update", "subnets_count",
]
