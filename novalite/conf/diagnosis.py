"""[compute] options of the guest watcher (novalite.compute.guest_watch):
how long a started guest is followed for signs of life, and how often."""

from oslo_config import cfg

from novalite.conf.compute import compute_group

diagnosis_opts = [
    cfg.BoolOpt("guest_watch", default=True,
                help="After a build, start or reboot succeeds, follow the guest's "
                     "serial console (and its guest agent) on drivers that keep one, "
                     "and record instance action events: guest_first_console_line, "
                     "guest_address_announced, guest_agent_ready, "
                     "guest_console_diagnosis (a known boot failure on the console) "
                     "and guest_no_sign_of_life."),
    cfg.IntOpt("guest_boot_deadline", default=300, min=1,
               help="Seconds a started guest has to print on its serial console and "
                    "announce its address before a guest_no_sign_of_life event is "
                    "recorded (the server stays ACTIVE)."),
    cfg.IntOpt("guest_watch_interval", default=2, min=1,
               help="Seconds between the guest watcher's passes over the guests it "
                    "follows (one periodic task for every guest of the host)."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(compute_group)
    conf.register_opts(diagnosis_opts, group=compute_group)


def list_opts() -> dict:
    return {compute_group: diagnosis_opts}
