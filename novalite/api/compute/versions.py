"""Version documents of the Compute API (unauthenticated, for discovery)."""

from __future__ import annotations

from novalite.api import validation
from novalite.api.views import versions as views
from novalite.api.wsgi import Request


class VersionsController:
    # NOTE: the version documents take any query (as Nova's), at every version.
    @validation.own_query_check
    def index(self, req: Request) -> dict:
        return views.compute_versions(req.links)

    @validation.own_query_check
    def show(self, req: Request) -> dict:
        return views.compute_version(req.links)

    @validation.own_query_check
    def show_v20(self, req: Request) -> dict:
        """The v2.0 document: listed for discovery, its link must resolve."""
        return views.compute_version(req.links, "v2.0")
