"""/os-availability-zone: the zones servers may be placed in (and, for
admins, which hosts and services are in each), as Nova's v2.1 shows them."""

from __future__ import annotations

from typing import Any

from novalite import policy
from novalite.api import validation
from novalite.api.schemas import services as schemas
from novalite.api.views import services as service_views
from novalite.api.views.common import naive_isotime
from novalite.api.wsgi import Request
from novalite.objects.service import ServiceList
from novalite.policies.availability_zones import AZ

INTERNAL_ZONE = "internal"


def _zones(services: list[Any]) -> tuple[list[str], list[str]]:
    """Zones with an enabled service, and zones whose services are all disabled."""
    available = sorted({service_views.zone(s) for s in services if not s.disabled})
    unavailable = sorted({service_views.zone(s) for s in services if s.disabled}
                         - set(available))
    return available, unavailable


class AvailabilityZonesController:
    @validation.response_schema(schemas.availability_zones_response)
    def index(self, req: Request) -> dict:
        """List the availability zones."""
        ctx = req.context
        policy.authorize(ctx, AZ % "list", {})
        available, unavailable = _zones(
            service_views.compute_services(ServiceList.get_all(ctx)))
        # NOTE: as Nova, the zone of the non-compute services is not one
        # servers can be placed in, so users do not see it.
        return {"availabilityZoneInfo": [
            {"zoneName": z, "zoneState": {"available": state}, "hosts": None}
            for zones, state in ((available, True), (unavailable, False))
            for z in zones if z != INTERNAL_ZONE]}

    @validation.response_schema(schemas.availability_zones_response)
    def detail(self, req: Request) -> dict:
        """List the availability zones with their hosts and services (admins)."""
        ctx = req.context
        policy.authorize(ctx, AZ % "detail", {})
        services = service_views.compute_services(ServiceList.get_all(ctx))
        available, unavailable = _zones(services)
        hosts: dict[str, dict[str, dict]] = {}
        for svc in services:
            if svc.disabled:
                continue
            binaries = hosts.setdefault(service_views.zone(svc), {}).setdefault(svc.host, {})
            binaries[service_views.api_binary(svc.binary)] = {
                "available": svc.is_up(),
                "active": not svc.disabled,
                "updated_at": naive_isotime(svc.last_seen_up or svc.updated_at
                                            or svc.created_at),
            }
        info: list[dict[str, Any]] = [
            {"zoneName": z, "zoneState": {"available": True}, "hosts": hosts.get(z, {})}
            for z in available]
        info += [{"zoneName": z, "zoneState": {"available": False}, "hosts": None}
                 for z in unavailable]
        return {"availabilityZoneInfo": info}
