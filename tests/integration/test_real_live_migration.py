"""Live migration of a REAL guest between two libvirtd "hosts" on this
machine (issue 12 item 3): the root namespace's libvirtd (qemu:///system)
and a second one in a network namespace of its own
(tests/integration/libvirt_host.py), reached at qemu+tcp://10.x.y.2/system.

The tiny guest (kernel boot, config drive, guest agent, a NIC on a bridge)
boots on host A; LibvirtDriver's pre_live_migration (host B: the instance
directory, an empty overlay on B's own copy of the image, the kernel and
ramdisk, the config drive's bytes, serial console ports), live_migration (host A: peer to peer,
the blocks the guest wrote copied, the destination's paths in its XML) and
post_live_migration_at_destination (host B) move it. Afterwards: the domain
runs in the second libvirtd, persistent, with B's paths, and is gone from
the first with A's files; the guest did not reboot (its uptime went on and
one boot marker only); it answers HTTP with its uuid inside the namespace
(where a bridge of the same name and gateway exists) and the block it wrote
before is on its disk. A migration to a destination whose libvirtd is gone
fails and leaves the guest running on A, untouched.

Each "host" is the same LibvirtDriver class with its own [libvirt]
connection_uri, instances_path and image_cache_path (the test switches the
options around each call: the driver reads them at each use).
Everything (guests, bridges, the namespace, the daemons, files) is removed
at the end, also on failure; nothing skips.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest
from oslo_utils import uuidutils

from novalite import context as nl_context
from novalite import tinyguest
from novalite.compute import power_state
from novalite.conf import CONF
from novalite.network import linux_net
from novalite.objects.instance import Instance
from novalite.virt import driver as virt_driver
from novalite.virt.libvirt import agent, serial
from novalite.virt.libvirt.driver import LibvirtDriver
from tests.integration.libvirt_host import SecondLibvirtHost
from tests.integration.test_libvirt_driver import (
    LibvirtEnv,
    RecordingVirtAPI,
    _tiny_guest,
    libvirt_connection,
    libvirt_env,
    make_instance,
)
from tests.integration.test_networking import _free_cidr
from tests.procs import wait_until

pytestmark = pytest.mark.integration

CTXT = nl_context.get_admin_context()
BOOT_TIMEOUT = 180
AGENT_TIMEOUT = 120
HTTP_TIMEOUT = 120
PATTERN_OFFSET = 300 * 1024 * 1024
PATTERN_SIZE = 4096


class Hosts:
    """Host A (root libvirtd) and host B (the namespace's), each a
    LibvirtDriver with its own paths, and the guest's NIC."""

    def __init__(self, env: LibvirtEnv, second: SecondLibvirtHost) -> None:
        self.env = env
        self.second = second
        self.paths = {
            "a": {"connection_uri": "qemu:///system",
                  "instances_path": os.path.join(env.base, "a-instances"),
                  "image_cache_path": os.path.join(env.base, "a-base")},
            "b": {"connection_uri": second.uri,
                  "instances_path": os.path.join(env.base, "b-instances"),
                  "image_cache_path": os.path.join(env.base, "b-base")},
        }
        cidr = _free_cidr()
        prefix = cidr.rsplit(".", 1)[0]
        self.cidr = cidr
        self.gateway = f"{prefix}.1"
        self.bridge = f"lmig{uuidutils.generate_uuid()[:8]}"
        self.address = f"{prefix}.10"
        port = uuidutils.generate_uuid()
        self.vif = {"id": port, "address": "fa:16:3e:7e:58:10", "type": "bridge",
                    "devname": f"tap{port}"[:14],
                    "network": {"id": uuidutils.generate_uuid(), "label": "lmig",
                                "bridge": self.bridge,
                                "subnets": [{"cidr": cidr, "gateway": self.gateway,
                                             "ips": [{"address": self.address, "type": "fixed",
                                                      "version": 4}]}]}}
        self.drivers: dict[str, LibvirtDriver] = {}
        self.made: list[Instance] = []

    @contextlib.contextmanager
    def on(self, name: str) -> Iterator[LibvirtDriver]:
        """The options of host ``name`` for the duration of one call."""
        for opt, value in self.paths[name].items():
            CONF.set_override(opt, value, group="libvirt")
        CONF.set_override("live_migration_inbound_addr",
                          self.second.address if name == "b" else None, group="libvirt")
        # NOTE: serial consoles on TCP sockets: B's are on all of the
        # namespace's addresses, on ports B hands out.
        CONF.set_override("serial_console", True, group="libvirt")
        CONF.set_override("serial_listen", "0.0.0.0" if name == "b" else "127.0.0.1",
                          group="libvirt")
        try:
            if name not in self.drivers:
                drv = LibvirtDriver(RecordingVirtAPI())
                drv.init_host(f"lmig-{name}")
                self.drivers[name] = drv
            yield self.drivers[name]
        finally:
            for opt in self.paths[name]:
                CONF.clear_override(opt, group="libvirt")
            for opt in ("live_migration_inbound_addr", "serial_console", "serial_listen"):
                CONF.clear_override(opt, group="libvirt")

    def start(self) -> None:
        self.second.extra_bridge(self.bridge, self.cidr, self.gateway)

    def stop(self) -> None:
        for inst in self.made:
            for name in ("a", "b"):
                with contextlib.suppress(Exception), self.on(name) as drv:
                    drv.destroy(CTXT, inst, [])
        for name in list(self.drivers):
            with contextlib.suppress(Exception), self.on(name) as drv:
                drv.cleanup_host(f"lmig-{name}")
        with contextlib.suppress(Exception):
            linux_net.delete_device(self.bridge)

    def instance_dir(self, name: str, inst: Instance) -> str:
        return os.path.join(self.paths[name]["instances_path"], inst.uuid)


def _domain(conn: libvirt.virConnect, uuid: str) -> libvirt.virDomain | None:
    try:
        return conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


def _uptime(dom: libvirt.virDomain) -> float:
    return float(agent.read_file(dom, "/proc/uptime").split()[0])


def _console(path: str) -> str:
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def _write_block(dom: libvirt.virDomain, data: bytes) -> None:
    agent.write_file(dom, "/run/lmig-block", data)
    status = agent.execute(dom, "/bin/busybox",
                           ["dd", "if=/run/lmig-block", "of=/dev/vda", f"bs={len(data)}",
                            f"seek={PATTERN_OFFSET // len(data)}", "count=1",
                            "conv=notrunc,fsync"], time.monotonic() + 30, capture=True)
    assert status.get("exitcode") == 0, status


def _read_block(dom: libvirt.virDomain) -> bytes:
    import base64

    handle = agent.command(dom, "guest-file-open", {"path": "/dev/vda", "mode": "r"})
    try:
        agent.command(dom, "guest-file-seek", {"handle": handle, "offset": PATTERN_OFFSET,
                                               "whence": "set"})
        res = agent.command(dom, "guest-file-read", {"handle": handle, "count": PATTERN_SIZE})
    finally:
        agent.command(dom, "guest-file-close", {"handle": handle})
    return base64.b64decode(res["buf-b64"])


@pytest.fixture(scope="module")
def hosts() -> Iterator[Hosts]:
    with libvirt_env() as env:
        second = SecondLibvirtHost(label="lmig")
        h: Hosts | None = None
        try:
            second.start()
            h = Hosts(env, second)
            h.start()
            yield h
        finally:
            if h is not None:
                h.stop()
            problems = second.stop()
            assert not problems, problems


def _boot(h: Hosts, name: str) -> tuple[Instance, dict[str, Any]]:
    built = _tiny_guest()
    image_id = h.env.register(f"lmig-{name}", built.disk, "qcow2", hw_qemu_guest_agent="yes")
    image_meta = {"id": image_id, "properties": {"hw_qemu_guest_agent": "yes"}}
    inst = make_instance(image_id, hostname=f"lmig{name}")
    inst.config_drive = True
    h.made.append(inst)
    with h.on("a") as drv:
        drv.spawn(CTXT, inst, image_meta, [h.vif])
    console = os.path.join(h.instance_dir("a", inst), "console.log")
    wait_until(lambda: tinyguest.MARKER in _console(console), BOOT_TIMEOUT,
               "the tiny guest's boot marker")
    conn = libvirt_connection()
    dom = _domain(conn, inst.uuid)
    assert dom is not None
    agent.wait_ready(dom, time.monotonic() + AGENT_TIMEOUT)
    return inst, image_meta


def test_live_migration_to_the_second_libvirtd(hosts: Hosts) -> None:
    h = hosts
    inst, image_meta = _boot(h, "ok")
    root = libvirt_connection()
    dom_a = _domain(root, inst.uuid)
    assert dom_a is not None
    pattern = os.urandom(PATTERN_SIZE)
    _write_block(dom_a, pattern)
    before = _uptime(dom_a)

    with h.on("a") as drv_a:
        source_data = drv_a.live_migration_source_data(inst)
    assert source_data["disk_backed"] and source_data["config_drive"]
    with h.on("b") as drv_b:
        migrate_data = drv_b.pre_live_migration(CTXT, inst, image_meta, [h.vif], source_data)
    assert migrate_data["target_uri"] == h.second.uri
    assert source_data["serial_ports"] == 1 and len(migrate_data["serial_listen_ports"]) == 1
    assert migrate_data["instance_dir"] == h.instance_dir("b", inst)
    assert sorted(os.listdir(h.instance_dir("b", inst))) == ["disk", "disk.config"]
    with h.on("a") as drv_a:
        guest = drv_a.live_migration(CTXT, inst, "lmig-b", [h.vif], migrate_data=migrate_data)
    with h.on("b") as drv_b:
        drv_b.post_live_migration_at_destination(CTXT, inst, [h.vif], guest)
        assert drv_b.get_info(inst).state == power_state.RUNNING
        assert inst.uuid in drv_b.list_instance_uuids()
    with h.on("a") as drv_a:
        assert inst.uuid not in drv_a.list_instance_uuids()

    # Gone from A (domain and files), running and persistent on B with B's paths.
    assert _domain(root, inst.uuid) is None
    assert not os.path.exists(h.instance_dir("a", inst))
    conn_b = h.second.connect()
    try:
        dom_b = _domain(conn_b, inst.uuid)
        assert dom_b is not None and dom_b.isPersistent()
        state, reason = dom_b.state()
        assert state == libvirt.VIR_DOMAIN_RUNNING, (state, reason)
        xml = dom_b.XMLDesc(0)
        assert h.instance_dir("b", inst) in xml and h.instance_dir("a", inst) not in xml
        inactive = dom_b.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert h.instance_dir("a", inst) not in inactive
        # Its serial console socket is on B's address and the port B gave,
        # listening in the namespace.
        port = migrate_data["serial_listen_ports"][0]
        assert serial.ports_of(xml) == [("0.0.0.0", port)]
        listening = h.second.run_in_ns("ss", "-Hltn", f"sport = :{port}")
        assert f":{port}" in listening.stdout, listening
        # The guest did not reboot: its uptime went on, one boot marker, and
        # the block it wrote on A is on its disk on B.
        agent.wait_ready(dom_b, time.monotonic() + AGENT_TIMEOUT)
        after = _uptime(dom_b)
        assert after > before, (before, after)
        console_b = os.path.join(h.instance_dir("b", inst), "console.log")
        assert _console(console_b).count(tinyguest.MARKER) <= 1
        assert _read_block(dom_b) == pattern
        # It answers over its NIC, on the namespace's bridge.
        def http() -> str | None:
            out = h.second.run_in_ns("curl", "-s", "--max-time", "2",
                                     f"http://{h.address}/")
            return out.stdout if out.returncode == 0 and out.stdout else None
        body = wait_until(http, HTTP_TIMEOUT, f"HTTP answer from {h.address} in the namespace",
                          interval=1)
        assert f"uuid={inst.uuid}" in str(body).splitlines()
    finally:
        conn_b.close()
    with h.on("b") as drv_b:
        drv_b.destroy(CTXT, inst, [h.vif])
    assert h.second.domains() == []


def test_failed_live_migration_leaves_the_guest_on_the_source(hosts: Hosts) -> None:
    h = hosts
    inst, image_meta = _boot(h, "fail")
    with h.on("a") as drv_a:
        source_data = drv_a.live_migration_source_data(inst)
    with h.on("b") as drv_b:
        migrate_data = drv_b.pre_live_migration(CTXT, inst, image_meta, [h.vif], source_data)
    # The destination's libvirtd cannot be reached any more (a port no
    # daemon listens on stands for a killed one: the shared daemon serves
    # the other test too).
    broken = dict(migrate_data, target_uri=f"qemu+tcp://{h.second.address}:1/system")
    root = libvirt_connection()
    before = _uptime(_domain(root, inst.uuid))
    with h.on("a") as drv_a, pytest.raises(virt_driver.MigrationError) as err:
        drv_a.live_migration(CTXT, inst, "lmig-b", [h.vif], migrate_data=broken)
    assert "could not live-migrate" in str(err.value)
    with h.on("b") as drv_b:
        drv_b.rollback_live_migration_at_destination(CTXT, inst, [h.vif])
    assert not os.path.exists(h.instance_dir("b", inst))
    dom = _domain(root, inst.uuid)
    assert dom is not None and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert _uptime(dom) > before
    assert os.path.exists(os.path.join(h.instance_dir("a", inst), "disk"))
    assert h.second.domains() == []
    with h.on("a") as drv_a:
        drv_a.destroy(CTXT, inst, [h.vif])



# -- through the HTTP API: two compute services --------------------------------
#
# The control plane and compute A (root libvirtd) run in this process (the
# real stack of tests/integration/realstack.py) on a RabbitMQ vhost of their
# own; compute B is a novalite-compute process on the same vhost whose
# libvirt is the namespace's (qemu+tcp://...), with its own instances path
# and image cache. The guests boot before B starts, so they are on A.


class TwoHosts:
    def __init__(self, vhost: str, second: SecondLibvirtHost) -> None:
        from tests.integration.test_networking import NetStack

        self.second = second
        # NOTE: NetStack's own stack, on RabbitMQ (compute B is another process).
        self.ns = NetStack(label="lmig-api", overrides={(None, "transport_url"): vhost})
        self.vhost = vhost
        self.b_host = f"lmig-b-{uuidutils.generate_uuid()[:6]}"
        self.b_base = ""
        self.proc: Any = None

    @property
    def stack(self) -> Any:
        return self.ns.rs.stack

    def start(self) -> None:
        self.ns.start()
        self.second.extra_bridge(self.ns.bridge, self.ns.cidr, str(self.ns.net["gateway"]))

    def start_b(self) -> None:
        import tempfile

        from tests.procs import Proc, write_conf

        self.b_base = tempfile.mkdtemp(prefix="lmig-b-", dir="/var/lib/novalite-tests")
        os.chmod(self.b_base, 0o755)
        conf = write_conf(os.path.join(self.b_base, "compute.conf"), {
            "DEFAULT": {"transport_url": self.vhost, "control_exchange": CONF.control_exchange,
                        "host": self.b_host, "state_path": os.path.join(self.b_base, "state"),
                        "compute_driver": "libvirt.LibvirtDriver", "report_interval": 1,
                        "rpc_call_timeout": 30, "debug": "true", "auth_strategy": "noauth"},
            "libvirt": {"connection_uri": self.second.uri,
                        "instances_path": os.path.join(self.b_base, "instances"),
                        "image_cache_path": os.path.join(self.b_base, "_base"),
                        "instance_name_template": self.ns.rs.prefix + "%08x",
                        "live_migration_inbound_addr": self.second.address,
                        "shutdown_timeout": 30},
            "image": {"api_url": f"{self.stack.base_url}/image"},
            "network": {"default_network_name": self.ns.net_name},
            "compute": {"force_config_drive": "true"},
        })
        self.proc = Proc(self.b_host, "novalite-compute", conf,
                         os.path.join(self.b_base, "compute.log")).start()
        self.proc.wait_log(f"is consuming compute, compute.{self.b_host}", timeout=90)

        def up() -> bool:
            resp = self.stack.compute("GET", "/os-services?binary=nova-compute")
            return any(s["host"] == self.b_host and s["state"] == "up"
                       for s in resp.json().get("services", []))
        wait_until(up, 60, f"compute service {self.b_host} up")

    def stop(self) -> list[str]:
        problems = []
        try:
            problems += self.ns.rs.delete_all_servers()
        except Exception as e:  # noqa: BLE001
            problems.append(f"deleting the servers failed: {e!r}")
        if self.proc is not None:
            self.proc.stop()
        problems += self.ns.stop()
        if self.b_base:
            import shutil

            shutil.rmtree(self.b_base, ignore_errors=True)
        return problems

    def boot(self, name: str) -> tuple[str, str]:
        server = self.ns.boot(name)
        sid = server["id"]
        active = self.stack.wait_status(sid, "ACTIVE", 180)
        address = self.ns.address(active)
        body = self.ns.wait_http(address, HTTP_TIMEOUT)
        assert f"uuid={sid}" in body.splitlines(), body
        dom = self.ns.domain(sid)
        agent.wait_ready(dom, time.monotonic() + AGENT_TIMEOUT)
        return sid, address

    def migrate_live(self, sid: str, host: str | None) -> None:
        resp = self.stack.compute(
            "POST", f"/servers/{sid}/action",
            {"os-migrateLive": {"host": host, "block_migration": "auto"}},
            headers={"OpenStack-API-Version": "compute 2.30"})
        assert resp.status_code == 202, f"{resp.status_code} {resp.text}"

    def migrations(self, sid: str) -> list[dict]:
        resp = self.stack.compute("GET", f"/os-migrations?instance_uuid={sid}",
                                  headers={"OpenStack-API-Version": "compute 2.59"})
        assert resp.status_code == 200, resp.text
        return list(resp.json()["migrations"])


@pytest.fixture(scope="module")
def two_hosts() -> Iterator[TwoHosts]:
    from tests.integration import services

    with services.rabbitmq_vhost() as vhost:
        second = SecondLibvirtHost(label="lmig-api")
        t: TwoHosts | None = None
        problems: list[str] = []
        try:
            second.start()
            t = TwoHosts(vhost, second)
            t.start()
            yield t
        finally:
            if t is not None:
                problems += t.stop()
            problems += second.stop()
        assert not problems, problems


def _host_of(server: dict) -> str:
    return str(server.get("OS-EXT-SRV-ATTR:host"))


def test_os_migrate_live_through_the_api(two_hosts: TwoHosts) -> None:
    t = two_hosts
    sid, address = t.boot("lmig-api-ok")
    # The second guest, for the failure below, also boots on A (B is not up yet).
    sid2, _ = t.boot("lmig-api-fail")
    t.start_b()
    source = _host_of(t.stack.server(sid))
    assert source == t.ns.rs.host
    dom_a = t.ns.domain(sid)
    before = _uptime(dom_a)

    t.migrate_live(sid, t.b_host)
    server = t.stack.wait_for(sid, lambda s: s["status"] == "ACTIVE" and _host_of(s) == t.b_host
                              and s.get("OS-EXT-STS:task_state") is None, 300)
    assert server["OS-EXT-STS:power_state"] == 1
    # NOTE: as Nova's, the server is ACTIVE on B a moment before its
    # migration record says completed.
    migrations = wait_until(
        lambda: [m for m in t.migrations(sid) if m["status"] == "completed"] or None, 60,
        "the live migration completed")
    assert [(m["migration_type"], m["status"], m["source_compute"], m["dest_compute"])
            for m in t.migrations(sid)] == [("live-migration", "completed", source, t.b_host)]
    assert len(migrations) == 1

    root = libvirt_connection()
    assert _domain(root, sid) is None
    assert not os.path.exists(t.ns.rs.instance_dir(sid))
    conn_b = t.second.connect()
    try:
        dom_b = _domain(conn_b, sid)
        assert dom_b is not None and dom_b.isPersistent()
        assert dom_b.state()[0] == libvirt.VIR_DOMAIN_RUNNING
        assert os.path.join(t.b_base, "instances", sid) in dom_b.XMLDesc(0)
        agent.wait_ready(dom_b, time.monotonic() + AGENT_TIMEOUT)
        after = _uptime(dom_b)
        assert after > before, (before, after)

        def http() -> str | None:
            out = t.second.run_in_ns("curl", "-s", "--max-time", "2", f"http://{address}/")
            return out.stdout if out.returncode == 0 and out.stdout else None
        body = wait_until(http, HTTP_TIMEOUT, f"HTTP answer from {address} in the namespace",
                          interval=1)
        assert f"uuid={sid}" in str(body).splitlines()
    finally:
        conn_b.close()
    events = t.stack.compute("GET", f"/servers/{sid}/os-instance-actions").json()
    assert "live-migration" in [a["action"] for a in events["instanceActions"]]
    # Host B deletes it: its domain and files go.
    t.ns.rs.delete(sid, 120)
    assert t.second.domains() == []
    assert not os.path.exists(os.path.join(t.b_base, "instances", sid))

    # The destination's libvirtd is gone: the second guest stays ACTIVE on A,
    # running, its migration in error.
    assert t.second.proc is not None
    t.second.proc.terminate()
    t.second.proc.wait(timeout=30)
    before2 = _uptime(t.ns.domain(sid2))
    t.migrate_live(sid2, t.b_host)

    def failed() -> dict | None:
        ms = t.migrations(sid2)
        return ms[0] if ms and ms[0]["status"] in ("error", "failed") else None
    migration = wait_until(failed, 180, "the failed live migration")
    assert migration["status"] == "error"
    server2 = t.stack.wait_for(sid2, lambda s: s.get("OS-EXT-STS:task_state") is None, 60)
    assert server2["status"] == "ACTIVE" and _host_of(server2) == source
    dom2 = _domain(root, sid2)
    assert dom2 is not None and dom2.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert _uptime(dom2) > before2
