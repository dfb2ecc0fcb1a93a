"""Keystone v3 response bodies: tokens, projects, users, roles, domains."""

from __future__ import annotations

import datetime

from novalite.api.links import Links
from novalite.identity import (
    DEFAULT_DOMAIN_ID,
    ROLE_IDS,
    catalog,
    domain_ref,
    manager,
    role_ref,
)


def isotime(when: datetime.datetime) -> str:
    # NOTE: Keystone's form, microseconds and a Z: 2015-11-05T22:00:11.000000Z
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def token(info: manager.AuthInfo, links: Links, with_catalog: bool = True) -> dict:
    t, user = info.token, info.user
    body: dict = {
        "methods": list(t.methods),
        "user": {"id": user["id"], "name": user["name"],
                 "domain": domain_ref(user["domain_id"]), "password_expires_at": None},
        "audit_ids": list(t.audit_ids),
        "expires_at": isotime(t.expires_at),
        "issued_at": isotime(t.issued_at),
    }
    if info.project is not None:
        project = info.project
        body["project"] = {"id": project["id"], "name": project["name"],
                           "domain": domain_ref(project["domain_id"])}
        body["is_domain"] = False
        body["roles"] = [role_ref(r) for r in info.roles]
        if with_catalog:
            body["catalog"] = catalog.build(links.root)
    return {"token": body}


def _v3(links: Links, path: str) -> str:
    return f"{links.identity_root}/v3/{path}"


def collection_links(links: Links, path: str) -> dict:
    return {"self": _v3(links, path), "previous": None, "next": None}


def project(p: dict, links: Links) -> dict:
    return {"id": p["id"], "name": p["name"], "domain_id": p["domain_id"],
            "description": p["description"] or "", "enabled": p["enabled"],
            "parent_id": p["domain_id"], "is_domain": False, "tags": [], "options": {},
            "links": {"self": _v3(links, f"projects/{p['id']}")}}


def user(u: dict, links: Links) -> dict:
    body = {"id": u["id"], "name": u["name"], "domain_id": u["domain_id"],
            "enabled": u["enabled"], "password_expires_at": None, "options": {},
            "links": {"self": _v3(links, f"users/{u['id']}")}}
    if u["default_project_id"]:
        body["default_project_id"] = u["default_project_id"]
    return body


def role(name: str, links: Links) -> dict:
    role_id = ROLE_IDS[name]
    return {"id": role_id, "name": name, "domain_id": None, "description": None,
            "options": {}, "links": {"self": _v3(links, f"roles/{role_id}")}}


def domain(links: Links, domain_id: str = DEFAULT_DOMAIN_ID) -> dict:
    ref = domain_ref(domain_id)
    return {"id": ref["id"], "name": ref["name"], "description": "The default domain",
            "enabled": True, "tags": [], "options": {},
            "links": {"self": _v3(links, f"domains/{ref['id']}")}}
