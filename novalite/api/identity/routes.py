"""The Identity API's route table (``/identity``, Keystone v3 paths)."""

from __future__ import annotations

from typing import Any

from novalite.api.identity.resources import (
    DomainsController,
    ProjectsController,
    RolesController,
    UsersController,
)
from novalite.api.identity.tokens import TokensController
from novalite.api.identity.versions import VersionsController
from novalite.api.links import IDENTITY_PREFIX
from novalite.api.router import Router
from novalite.identity import throttle


def connect(router: Router) -> None:
    versions = VersionsController()
    router.connect(IDENTITY_PREFIX, "GET", versions, "multiple_choices", public=True)
    router.connect(f"{IDENTITY_PREFIX}/v3", "GET", versions, "show", public=True)
    v3 = f"{IDENTITY_PREFIX}/v3"
    # NOTE: one throttle for every route that checks a password.
    limiter = throttle.SourceThrottle()
    tokens = TokensController(limiter)
    routes: list[tuple[str, str, Any, str]] = [
        ("POST", "/auth/tokens", tokens, "create"),
        ("GET", "/auth/tokens", tokens, "show"),
        ("DELETE", "/auth/tokens", tokens, "delete"),
        ("GET", "/auth/projects", tokens, "projects"),
        ("GET", "/auth/catalog", tokens, "catalog"),
    ]
    projects, users = ProjectsController(), UsersController(limiter)
    roles, domains = RolesController(), DomainsController()
    routes += [
        ("GET", "/projects", projects, "index"),
        ("GET", "/projects/{project_id}", projects, "show"),
        ("GET", "/users", users, "index"),
        ("GET", "/users/{user_id}", users, "show"),
        ("GET", "/users/{user_id}/projects", users, "projects"),
        ("POST", "/users/{user_id}/password", users, "change_password"),
        ("GET", "/roles", roles, "index"),
        ("GET", "/roles/{role_id}", roles, "show"),
        ("GET", "/domains", domains, "index"),
        ("GET", "/domains/{domain_id}", domains, "show"),
    ]
    for method, path, controller, action in routes:
        router.connect(v3 + path, method, controller, action, public=True)
