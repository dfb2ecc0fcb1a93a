"""Stable states of an instance (what it is), as in Nova."""

ACTIVE = "active"
BUILDING = "building"
STOPPED = "stopped"
ERROR = "error"
DELETED = "deleted"

ALLOW_HARD_REBOOT = (ACTIVE, STOPPED, ERROR)
ALLOW_SOFT_REBOOT = (ACTIVE,)
