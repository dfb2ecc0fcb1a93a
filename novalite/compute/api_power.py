"""The compute API's part for pause/unpause, suspend/resume, rescue/unrescue, lock/unlock, changePassword, trigger_crash_dump, remote consoles.

A mixin of novalite.compute.api.API (which keeps create, read, delete and
the seed's power actions): validates against state, records the action and
hands the work to the conductor or the instance's host.
"""

from __future__ import annotations


class PowerActionsAPI:
    """API-side pause/unpause, suspend/resume, rescue/unrescue, lock/unlock, changePassword, trigger_crash_dump, remote consoles."""
