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
    cfg.IntOpt("max_request_body_size", default=1024 * 1024, min=1024,
               help="Most bytes a request body may have (all JSON requests). A route "
                    "may declare more for authenticated callers: the image data "
                    "upload takes up to [image_api] image_size_cap. A larger body is "
                    "refused with 413, in the API's error format, before it is read "
                    "(the connection is then closed)."),
    cfg.IntOpt("connection_limit", default=1000, min=10,
               help="Most client connections the API holds open. When it is reached, "
                    "the longest-idle keep-alive connections are closed to make room "
                    "for new clients; only when none is idle does the API stop "
                    "accepting until one closes. Each connection needs a file "
                    "descriptor."),
    cfg.IntOpt("client_socket_timeout", default=60, min=1,
               help="Seconds a client connection may stay idle (an idle keep-alive, "
                    "or a request body that stopped arriving) before the API closes "
                    "it."),
    cfg.IntOpt("header_timeout", default=30, min=1,
               help="Seconds a client may take to send a request line and its "
                    "headers, however slowly the bytes trickle in; then the "
                    "connection is closed (a slowloris client cannot hold it)."),
    cfg.BoolOpt("enable_instance_password", default=True,
                help="Return the admin password in the answers of server create, "
                     "rebuild and rescue (as Nova's option). False: rescue answers "
                     "an empty body."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(api_group)
    conf.register_opts(api_opts, group=api_group)


def list_opts() -> dict:
    return {api_group: api_opts}
