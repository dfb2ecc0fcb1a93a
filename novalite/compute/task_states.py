"""Transitional states of an instance (what is being done to it).

Every task state has a deadline (``[compute] build_timeout`` for the build
states, ``task_timeout`` for the others) after which the deadline check puts
the instance in ERROR with a fault, so nothing stays transitional.
"""

# build
SCHEDULING = "scheduling"
NETWORKING = "networking"
BLOCK_DEVICE_MAPPING = "block_device_mapping"
SPAWNING = "spawning"
# power
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
REBOOTING = "rebooting"
REBOOTING_HARD = "rebooting_hard"
# delete
DELETING = "deleting"

BUILD_STATES = (SCHEDULING, NETWORKING, BLOCK_DEVICE_MAPPING, SPAWNING)
