"""The service catalog a token carries: where each API of this cloud is.

Other parts add their API with ``register(service_type, name, path)`` at
import time (e.g. ``register("network", "neutron", "/network")``); every
endpoint is ``<base><path>`` with the three interfaces in one region.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid

from novalite.conf import CONF

_NAMESPACE = uuid.UUID("0b8f8a6e-1d0c-4c59-9a43-5f5d0d8e8b21")
INTERFACES = ("public", "internal", "admin")


@dataclasses.dataclass(frozen=True)
class Service:
    type: str
    name: str
    path: str


_lock = threading.Lock()
_SERVICES: dict[str, Service] = {}


def register(service_type: str, name: str, path: str) -> None:
    """Advertise ``<base><path>`` as the endpoint of ``service_type``
    (registering a type again replaces it)."""
    with _lock:
        _SERVICES[service_type] = Service(service_type, name, "/" + path.strip("/"))


def services() -> list[Service]:
    with _lock:
        return list(_SERVICES.values())


def _id(*parts: str) -> str:
    return uuid.uuid5(_NAMESPACE, ":".join(parts)).hex


def build(base_url: str) -> list[dict]:
    """Keystone's ``token.catalog`` for a cloud whose APIs are under ``base_url``."""
    base = base_url.rstrip("/")
    region = CONF.identity.region_name
    return [{"id": _id("service", svc.type), "type": svc.type, "name": svc.name,
             "endpoints": [{"id": _id("endpoint", svc.type, interface),
                            "interface": interface, "region": region, "region_id": region,
                            "url": f"{base}{svc.path}"}
                           for interface in INTERFACES]}
            for svc in services()]


register("identity", "keystone", "/identity")
register("compute", "nova", "/compute/v2.1")
register("image", "glance", "/image")
