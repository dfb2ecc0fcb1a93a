"""URL routing on a Routes mapper, with Nova's 404 and 405 answers."""

from __future__ import annotations

import dataclasses
from typing import Any

import routes

from novalite.api import errors

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


@dataclasses.dataclass
class Match:
    controller: Any
    action: str
    args: dict[str, str]
    # NOTE: public routes (version documents) need no authentication and
    # ignore microversion errors, so discovery always works.
    public: bool
    # NOTE: the route as connected (``/compute/v2.1/servers/{id}``): what
    # the metrics label a request with, never the path with its ids.
    template: str = ""


@dataclasses.dataclass(frozen=True)
class Route:
    """One entry of the route table, as connected (the OpenAPI document is
    generated from these)."""

    path: str
    method: str
    controller: Any
    action: str
    public: bool

    @property
    def handler(self) -> Any:
        return getattr(self.controller, self.action)


class Router:
    def __init__(self) -> None:
        self.mapper = routes.Mapper(explicit=True)
        self.mapper.minimization = False
        self._targets: dict[str, tuple[Any, str, bool]] = {}
        self.routes: list[Route] = []

    def connect(self, path: str, method: str, controller: Any, action: str,
                public: bool = False) -> None:
        name = f"{method} {path}"
        if name in self._targets:
            raise ValueError(f"route {name} is connected twice")
        self._targets[name] = (controller, action, public)
        self.routes.append(Route(path, method, controller, action, public))
        self.mapper.connect(name, path, conditions={"method": [method]})

    def finalize(self) -> None:
        # NOTE: the mapper builds its regexes lazily, which is not thread-safe.
        self.mapper.create_regs()

    def match(self, method: str, path: str) -> Match:
        """The route for ``method path``; 404 when no route has the path,
        405 (with ``Allow``) when other methods have it.

        NOTE: a trailing slash is dropped only for the public documents
        (version documents, which clients ask for as ``/compute/v2.1/``);
        elsewhere, as in Nova and Glance, ``/images/`` names no resource (an
        empty id) and is 404, never the collection."""
        stripped = path.rstrip("/") or "/"
        if stripped != path:
            try:
                found_match = self._match(method, stripped)
            except errors.HTTPError:
                found_match = None
            if found_match is None or not found_match.public:
                raise errors.not_found("The resource could not be found.")
            return found_match
        return self._match(method, path)

    def _match(self, method: str, path: str) -> Match:
        found = self.mapper.routematch(environ={"PATH_INFO": path, "REQUEST_METHOD": method})
        if found is None and method == "HEAD":
            found = self.mapper.routematch(environ={"PATH_INFO": path,
                                                   "REQUEST_METHOD": "GET"})
        if found is None:
            allowed = [m for m in METHODS if self.mapper.match(
                environ={"PATH_INFO": path, "REQUEST_METHOD": m}) is not None]
            if allowed:
                raise errors.HTTPError(405, f"The method {method} is not allowed for this "
                                            f"resource; allowed: {', '.join(allowed)}.",
                                       headers={"Allow": ", ".join(allowed)})
            raise errors.not_found("The resource could not be found.")
        args, route = found
        controller, action, public = self._targets[route.name]
        args = {k: v for k, v in args.items() if k not in ("controller", "action")}
        return Match(controller, action, args, public, route.routepath)
