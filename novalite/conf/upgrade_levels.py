"""[upgrade_levels] options: RPC version pins during rolling upgrades."""

from oslo_config import cfg

upgrade_group = cfg.OptGroup("upgrade_levels", title="RPC version pins")

upgrade_opts = [
    cfg.StrOpt("compute",
               help="Highest compute RPC version to send: a version such as "
                    "'6.0', or 'auto' for the lowest version among running "
                    "compute services. Unset sends the newest."),
    cfg.StrOpt("conductor", help="Highest conductor RPC version to send."),
    cfg.StrOpt("scheduler", help="Highest scheduler RPC version to send."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(upgrade_group)
    conf.register_opts(upgrade_opts, group=upgrade_group)


def list_opts() -> dict:
    return {upgrade_group: upgrade_opts}
