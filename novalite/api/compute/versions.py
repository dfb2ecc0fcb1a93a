"""Version documents of the Compute API (unauthenticated, for discovery)."""

from __future__ import annotations

from novalite.api.views import versions as views
from novalite.api.wsgi import Request


class VersionsController:
    def index(self, req: Request) -> dict:
        return views.compute_versions(req.links)

    def show(self, req: Request) -> dict:
        return views.compute_version(req.links)

    def show_v20(self, req: Request) -> dict:
        """The v2.0 document: listed for discovery, its link must resolve."""
        return views.compute_version(req.links, "v2.0")
