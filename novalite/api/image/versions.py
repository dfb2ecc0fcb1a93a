"""Version documents of the Image API, as Glance answers them."""

from __future__ import annotations

from novalite.api import wsgi
from novalite.api.views import versions as views
from novalite.api.wsgi import Request


class VersionsController:
    def index(self, req: Request) -> dict:
        """The Image API's versions."""
        return views.image_versions(req.links)

    @wsgi.response(300)
    def multiple_choices(self, req: Request) -> object:
        """The Image API's versions (300 Multiple Choices, as Glance)."""
        # NOTE: Glance answers its root with 300 Multiple Choices; keystoneauth
        # and openstacksdk read the versions from that body.
        return wsgi.json_response(views.image_versions(req.links), 300)
