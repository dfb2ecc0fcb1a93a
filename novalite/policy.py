"""Who may do what: oslo.policy's Enforcer with novalite's default rules.

Rules are registered in code (``novalite.policies``) and may be overridden
by the operator's policy file (``[oslo_policy] policy_file``, YAML), which
oslo.policy reloads when it changes. Controllers call ``authorize()`` with
the rule name and a target (normally ``{"project_id": ..., "user_id": ...}``
of the resource); a refusal is a 403 ``PolicyNotAuthorized`` as in Nova.

Roles imply one another as Keystone's default implied roles do
(admin ⊃ member ⊃ reader), so a caller with ``admin`` alone passes a
``role:reader`` check also when no Keystone expanded the roles (noauth).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from oslo_config import cfg
from oslo_policy import policy

from novalite import exception, policies
from novalite.conf import CONF

_ENFORCER: _Enforcer | None = None
_LOCK = threading.Lock()

# NOTE: Keystone's default role hierarchy (since 2024.2 bootstrap makes admin
# imply manager, manager imply member and member imply reader).
IMPLIED_ROLES = {"admin": ("manager", "member", "reader"), "manager": ("member", "reader"),
                 "member": ("reader",)}


class _Enforcer(policy.Enforcer):
    def _get_policy_path(self, path: str) -> str:
        try:
            return super()._get_policy_path(path)
        except cfg.NotInitializedError:
            # NOTE: the config was never parsed (tests, embedding): only an
            # absolute path can be found, there are no config dirs to search.
            if os.path.isabs(path) and os.path.exists(path):
                return path
            raise cfg.ConfigFilesNotFoundError([path]) from None


def reset() -> None:
    """Forget the enforcer (tests; after a config change)."""
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is not None:
            _ENFORCER.clear()
        _ENFORCER = None


def init(conf: cfg.ConfigOpts | None = None, policy_file: str | None = None,
         rules: dict | None = None) -> policy.Enforcer:
    """The process' enforcer, made on first use with every default rule."""
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is None:
            enforcer = _Enforcer(conf or CONF, policy_file=policy_file, rules=rules)
            enforcer.register_defaults(policies.list_rules())
            _ENFORCER = enforcer
        return _ENFORCER


def credentials(context: Any) -> dict:
    """The caller's policy values, with implied roles added."""
    creds = dict(context.to_policy_values())
    roles = [r.lower() for r in creds.get("roles") or []]
    for role in list(roles):
        for implied in IMPLIED_ROLES.get(role, ()):
            if implied not in roles:
                roles.append(implied)
    creds["roles"] = roles
    # NOTE: internal contexts (get_admin_context) carry is_admin without a
    # token; rules may test it as Nova's ``is_admin:True``.
    creds["is_admin"] = bool(getattr(context, "is_admin", False))
    return creds


def authorize(context: Any, action: str, target: dict | None = None,
              do_raise: bool = True) -> bool:
    """Check ``action`` for the caller on ``target`` (default: the caller's
    own project and user); raise ``PolicyNotAuthorized`` (403) when refused
    and ``do_raise``, else return False."""
    if target is None:
        target = {"project_id": context.project_id, "user_id": context.user_id}
    enforcer = init()
    try:
        return bool(enforcer.authorize(action, target, credentials(context),
                                       do_raise=do_raise,
                                       exc=exception.PolicyNotAuthorized, action=action))
    except policy.InvalidScope:
        if not do_raise:
            return False
        raise exception.PolicyNotAuthorized(action=action) from None


def check_is_admin(context: Any) -> bool:
    """Whether the caller is an admin by the ``context_is_admin`` rule."""
    target = {"project_id": context.project_id, "user_id": context.user_id}
    return bool(init().authorize("context_is_admin", target, credentials(context)))


def get_enforcer() -> policy.Enforcer:
    """For oslo.policy's tools (``oslopolicy-policy-generator``, ...): the
    enforcer on the global config, as Nova's ``get_enforcer``."""
    CONF([], project="novalite")
    return init()
