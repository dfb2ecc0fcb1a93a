"""/os-quota-sets: a project's limits (Nova 2.1: every resource, 202 on delete)."""

from __future__ import annotations

from typing import Any

from oslo_utils import strutils

from novalite import policy, quota
from novalite.api import errors, validation, wsgi
from novalite.api.schemas import quotas as schemas
from novalite.api.views import quotas as views
from novalite.api.wsgi import Request
from novalite.policies.quotas import QUOTA_SETS

_USER_QUERY = {"user_id": {"type": "string"}}


class QuotaSetsController:
    @validation.query_schema(_USER_QUERY)
    @validation.strict_query("2.75")
    @validation.response_schema(schemas.show_response)
    def show(self, req: Request, id: str) -> dict:
        """Show a project's quotas."""
        policy.authorize(req.context, QUOTA_SETS % "show", {"project_id": id})
        return views.quota_set(id, quota.get_project_quotas(id), req.api_version)

    @validation.query_schema(_USER_QUERY)
    @validation.strict_query("2.75")
    @validation.response_schema(schemas.detail_response)
    def detail(self, req: Request, id: str) -> dict:
        """Show a project's quotas with what it uses of each."""
        policy.authorize(req.context, QUOTA_SETS % "detail", {"project_id": id})
        return views.detail(id, quota.get_project_quotas(id),
                            quota.get_usages(id, req.GET.get("user_id")), req.api_version)

    @validation.response_schema(schemas.show_response)
    def defaults(self, req: Request, id: str) -> dict:
        """Show the default quotas (those of a project without its own)."""
        policy.authorize(req.context, QUOTA_SETS % "defaults", {"project_id": id})
        return views.quota_set(id, quota.get_defaults(), req.api_version)

    @validation.query_schema(_USER_QUERY)
    @validation.strict_query("2.75")
    @validation.versioned_schemas(schemas.UPDATE_VERSIONS)
    @validation.response_schema(schemas.update_response)
    def update(self, req: Request, id: str, body: dict) -> dict:
        """Set some of a project's quotas (not below what it uses, unless ``force``)."""
        policy.authorize(req.context, QUOTA_SETS % "update", {"project_id": id})
        _refuse_user_quotas(req)
        if len(id) > 255:
            raise errors.bad_request(f"Invalid project id {id[:64]}...: at most 255 characters")
        values = dict(body["quota_set"])
        force = strutils.bool_from_string(values.pop("force", False), strict=False)
        if "networks" in values:
            raise errors.bad_request("Quota for networks cannot be set: novalite has no "
                                     "nova-network networks.")
        limits = {name: _int(name, value) for name, value in values.items()}
        if not force:
            usages = quota.get_usages(id)
            for name, limit in limits.items():
                _check_not_below_usage(name, limit, usages[name] if name in
                                       quota.COUNTED and name != "key_pairs" else 0)
        if limits:
            quota.update_project_quotas(id, limits)
        return views.quota_set(None, quota.get_project_quotas(id), req.api_version)

    @validation.query_schema(_USER_QUERY)
    @validation.strict_query("2.75")
    @wsgi.response(202)
    def delete(self, req: Request, id: str) -> None:
        """Revert a project's quotas to the defaults."""
        policy.authorize(req.context, QUOTA_SETS % "delete", {"project_id": id})
        _refuse_user_quotas(req)
        quota.delete_project_quotas(id)


def _refuse_user_quotas(req: Request) -> None:
    # NOTE: Nova also keeps per-user quotas; novalite's are per project only,
    # so a change aimed at one user must not silently change the project's.
    if "user_id" in req.GET:
        raise errors.bad_request("Per-user quotas are not supported: novalite's quotas are "
                                 "per project; drop user_id.")


def _int(name: str, value: Any) -> int:
    # NOTE: the schema takes digit strings too; their range is checked here.
    number = int(value)
    if not -1 <= number <= schemas.MAX_INT:
        bound = "less than the minimum of -1" if number < -1 else \
            f"greater than the maximum of {schemas.MAX_INT}"
        raise errors.bad_request(f"Invalid input for field/attribute {name}. Value: {value}. "
                                 f"{value} is {bound}")
    return number


def _check_not_below_usage(name: str, limit: int, used: int) -> None:
    if limit != quota.UNLIMITED and limit < used:
        raise errors.bad_request(f"Quota limit {limit} for {name} must be greater than or "
                                 f"equal to already used and reserved {used}.")
