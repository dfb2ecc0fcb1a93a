"""Power states as the hypervisor reports them (Nova's numeric values).

NOTE: part of the driver contract (``ComputeDriver.get_info``), so they live
in virt, below compute; ``novalite.compute.power_state`` re-exports them.
"""

NOSTATE = 0
RUNNING = 1
PAUSED = 3
SHUTDOWN = 4
CRASHED = 6
SUSPENDED = 7

STATE_MAP = {
    NOSTATE: "pending",
    RUNNING: "running",
    PAUSED: "paused",
    SHUTDOWN: "shutdown",
    CRASHED: "crashed",
    SUSPENDED: "suspended",
}
