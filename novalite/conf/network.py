"""[network] options: flat networks on Linux bridges."""

from oslo_config import cfg

network_group = cfg.OptGroup("network", title="Flat networking options")

network_opts = [
    cfg.StrOpt("default_network_name", default="private",
               help="Network a server gets when it asks for 'auto' (or names "
                    "none): this one, else the only network there is."),
    cfg.BoolOpt("create_default_network", default=True,
                help="The all-in-one creates the default network at start when "
                     "no network exists."),
    cfg.StrOpt("default_cidr", default="10.77.0.0/24",
               help="CIDR of the network the all-in-one creates."),
    cfg.StrOpt("default_bridge", default="nlbr0",
               help="Linux bridge of the network the all-in-one creates."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(network_group)
    conf.register_opts(network_opts, group=network_group)


def list_opts() -> dict:
    return {network_group: network_opts}
