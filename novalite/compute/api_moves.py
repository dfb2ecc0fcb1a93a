"""The compute API's part for resize / confirmResize / revertResize, migrate, evacuate, live migration and migrations.

A mixin of novalite.compute.api.API (which keeps create, read, delete and
the seed's power actions): validates against state, records the action and
hands the work to the conductor or the instance's host.
"""

from __future__ import annotations


class MoveActionsAPI:
    """API-side resize / confirmResize / revertResize, migrate, evacuate, live migration and migrations."""
