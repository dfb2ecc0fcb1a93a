"""[timeline] options: the build and action timeline (instance action events
per step, novalite/compute/timeline.py)."""

from oslo_config import cfg

timeline_group = cfg.OptGroup(
    "timeline", title="Timeline options",
    help="Every step of a server's build (quota checked, scheduled, network "
         "allocated, image fetched, disk created, domain defined and started, ...) "
         "recorded as an instance action event with its start, finish, result and "
         "a reason a user can act on.")

timeline_opts = [
    cfg.BoolOpt("enabled", default=True,
                help="Record each step of a build and of an action as an instance "
                     "action event (and its duration in the "
                     "novalite_instance_step_seconds metric). False records only the "
                     "coarse events (compute__build_instance, compute_stop_instance, "
                     "...)."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(timeline_group)
    conf.register_opts(timeline_opts, group=timeline_group)


def list_opts() -> dict:
    return {timeline_group: timeline_opts}
