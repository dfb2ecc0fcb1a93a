"""[metadata] options: the metadata service (novalite/api/metadata/), which
answers guests through the per-network metadata proxies."""

from oslo_config import cfg

metadata_group = cfg.OptGroup(
    "metadata", title="Metadata service options",
    help="The metadata service serves each instance its OpenStack and EC2 metadata "
         "(the same content as its config drive). Guests reach it only through a "
         "per-network metadata proxy at 169.254.169.254, which signs the network id "
         "and the guest's address with metadata_proxy_shared_secret.")

metadata_opts = [
    cfg.HostAddressOpt("listen", default="127.0.0.1",
                       help="Address the metadata service listens on (Nova's "
                            "metadata_listen). Only the metadata proxies need to "
                            "reach it."),
    cfg.PortOpt("port", default=8775,
                help="Port the metadata service listens on (Nova's metadata_listen_port)."),
    cfg.StrOpt("metadata_proxy_shared_secret", default="", secret=True,
               help="Secret the metadata proxies sign each request with (hex "
                    "HMAC-SHA256 of '<network id> <guest address>'); a request "
                    "without a valid signature is refused (403). Empty: "
                    "novalite-all-in-one generates one into <state-dir>/"
                    "metadata-secret (0600); novalite-metadata-api refuses to start."),
    cfg.StrOpt("dhcp_domain", default="",
               help="Domain appended to the instance hostname in the metadata "
                    "(Nova's [api] dhcp_domain, whose default is 'novalocal'). "
                    "Empty: the bare hostname."),
    cfg.IntOpt("threads", default=4, min=1,
               help="Worker threads of the metadata service."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(metadata_group)
    conf.register_opts(metadata_opts, group=metadata_group)


def list_opts() -> dict[cfg.OptGroup, list[cfg.Opt]]:
    return {metadata_group: metadata_opts}
