"""The built-in identity service: a Keystone v3 subset.

Users, projects (all in domain ``default``) and role assignments live in
the database (``store``); passwords are bcrypt hashes (``passwords``);
tokens are Fernet tokens that carry who, where, how and when, so no token
table is needed and tokens survive an API restart (``tokens``, ``fernet``);
``manager`` authenticates and scopes; ``catalog`` lists the endpoints a
token advertises.

Roles are fixed, Keystone's defaults since 2024.2: ``admin`` implies
``manager`` implies ``member`` implies ``reader``.
"""

from __future__ import annotations

import uuid

DEFAULT_DOMAIN_ID = "default"
DEFAULT_DOMAIN_NAME = "Default"

ROLES = ("admin", "manager", "member", "reader")
_IMPLIES = {"admin": ("admin", "manager", "member", "reader"),
            "manager": ("manager", "member", "reader"), "member": ("member", "reader"),
            "reader": ("reader",)}
# NOTE: stable ids, the same in every deployment, so a role's id never
# needs a table: uuid5 of the name in a novalite namespace.
_NAMESPACE = uuid.UUID("6f1b2a3e-4c5d-4e6f-8a9b-0c1d2e3f4a5b")
ROLE_IDS = {name: uuid.uuid5(_NAMESPACE, f"role:{name}").hex for name in ROLES}


def effective_roles(assigned: list[str] | tuple[str, ...] | set[str]) -> list[str]:
    """The assigned roles with the ones they imply, strongest first."""
    have = {implied for role in assigned for implied in _IMPLIES.get(role, (role,))}
    return [r for r in ROLES if r in have] + sorted(have - set(ROLES))


def role_ref(name: str) -> dict:
    return {"id": ROLE_IDS.get(name, name), "name": name}


def domain_ref(domain_id: str = DEFAULT_DOMAIN_ID) -> dict:
    return {"id": domain_id,
            "name": DEFAULT_DOMAIN_NAME if domain_id == DEFAULT_DOMAIN_ID else domain_id}
