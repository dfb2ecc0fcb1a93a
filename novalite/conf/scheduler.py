"""[scheduler] options."""

from oslo_config import cfg

scheduler_group = cfg.OptGroup("scheduler", title="Scheduler options")

scheduler_opts = [
    cfg.IntOpt("max_attempts", default=3, min=1,
               help="Hosts a build is tried on (first try plus reschedules) "
                    "before it ends in ERROR."),
    cfg.ListOpt("enabled_filters",
                default=["ComputeFilter", "AvailabilityZoneFilter", "RamFilter",
                         "DiskFilter", "CoreFilter", "ServerGroupAntiAffinityFilter",
                         "ServerGroupAffinityFilter", "SameHostFilter",
                         "DifferentHostFilter"],
                help="Filters a host must pass, by entry-point name in "
                     "novalite.scheduler.filters, applied in this order."),
    cfg.ListOpt("weighers", default=["RAMWeigher", "CPUWeigher", "DiskWeigher",
                                     "ServerGroupSoftAffinityWeigher",
                                     "ServerGroupSoftAntiAffinityWeigher"],
                help="Weighers ranking the hosts that passed, by entry-point "
                     "name in novalite.scheduler.weighers."),
    cfg.IntOpt("host_subset_size", default=1, min=1,
               help="Pick randomly among this many best hosts, to spread "
                    "concurrent requests."),
    cfg.IntOpt("host_state_max_age_ms", default=1000, min=0,
               help="How old, in milliseconds, the scheduler's view of the "
                    "compute hosts may be when a request arrives: a request "
                    "is answered from a read of every host's service and node "
                    "that began at most this long before it arrived. Requests "
                    "within this age share one read. What this scheduler placed "
                    "since is counted in either way; the bound is for change "
                    "made elsewhere (a compute's resource report, a service "
                    "disabled, or down after service_down_time, 60 s). "
                    "Below the time a read takes (0.1-0.9 s under load, more "
                    "with more hosts) every request waits for one. 0 reads after "
                    "every arrival (concurrent requests still share reads)."),
    cfg.FloatOpt("ram_weight_multiplier", default=1.0,
                 help="Weight of free RAM; negative stacks instead of spreads."),
    cfg.FloatOpt("cpu_weight_multiplier", default=1.0,
                 help="Weight of free vCPUs; negative stacks instead of spreads."),
    cfg.FloatOpt("disk_weight_multiplier", default=1.0,
                 help="Weight of free disk; negative stacks instead of spreads."),
    cfg.FloatOpt("soft_affinity_weight_multiplier", default=1.0, min=0.0,
                 help="Weight of a host's servers of the request's soft-affinity "
                      "server group (more is better)."),
    cfg.FloatOpt("soft_anti_affinity_weight_multiplier", default=1.0, min=0.0,
                 help="Weight of a host's servers of the request's soft-anti-affinity "
                      "server group (fewer is better)."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(scheduler_group)
    conf.register_opts(scheduler_opts, group=scheduler_group)


def list_opts() -> dict:
    return {scheduler_group: scheduler_opts}
