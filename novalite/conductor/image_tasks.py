"""The conductor's part for unshelve (schedule anew) and rebuild orchestration.

A mixin of ConductorManager (novalite/conductor/manager.py).
"""

from __future__ import annotations


class ConductorImageTasks:
    """Conductor-side unshelve (schedule anew) and rebuild orchestration."""
