"""Which instance-action event of compute is which of Nova's versioned
notifications.

The compute manager records each step as an instance-action event
(``compute_<method>``, Nova's names); the step's start, success and failure
are Nova's ``instance.<action>.start``, ``.end`` and ``.error``. Nova emits
some actions from two steps (a revert starts on the destination and ends on
the source): their ``phases`` say which step emits which phase.
"""

from __future__ import annotations

import dataclasses

from novalite.notifications import payloads

START, END, ERROR = "start", "end", "error"
ALL = frozenset((START, END, ERROR))


@dataclasses.dataclass(frozen=True)
class Emits:
    action: str
    phases: frozenset[str] = ALL


# NOTE: compute's event name → the notification (Nova's event types, as
# nova/compute/manager.py emits them around the same steps).
BY_EVENT: dict[str, Emits] = {
    "compute_terminate_instance": Emits("delete"),
    "compute_stop_instance": Emits("power_off"),
    "compute_start_instance": Emits("power_on"),
    "compute_reboot_instance": Emits("reboot"),
    "compute_pause_instance": Emits("pause"),
    "compute_unpause_instance": Emits("unpause"),
    "compute_suspend_instance": Emits("suspend"),
    "compute_resume_instance": Emits("resume"),
    "compute_rescue_instance": Emits("rescue"),
    "compute_unrescue_instance": Emits("unrescue"),
    "compute_snapshot_instance": Emits("snapshot"),
    # NOTE: as Nova's backup_instance, which snapshots through _snapshot_instance.
    "compute_backup_instance": Emits("snapshot"),
    "compute_shelve_instance": Emits("shelve"),
    "compute_shelve_offload_instance": Emits("shelve_offload"),
    "compute_unshelve_instance": Emits("unshelve"),
    "compute_rebuild_instance": Emits("rebuild"),
    "compute_prep_resize": Emits("resize_prep"),
    "compute_resize_instance": Emits("resize"),
    "compute_finish_resize": Emits("resize_finish"),
    "compute_confirm_resize": Emits("resize_confirm"),
    "compute_revert_resize": Emits("resize_revert", frozenset((START, ERROR))),
    "compute_finish_revert_resize": Emits("resize_revert", frozenset((END, ERROR))),
    "compute_pre_live_migration": Emits("live_migration_pre"),
    "compute_live_migration": Emits("live_migration_post", frozenset((END, ERROR))),
    "compute_post_live_migration_at_destination": Emits("live_migration_post_dest"),
    "compute_live_migration_force_complete": Emits("live_migration_force_complete"),
    "compute_live_migration_abort": Emits("live_migration_abort"),
    "compute_attach_volume": Emits("volume_attach"),
    "compute_detach_volume": Emits("volume_detach"),
    "compute_attach_interface": Emits("interface_attach"),
    "compute_detach_interface": Emits("interface_detach"),
    "compute_trigger_crash_dump": Emits("trigger_crash_dump"),
}

# NOTE: steps that change the instance's addresses: their .end reads them
# again (not what the action read before the step).
CHANGES_NETWORK = frozenset(("compute_attach_interface", "compute_detach_interface"))

# NOTE: the payload of each action whose payload is not InstanceActionPayload
# (Nova's notification classes in nova/notifications/objects/instance.py).
PAYLOADS: dict[str, type[payloads.InstanceActionPayload]] = {
    "create": payloads.InstanceCreatePayload,
    "rebuild": payloads.InstanceActionRebuildPayload,
    "resize_prep": payloads.InstanceActionResizePrepPayload,
    "snapshot": payloads.InstanceActionSnapshotPayload,
    "rescue": payloads.InstanceActionRescuePayload,
    "volume_attach": payloads.InstanceActionVolumePayload,
    "volume_detach": payloads.InstanceActionVolumePayload,
}


def payload_class(action: str) -> type[payloads.InstanceActionPayload]:
    return PAYLOADS.get(action, payloads.InstanceActionPayload)


def for_event(event: str, phase: str) -> str | None:
    """The Nova action a compute event's ``phase`` notifies, or None."""
    emits = BY_EVENT.get(event)
    if emits is None or phase not in emits.phases:
        return None
    return emits.action
