"""/os-simple-tenant-usage on the in-process stack: hours as Nova computes
them (launch to termination, clipped to the period), totals per project,
deleted servers counted for the time they lived, 2.40 paging."""

from __future__ import annotations

import datetime
from typing import Any

from novalite import context as nl_context
from novalite.objects.instance import Instance

FMT = "%Y-%m-%dT%H:%M:%S"


def _set_times(server_id: str, launched: datetime.datetime,
               terminated: datetime.datetime | None = None) -> None:
    """Backdate a server's launch (and termination) so hours are exact."""
    import sqlalchemy as sa

    from novalite.db import api as db_api
    from novalite.db import models

    values: dict[str, Any] = {"launched_at": launched}
    if terminated is not None:
        values["terminated_at"] = terminated
    with db_api.get_engine().begin() as conn:
        conn.execute(sa.update(models.Instance).where(models.Instance.uuid == server_id)
                     .values(**values))


def _project(server_id: str) -> str:
    ctxt = nl_context.get_admin_context()
    return str(Instance.get_by_uuid(ctxt, server_id, read_deleted=True).project_id)


def test_usage_hours_and_totals_as_nova_computes_them(stack: Any) -> None:
    now = datetime.datetime.utcnow().replace(microsecond=0)
    start, end = now - datetime.timedelta(hours=10), now - datetime.timedelta(hours=2)
    running = stack.wait_status(stack.boot("running", networks="none")["id"], "ACTIVE")
    gone = stack.wait_status(stack.boot("gone", networks="none")["id"], "ACTIVE")
    stack.compute("DELETE", f"/servers/{gone['id']}")
    stack.wait_gone(gone["id"])
    # running since 12 h ago: the whole 8 h period; gone lived from 9 h to 6 h ago: 3 h
    _set_times(running["id"], now - datetime.timedelta(hours=12))
    _set_times(gone["id"], now - datetime.timedelta(hours=9), now - datetime.timedelta(hours=6))
    project = _project(running["id"])
    query = f"?start={start.strftime(FMT)}&end={end.strftime(FMT)}"
    usage = stack.compute("GET", f"/os-simple-tenant-usage/{project}{query}").json()
    usage = usage["tenant_usage"]
    by_name = {u["name"]: u for u in usage["server_usages"]}
    assert round(by_name["running"]["hours"], 6) == 8.0
    assert round(by_name["gone"]["hours"], 6) == 3.0
    assert by_name["gone"]["state"] == "terminated" and by_name["running"]["state"] == "active"
    flavor = by_name["running"]
    assert flavor["flavor"] == "m1.tiny" and flavor["vcpus"] == 1
    assert round(usage["total_hours"], 6) == 11.0
    assert round(usage["total_vcpus_usage"], 6) == 11.0
    assert round(usage["total_memory_mb_usage"], 3) == 11.0 * flavor["memory_mb"]
    assert round(usage["total_local_gb_usage"], 3) == 11.0 * flavor["local_gb"]
    assert usage["start"] == start.isoformat() and usage["stop"] == end.isoformat()
    listed = stack.compute("GET", f"/os-simple-tenant-usage{query}").json()["tenant_usages"]
    assert [u["tenant_id"] for u in listed] == [project] and "server_usages" not in listed[0]
    detailed = stack.compute("GET", f"/os-simple-tenant-usage{query}&detailed=1").json()
    assert len(detailed["tenant_usages"][0]["server_usages"]) == 2
    # a period before both servers: nothing
    early = f"?start={(now - datetime.timedelta(days=3)).strftime(FMT)}" \
            f"&end={(now - datetime.timedelta(days=2)).strftime(FMT)}"
    assert stack.compute("GET", f"/os-simple-tenant-usage/{project}{early}").json() == {
        "tenant_usage": {}}
    # NOTE: on the same stack (a stack takes seconds to stop)
    _bad_periods_and_paging(stack)


def _bad_periods_and_paging(stack: Any) -> None:
    """Two more servers: with the first part's running one, three in the last hour."""
    for i in range(2):
        stack.wait_status(stack.boot(f"p{i}", networks="none")["id"], "ACTIVE")
    now = datetime.datetime.utcnow()
    bad = stack.compute("GET", "/os-simple-tenant-usage?start=yesterday")
    assert bad.status_code == 400 and "yesterday" in bad.text
    later = (now + datetime.timedelta(hours=1)).strftime(FMT)
    reversed_period = stack.compute("GET", f"/os-simple-tenant-usage?start={later}"
                                           f"&end={now.strftime(FMT)}")
    assert reversed_period.status_code == 400 and "start time" in reversed_period.text
    query = f"?start={(now - datetime.timedelta(hours=1)).strftime(FMT)}&detailed=1&limit=2"
    v240 = {"OpenStack-API-Version": "compute 2.40"}
    page = stack.compute("GET", f"/os-simple-tenant-usage{query}", headers=v240).json()
    assert len(page["tenant_usages"][0]["server_usages"]) == 2
    link = page["tenant_usages_links"][0]
    assert link["rel"] == "next" and "marker=" in link["href"]
    path = link["href"].split("/v2.1", 1)[1]
    rest = stack.compute("GET", path, headers=v240).json()
    assert len(rest["tenant_usages"][0]["server_usages"]) == 1
    v275 = {"OpenStack-API-Version": "compute 2.75"}
    unknown = stack.compute("GET", f"/os-simple-tenant-usage{query}&bogus=1", headers=v275)
    assert unknown.status_code == 400 and "bogus" in unknown.text
    # before 2.40 no paging: every server in one answer
    whole = stack.compute("GET", f"/os-simple-tenant-usage{query}").json()
    assert len(whole["tenant_usages"][0]["server_usages"]) == 3
