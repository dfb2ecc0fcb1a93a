"""[DEFAULT] options: identity of this service and what it loads."""

import socket

from oslo_config import cfg

service_opts = [
    cfg.StrOpt("host", default=socket.gethostname(), sample_default="<hostname>",
               help="Name of this node. Compute services are addressed by it "
                    "(topic compute.<host>); it must be unique among them."),
    cfg.StrOpt("state_path", default="/var/lib/novalite",
               help="Top-level directory for novalite's state (SQLite file, "
                    "images, instances)."),
    cfg.StrOpt("compute_topic", default="compute",
               help="RPC topic compute services listen on."),
    cfg.StrOpt("conductor_topic", default="conductor",
               help="RPC topic conductor services listen on."),
    cfg.StrOpt("scheduler_topic", default="scheduler",
               help="RPC topic scheduler services listen on."),
    cfg.StrOpt("compute_manager", default="novalite.compute.manager.ComputeManager",
               help="Full class name of the manager for the compute service."),
    cfg.StrOpt("compute_driver", default="fake.FakeDriver",
               help="Virt driver to load, by its entry-point name in the "
                    "novalite.virt namespace, e.g. fake.FakeDriver."),
    cfg.StrOpt("auth_strategy", default="novalite",
               choices=[("novalite", "the built-in identity service ([identity]) "
                                     "issues and validates tokens"),
                        ("keystone", "an external Keystone validates tokens "
                                     "(keystonemiddleware, [keystone_authtoken])"),
                        ("noauth", "no authentication: the caller is whoever the "
                                   "X-User-Id/X-Project-Id/X-Roles headers say, "
                                   "admin by default (tests only)")],
               help="How API requests are authenticated."),
    cfg.IntOpt("report_interval", default=10, min=1,
               help="Seconds between service heartbeats (and compute node "
                    "resource reports)."),
    cfg.IntOpt("service_down_time", default=60, min=1,
               help="A service whose last heartbeat is older than this many "
                    "seconds is considered down."),
    cfg.StrOpt("default_availability_zone", default="nova",
               help="Availability zone of compute hosts."),
    cfg.FloatOpt("cpu_allocation_ratio", default=16.0, min=0.0,
                 help="Virtual CPU to physical CPU allocation ratio."),
    cfg.FloatOpt("ram_allocation_ratio", default=1.5, min=0.0,
                 help="Virtual RAM to physical RAM allocation ratio."),
    cfg.FloatOpt("disk_allocation_ratio", default=1.0, min=0.0,
                 help="Virtual disk to physical disk allocation ratio."),
    cfg.IntOpt("rpc_call_timeout", default=60, min=1,
               help="Seconds an RPC call waits for its answer."),
    cfg.IntOpt("shelved_offload_time", default=0, min=-1,
               help="Seconds a shelved server keeps its host before it is offloaded "
                    "(guest destroyed, host's resources freed; Nova's option): 0 "
                    "offloads at once, -1 never (shelveOffload still does), a positive "
                    "value lets the compute's periodic task offload it after that long."),
    cfg.IntOpt("shelved_poll_interval", default=3600, min=-1,
               help="Seconds between the compute's checks for shelved servers whose "
                    "shelved_offload_time has passed (Nova's option); <= 0 never."),
    cfg.ListOpt("non_inheritable_image_properties", default=["cache_in_nova", "bittorrent"],
                help="Image properties a snapshot (createImage, createBackup, shelve) "
                     "does not inherit from the server's base image (Nova's option; "
                     "signature and encryption key properties are never inherited)."),
]



backdoor_group = cfg.OptGroup("backdoor", title="Debug backdoor")
backdoor_opts = [
    cfg.StrOpt("socket_path", default=None,
               help="Enable the debug backdoor (a Python console, via manhole) on "
                    "this unix socket path, created with mode 0600; '{pid}' is "
                    "replaced by the process id. Off when unset. There is no TCP "
                    "variant: a socket file cannot be reached from the network."),
]

conductor_group = cfg.OptGroup("conductor", title="Conductor options")
conductor_opts = [
    cfg.IntOpt("workers", default=1, min=1,
               help="Conductor worker processes (ProcessLauncher when > 1)."),
    cfg.IntOpt("scheduling_timeout", default=600, min=1,
               help="Seconds an instance may wait unscheduled before the "
                    "conductor's deadline check puts it in ERROR."),
    cfg.IntOpt("call_timeout", default=120, min=1,
               help="Seconds one attempt of a call to the conductor (object "
                    "persistence, addresses) waits for its answer. Longer than "
                    "rpc_call_timeout on purpose: a call made while no conductor "
                    "runs waits in the conductor's durable queue, so builds in "
                    "flight wait out a conductor restart shorter than this instead "
                    "of failing."),
    cfg.IntOpt("call_attempts", default=3, min=1,
               help="Attempts of a call to the conductor before it fails: a "
                    "conductor stopping at that moment can drop a call it had "
                    "received, and only sending it again gets an answer. Heartbeats "
                    "are not repeated (the next one follows) and wait "
                    "report_interval seconds at most."),
]


def register_conductor_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(conductor_group)
    conf.register_opts(conductor_opts, group=conductor_group)


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(service_opts)
    register_conductor_opts(conf)
    conf.register_group(backdoor_group)
    conf.register_opts(backdoor_opts, group=backdoor_group)


def list_opts() -> dict:
    return {"DEFAULT": service_opts, conductor_group: conductor_opts,
            backdoor_group: backdoor_opts}
