"""[volume] options: the volume service (novalite-volume), its file backend
and the Block Storage API's quota defaults (Cinder's names and values)."""

from oslo_config import cfg

volume_group = cfg.OptGroup("volume", title="Volume service options",
                            help="The volume service (novalite-volume): its file "
                                 "backend, attachments and the Block Storage API's "
                                 "default quotas.")

volume_opts = [
    cfg.StrOpt("topic", default="volume",
               help="RPC topic of the volume services (each also listens on "
                    "<topic>.<host>)."),
    cfg.StrOpt("backend", default="file", choices=["file"],
               help="Where volumes live. 'file': a sparse raw file per volume "
                    "in storage_dir."),
    cfg.StrOpt("storage_dir", default=None,
               help="Directory of the file backend's volumes and snapshots. "
                    "Default: <state_path>/volumes."),
    cfg.IntOpt("capacity_gb", default=100, min=1,
               help="Gibibytes this volume host offers (the file backend's "
                    "pool size, before over-subscription)."),
    cfg.FloatOpt("max_over_subscription_ratio", default=20.0, min=1.0,
                 help="Cinder's option: the gibibytes of volumes and snapshots "
                      "this host may hold are capacity_gb times this (files are "
                      "sparse: only written blocks take space)."),
    cfg.BoolOpt("local_attach", default=True,
                help="A compute service on this volume host reaches a volume "
                     "as its file (connection_info 'local') instead of over an "
                     "NBD export."),
    cfg.StrOpt("export_address", default=None,
               help="Address computes reach this host's NBD exports at. "
                    "Default: [DEFAULT] my_ip."),
    cfg.PortOpt("export_port_min", default=10809,
                help="First TCP port of the NBD exports (one per attachment)."),
    cfg.PortOpt("export_port_max", default=10999,
                help="Last TCP port of the NBD exports."),
    cfg.StrOpt("availability_zone", default="nova",
               help="Availability zone of this volume host (Cinder's "
                    "storage_availability_zone)."),
    cfg.BoolOpt("image_local_read", default=True,
                help="Read an image's data from the image store's file when this "
                     "host has it (the all-in-one, a volume host beside the API); "
                     "otherwise, and when this is off, download it through the "
                     "Image API ([image] api_url) with the requester's token."),
    cfg.IntOpt("copy_timeout", default=3600, min=1,
               help="Seconds a qemu-img copy (from an image, a snapshot or "
                    "another volume) may take."),
    cfg.IntOpt("create_timeout", default=3600, min=1,
               help="Seconds an RPC create of a volume (boot from volume) waits "
                    "for the volume to become available."),
    cfg.IntOpt("quota_volumes", default=10, min=-1,
               help="Volumes a project may have (Cinder's default)."),
    cfg.IntOpt("quota_gigabytes", default=1000, min=-1,
               help="Gibibytes of volumes and snapshots a project may have."),
    cfg.IntOpt("quota_snapshots", default=10, min=-1,
               help="Snapshots a project may have."),
    cfg.IntOpt("quota_per_volume_gigabytes", default=-1, min=-1,
               help="The largest volume a project may create, in gibibytes "
                    "(-1: no limit)."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(volume_group)
    conf.register_opts(volume_opts, group=volume_group)


def list_opts() -> dict:
    return {volume_group: volume_opts}
