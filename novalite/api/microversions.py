"""The Compute API's microversions: the one place that lists them.

A client picks a version per request with ``OpenStack-API-Version: compute
X.Y`` (or the legacy ``X-OpenStack-Nova-API-Version: X.Y``); without a
header it gets the minimum, so old clients keep the behaviour they were
written against. Every compute response names the version that served it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from novalite.api import errors

# NOTE: append here when the API changes in a way a client can observe;
# each entry says what the version changed, as Nova's rest_api_version_history.
SUPPORTED: list[tuple[str, str]] = [
    ("2.1", "Initial version: servers (create, list, show, update, delete, "
            "os-stop, os-start, reboot, os-getConsoleOutput), flavors, images "
            "(proxy), os-services, os-hypervisors, as in Nova's v2.1."),
]

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

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


MIN_VERSION = APIVersion.parse(SUPPORTED[0][0])
MAX_VERSION = APIVersion.parse(SUPPORTED[-1][0])


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
