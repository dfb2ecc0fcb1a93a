"""The WSGI app: every API's routes on one router.

NOTE: the assembly lives here, above every controller, so that no module a
controller imports (``wsgi``, ``router``, ``errors`` ...) reaches back to the
controllers: the API package has no import cycle (tests/unit/test_api_imports.py).
"""

from __future__ import annotations

from typing import Any

from novalite.api import dashboard, events, openapi
from novalite.api.compute import routes as compute_routes
from novalite.api.identity import routes as identity_routes
from novalite.api.image import routes as image_routes
from novalite.api.metrics import PATH as METRICS_PATH
from novalite.api.metrics import MetricsController
from novalite.api.network import routes as network_routes
from novalite.api.router import Router
from novalite.api.volume import routes as volume_routes
from novalite.api.wsgi import Application


def make_app(compute_api: Any = None, image_api: Any = None) -> Application:
    """The Compute (``/compute``), Image (``/image``), Identity (``/identity``)
    and Network (``/network``) APIs in one WSGI app.

    ``compute_api``/``image_api`` default to the real ``novalite.compute.api.API``
    and ``novalite.image.api.API``, built on first use so the app can be made
    (and its framework tested) without a message bus or database.
    """
    router = Router()
    compute_routes.connect(router, compute_api, image_api)
    image_routes.connect(router, image_api)
    identity_routes.connect(router)
    network_routes.connect(router)
    volume_routes.connect(router)
    dashboard.connect(router)
    events.connect(router)
    router.connect(METRICS_PATH, "GET", MetricsController(), "show")
    router.connect(openapi.DOCUMENT_PATH, "GET", openapi.OpenAPIController(router), "show",
                   public=True)
    router.finalize()
    return Application(router)
