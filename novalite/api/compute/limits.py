"""/limits: the caller's project's absolute limits and usage (no rate limits)."""

from __future__ import annotations

from novalite import policy, quota
from novalite.api import validation
from novalite.api.schemas import quotas as schemas
from novalite.api.views import limits as views
from novalite.api.wsgi import Request
from novalite.policies import limits as limits_policies


class LimitsController:
    @validation.query_schema({"tenant_id": {"type": "string"}})
    @validation.strict_query("2.75")
    @validation.response_schema(schemas.limits_response)
    def index(self, req: Request) -> dict:
        """Show the limits and usage of the caller's project (admins: ``tenant_id``'s)."""
        ctx = req.context
        policy.authorize(ctx, limits_policies.LIMITS, {})
        project_id = ctx.project_id
        if "tenant_id" in req.query:
            project_id = req.query["tenant_id"]
            policy.authorize(ctx, limits_policies.OTHER_PROJECT, {"project_id": project_id})
        return views.limits(quota.get_project_quotas(project_id),
                            quota.get_usages(project_id), req.api_version)
