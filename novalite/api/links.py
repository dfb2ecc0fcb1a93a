"""Absolute links in responses.

Clients follow ``links`` and ``*_links`` instead of building URLs, so they
must name the address the client used: ``[api] public_url`` when the API
sits behind a proxy, otherwise the request's own host URL.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable

from novalite.conf import CONF

COMPUTE_PREFIX = "/compute"
COMPUTE_VERSION = "v2.1"
IMAGE_PREFIX = "/image"
IDENTITY_PREFIX = "/identity"
NETWORK_PREFIX = "/network"


def root_url(host_url: str, script_name: str = "") -> str:
    """Where ``/compute``, ``/image`` and ``/identity`` live, without a trailing slash."""
    public = CONF.api.public_url
    if public:
        return public.rstrip("/")
    return (host_url + script_name).rstrip("/")


class Links:
    """Link builder for one request (views take it instead of the request)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")

    @property
    def compute_root(self) -> str:
        return f"{self.root}{COMPUTE_PREFIX}"

    @property
    def compute_versioned(self) -> str:
        return f"{self.compute_root}/{COMPUTE_VERSION}"

    @property
    def image_root(self) -> str:
        return f"{self.root}{IMAGE_PREFIX}"

    @property
    def identity_root(self) -> str:
        return f"{self.root}{IDENTITY_PREFIX}"

    def self_link(self, collection: str, item_id: object) -> dict:
        return {"rel": "self", "href": f"{self.compute_versioned}/{collection}/{item_id}"}

    def bookmark(self, collection: str, item_id: object) -> dict:
        """Nova's bookmark: the same resource without the version segment."""
        return {"rel": "bookmark", "href": f"{self.compute_root}/{collection}/{item_id}"}

    def resource(self, collection: str, item_id: object) -> list[dict]:
        return [self.self_link(collection, item_id), self.bookmark(collection, item_id)]

    def next_link(self, path: str, params: Iterable[tuple[str, str]], marker: str) -> dict:
        """The next page of a collection: the request's query with a new marker."""
        query = [(k, v) for k, v in params if k != "marker"] + [("marker", marker)]
        return {"rel": "next",
                "href": f"{self.compute_versioned}/{path}?{urllib.parse.urlencode(query)}"}
