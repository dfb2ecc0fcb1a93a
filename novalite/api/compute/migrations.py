"""GET /os-migrations (admin) and GET /servers/{id}/migrations[/{id}] (a
server's in-progress live migrations, 2.23), as Nova's at each microversion:
2.23 ``migration_type`` and, for an in-progress live migration, ``links``;
2.59 ``uuid``, newest first with ``limit``/``marker`` paging
(``migrations_links``), ``changes-since``; 2.66 ``changes-before``;
2.80 ``user_id``/``project_id`` (shown, and filters)."""

from __future__ import annotations

import datetime
from typing import Any

import jsonschema
from oslo_utils import timeutils

from novalite import policy
from novalite.api import common, errors, microversions, validation, wsgi
from novalite.api.compute.servers import target_of
from novalite.api.views.common import naive_isotime
from novalite.api.wsgi import Request
from novalite.compute.api_moves import MigrationNotFoundForInstance
from novalite.objects import migration as mig
from novalite.policies import migrations as mp
from novalite.policies import server_microversions as smp

_FIELDS = ("id", "source_node", "dest_node", "source_compute", "dest_compute", "dest_host",
           "status", "instance_uuid", "old_instance_type_id", "new_instance_type_id")
_FILTERS = ("instance_uuid", "host", "source_compute", "status", "migration_type")


def _time(value: Any) -> str | None:
    return naive_isotime(value)


def _in_progress_live(m: mig.Migration) -> bool:
    return bool(m.migration_type == mig.LIVE_MIGRATION and m.status in mig.LIVE_IN_PROGRESS)


_HOST_FIELDS = ("source_compute", "source_node", "dest_compute", "dest_node", "dest_host")


def view(req: Request, m: mig.Migration, add_host: bool = True) -> dict[str, Any]:
    version = req.api_version
    out: dict[str, Any] = {k: m.get(k) for k in _FIELDS}
    if not add_host:
        # NOTE: as Nova: without os-migrations:index:host the hosts are null.
        out.update(dict.fromkeys(_HOST_FIELDS))
    out["created_at"] = _time(m.created_at)
    out["updated_at"] = _time(m.updated_at)
    if version.at_least("2.23"):
        out["migration_type"] = m.migration_type
        if _in_progress_live(m):
            out["links"] = req.links.resource(f"servers/{m.instance_uuid}/migrations", m.id)
    if version.at_least("2.59"):
        out["uuid"] = m.uuid
    if version.at_least("2.80"):
        out["user_id"] = m.user_id
        out["project_id"] = m.project_id
    return out


def _server_view(req: Request, m: mig.Migration, add_host: bool = True) -> dict[str, Any]:
    """Nova's server-migrations view (the progress counters are 0: novalite's
    drivers do not report them); the hosts null without the index:host rule."""
    out: dict[str, Any] = {
        "id": m.id, "server_uuid": m.instance_uuid, "source_compute": m.source_compute,
        "dest_compute": m.dest_compute, "source_node": m.source_node,
        "dest_node": m.dest_node, "dest_host": m.dest_host, "status": m.status,
        "created_at": _time(m.created_at), "updated_at": _time(m.updated_at),
        "memory_total_bytes": 0, "memory_processed_bytes": 0, "memory_remaining_bytes": 0,
        "disk_total_bytes": 0, "disk_processed_bytes": 0, "disk_remaining_bytes": 0}
    if req.api_version.at_least("2.59"):
        out["uuid"] = m.uuid
    if req.api_version.at_least("2.80"):
        out["user_id"] = m.user_id
        out["project_id"] = m.project_id
    if not add_host:
        out.update(dict.fromkeys(_HOST_FIELDS))
    return out


def _parse_time(name: str, value: str) -> datetime.datetime:
    try:
        return timeutils.parse_isotime(value)
    except ValueError:
        raise errors.bad_request(f"Invalid input for query parameters {name}. Value: "
                                 f"{value}. '{value}' is not a 'date-time'") from None


# NOTE: Nova's server migration action: one key; force_complete takes null.
_ACTION = {"type": "object", "minProperties": 1, "maxProperties": 1}
_FORCE_COMPLETE = jsonschema.Draft202012Validator(
    {"type": "object", "properties": {"force_complete": {"type": "null"}},
     "required": ["force_complete"], "additionalProperties": False},
    format_checker=validation.FORMAT_CHECKER)


class MigrationsController:
    def __init__(self, compute_api: Any) -> None:
        self.compute_api = compute_api

    @validation.strict_query("2.102", (*_FILTERS, "hidden", "limit", "marker", "changes-since",
                                        "changes-before", "user_id", "project_id"))
    def index(self, req: Request) -> dict:
        """List migrations, newest first: a project manager its own
        project's (``project_id`` must name it) without hosts, an admin any."""
        context = req.context
        policy.authorize(context, mp.MIGRATIONS_INDEX, {"project_id": context.project_id})
        version = req.api_version
        params = req.GET
        # NOTE: as Nova 2025: all projects' or another project's migrations
        # need index:all_projects (403), the hosts index:host (else null).
        if params.get("project_id") != context.project_id:
            policy.authorize(context, mp.MIGRATIONS_INDEX_ALL_PROJECTS,
                             {"project_id": context.project_id})
        add_host = policy.authorize(context, mp.MIGRATIONS_INDEX_HOST,
                                    {"project_id": context.project_id}, do_raise=False)
        filters: dict[str, Any] = {k: params[k] for k in _FILTERS if params.get(k)}
        if not version.at_least("2.23"):
            filters.pop("migration_type", None)
        limit: int | None = None
        marker: str | None = None
        if version.at_least("2.59"):
            limit, marker = common.limit_and_marker(params)
            if params.get("changes-since"):
                filters["changes_since"] = _parse_time("changes-since", params["changes-since"])
        if version.at_least("2.66") and params.get("changes-before"):
            filters["changes_before"] = _parse_time("changes-before", params["changes-before"])
        if version.at_least("2.80"):
            for key in ("user_id", "project_id"):
                if params.get(key):
                    filters[key] = params[key]
        if params.get("project_id"):
            filters["project_id"] = params["project_id"]
        try:
            migrations = self.compute_api.get_migrations(context, filters, limit=limit,
                                                         marker=marker)
        except mig.MigrationNotFound:
            raise common.marker_not_found(str(marker)) from None
        body: dict[str, Any] = {"migrations": [view(req, m, bool(add_host))
                                               for m in migrations]}
        if limit is not None and len(migrations) == limit and migrations:
            body["migrations_links"] = [req.links.next_link(
                "os-migrations", req.GET.items(), migrations[-1].uuid)]
        return body

    def _instance(self, req: Request, server_id: str, rule: str) -> Any:
        instance = self.compute_api.get(req.context, server_id)
        policy.authorize(req.context, rule, target_of(instance))
        return instance

    @microversions.versioned("2.23")
    def server_index(self, req: Request, server_id: str) -> dict:
        """A server's in-progress live migrations."""
        instance = self._instance(req, server_id, mp.SERVER_MIGRATIONS_INDEX)
        add_host = policy.authorize(req.context, mp.SERVER_MIGRATIONS_INDEX_HOST,
                                    target_of(instance), do_raise=False)
        migrations = self.compute_api.get_migrations_in_progress_by_instance(
            req.context, instance.uuid)
        return {"migrations": [_server_view(req, m, bool(add_host)) for m in migrations]}

    @microversions.versioned("2.23")
    def server_show(self, req: Request, server_id: str, id: str) -> dict:
        instance = self._instance(req, server_id, mp.SERVER_MIGRATIONS_SHOW)
        for m in self.compute_api.get_migrations_in_progress_by_instance(req.context,
                                                                         instance.uuid):
            if str(m.id) == id:
                return {"migration": _server_view(req, m)}
        raise errors.not_found(f"In-progress live migration {id} is not found for server "
                               f"{instance.uuid}.")

    # -- a running live migration: force complete (2.22), abort (2.24, 2.65) ---------

    @microversions.versioned("2.22")
    @wsgi.response(202)
    @validation.schema(_ACTION)
    def action(self, req: Request, server_id: str, id: str, body: dict) -> None:
        """POST /servers/{id}/migrations/{id}/action {"force_complete": null}."""
        name = next(iter(body))
        if name != "force_complete":
            raise errors.bad_request(f"There is no such action: {name}")
        validation.validate(_FORCE_COMPLETE, body)
        instance = self._instance(req, server_id, smp.MIGRATIONS_FORCE_COMPLETE)
        try:
            self.compute_api.live_migrate_force_complete(req.context, instance, id)
        except MigrationNotFoundForInstance as e:
            # NOTE: as Nova: 400 here (404 for the abort).
            raise errors.bad_request(e.format_message()) from None

    @microversions.versioned("2.24")
    @wsgi.response(202)
    def delete(self, req: Request, server_id: str, id: str) -> None:
        """Abort a live migration: running, and from 2.65 queued or preparing."""
        instance = self._instance(req, server_id, smp.MIGRATIONS_DELETE)
        self.compute_api.live_migrate_abort(
            req.context, instance, id, support_abort_in_queue=req.api_version.at_least("2.65"))
