"""Version documents of the Identity API, as Keystone answers them."""

from __future__ import annotations

from novalite.api import wsgi
from novalite.api.views import versions as views
from novalite.api.wsgi import Request


class VersionsController:
    def multiple_choices(self, req: Request) -> object:
        # NOTE: Keystone answers its root with 300 Multiple Choices and the
        # versions under ``versions.values``; keystoneauth reads either.
        return wsgi.json_response(views.identity_versions(req.links), 300)

    def show(self, req: Request) -> dict:
        return views.identity_version(req.links)
