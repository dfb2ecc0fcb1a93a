"""The conductor's part for resize, cold migration, evacuation and live migration orchestration.

A mixin of ConductorManager (novalite/conductor/manager.py).
"""

from __future__ import annotations


class ConductorMoveTasks:
    """Conductor-side resize, cold migration, evacuation and live migration orchestration."""
