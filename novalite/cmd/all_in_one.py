"""novalite-all-in-one: API, conductor, scheduler and compute in one process,
on the in-process bus and a SQLite file, with no config file needed.

On first start it makes an admin (user ``admin``, project ``admin``, role
admin) with a generated password kept in ``<state-dir>/admin-password``
(0600), and on every start it writes ``clouds.yaml`` (password auth for
that admin) and ``novalite.conf`` (what it runs with, for novalite-manage).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import sys
import time

from oslo_config import cfg
from oslo_log import log as logging

from novalite import config, filemodes, objects, service
from novalite.conf import CONF

LOG = logging.getLogger(__name__)

def _default_state_dir() -> str:
    # NOTE: root's home is 0700; QEMU (user libvirt-qemu) must reach the disks.
    if os.geteuid() == 0:
        return "/var/lib/novalite"
    return os.path.expanduser("~/.local/share/novalite")


cli_opts = [
    cfg.StrOpt("state-dir", dest="state_dir", default=_default_state_dir(),
               help="Directory for the SQLite file, images, instances, clouds.yaml "
                    "and novalite.conf."),
    cfg.PortOpt("port", help="API port (default: [api] port, 8774)."),
    cfg.StrOpt("driver", default="auto", choices=["auto", "libvirt", "fake"],
               help="Compute driver: real QEMU guests through libvirt, the "
                    "in-memory FakeDriver, or auto (libvirt when libvirtd answers)."),
    cfg.BoolOpt("stop", default=False,
                help="Stop the all-in-one running with this state directory (SIGTERM: "
                     "builds in flight finish or end in ERROR) and wait until it exited."),
]

DEFAULT_IMAGE_NAME = "novalite-tiny"
DRIVERS = {"libvirt": "libvirt.LibvirtDriver", "fake": "fake.FakeDriver"}


def _why_not_libvirt(uri: str = "qemu:///system") -> str | None:
    """Why real guests cannot run here, or None when they can."""
    try:
        import libvirt
    except ImportError:
        return ("libvirt-python is not installed (no libvirt on this host when novalite "
                "was installed)")
    if os.geteuid() != 0:
        return "it does not run as root (guests' bridges and libvirt's system daemon need root)"
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError:
        return f"libvirtd does not answer at {uri}"
    conn.close()
    return None


def _pick_driver(choice: str) -> str:
    if choice != "auto":
        return DRIVERS[choice]
    why = _why_not_libvirt()
    if why is None:
        return DRIVERS["libvirt"]
    # NOTE: one line, read by ./tools/quickstart: "FakeDriver because <why>;".
    LOG.warning("Servers are not real guests: using the FakeDriver because %s; run "
                "./tools/quickstart as root (or novalite-manage host prepare) for real "
                "QEMU guests", why)
    return DRIVERS["fake"]


PID_FILE = "all-in-one.pid"


def stop(state_dir: str, timeout: float = 120) -> int:
    """``--stop``: SIGTERM the all-in-one of ``state_dir``, wait for it."""
    path = os.path.join(state_dir, PID_FILE)
    try:
        with open(path) as f:
            pid = int(f.read().strip())
    except (FileNotFoundError, ValueError):
        print(f"no all-in-one runs with state directory {state_dir} (no {path})")
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        print(f"the all-in-one of {state_dir} (pid {pid}) is not running")
        os.unlink(path)
        return 0
    print(f"stopping the all-in-one of {state_dir} (pid {pid})...", flush=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            print("stopped; its guests keep running: delete them first "
                  "(openstack server delete), or remove them with novalite-manage "
                  "host cleanup")
            if os.path.exists(path):
                os.unlink(path)
            return 0
        time.sleep(0.2)
    print(f"pid {pid} did not exit within {timeout:.0f} s", file=sys.stderr)
    return 1


def _write_pid(state_dir: str) -> None:
    _write(os.path.join(state_dir, PID_FILE), f"{os.getpid()}\n")


def _host_checks(driver: str) -> None:
    """Refuse to start where every boot would fail, saying how to fix it."""
    from novalite import doctor

    failed: list[doctor.Check] = []
    try:
        doctor.enforce(doctor.startup_checks(driver), LOG)
    except doctor.HostCheckFailed as e:
        failed = e.failed
    if failed:
        print("novalite-all-in-one cannot start:", file=sys.stderr)
        for c in failed:
            print(f"  {c.name}: {c.message}\n  fix: {c.fix}", file=sys.stderr)
        sys.exit(1)


def _embedded_defaults(state_dir: str) -> None:
    """The embedded default: in-process bus, SQLite, loopback."""
    CONF.set_default("transport_url", "inproc://")
    CONF.set_default("state_path", state_dir)
    CONF.set_default("connection", f"sqlite:///{state_dir}/novalite.sqlite", group="database")
    CONF.set_default("listen", "127.0.0.1", group="api")
    CONF.set_default("report_interval", 5)
    CONF.set_default("auth_strategy", "novalite")
    # NOTE: serial consoles on: guests' serial ports on loopback TCP, the
    # proxy (novalite/console/serialproxy.py) in this process.
    CONF.set_default("enabled", True, group="serial_console")
    CONF.set_default("serial_console", True, group="libvirt")
    # NOTE: one compute host: resize (and a cold migration's scheduling)
    # may only pick the host the server is on, as DevStack sets it.
    CONF.set_default("allow_resize_to_same_host", True)
    # NOTE: with dataplane = vxlan, the host reaches the fixed addresses
    # behind its routers (DevStack's route to the private subnet).
    CONF.set_default("host_routes_via_routers", True, group="network")


ADMIN_USER = ADMIN_PROJECT = "admin"


def admin_password(state_dir: str) -> str:
    """The bootstrap admin's password: generated on first start, then read
    from ``<state_dir>/admin-password`` (0600)."""
    path = os.path.join(state_dir, "admin-password")
    try:
        with open(path) as f:
            password = f.read().strip()
        if password:
            return password
    except FileNotFoundError:
        pass
    password = secrets.token_urlsafe(24)
    _write(path, password + "\n")
    return password


def bootstrap_identity(state_dir: str) -> str:
    """Token keys and the admin user (kept as they are when they exist);
    the admin's password."""
    from novalite.identity import fernet, manager, passwords

    fernet.setup()
    password = admin_password(state_dir)
    admin = manager.bootstrap(password, ADMIN_USER, ADMIN_PROJECT)
    if not passwords.verify(password, admin["password_hash"]):
        # NOTE: the admin's password was changed (novalite-manage user
        # set-password): it is the operator's, so it is not reset here.
        LOG.warning("The password of user %s is not the one in %s, so the clouds.yaml "
                    "written next to it will not authenticate; run novalite-manage "
                    "--config-file %s user set-password %s --password-file %s to "
                    "make them agree", ADMIN_USER, os.path.join(state_dir, "admin-password"),
                    os.path.join(state_dir, "novalite.conf"), ADMIN_USER,
                    os.path.join(state_dir, "admin-password"))
    return password


def _yaml_str(value: str) -> str:
    # NOTE: a JSON string is a YAML string, quoted and escaped, whatever it holds.
    return json.dumps(value)


def _write_files(state_dir: str, port: int, password: str) -> None:
    host = CONF.api.listen if CONF.api.listen not in ("0.0.0.0", "::") else "127.0.0.1"
    base = f"http://{host}:{port}"
    region = CONF.identity.region_name
    clouds = (
        "clouds:\n"
        "  novalite:\n"
        "    auth_type: password\n"
        "    auth:\n"
        f"      auth_url: {_yaml_str(base + '/identity/v3')}\n"
        f"      username: {_yaml_str(ADMIN_USER)}\n"
        f"      password: {_yaml_str(password)}\n"
        f"      project_name: {_yaml_str(ADMIN_PROJECT)}\n"
        "      user_domain_name: Default\n"
        "      project_domain_name: Default\n"
        "    identity_api_version: 3\n"
        f"    region_name: {_yaml_str(region)}\n"
        "    interface: public\n"
    )
    _write(os.path.join(state_dir, "clouds.yaml"), clouds)
    conf = (
        "# Written by novalite-all-in-one: what it runs with.\n"
        "[DEFAULT]\n"
        f"state_path = {state_dir}\n"
        f"transport_url = {CONF.transport_url}\n"
        f"compute_driver = {CONF.compute_driver}\n"
        f"host = {CONF.host}\n"
        f"auth_strategy = {CONF.auth_strategy}\n"
        f"allow_resize_to_same_host = {CONF.allow_resize_to_same_host}\n"
        "[database]\n"
        f"connection = {CONF.database.connection}\n"
        "[image]\n"
        f"api_url = {CONF.image.api_url}\n"
        "[api]\n"
        f"listen = {CONF.api.listen}\n"
        f"port = {port}\n"
        "[network]\n"
        f"dataplane = {CONF.network.dataplane}\n"
        f"dataplane_prefix = {CONF.network.dataplane_prefix}\n"
        f"vni_ranges = {','.join(CONF.network.vni_ranges)}\n"
        f"host_routes_via_routers = {CONF.network.host_routes_via_routers}\n"
    )
    _write(os.path.join(state_dir, "novalite.conf"), conf)


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    os.replace(tmp, path)


def ensure_default_image(state_dir: str, driver: str) -> None:
    """Register an image on first start so a new user can boot at once: the
    tiny guest (built from Debian packages, cached) for libvirt, a 1 MiB
    placeholder for the FakeDriver."""
    from novalite import context as nl_context
    from novalite.image import api as image_api

    ctxt = nl_context.get_admin_context()
    images = image_api.API()
    existing = images.get_all(ctxt, {"name": DEFAULT_IMAGE_NAME})
    if driver == DRIVERS["libvirt"]:
        from novalite.tinyguest import builder

        for placeholder in existing:
            if "kernel_id" not in (placeholder.get("properties") or {}):
                images.delete(ctxt, placeholder["id"])
        LOG.info("Building the tiny guest image (cached after the first time)")
        builder.register(builder.build(progress=LOG.info), ctxt, progress=LOG.info)
        return
    if existing:
        return
    path = os.path.join(state_dir, f"{DEFAULT_IMAGE_NAME}.raw")
    with open(path, "wb") as f:
        f.truncate(1024 * 1024)
    image = images.register(ctxt, DEFAULT_IMAGE_NAME, path, disk_format="raw",
                            container_format="bare")
    os.unlink(path)
    LOG.info("Registered default image %s (%s)", DEFAULT_IMAGE_NAME, image["id"])


def build_services(port: int | None = None) -> service.ServiceGroup:
    """The services in start order (conductor, scheduler, compute, volume,
    then the API, so it answers only when the rest is ready)."""
    from novalite.api.service import APIService

    conductor = service.Service.create(binary="novalite-conductor")
    scheduler = service.Service.create(binary="novalite-scheduler")
    # NOTE: each service runs the code it runs on its own host: compute's
    # objects persist through the conductor (its threads carry that route),
    # the API's, conductor's and scheduler's go to the database.
    compute = service.Service.create(binary="novalite-compute")
    from novalite.cmd import volume as volume_cmd

    # NOTE: the volume service of this host (its files under
    # <state_dir>/volumes, NBD exports for other hosts' computes).
    volume = volume_cmd.create_service()
    api = APIService(port=port)
    from novalite.metadata.service import MetadataService

    services: list = [conductor, scheduler, compute, volume, api, MetadataService()]
    if CONF.serial_console.enabled:
        from novalite.console.serialproxy import SerialProxyService

        services.append(SerialProxyService())
    return service.ServiceGroup(services)


def prepare(argv: list[str]) -> tuple[str, int]:
    config.register_base_opts()
    CONF.register_cli_opts(cli_opts)
    # NOTE: state-dir must be known before defaults that depend on it; a
    # first pass reads the command line only.
    CONF(argv[1:], project="novalite", default_config_files=[])
    state_dir = os.path.abspath(CONF.state_dir)
    # NOTE: 0711: QEMU (another user) must traverse to the instance disks.
    filemodes.qemu_dir(state_dir)
    CONF.reset()
    _embedded_defaults(state_dir)
    config.parse_args(argv, default_config_files=[])
    if CONF.stop:
        sys.exit(stop(state_dir))
    config.setup_logging()
    objects.register_all()
    from novalite.db import migration

    port = CONF.port or CONF.api.port
    driver = _pick_driver(CONF.driver)
    CONF.set_default("compute_driver", driver)
    CONF.set_default("api_url", f"http://127.0.0.1:{port}/image", group="image")
    CONF.set_default("base_url", f"ws://127.0.0.1:{CONF.serial_console.serialproxy_port}/",
                     group="serial_console")
    LOG.info("Compute driver: %s", CONF.compute_driver)
    _host_checks(CONF.compute_driver)
    migration.db_sync()
    ensure_default_image(state_dir, CONF.compute_driver)
    from novalite.metadata import service as metadata_service

    metadata_service.ensure_secret(state_dir)
    _networks(state_dir, real=CONF.compute_driver == DRIVERS["libvirt"])
    password = bootstrap_identity(state_dir)
    from novalite.db import api as db_api

    # NOTE: no connection may cross the fork into the service process.
    db_api.dispose()
    _write_files(state_dir, port, password)
    return state_dir, port


DATAPLANE_FILE = "dataplane.json"
CLAIM_LOCK_PATH = "/run/lock/novalite"


def _networks(state_dir: str, real: bool) -> None:
    """The data plane and the default networks. With real guests, under a
    lock every deployment on this host takes: the choice of data plane (and
    of a prefix, VNIs and subnets no other deployment here has), the
    networks, and the data plane made at once, so that a deployment started
    next finds them taken."""
    from oslo_concurrency import lockutils

    from novalite.network import manage as network_manage

    if not real:
        network_manage.ensure_default_network(claim_on_host=False)
        return
    from novalite import exception

    os.makedirs(CLAIM_LOCK_PATH, mode=0o755, exist_ok=True)
    with lockutils.lock("host-claim", lock_file_prefix="novalite-", external=True,
                        lock_path=CLAIM_LOCK_PATH):
        try:
            _dataplane_defaults(state_dir)
            network_manage.ensure_default_network(claim_on_host=True)
            if CONF.network.dataplane == "vxlan":
                _apply_dataplane()
        except exception.NovaliteException as e:
            LOG.error("The network data plane could not be set up: %s", e.format_message())
            print(f"novalite-all-in-one cannot start: network data plane "
                  f"({CONF.network.dataplane}): {e.format_message()}", file=sys.stderr)
            sys.exit(1)
    LOG.info("Network data plane: %s%s", CONF.network.dataplane,
             f" (prefix {CONF.network.dataplane_prefix}, VNIs "
             f"{','.join(CONF.network.vni_ranges)})"
             if CONF.network.dataplane == "vxlan" else "")


def _operator_set(name: str, group: str) -> bool:
    where = CONF.get_location(name, group)
    return where is not None and where.location not in (cfg.Locations.opt_default,
                                                        cfg.Locations.set_default)


def _dataplane_defaults(state_dir: str) -> None:
    """``[network] dataplane`` (and with vxlan its prefix and VNIs) where the
    operator did not set them: what ``<state_dir>/dataplane.json`` recorded
    at the first start, so a restart keeps them. On a first start with real
    guests: vxlan (routers, floating IPs, DHCP and metadata work), on a
    prefix and VNIs no other deployment here has; flat for a deployment
    whose networks predate the record (they were made flat). The FakeDriver
    keeps flat: it must not touch the kernel."""
    from novalite.db import network as db_network
    from novalite.network import manage as network_manage

    path = os.path.join(state_dir, DATAPLANE_FILE)
    try:
        with open(path) as f:
            record = json.load(f)
    except FileNotFoundError:
        record = None
    if record is None:
        record = {"dataplane": "flat" if db_network.network_get_all() else "vxlan"}
    CONF.set_default("dataplane", record["dataplane"], group="network")
    record["dataplane"] = str(CONF.network.dataplane)
    if CONF.network.dataplane == "vxlan":
        if "dataplane_prefix" not in record:
            claim = network_manage.claim_dataplane(
                state_dir, CONF.network.dataplane_prefix, CONF.network.vni_ranges,
                keep_prefix=_operator_set("dataplane_prefix", "network"),
                keep_vnis=_operator_set("vni_ranges", "network"))
            record.update(dataplane_prefix=claim.prefix, vni_ranges=list(claim.vni_ranges))
        CONF.set_default("dataplane_prefix", record["dataplane_prefix"], group="network")
        CONF.set_default("vni_ranges", record["vni_ranges"], group="network")
        network_manage.register_claim(network_manage.DataplaneClaim(
            CONF.network.dataplane_prefix, tuple(CONF.network.vni_ranges)), state_dir)
    _write(path, json.dumps(record, indent=1) + "\n")


def _apply_dataplane() -> None:
    """This host's data plane now (the agent in the compute service keeps
    it after): a start fails here, with the reason, when it cannot be made."""
    from novalite.network import agent_service
    from novalite.network.dataplane import agent

    state = agent.load_state(agent_service.host_state_json(str(CONF.host)))
    agent.apply(state)
    if CONF.network.host_routes_via_routers:
        agent_service.sync_host_routes(state)


def main(argv: list[str] | None = None) -> None:
    state_dir, port = prepare(argv if argv is not None else sys.argv)
    _write_pid(state_dir)
    LOG.info("novalite all-in-one: state in %s, API on http://%s:%s, clouds.yaml at %s",
             state_dir, CONF.api.listen, port, os.path.join(state_dir, "clouds.yaml"))
    service.serve(build_services(port))
    try:
        service.wait()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(state_dir, PID_FILE))


if __name__ == "__main__":
    main()
