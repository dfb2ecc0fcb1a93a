"""Flavor views as Nova's v2.1 shows them."""

from __future__ import annotations

from typing import Any

from novalite.api.links import Links


def basic(flavor: Any, links: Links) -> dict:
    return {"id": flavor.flavorid, "name": flavor.name,
            "links": links.resource("flavors", flavor.flavorid)}


def detail(flavor: Any, links: Links) -> dict:
    return {
        "id": flavor.flavorid,
        "name": flavor.name,
        "ram": flavor.memory_mb,
        "disk": flavor.root_gb,
        "vcpus": flavor.vcpus,
        # NOTE: Nova answers "" for no swap, and clients print it as is.
        "swap": flavor.swap or "",
        "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": flavor.disabled,
        "os-flavor-access:is_public": flavor.is_public,
        "rxtx_factor": flavor.rxtx_factor,
        "links": links.resource("flavors", flavor.flavorid),
    }
