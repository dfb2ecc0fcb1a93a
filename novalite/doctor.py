"""Checks of a host and a deployment, each with the fix in its message.

The start-up checks (``startup_checks``) run in ``novalite-compute`` and the
all-in-one before they accept work, so a host that cannot run guests refuses
to start instead of failing every boot. ``novalite-manage doctor`` runs them
and more (broker, database, service heartbeats, KVM or TCG, free addresses,
guests and bridges of other deployments) and prints each as ok/warn/fail.
"""

from __future__ import annotations

import dataclasses
import os
import pwd
import re
import shutil
import stat
from collections.abc import Iterable
from typing import Any

from novalite.conf import CONF

OK, WARN, FAIL = "ok", "warn", "fail"
QEMU_CONF = "/etc/libvirt/qemu.conf"
# Debian's libvirt runs QEMU as this user unless qemu.conf says otherwise.
DEFAULT_QEMU_USER = "libvirt-qemu"
MiB = 1024 * 1024
IMAGE_CACHE_FAIL_MB = 512
IMAGE_CACHE_WARN_MB = 2048
CAP_NET_ADMIN = 12


@dataclasses.dataclass
class Check:
    name: str
    status: str          # ok, warn or fail
    message: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status.upper():4}  {self.name}: {self.message}"
        return text + (f"\n      fix: {self.fix}" if self.fix and self.status != OK else "")


class HostCheckFailed(Exception):
    def __init__(self, failed: list[Check]) -> None:
        self.failed = failed
        super().__init__("; ".join(f"{c.name}: {c.message} (fix: {c.fix})" for c in failed))


# -- host checks ---------------------------------------------------------------


def qemu_user(qemu_conf: str = QEMU_CONF) -> str:
    """The user libvirt runs QEMU as (``user = "..."`` in qemu.conf)."""
    try:
        with open(qemu_conf) as f:
            for line in f:
                m = re.match(r'\s*user\s*=\s*"([^"]+)"', line)
                if m:
                    return m.group(1).lstrip("+")
    except OSError:
        pass
    return DEFAULT_QEMU_USER


def _can_traverse(st: os.stat_result, uid: int, gids: set[int]) -> bool:
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in gids:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _ancestors(path: str) -> list[str]:
    path = os.path.abspath(path)
    chain = [path]
    while path != os.path.dirname(path):
        path = os.path.dirname(path)
        chain.append(path)
    return list(reversed(chain))


def check_qemu_reaches(path: str, what: str, user: str | None = None) -> Check:
    """Every existing directory down to ``path`` is traversable by QEMU's
    user (the disks below it are opened by QEMU, not by us)."""
    name = f"{what} reachable by QEMU"
    user = user or qemu_user()
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return Check(name, WARN, f"QEMU's user {user!r} does not exist on this host, so "
                                 f"whether it reaches {path} is unknown",
                     "install libvirt (novalite-manage host prepare)")
    gids = {pw.pw_gid} | {g.gr_gid for g in _groups_of(user)}
    for directory in _ancestors(path):
        try:
            st = os.stat(directory)
        except FileNotFoundError:
            break  # NOTE: made by novalite (0711) when first needed.
        if not _can_traverse(st, pw.pw_uid, gids):
            mode = stat.S_IMODE(st.st_mode)
            return Check(
                name, FAIL,
                f"QEMU runs as {user}, which cannot enter {directory} (mode {mode:04o}, "
                f"owner {_owner(st)}), so it cannot open disks under {path}: every boot "
                "would end in ERROR with 'Permission denied'",
                f"chmod o+x {directory}   (or choose a state directory every user can "
                "traverse, e.g. --state-dir /var/lib/novalite)")
    return Check(name, OK, f"{user} can reach {path}")


def _groups_of(user: str) -> list[Any]:
    import grp

    return [g for g in grp.getgrall() if user in g.gr_mem]


def _owner(st: os.stat_result) -> str:
    try:
        return pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        return str(st.st_uid)


def check_free_space(path: str, what: str, fail_mb: int = IMAGE_CACHE_FAIL_MB,
                     warn_mb: int = IMAGE_CACHE_WARN_MB) -> Check:
    name = f"free space for {what}"
    existing = next(p for p in reversed(_ancestors(path)) if os.path.exists(p))
    free_mb = shutil.disk_usage(existing).free // MiB
    text = f"{free_mb} MiB free on the file system of {path}"
    fix = "free space on that file system, or point [libvirt] image_cache_path elsewhere"
    if free_mb < fail_mb:
        return Check(name, FAIL, f"{text}; at least {fail_mb} MiB are needed", fix)
    if free_mb < warn_mb:
        return Check(name, WARN, f"{text}; images and instance disks will soon fill it", fix)
    return Check(name, OK, text)


def check_libvirtd(uri: str | None = None) -> Check:
    uri = uri or CONF.libvirt.connection_uri
    name = "libvirtd"
    try:
        import libvirt
    except ImportError:
        return Check(name, FAIL, "libvirt-python is not installed",
                     "install the Debian packages first (novalite-manage host prepare "
                     "as root), then pip install 'novalite[libvirt]'")
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as e:
        return Check(name, FAIL, f"libvirtd does not answer at {uri}: "
                                 f"{(e.get_error_message() or str(e)).strip()}",
                     "start it: novalite-manage host prepare   (as root; or: libvirtd -d)")
    try:
        return Check(name, OK, f"libvirtd answers at {uri} (libvirt "
                               f"{_version(conn.getLibVersion())}, QEMU "
                               f"{_version(conn.getVersion())})")
    finally:
        conn.close()


def _version(v: int) -> str:
    return f"{v // 1000000}.{v // 1000 % 1000}.{v % 1000}"


def _has_net_admin() -> bool:
    try:
        with open("/proc/self/status") as f:
            caps = next(line.split()[1] for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration):
        return os.geteuid() == 0
    return bool(int(caps, 16) & (1 << CAP_NET_ADMIN))


def check_bridge_possible() -> Check:
    name = "bridges"
    if shutil.which("ip") is None:
        return Check(name, FAIL, "the ip command (iproute2) is missing, so guests' bridges "
                                 "and taps cannot be made", "apt-get install iproute2")
    if not _has_net_admin():
        return Check(name, FAIL, "this process lacks CAP_NET_ADMIN, so it cannot make "
                                 "the guests' bridge",
                     "run the compute service as root (or with CAP_NET_ADMIN)")
    return Check(name, OK, "iproute2 present and CAP_NET_ADMIN held")


def startup_checks(compute_driver: str) -> list[Check]:
    """What a compute host must have before it accepts builds. Only the
    libvirt driver touches the host; the FakeDriver needs nothing."""
    if not compute_driver.startswith("libvirt."):
        return []
    return [
        check_libvirtd(),
        check_qemu_reaches(CONF.libvirt.instances_path, "instances path"),
        check_qemu_reaches(CONF.libvirt.image_cache_path, "image cache"),
        check_free_space(CONF.libvirt.image_cache_path, "the image cache"),
        check_bridge_possible(),
    ]


def enforce(checks: Iterable[Check], log: Any) -> None:
    """Log every check (a fail as an error, with its fix); raise
    HostCheckFailed naming the failed ones."""
    checks = list(checks)
    for c in checks:
        level = {OK: log.info, WARN: log.warning}.get(c.status, log.error)
        level("Host check %s", c.line().replace("\n      ", " "))
    failed = [c for c in checks if c.status == FAIL]
    if failed:
        raise HostCheckFailed(failed)


# -- deployment checks (novalite-manage doctor) ----------------------------------


def check_broker(url: str | None = None, timeout: float = 5) -> Check:
    import oslo_messaging as messaging

    url = url if url is not None else CONF.transport_url
    name = "message broker"
    parsed = messaging.TransportURL.parse(CONF, url)
    if parsed.transport in ("inproc", "fake"):
        return Check(name, OK, f"{parsed.transport}:// (in-process bus of the all-in-one)")
    import kombu

    errors = []
    for h in parsed.hosts or []:
        vhost = (parsed.virtual_host or "").lstrip("/") or "/"
        target = f"{h.hostname}:{h.port or 5672}"
        try:
            with kombu.Connection(hostname=h.hostname, port=h.port or 5672,
                                  userid=h.username, password=h.password,
                                  virtual_host=vhost, connect_timeout=timeout) as conn:
                conn.ensure_connection(max_retries=1, timeout=timeout)
            return Check(name, OK, f"RabbitMQ answers at {target} (vhost {vhost})")
        except Exception as e:  # noqa: BLE001 - any failure to connect is the finding
            errors.append(f"{target}: {e}")
    return Check(name, FAIL, "cannot reach the broker of transport_url "
                             f"({'; '.join(errors) or 'no host in the URL'})",
                 "start RabbitMQ (rabbitmq-server -detached, or systemctl start "
                 "rabbitmq-server) and check [DEFAULT] transport_url")


def check_database() -> Check:
    name = "database"
    if not CONF.database.connection:
        return Check(name, OK, "no [database] connection (a compute host goes through "
                               "the conductor)")
    from novalite.db import migration

    try:
        current = migration.db_version()
        head = migration.head_version()
    except Exception as e:  # noqa: BLE001 - any failure to connect is the finding
        return Check(name, FAIL, f"cannot use [database] connection: {e}",
                     "start the database server and check [database] connection")
    if current != head:
        return Check(name, FAIL, f"schema at {current or 'nothing'}, the code needs {head}",
                     "novalite-manage db sync")
    return Check(name, OK, f"schema at {current}")


def check_services() -> list[Check]:
    from novalite import context as nl_context
    from novalite.objects.service import ServiceList

    services = list(ServiceList.get_all(nl_context.get_admin_context()))
    if not services:
        return [Check("services", WARN, "no service has ever reported",
                      "start novalite-all-in-one (or the api, conductor, scheduler and "
                      "compute services)")]
    down = [s for s in services if not s.disabled and not s.is_up()]
    if len(down) == len(services):
        return [Check("services", FAIL, "no service is up (every heartbeat is old): the "
                                        "deployment is not running",
                      "start it: novalite-all-in-one --state-dir DIR (or ./tools/quickstart)")]
    checks = [Check(f"service {s.binary} on {s.host}", WARN,
                    "down (last heartbeat "
                    f"{s.last_seen_up.isoformat() if s.last_seen_up else 'never'})",
                    f"start {s.binary} on {s.host}, or disable it: openstack compute "
                    f"service set --disable {s.host} {_api_binary(s.binary)}")
              for s in down]
    up = len(services) - len(down)
    return checks + [Check("services", OK, f"{up} of {len(services)} service(s) up")]


def check_accelerator() -> Check:
    from novalite.tinyguest.host import kvm_usable

    usable, reason = kvm_usable()
    if usable:
        return Check("accelerator", OK, f"KVM ({reason})")
    return Check("accelerator", WARN, f"TCG: guests are emulated, several times slower "
                                      f"than with KVM ({reason})",
                 "run on a host with hardware virtualization (vmx/svm) and /dev/kvm")


def check_addresses() -> list[Check]:
    import ipaddress

    from novalite.db import network as db_network

    checks = []
    for net in db_network.network_get_all():
        if not net["cidr"]:
            continue  # a network without a subnet has no address to run out of
        size = ipaddress.ip_network(net["cidr"], strict=False).num_addresses - 3
        used = len(db_network.fixed_ip_get_all(net["id"]))
        free = max(size - used, 0)
        status = FAIL if free == 0 else WARN if free < max(size // 10, 1) else OK
        checks.append(Check(f"addresses of network {net['name']}", status,
                            f"{free} of {size} free in {net['cidr']}",
                            "delete unused servers, or add a network: novalite-manage "
                            "network create NAME --cidr CIDR"))
    return checks


def check_bridges() -> list[Check]:
    from novalite.db import network as db_network
    from novalite.network import linux_net

    mine = os.path.realpath(CONF.state_path)
    checks = []
    for net in db_network.network_get_all():
        owner = linux_net.bridge_owner(net["bridge"])
        name = f"bridge {net['bridge']}"
        if owner is None:
            checks.append(Check(name, OK, "not made yet (made when a guest needs it)"))
        elif owner in ("", mine):
            checks.append(Check(name, OK, "present"))
        else:
            checks.append(Check(
                name, WARN, f"made by another deployment (state {owner}): guests of both "
                            "would share one layer-2 segment and may get the same addresses",
                "novalite-manage network create NAME --cidr OTHER-CIDR --bridge OTHER "
                "for this deployment, or stop the other one and run host cleanup there"))
    return checks


def check_dataplane() -> list[Check]:
    """The data plane guests' ports use; with vxlan, what this host has of
    it (and another deployment's data plane on this kernel)."""
    from novalite.network import manage as network_manage

    if str(CONF.network.dataplane) != "vxlan":
        return [Check("data plane", OK, "flat: one Linux bridge per network with the "
                                        "gateway address on every host; no routers, "
                                        "floating IPs, DHCP or metadata service")]
    from novalite import hostcleanup
    from novalite.network.dataplane import names

    prefix = str(CONF.network.dataplane_prefix)
    objects = hostcleanup.dataplane_objects(prefix)
    kinds = {"bridges": 0, "VXLAN devices": 0, "namespaces": 0, "routes": 0}
    for obj in objects:
        if obj.startswith("route "):
            kinds["routes"] += 1
        elif names.is_vxlan_name(prefix, obj):
            kinds["VXLAN devices"] += 1
        elif names.is_bridge_name(prefix, obj):
            kinds["bridges"] += 1
        elif obj.startswith((f"{prefix}dhcp-", f"{prefix}r-")):
            kinds["namespaces"] += 1
    text = (f"vxlan, prefix {prefix}, VNIs {','.join(CONF.network.vni_ranges)}: on this "
            "host " + ", ".join(f"{n} {k}" for k, n in kinds.items()))
    checks = []
    running = hostcleanup.deployment_running()
    if running or not objects:
        checks.append(Check("data plane", OK, text + ("" if running else
                                                      " (the deployment does not run)")))
    else:
        checks.append(Check("data plane", WARN, text + "; the deployment does not run, so "
                                                       "nothing keeps them",
                            "start the deployment, or novalite-manage host cleanup"))
    mine = os.path.realpath(CONF.state_path)
    for other, claim in network_manage.registered().items():
        path = str(claim.get("state_path") or "")
        if path == mine:
            continue
        if os.path.isdir(path):
            checks.append(Check(f"data plane {other}", OK,
                                f"another deployment's ({path}), VNIs "
                                f"{','.join(claim.get('vni_ranges') or [])}; left alone"))
        elif hostcleanup.dataplane_objects(other):
            checks.append(Check(f"data plane {other}", WARN,
                                f"was left by a deployment whose state is gone ({path})",
                                "novalite-manage host cleanup   (asks before removing)"))
    return checks


def leftover_guests() -> list[dict]:
    """novalite guests on this libvirtd that belong to no instance of this
    deployment: ``kind`` 'orphan' (ours, no instance), 'gone' (their
    deployment's instances path no longer exists) or 'other' (a deployment
    that still has its state)."""
    import libvirt

    from novalite.db import api as db_api
    from novalite.virt.libvirt.driver import deployment_path
    from novalite.virt.libvirt.guest import Guest

    mine = deployment_path()
    known: set[str] = set()
    if CONF.database.connection:
        known = {i["uuid"] for i in db_api.instance_get_all_by_filters({})}
    conn = libvirt.open(CONF.libvirt.connection_uri)
    try:
        found = []
        for domain in conn.listAllDomains():
            guest = Guest(domain)
            try:
                if not guest.is_novalite():
                    continue
                path = guest.deployment()
                entry = {"name": guest.name, "uuid": guest.uuid, "instances_path": path,
                         "running": guest.is_active()}
            except libvirt.libvirtError:
                continue
            if path in (mine, None):
                if CONF.database.connection and entry["uuid"] not in known:
                    found.append(dict(entry, kind="orphan"))
            elif not os.path.isdir(path):
                found.append(dict(entry, kind="gone"))
            else:
                found.append(dict(entry, kind="other"))
        return found
    finally:
        conn.close()


def check_leftovers() -> list[Check]:
    try:
        found = leftover_guests()
    except Exception as e:  # noqa: BLE001 - reported by the libvirtd check already
        return [Check("leftover guests", WARN, f"not checked: {e}")]
    checks = []
    for g in found:
        state = "running" if g["running"] else "shut off"
        if g["kind"] == "other":
            checks.append(Check(f"guest {g['name']}", OK,
                                f"belongs to another deployment ({g['instances_path']}); "
                                "left alone"))
            continue
        why = ("belongs to no instance of this deployment" if g["kind"] == "orphan" else
               f"was left by a deployment whose state is gone ({g['instances_path']} no "
               "longer exists)")
        checks.append(Check(f"guest {g['name']}", WARN, f"{why} ({state}, uuid {g['uuid']})",
                            "novalite-manage host cleanup   (asks before removing)"))
    if not found:
        checks.append(Check("leftover guests", OK, "none"))
    return checks


def _libvirt_installed() -> bool:
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return False
    return True


def doctor_checks() -> list[Check]:
    checks = [check_database(), check_broker()]
    db_ok = checks[0].status == OK and bool(CONF.database.connection)
    if db_ok:
        checks += check_services()
    if CONF.compute_driver.startswith("libvirt.") or _libvirt_installed():
        checks += startup_checks("libvirt.LibvirtDriver")
        checks.append(check_accelerator())
        if any(c.name == "libvirtd" and c.status == OK for c in checks):
            checks += check_leftovers()
    if db_ok:
        checks += check_addresses()
        if shutil.which("ip") and str(CONF.network.dataplane) == "flat":
            checks += check_bridges()
    if shutil.which("ip") and (CONF.compute_driver.startswith("libvirt.")
                               or str(CONF.network.dataplane) == "vxlan"):
        checks += check_dataplane()
    return checks


class DoctorCommands:
    """``novalite-manage doctor``: every check with its fix; exit 1 on a fail."""

    def run(self) -> int:
        checks = doctor_checks()
        for c in checks:
            print(c.line())
        failed = [c for c in checks if c.status == FAIL]
        warned = [c for c in checks if c.status == WARN]
        print(f"\n{len(checks)} checks: {len(checks) - len(failed) - len(warned)} ok, "
              f"{len(warned)} warn, {len(failed)} fail")
        return 1 if failed else 0


def add_parser(subparsers: Any) -> None:
    doc = subparsers.add_parser("doctor", help="check this host and deployment: each "
                                               "check ok/warn/fail with its fix")
    doc.set_defaults(command=DoctorCommands, action="run")


def _api_binary(binary: str) -> str:
    """The service's binary as the compute API names it (Nova's names)."""
    from novalite.api.views.services import api_binary

    return api_binary(binary)

