"""The Block Storage API's route table (``/volume``, Cinder v3 paths),
each path both with the project (``/volume/v3/{project_id}/volumes``, as
Cinder's catalog entries had it) and without (3.67's project-less form,
which novalite's catalog gives)."""

from __future__ import annotations

from typing import Any

from novalite.api.router import Router
from novalite.api.volume import common
from novalite.api.volume.attachments import AttachmentsController
from novalite.api.volume.misc import (
    AvailabilityZonesController,
    ExtensionsController,
    LimitsController,
    MessagesController,
    PoolsController,
    QuotaSetsController,
    ServicesController,
    TypesController,
    VersionsController,
)
from novalite.api.volume.volumes import SnapshotsController, VolumesController

V3 = f"{common.PREFIX}/v3"


def _table() -> list[tuple[str, str, Any, str]]:
    volumes = VolumesController()
    snapshots = SnapshotsController()
    attachments = AttachmentsController()
    types = TypesController()
    quota_sets = QuotaSetsController()
    messages = MessagesController()
    return [
        ("/volumes", "GET", volumes, "index"),
        ("/volumes", "POST", volumes, "create"),
        ("/volumes/detail", "GET", volumes, "detail"),
        ("/volumes/summary", "GET", volumes, "summary"),
        ("/volumes/{id}", "GET", volumes, "show"),
        ("/volumes/{id}", "PUT", volumes, "update"),
        ("/volumes/{id}", "DELETE", volumes, "delete"),
        ("/volumes/{id}/action", "POST", volumes, "action"),
        ("/volumes/{id}/metadata", "GET", volumes, "metadata_index"),
        ("/volumes/{id}/metadata", "POST", volumes, "metadata_create"),
        ("/volumes/{id}/metadata", "PUT", volumes, "metadata_update_all"),
        ("/volumes/{id}/metadata/{key}", "GET", volumes, "metadata_show"),
        ("/volumes/{id}/metadata/{key}", "PUT", volumes, "metadata_update"),
        ("/volumes/{id}/metadata/{key}", "DELETE", volumes, "metadata_delete"),
        ("/snapshots", "GET", snapshots, "index"),
        ("/snapshots", "POST", snapshots, "create"),
        ("/snapshots/detail", "GET", snapshots, "detail"),
        ("/snapshots/{id}", "GET", snapshots, "show"),
        ("/snapshots/{id}", "PUT", snapshots, "update"),
        ("/snapshots/{id}", "DELETE", snapshots, "delete"),
        ("/snapshots/{id}/action", "POST", snapshots, "action"),
        ("/attachments", "GET", attachments, "index"),
        ("/attachments", "POST", attachments, "create"),
        ("/attachments/detail", "GET", attachments, "detail"),
        ("/attachments/{id}", "GET", attachments, "show"),
        ("/attachments/{id}", "PUT", attachments, "update"),
        ("/attachments/{id}", "DELETE", attachments, "delete"),
        ("/attachments/{id}/action", "POST", attachments, "action"),
        ("/types", "GET", types, "index"),
        ("/types/default", "GET", types, "default"),
        ("/types/{id}", "GET", types, "show"),
        ("/types/{id}/extra_specs", "GET", types, "extra_specs"),
        ("/os-quota-sets/{target_id}/defaults", "GET", quota_sets, "defaults"),
        ("/os-quota-sets/{target_id}", "GET", quota_sets, "show"),
        ("/os-quota-sets/{target_id}", "PUT", quota_sets, "update"),
        ("/os-quota-sets/{target_id}", "DELETE", quota_sets, "delete"),
        ("/limits", "GET", LimitsController(), "index"),
        ("/os-availability-zone", "GET", AvailabilityZonesController(), "index"),
        ("/extensions", "GET", ExtensionsController(), "index"),
        ("/os-services", "GET", ServicesController(), "index"),
        ("/scheduler-stats/get_pools", "GET", PoolsController(), "index"),
        ("/messages", "GET", messages, "index"),
        ("/messages/{id}", "GET", messages, "show"),
    ]


def connect(router: Router) -> None:
    router.connect(common.PREFIX, "GET", common.Versioned(VersionsController(), "root"),
                   "root", public=True)
    router.connect(V3, "GET", common.Versioned(VersionsController(), "index"), "index",
                   public=True)
    table = _table()
    for prefix in (V3, f"{V3}/{{project_id}}"):
        for path, method, controller, action in table:
            router.connect(f"{prefix}{path}", method, common.Versioned(controller, action),
                           action)
