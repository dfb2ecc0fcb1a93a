"""Version documents: what clients read to discover the APIs."""

from __future__ import annotations

from novalite.api import microversions
from novalite.api.links import Links

_COMPUTE_MEDIA_TYPES = [{"base": "application/json",
                         "type": "application/vnd.openstack.compute+json;version=2.1"}]


def _v20(links: Links) -> dict:
    # NOTE: Nova still lists v2.0 (served by the same code as v2.1 with
    # legacy validation); novalite lists it for discovery, answers only v2.1.
    return {"id": "v2.0", "status": "SUPPORTED", "version": "", "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": f"{links.compute_root}/v2/"}]}


def _v21(links: Links) -> dict:
    return {"id": "v2.1", "status": "CURRENT",
            "version": str(microversions.MAX_VERSION),
            "min_version": str(microversions.MIN_VERSION),
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{links.compute_versioned}/"}]}


def compute_versions(links: Links) -> dict:
    return {"versions": [_v20(links), _v21(links)]}


def compute_version(links: Links) -> dict:
    version = _v21(links)
    version["links"].append({"rel": "describedby", "type": "text/html",
                             "href": "http://docs.openstack.org/"})
    version["media-types"] = _COMPUTE_MEDIA_TYPES
    return {"version": version}


# NOTE: novalite serves Glance's v2.0 core (list, show, create, upload,
# delete) and nothing a later v2.x added, so it claims no more than v2.0:
# clients then do not try calls (import, tags) that would fail.
_IMAGE_VERSIONS = [("v2.0", "CURRENT")]


def image_versions(links: Links) -> dict:
    return {"versions": [{"id": vid, "status": status,
                          "links": [{"rel": "self", "href": f"{links.image_root}/v2/"}]}
                         for vid, status in _IMAGE_VERSIONS]}
