"""Recording a create request's servers: every instance, its RequestSpec
and its block device mappings in one database transaction, with the quota
recheck (see ``novalite.db.server_records``).

NOTE: not a remotable method: only the API creates servers, and the API
has the database (a compute host calling this gets DBNotAllowed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oslo_utils import uuidutils

from novalite.db import server_records as db
from novalite.objects.block_device import BlockDeviceMapping
from novalite.objects.instance import Instance
from novalite.objects.instance_action import InstanceActionEventList
from novalite.objects.request_spec import RequestSpec

if TYPE_CHECKING:
    from novalite.context import RequestContext


def create_servers(context: RequestContext, instances: list[Instance], request_spec: RequestSpec,
                   block_devices: list[BlockDeviceMapping], project_id: str,
                   check: db.QuotaCheck | None = None,
                   first_events: dict[str, InstanceActionEventList] | None = None) -> None:
    """Record ``instances`` (given a uuid here if they have none), the spec
    of each (``request_spec`` for that instance), ``block_devices`` (each
    naming its instance's uuid) and ``first_events`` (by instance uuid: the
    first events of its ``create`` action, the timeline's first step), all
    or nothing. With ``check`` (a quota recheck,
    ``quota.server_create_check``), a refusal raises what it raises and
    nothing stays recorded. The objects get their ids."""
    for inst in instances:
        if not inst.obj_attr_is_set("uuid"):
            inst.uuid = uuidutils.generate_uuid()
    values = [inst._db_values([n for n in inst.fields if inst.obj_attr_is_set(n)])
              for inst in instances]
    specs = {inst.uuid: request_spec.for_instance(inst.uuid)._spec_json() for inst in instances}
    bdm_values = [{n: getattr(b, n) for n in b.fields if n != "id" and b.obj_attr_is_set(n)}
                  for b in block_devices]
    actions = [InstanceActionEventList.db_rows(context, uuid, "create", events)
               for uuid, events in (first_events or {}).items() if len(events)]
    rows, bdm_rows = db.server_records_create(values, specs, bdm_values, project_id, check,
                                              actions)
    for inst, row in zip(instances, rows, strict=True):
        Instance._from_db_object(context, inst, row)
    for bdm, bdm_row in zip(block_devices, bdm_rows, strict=True):
        bdm.id = bdm_row["id"]
        bdm.obj_reset_changes()
