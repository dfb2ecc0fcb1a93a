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


def compute_version(links: Links, version_id: str = "v2.1") -> dict:
    """The document at the top of a versioned endpoint: v2.1, or the v2.0
    one Nova still answers at ``/v2/`` (its self link is the one listed)."""
    version = _v20(links) if version_id == "v2.0" else _v21(links)
    version["links"].append({"rel": "describedby", "type": "text/html",
                             "href": "http://docs.openstack.org/"})
    version["media-types"] = _COMPUTE_MEDIA_TYPES if version_id != "v2.0" else [
        {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}]
    return {"version": version}


# NOTE: novalite serves Glance's v2.0 core (list, show, create, upload,
# delete) and nothing a later v2.x added, so it claims no more than v2.0:
# clients then do not try calls (import, tags) that would fail.
_IMAGE_VERSIONS = [("v2.0", "CURRENT")]


def image_versions(links: Links) -> dict:
    return {"versions": [{"id": vid, "status": status,
                          "links": [{"rel": "self", "href": f"{links.image_root}/v2/"}]}
                         for vid, status in _IMAGE_VERSIONS]}


# NOTE: only Keystone's version documents are served, no Identity API (no
# tokens, users or projects): with ``auth_type: none`` openstacksdk still
# builds an identity proxy for commands that may look a project or user up
# (``server list``, ``image list``, ``image create``), and that proxy needs a
# discoverable v3 endpoint. It claims v3.0, the least a v3 client expects.
_IDENTITY_V3_ID = "v3.0"
_IDENTITY_MEDIA_TYPES = [{"base": "application/json",
                          "type": "application/vnd.openstack.identity-v3+json"}]


def _identity_v3(links: Links) -> dict:
    return {"id": _IDENTITY_V3_ID, "status": "stable", "updated": "2013-03-06T00:00:00Z",
            "links": [{"rel": "self", "href": f"{links.identity_root}/v3/"}],
            "media-types": _IDENTITY_MEDIA_TYPES}


def identity_versions(links: Links) -> dict:
    """Keystone's root document (answered with 300 Multiple Choices)."""
    return {"versions": {"values": [_identity_v3(links)]}}


def identity_version(links: Links) -> dict:
    return {"version": _identity_v3(links)}
