"""[fake_driver] options: the in-memory FakeDriver's size and speed."""

from oslo_config import cfg

fake_group = cfg.OptGroup("fake_driver", title="FakeDriver options")

fake_opts = [
    cfg.IntOpt("vcpus", default=64, min=1, help="vCPUs the fake host has."),
    cfg.IntOpt("memory_mb", default=262144, min=1, help="RAM (MiB) the fake host has."),
    cfg.IntOpt("local_gb", default=4096, min=1, help="Disk (GiB) the fake host has."),
    cfg.FloatOpt("spawn_delay", default=0.0, min=0.0,
                 help="Seconds spawn() takes, to imitate a real boot."),
    cfg.FloatOpt("live_migration_delay", default=0.0, min=0.0,
                 help="Seconds a live migration takes on the fake (its migration is "
                      "'running' meanwhile: force_complete ends it at once, an abort "
                      "cancels it)."),
    cfg.FloatOpt("hang_seconds", default=3600.0, min=0.0,
                 help="How long HangingSpawnDriver's spawn() hangs."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(fake_group)
    conf.register_opts(fake_opts, group=fake_group)


def list_opts() -> dict:
    return {fake_group: fake_opts}
