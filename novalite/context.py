"""Request context: who asks, and the request id that follows a request
from the API through every service's log lines."""

from __future__ import annotations

from typing import Any

from oslo_context import context as o_context


class RequestContext(o_context.RequestContext):
    """oslo.context's context; oslo.log prints its request_id on every line."""

    def __init__(self, *args: Any, read_deleted: str = "no", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_deleted = read_deleted

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["read_deleted"] = self.read_deleted
        return d

    @classmethod
    def from_dict(cls, values: dict[str, Any], **kwargs: Any) -> RequestContext:
        kwargs.setdefault("read_deleted", values.get("read_deleted", "no"))
        return super().from_dict(values, **kwargs)

    def elevated(self) -> RequestContext:
        ctx = self.from_dict(self.to_dict())
        ctx.is_admin = True
        if "admin" not in ctx.roles:
            ctx.roles.append("admin")
        return ctx


def get_admin_context(request_id: str | None = None) -> RequestContext:
    kw: dict[str, Any] = {"is_admin": True, "roles": ["admin"], "overwrite": False}
    if request_id:
        kw["request_id"] = request_id
    return RequestContext(**kw)


def get_context() -> RequestContext:
    """A context for work a service starts itself (periodic tasks)."""
    return RequestContext(is_admin=True, roles=["admin"], overwrite=False)
