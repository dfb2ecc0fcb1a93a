"""[metrics] options: the Prometheus metrics of each process (``/metrics``)."""

from oslo_config import cfg

metrics_group = cfg.OptGroup(
    "metrics", title="Metrics options",
    help="Prometheus metrics: the API serves them on GET /metrics (a token is needed; "
         "only an admin sees host and process series); a compute service in its own "
         "process can serve its own on a listener of its own.")

metrics_opts = [
    cfg.BoolOpt("enabled", default=True,
                help="Record metrics (API and RPC latency, step durations, per-instance "
                     "counters). False records nothing; /metrics then answers the "
                     "cloud-wide gauges read from the database only."),
    cfg.IntOpt("instance_stats_interval", default=60, min=0,
               help="Seconds between two readings of the per-instance counters (CPU "
                    "time, memory, disk and network) from the hypervisor on a compute "
                    "host; one bulk query per pass. 0 never reads them."),
    cfg.HostAddressOpt("compute_listen", default="127.0.0.1",
                       help="Address on which a compute service serves its own /metrics "
                            "when compute_listen_port is set."),
    cfg.PortOpt("compute_listen_port", default=0,
                help="Port of a compute service's own /metrics listener (Prometheus "
                     "text, no authentication: bind it to an address only the "
                     "monitoring system reaches). 0: no listener; in the all-in-one "
                     "the API's /metrics already has the compute's series."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(metrics_group)
    conf.register_opts(metrics_opts, group=metrics_group)


def list_opts() -> dict:
    return {metrics_group: metrics_opts}
