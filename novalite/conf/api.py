"""[api] options."""

from oslo_config import cfg

api_group = cfg.OptGroup("api", title="Compute API options")

api_opts = [
    cfg.HostAddressOpt("listen", default="0.0.0.0",
                       help="Address the API listens on."),
    cfg.PortOpt("port", default=8774, help="Port the API listens on."),
    cfg.IntOpt("threads", default=16, min=1,
               help="Worker threads serving API requests."),
    cfg.IntOpt("max_limit", default=1000, min=1,
               help="Most items a collection returns in one response."),
    cfg.StrOpt("public_url", default=None,
               help="Base URL clients use to reach the API (for links); "
                    "derived from the request when unset."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(api_group)
    conf.register_opts(api_opts, group=api_group)


def list_opts() -> dict:
    return {api_group: api_opts}
