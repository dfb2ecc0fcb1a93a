"""``/dashboard``: the web UI's static files (novalite/dashboard/static).

Public routes: the files hold no data, and the page logs in through the
Identity API itself. Every answer carries a strict Content-Security-Policy
(scripts, styles and connections from this origin only, plus the serial
console proxy's websocket when serial consoles are on; no inline script, no
framing), so that even a string that slipped past the page's textContent
discipline could not run.
"""

from __future__ import annotations

import urllib.parse

import webob

from novalite import dashboard
from novalite.api import validation
from novalite.api.router import Router
from novalite.api.wsgi import Request
from novalite.conf import CONF

PREFIX = "/dashboard"


def content_security_policy() -> str:
    connect = ["'self'"]
    if CONF.serial_console.enabled:
        url = urllib.parse.urlsplit(CONF.serial_console.base_url)
        connect.append(f"{url.scheme}://{url.netloc}")
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {' '.join(connect)}; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


def _secured(resp: webob.Response) -> webob.Response:
    resp.headers["Content-Security-Policy"] = content_security_policy()
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    # NOTE: the files change with the package; a browser asks again each time
    # (cheap, they are small) so an upgrade never runs an old app.js.
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def _answers(*types: str) -> dict:
    """The OpenAPI document's view of these routes: files, not JSON."""
    text = {"schema": {"type": "string"}}
    return {"200": {"description": "The file", "content": {t: text for t in types}},
            "302": {"description": "To /dashboard/ (the page's address)"}}


class DashboardController:
    @validation.openapi(responses=_answers("text/html"))
    def index(self, req: Request) -> webob.Response:
        """The page; ``/dashboard`` redirects to ``/dashboard/`` so the page's
        relative asset links resolve under the prefix."""
        if not req.path_info.endswith("/"):
            resp = webob.Response(status=302)
            resp.location = req.path_url + "/"
            return _secured(resp)
        return self._file("index.html")

    @validation.openapi(responses=_answers(*sorted(set(dashboard.ASSETS.values()))))
    def asset(self, req: Request) -> webob.Response:
        return self._file(req.path_info.rsplit("/", 1)[-1])

    @staticmethod
    def _file(name: str) -> webob.Response:
        resp = webob.Response(status=200, content_type=dashboard.ASSETS[name],
                              charset="UTF-8")
        resp.body = dashboard.asset(name)
        return _secured(resp)


def connect(router: Router) -> None:
    controller = DashboardController()
    router.connect(PREFIX, "GET", controller, "index", public=True)
    for name in dashboard.ASSETS:
        router.connect(f"{PREFIX}/{name}", "GET", controller, "asset", public=True)
