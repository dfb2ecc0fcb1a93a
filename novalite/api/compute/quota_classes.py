"""/os-quota-class-sets: Nova's quota classes. Only the ``default`` class
means anything (its limits are the defaults of every project without its
own, over the ``[quota]`` options); another name keeps what it is given
and shows the defaults for the rest, as Nova's database driver.

The resources shown per microversion are Nova's: before 2.50 with the
nova-network ones and without the server group ones; from 2.50 the server
group ones and no network ones; from 2.57 no injected file ones either.
"""

from __future__ import annotations

import copy
from typing import Any

from novalite import policy, quota
from novalite.api import errors, validation
from novalite.api.compute import quota_sets
from novalite.api.schemas import quotas as quota_schemas
from novalite.api.wsgi import Request
from novalite.policies.quotas import QUOTA_CLASS_SETS

_SERVER_GROUPS = ("server_groups", "server_group_members")
_NETWORK = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules")
_INJECTED = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")


def _hidden(version: Any) -> tuple[str, ...]:
    if version.at_least("2.57"):
        return _NETWORK + _INJECTED
    if version.at_least("2.50"):
        return _NETWORK
    return _SERVER_GROUPS


def _body(names: tuple[str, ...]) -> dict:
    props = {name: quota_schemas.common_quota for name in quota.RESOURCES if name not in names}
    return {"type": "object",
            "properties": {"quota_class_set": {"type": "object", "properties": props,
                                               "additionalProperties": False}},
            "required": ["quota_class_set"], "additionalProperties": False}


# NOTE: Nova's update schemas: 2.1 takes every resource (server groups too),
# 2.50 drops the network ones, 2.57 the injected file ones; no "force".
UPDATE_VERSIONS: list[tuple[str, str | None, dict]] = [
    ("2.1", "2.49", _body(())), ("2.50", "2.56", _body(_NETWORK)),
    ("2.57", None, _body(_NETWORK + _INJECTED))]


def _response(with_id: bool) -> dict:
    props: dict[str, Any] = {name: {"type": "integer", "minimum": -1}
                             for name in quota.RESOURCES}
    if with_id:
        props["id"] = {"type": "string"}
    return {"type": "object", "properties": {"quota_class_set": {
        "type": "object", "properties": props, "additionalProperties": False}},
        "required": ["quota_class_set"], "additionalProperties": False}


def _view(class_name: str | None, limits: dict[str, int], version: Any) -> dict:
    hidden = _hidden(version)
    out: dict[str, Any] = {"id": class_name} if class_name is not None else {}
    out.update({name: limits[name] for name in quota.RESOURCES if name not in hidden})
    return {"quota_class_set": out}


class QuotaClassSetsController:
    @validation.strict_query("2.102", ())
    @validation.response_schema(_response(with_id=True))
    def show(self, req: Request, id: str) -> dict:
        """Show a quota class's limits (``default``: every project's defaults)."""
        policy.authorize(req.context, QUOTA_CLASS_SETS % "show", {})
        return _view(id, quota.get_class_quotas(id), req.api_version)

    @validation.versioned_schemas(copy.deepcopy(UPDATE_VERSIONS))
    @validation.response_schema(_response(with_id=False))
    def update(self, req: Request, id: str, body: dict) -> dict:
        """Set some of a quota class's limits (``default``: the defaults of
        every project without its own, enforced at once)."""
        policy.authorize(req.context, QUOTA_CLASS_SETS % "update", {})
        if not 1 <= len(id) <= 255:
            raise errors.bad_request("quota_class_name has a length of 1 to 255 "
                                     "characters.")
        # NOTE: digit strings pass the schema; their range is checked as quota sets'.
        limits = {name: quota_sets._int(name, value)
                  for name, value in body["quota_class_set"].items()}
        if limits:
            quota.update_class_quotas(id, limits)
        return _view(None, quota.get_class_quotas(id), req.api_version)
