"""Flavor views as Nova shows them at each microversion: ``description``
from 2.55, ``extra_specs`` from 2.61 (for callers the extra specs index
rule allows), ``swap`` 0 instead of "" from 2.75; no ``rxtx_factor`` and no
``OS-FLV-DISABLED:disabled`` from 2.102."""

from __future__ import annotations

import dataclasses
from typing import Any

from novalite.api.links import Links
from novalite.api.microversions import MIN_VERSION, APIVersion


@dataclasses.dataclass(frozen=True)
class Options:
    version: APIVersion = MIN_VERSION
    extra_specs: bool = False


_DEFAULT = Options()


def basic(flavor: Any, links: Links, options: Options = _DEFAULT) -> dict:
    out = {"id": flavor.flavorid, "name": flavor.name,
           "links": links.resource("flavors", flavor.flavorid)}
    if options.version.at_least("2.55"):
        out["description"] = flavor.description
    return out


def detail(flavor: Any, links: Links, options: Options = _DEFAULT) -> dict:
    at = options.version.at_least
    out = {
        "id": flavor.flavorid,
        "name": flavor.name,
        "ram": flavor.memory_mb,
        "disk": flavor.root_gb,
        "vcpus": flavor.vcpus,
        # NOTE: Nova answers "" for no swap before 2.75, and clients print it as is.
        "swap": flavor.swap if at("2.75") else (flavor.swap or ""),
        "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
        "OS-FLV-DISABLED:disabled": flavor.disabled,
        "os-flavor-access:is_public": flavor.is_public,
        "rxtx_factor": flavor.rxtx_factor,
        "links": links.resource("flavors", flavor.flavorid),
    }
    if at("2.102"):
        del out["OS-FLV-DISABLED:disabled"], out["rxtx_factor"]
    if at("2.55"):
        out["description"] = flavor.description
    if at("2.61") and options.extra_specs:
        out["extra_specs"] = dict(flavor.extra_specs or {})
    return out
