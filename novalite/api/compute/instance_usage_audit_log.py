"""/os-instance_usage_audit_log: which compute hosts ran the usage audit of
the last completed period (a month, Nova's default), and how it went.

Nova's computes run that audit only with ``instance_usage_audit`` on (off
by default), recording one task log per host and period. novalite has no
such audit, so every answer is what Nova gives with the audit off: no task
logs, every compute host listed as not run. The period is still computed
as Nova's, so clients read a well-formed, truthful report.
"""

from __future__ import annotations

import datetime

from novalite import policy
from novalite.api import errors
from novalite.api.views import services as service_views
from novalite.api.wsgi import Request
from novalite.objects.service import ServiceList
from novalite.policies.instance_usage_audit_log import AUDIT_LOG

_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f")


def last_completed_month(before: datetime.datetime) -> tuple[datetime.datetime,
                                                              datetime.datetime]:
    """The calendar month that ended at or before ``before``."""
    end = datetime.datetime(before.year, before.month, 1)
    year, month = (end.year, end.month - 1) if end.month > 1 else (end.year - 1, 12)
    return datetime.datetime(year, month, 1), end


def _parse(text: str) -> datetime.datetime:
    for fmt in _FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise errors.bad_request(f"Invalid timestamp for date {text}: expected "
                             f"'YYYY-MM-DD HH:MM:SS[.ffffff]'.")


class InstanceUsageAuditLogController:
    def index(self, req: Request) -> dict:
        """The audit report of the last completed period."""
        policy.authorize(req.context, AUDIT_LOG % "list", {})
        return {"instance_usage_audit_logs": self._report(req, datetime.datetime.utcnow())}

    def show(self, req: Request, id: str) -> dict:
        """The audit report of the last period completed before ``id``."""
        policy.authorize(req.context, AUDIT_LOG % "show", {})
        return {"instance_usage_audit_log": self._report(req, _parse(id))}

    @staticmethod
    def _report(req: Request, before: datetime.datetime) -> dict:
        begin, end = last_completed_month(before)
        hosts = sorted({s.host for s in ServiceList.get_all(
            req.context, binary=service_views.COMPUTE_BINARY)})
        return {
            "period_beginning": str(begin), "period_ending": str(end),
            "num_hosts": len(hosts), "num_hosts_done": 0, "num_hosts_running": 0,
            "num_hosts_not_run": len(hosts), "hosts_not_run": hosts, "log": {},
            "total_errors": 0, "total_instances": 0,
            "overall_status": f"0 of {len(hosts)} hosts done. 0 errors.",
        }
