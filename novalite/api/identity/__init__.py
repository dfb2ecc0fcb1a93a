"""The Identity API (``/identity``): for now only Keystone's version
documents, so clients configured with ``auth_type: none`` can discover it.

NOTE: tokens, users and projects are not served yet; every other path under
``/identity`` answers 404 in Keystone's error format.
"""

from __future__ import annotations

from novalite.api.identity.versions import VersionsController
from novalite.api.links import IDENTITY_PREFIX
from novalite.api.router import Router


def connect(router: Router) -> None:
    versions = VersionsController()
    router.connect(IDENTITY_PREFIX, "GET", versions, "multiple_choices", public=True)
    router.connect(f"{IDENTITY_PREFIX}/v3", "GET", versions, "show", public=True)
