"""How libvirt's domain states and reasons map to Nova's power states
(the real guests' paused and suspended states are in the driver contract)."""

from __future__ import annotations

import libvirt
import pytest

from novalite.virt import power_state
from novalite.virt.libvirt.guest import power_state_of


@pytest.mark.parametrize("state, reason, managed_save, expected", [
    (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED, False, power_state.RUNNING),
    (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PAUSED_USER, False, power_state.PAUSED),
    (libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_SAVED, True, power_state.SUSPENDED),
    (libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED, False,
     power_state.SHUTDOWN),
    (libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_CRASHED, False, power_state.CRASHED),
    (libvirt.VIR_DOMAIN_CRASHED, libvirt.VIR_DOMAIN_CRASHED_PANICKED, False,
     power_state.CRASHED),
    (libvirt.VIR_DOMAIN_PMSUSPENDED, 0, False, power_state.SUSPENDED),
    (libvirt.VIR_DOMAIN_BLOCKED, 0, False, power_state.RUNNING),
    (99, 0, False, power_state.NOSTATE),
], ids=["running", "paused", "managed-save", "shutoff", "crashed-destroyed", "crashed-kept",
        "pm-suspended", "blocked", "unknown"])
def test_power_state_of(state: int, reason: int, managed_save: bool, expected: int) -> None:
    assert power_state_of(state, reason, managed_save) == expected
