"""[libvirt] options (the LibvirtDriver) and [image] options (where compute
fetches images from)."""

from oslo_config import cfg

libvirt_group = cfg.OptGroup("libvirt", title="LibvirtDriver options")

libvirt_opts = [
    cfg.StrOpt("connection_uri", default="qemu:///system",
               help="libvirt connection URI of the hypervisor on this host."),
    cfg.StrOpt("virt_type", default="auto", choices=["auto", "kvm", "qemu"],
               help="Domain type of guests. 'auto' uses 'kvm' only when /dev/kvm "
                    "exists, it is not the PVM flavour of KVM (/sys/module/kvm_pvm) "
                    "and the CPU has vmx or svm; otherwise 'qemu' (TCG emulation)."),
    cfg.StrOpt("instances_path", default="$state_path/instances",
               help="Where each instance gets a directory (disk, kernel, console "
                    "log). Must be traversable by the QEMU user."),
    cfg.StrOpt("snapshots_directory", default="$state_path/snapshots",
               help="Where snapshot() writes the qcow2 copy of an instance's disk; "
                    "the caller uploads and removes each file."),
    cfg.StrOpt("image_cache_path", default="$state_path/_base",
               help="Where downloaded images are cached; instance disks are "
                    "copy-on-write overlays on these files."),
    cfg.StrOpt("instance_name_template", default="instance-%(uuid)s",
               help="Name of an instance's domain: formatted with its integer id "
                    "when the template takes one (Nova's 'instance-%08x'), else with "
                    "%(id)s, %(uuid)s and %(hostname)s. The default is unique across "
                    "deployments; an id-based name is unique only within one "
                    "database, so it collides with a guest another deployment (or a "
                    "removed state directory) left on the same libvirtd."),
    cfg.IntOpt("tb_cache_mb", default=32, min=0,
               help="TCG translation block cache (MiB) per guest when virt_type is "
                    "qemu; smaller cuts QEMU's memory use. 0 keeps QEMU's default."),
    cfg.IntOpt("shutdown_timeout", default=30, min=0,
               help="Seconds a SOFT reboot waits for the guest to shut down "
                    "(ACPI or guest agent) before it resets it the hard way."),
    cfg.BoolOpt("serial_console", default=False,
                help="Give each guest's serial port a TCP socket on "
                     "serial_listen (a port from serial_port_range) that a serial "
                     "console proxy connects to (get_serial_console), instead of a "
                     "pty. The console log is kept either way. Off: no guest console "
                     "is reachable over the network."),
    cfg.StrOpt("serial_port_range", default="10000:20000", regex=r"^\d+:\d+$",
               help="MIN:MAX, the TCP ports guests' serial consoles may listen on."),
    cfg.HostAddressOpt("serial_listen", default="127.0.0.1",
                       help="Address guests' serial consoles listen on; the serial "
                            "console proxy must reach it (Nova's [serial_console] "
                            "proxyclient_address)."),
    cfg.IntOpt("agent_timeout", default=10, min=1,
               help="Seconds to wait for the guest agent's answer to one command "
                    "(file system freeze for a snapshot, set password)."),
    cfg.StrOpt("disk_cachemode", default="writeback",
               choices=["none", "writethrough", "writeback", "directsync", "unsafe"],
               help="QEMU cache mode of instance disks. writeback (measured: boots "
                    "faster under TCG than none) relies on the guest flushing."),
    cfg.HostAddressOpt("live_migration_inbound_addr",
                       help="Address other hosts reach this host's libvirtd and the "
                            "incoming QEMU migration stream (and its disk copy) at, for a "
                            "live migration TO this host (Nova's option of that name). "
                            "Unset: [DEFAULT] my_ip. The source connects to "
                            "qemu+<live_migration_scheme>://<this address>/system."),
    cfg.StrOpt("live_migration_scheme", default="tcp", choices=["tcp", "tls", "ssh"],
               help="Transport of the libvirt URI a source host uses to reach a "
                    "destination's libvirtd in a live migration (Nova's option of that "
                    "name): qemu+<scheme>://<destination's inbound address>/system."),
    cfg.IntOpt("live_migration_completion_timeout", default=800, min=0,
               help="Seconds per GiB of guest RAM (at least 120 s in all) a live "
                    "migration may run before the source aborts it (the guest keeps "
                    "running there); 0: no limit. As Nova's option of that name."),
    cfg.IntOpt("live_migration_bandwidth", default=0, min=0,
               help="Most MiB/s a live migration (memory and disks) may use; 0: as "
                    "fast as it can. As Nova's option of that name."),
]

image_group = cfg.OptGroup("image", title="Image service client options")

image_opts = [
    cfg.URIOpt("api_url", default="http://127.0.0.1:8774/image", schemes=["http", "https"],
               help="Root of the Image API that compute hosts download images "
                    "from ({api_url}/v2/images/{id} and .../file), e.g. "
                    "http://controller:8774/image."),
    cfg.IntOpt("download_timeout", default=60, min=1,
               help="Seconds an image download may wait for the next bytes."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(libvirt_group)
    conf.register_opts(libvirt_opts, group=libvirt_group)
    conf.register_group(image_group)
    conf.register_opts(image_opts, group=image_group)


def list_opts() -> dict:
    return {libvirt_group: libvirt_opts, image_group: image_opts}
