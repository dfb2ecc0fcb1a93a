"""[compute] options: build concurrency and the deadlines of transitional states."""

from oslo_config import cfg

compute_group = cfg.OptGroup("compute", title="Compute service options")

compute_opts = [
    cfg.IntOpt("max_concurrent_builds", default=10, min=1,
               help="Builds this compute host runs at the same time."),
    cfg.IntOpt("build_timeout", default=600, min=1,
               help="Seconds an instance may stay in BUILDING before the "
                    "deadline check moves it to ERROR with a fault."),
    cfg.IntOpt("task_timeout", default=300, min=1,
               help="Seconds a stop/start/reboot/delete may keep a task state "
                    "before the deadline check clears it (and records a fault)."),
    cfg.IntOpt("deadline_check_interval", default=30, min=1,
               help="Seconds between runs of the transitional-state deadline check."),
    cfg.IntOpt("sync_power_state_interval", default=60, min=1,
               help="Seconds between syncs of power states from the driver."),
    cfg.BoolOpt("reap_orphans", default=False,
                help="At start, destroy guests on this host that belong to no "
                     "instance (otherwise they are only reported in the log)."),
    cfg.StrOpt("running_deleted_instance_action", default="reap",
               choices=[("reap", "destroy the guest and say so in the log"),
                        ("log", "only log it"), ("noop", "do nothing")],
               help="What this compute host does with a guest whose instance was "
                    "deleted (e.g. while the host looked down and the API deleted "
                    "it locally), at start and every "
                    "running_deleted_instance_poll_interval seconds."),
    cfg.IntOpt("running_deleted_instance_poll_interval", default=1800, min=1,
               help="Seconds between checks for guests of deleted instances."),
    cfg.IntOpt("queued_build_grace", default=30, min=0,
               help="After a restart, seconds a build this host was chosen for "
                    "(still scheduling) may wait for its request from the durable "
                    "queue before it ends in ERROR with a fault."),
    cfg.IntOpt("build_drain_timeout", default=30, min=0,
               help="On SIGTERM, seconds to let builds in flight finish before "
                    "they are put in ERROR with a fault."),
    cfg.IntOpt("guest_shutdown_timeout", default=60, min=0,
               help="On stop, seconds a guest gets to shut down cleanly (ACPI) "
                    "before it is powered off."),
    cfg.BoolOpt("force_config_drive", default=True,
                help="Give every instance a config drive, asked for or not. The "
                     "guest reads its network configuration (network_data.json) "
                     "from it: without one, a guest has no address."),
    cfg.IntOpt("agent_timeout", default=120, min=1,
               help="Seconds file injection through the QEMU guest agent may take "
                    "after spawn (the guest agent starts with the guest's boot)."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(compute_group)
    conf.register_opts(compute_opts, group=compute_group)


def list_opts() -> dict:
    return {compute_group: compute_opts}
