"""The compute manager's part for resize, cold migration, evacuation and live migration.

A mixin of ComputeManager (novalite/compute/manager.py keeps the seed's
entry points; each family of operations lives in a module of its own, as
STYLE.md asks). The RPC methods here are served by ComputeManager's target.
"""

from __future__ import annotations


class ComputeMoveActions:
    """Host-side resize, cold migration, evacuation and live migration."""
