"""[quota] options: the default limits of every project (Nova's names and values)."""

from oslo_config import cfg

quota_group = cfg.OptGroup("quota", title="Quota options",
                           help="Default limits of each project; a project's own limits "
                                "(os-quota-sets) override them. -1 means unlimited.")

quota_opts = [
    cfg.IntOpt("instances", default=10, min=-1,
               help="Servers a project may have."),
    cfg.IntOpt("cores", default=20, min=-1,
               help="Virtual CPUs a project's servers may have in total."),
    cfg.IntOpt("ram", default=51200, min=-1,
               help="Megabytes of RAM a project's servers may have in total."),
    cfg.IntOpt("metadata_items", default=128, min=-1,
               help="Metadata items a server may have."),
    cfg.IntOpt("injected_files", default=5, min=-1,
               help="Files a server create may inject (personality)."),
    cfg.IntOpt("injected_file_content_bytes", default=10240, min=-1,
               help="Bytes an injected file may have."),
    cfg.IntOpt("injected_file_path_length", default=255, min=-1,
               help="Characters an injected file's path may have."),
    cfg.IntOpt("key_pairs", default=100, min=-1,
               help="Key pairs a user may have."),
    cfg.IntOpt("server_groups", default=10, min=-1,
               help="Server groups a project may have."),
    cfg.IntOpt("server_group_members", default=10, min=-1,
               help="Servers a server group may have."),
    cfg.BoolOpt("recheck_quota", default=True,
                help="Count usage again after new servers are recorded and refuse the "
                     "request if racing creates took the project over its limit (as "
                     "Nova's recheck_quota). Without it, concurrent creates may exceed "
                     "the limit by a few."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(quota_group)
    conf.register_opts(quota_opts, group=quota_group)


def list_opts() -> dict:
    return {quota_group: quota_opts}
