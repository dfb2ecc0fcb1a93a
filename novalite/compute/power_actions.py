"""The compute manager's part for pause/unpause, suspend/resume, rescue/unrescue, lock-free host-side power and access actions (changePassword, trigger_crash_dump).

A mixin of ComputeManager (novalite/compute/manager.py keeps the seed's
entry points; each family of operations lives in a module of its own, as
STYLE.md asks). The RPC methods here are served by ComputeManager's target.
"""

from __future__ import annotations


class ComputePowerActions:
    """Host-side pause/unpause, suspend/resume, rescue/unrescue, lock-free host-side power and access actions (changePassword, trigger_crash_dump)."""
