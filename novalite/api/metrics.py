"""GET /metrics: the process's Prometheus metrics (text format), with the
cloud-wide gauges read from the database.

A token is required (401 otherwise, in the Compute API's error format);
what it shows depends on the caller: ``novalite.metrics.exposition``.
"""

from __future__ import annotations

import webob
from prometheus_client import CONTENT_TYPE_LATEST

from novalite import policy
from novalite.api import validation
from novalite.api.wsgi import Request
from novalite.metrics import exposition
from novalite.policies import metrics as metrics_policies

PATH = "/metrics"


_TEXT = {"schema": {"type": "string"}}


class MetricsController:
    @validation.openapi(responses={"200": {
        "description": "Prometheus text format: admins every series, others their "
                       "project's", "content": {"text/plain": _TEXT}}})
    def show(self, req: Request) -> webob.Response:
        context = req.context
        everything = policy.authorize(context, metrics_policies.METRICS_ALL, do_raise=False)
        body = exposition.render(context.project_id, everything=everything)
        resp = webob.Response(status=200, body=body)
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp
