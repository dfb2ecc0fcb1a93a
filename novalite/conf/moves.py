"""Options of resize, cold migration and evacuation (Nova's names and defaults)."""

from oslo_config import cfg

from novalite.conf.compute import compute_group

default_opts = [
    cfg.BoolOpt("allow_resize_to_same_host", default=False,
                help="Allow a resize (and a cold migration) to pick the host the "
                     "instance is on. Nova's default is False; a one-compute "
                     "cloud (the all-in-one) needs True to resize at all."),
    cfg.StrOpt("my_ip", default="127.0.0.1",
               help="This host's address on the management network: the "
                    "destination of a resize or cold migration listens there "
                    "for the instance's disks (one listener per migration, "
                    "authenticated by a per-migration token)."),
]

compute_opts = [
    cfg.IntOpt("resize_confirm_window", default=0, min=0,
               help="Seconds after which a resize or cold migration waiting in "
                    "VERIFY_RESIZE is confirmed automatically (0: never)."),
    cfg.IntOpt("disk_transfer_timeout", default=300, min=1,
               help="Seconds the destination of a move waits for each of the "
                    "instance's files from the source before the move fails."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(default_opts)
    conf.register_opts(compute_opts, group=compute_group)


def list_opts() -> dict:
    return {"DEFAULT": default_opts, compute_group: compute_opts}
