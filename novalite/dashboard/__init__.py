"""The dashboard: a web UI over the public APIs, shipped as static files.

The pages are plain HTML, CSS and JavaScript (no build step) in ``static/``;
``novalite.api.dashboard`` serves them. Everything the page shows it asks
the public APIs for with the user's own token (kept in the tab's
``sessionStorage``, sent as ``X-Auth-Token``): the server keeps no session
and sets no cookie, so a page from another origin has no ambient authority to
borrow (no CSRF), and the dashboard can do nothing the user's token cannot.
"""

from __future__ import annotations

from importlib import resources

# NOTE: the assets and their types, named here so that the routes are exact
# (``/dashboard/events`` and others stay free for other controllers) and a
# file that is not listed is never served.
ASSETS: dict[str, str] = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "style.css": "text/css",
}


def asset(name: str) -> bytes:
    """The bytes of the shipped asset ``name`` (one of ``ASSETS``)."""
    if name not in ASSETS:
        raise KeyError(name)
    return resources.files(__name__).joinpath("static", name).read_bytes()
