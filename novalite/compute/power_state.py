"""Power states: re-exported from the driver contract
(``novalite.virt.power_state``), where they are defined."""

from novalite.virt.power_state import (
    CRASHED,
    NOSTATE,
    PAUSED,
    RUNNING,
    SHUTDOWN,
    STATE_MAP,
    SUSPENDED,
)

__all__ = ["CRASHED", "NOSTATE", "PAUSED", "RUNNING", "SHUTDOWN", "STATE_MAP", "SUSPENDED"]
