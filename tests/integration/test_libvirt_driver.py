"""LibvirtDriver against the real libvirtd (``qemu:///system``), driven
directly with in-memory Instance and Flavor objects.

Images come over HTTP, as on a real compute host: from novalite's own Image
API (a real API service on 127.0.0.1 over a SQLite file), or, where the
server must misbehave (wrong hash, slow), from a tiny HTTP server here.

Everything a test makes is named with a test prefix (domains
``instance-7e57xxxx``, files under /var/lib/novalite-tests/) and removed
afterwards. An unreachable libvirtd fails the tests; nothing here skips.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import random
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest
from oslo_utils import uuidutils

from novalite import context as nl_context
from novalite import exception, objects
from novalite.compute import power_state
from novalite.conf import CONF
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from novalite.virt import virtapi
from novalite.virt.libvirt import config as lv_config
from novalite.virt.libvirt import host as lv_host
from novalite.virt.libvirt import imagebackend, imagecache
from novalite.virt.libvirt.driver import LibvirtDriver
from tests.integration import services
from tests.procs import wait_until

objects.register_all()

pytestmark = pytest.mark.integration

URI = "qemu:///system"
TEST_ID_BASE = 0x7E570000
TEST_NAME_PREFIX = "instance-7e57"
# NOTE: not under /tmp: QEMU runs as libvirt-qemu and must traverse the
# path to the disks, which pytest's 0700 tmp dirs forbid.
TEST_ROOT = "/var/lib/novalite-tests"


# -- libvirt ------------------------------------------------------------------

def libvirt_connection() -> libvirt.virConnect:
    try:
        return libvirt.open(URI)
    except libvirt.libvirtError as e:
        pytest.fail(f"libvirtd is not reachable at {URI} ({e}); start it as root with "
                    "`mkdir -p /var/log/libvirt; virtlogd -d; libvirtd -d`")


def cleanup_leftover_domains() -> None:
    conn = libvirt_connection()
    try:
        services.purge_domains(conn, TEST_NAME_PREFIX)
    finally:
        conn.close()


def leftover_domains() -> list[str]:
    conn = libvirt_connection()
    try:
        return [d.name() for d in conn.listAllDomains(0) if d.name().startswith(TEST_NAME_PREFIX)]
    finally:
        conn.close()




class RecordingVirtAPI(virtapi.VirtAPI):
    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []

    def power_state_changed(self, context: Any, instance_uuid: str, power_state: int) -> None:
        self.events.append(("power_state_changed", instance_uuid, power_state))

    def instance_event(self, context: Any, instance_uuid: str, event: str,
                       message: str) -> None:
        self.events.append((event, instance_uuid, message))


def make_instance(image_id: str, root_gb: int = 1, memory_mb: int = 128,
                  display_name: str = "lvtest", hostname: str = "lvtest") -> Instance:
    flavor = Flavor(id=1, flavorid="lvtest", name="lvtest.tiny", memory_mb=memory_mb, vcpus=1,
                    root_gb=root_gb, ephemeral_gb=0, swap=0, extra_specs={})
    return Instance(id=TEST_ID_BASE + random.randrange(0x10000), uuid=uuidutils.generate_uuid(),
                    display_name=display_name, hostname=hostname, project_id="lvtest-project",
                    user_id="lvtest-user", image_ref=image_id, flavor=flavor, metadata={},
                    system_metadata={})


def _tiny_guest() -> Any:
    """The tiny guest's kernel, ramdisk and disk (built once, then cached)."""
    from novalite.tinyguest import builder

    return builder.build(progress=lambda _line: None)


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


# -- a tiny image server (for misbehaviour) -------------------------------------

class TinyImageServer:
    """Serves ``/image/v2/images/{id}`` and ``.../file`` from memory; can
    lie about the hash and trickle the data; counts downloads."""

    def __init__(self) -> None:
        self.images: dict[str, dict] = {}
        self.downloads: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                image = server.images.get(parts[3]) if len(parts) >= 4 else None
                if image is None:
                    self.send_error(404)
                    return
                if len(parts) == 4:
                    body = json.dumps(image["meta"]).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                server.downloads[parts[3]] = server.downloads.get(parts[3], 0) + 1
                data, delay = image["data"], image["delay"]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                step = 64 * 1024
                with contextlib.suppress(OSError):
                    for i in range(0, len(data), step):
                        self.wfile.write(data[i:i + step])
                        self.wfile.flush()
                        time.sleep(delay)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/image"

    def add(self, data: bytes, disk_format: str = "raw", lie: bool = False,
            delay: float = 0.0) -> str:
        image_id = uuidutils.generate_uuid()
        digest = hashlib.sha512(b"not the data" if lie else data).hexdigest()
        self.images[image_id] = {"data": data, "delay": delay, "meta": {
            "id": image_id, "status": "active", "disk_format": disk_format,
            "container_format": "bare", "size": len(data), "os_hash_algo": "sha512",
            "os_hash_value": digest}}
        return image_id

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- the environment: paths, config, the real Image API -----------------------

class LibvirtEnv:
    def __init__(self) -> None:
        os.makedirs(TEST_ROOT, mode=0o755, exist_ok=True)
        self.base = tempfile.mkdtemp(prefix="lvtest-", dir=TEST_ROOT)
        os.chmod(self.base, 0o755)
        self.files = os.path.join(self.base, "files")
        os.makedirs(self.files)
        self._overrides: list[tuple[str, str | None]] = []
        self.api: Any = None
        self.api_url = ""

    def override(self, name: str, value: Any, group: str | None = None) -> None:
        CONF.set_override(name, value, group=group)
        self._overrides.append((name, group))

    def start(self) -> LibvirtEnv:
        from novalite.api import app as api_app
        from novalite.api.service import APIService
        from novalite.db import migration

        libvirt_connection().close()
        self.override("state_path", os.path.join(self.base, "state"))
        self.override("connection", f"sqlite:///{self.base}/novalite.sqlite", group="database")
        self.override("instances_path", os.path.join(self.base, "instances"), group="libvirt")
        self.override("image_cache_path", os.path.join(self.base, "_base"), group="libvirt")
        self.override("shutdown_timeout", 2, group="libvirt")
        migration.db_sync()
        self.api = APIService(listen="127.0.0.1", port=0, app=api_app.make_app())
        self.api.start()
        self.api_url = f"http://127.0.0.1:{self.api.port}/image"
        self.override("api_url", self.api_url, group="image")
        return self

    def stop(self) -> None:
        from novalite.db import api as db_api

        cleanup_leftover_domains()
        if self.api is not None:
            self.api.stop()
        db_api.dispose()
        for name, group in self._overrides:
            CONF.clear_override(name, group=group)
        shutil.rmtree(self.base, ignore_errors=True)

    def driver(self) -> LibvirtDriver:
        drv = LibvirtDriver(RecordingVirtAPI())
        drv.init_host(CONF.host)
        return drv

    def register(self, name: str, path: str, disk_format: str, **properties: str) -> str:
        from novalite.image import api as image_api

        image = image_api.API().register(nl_context.get_admin_context(), name, path,
                                         disk_format=disk_format, properties=properties)
        return str(image["id"])

    def file(self, name: str) -> str:
        return os.path.join(self.files, name)

    def empty_qcow2(self, size: str = "1G") -> str:
        path = self.file(f"empty-{size}.qcow2")
        if not os.path.exists(path):
            qemu_img("create", "-f", "qcow2", path, size)
        return path

    def instance_dir(self, instance: Instance) -> str:
        return os.path.join(CONF.libvirt.instances_path, instance.uuid)


@contextlib.contextmanager
def libvirt_env() -> Iterator[LibvirtEnv]:
    env = LibvirtEnv()
    try:
        yield env.start()
    finally:
        env.stop()


@pytest.fixture(scope="module")
def env() -> Iterator[LibvirtEnv]:
    with libvirt_env() as e:
        yield e


@pytest.fixture
def drv(env: LibvirtEnv) -> Iterator[LibvirtDriver]:
    d = env.driver()
    yield d
    d.cleanup_host(CONF.host)


@pytest.fixture
def tiny_server(env: LibvirtEnv) -> Iterator[TinyImageServer]:
    server = TinyImageServer()
    env.override("api_url", server.url, group="image")
    try:
        yield server
    finally:
        CONF.set_override("api_url", env.api_url, group="image")
        server.stop()


# -- host ---------------------------------------------------------------------

def test_virt_type_is_probed_and_tcg_here(drv: LibvirtDriver) -> None:
    # NOTE: this machine's /dev/kvm is PVM (FACTS.md): auto must pick TCG.
    if os.path.exists("/sys/module/kvm_pvm"):
        assert drv.virt_type == "qemu"
    assert drv.virt_type == lv_host.probe_virt_type()
    assert "qemu (TCG)" in drv.hypervisor_description or drv.virt_type == "kvm"


def test_probe_virt_type_rules(tmp_path: Any) -> None:
    kvm = tmp_path / "kvm"
    kvm.write_text("")
    cpu = tmp_path / "cpuinfo"
    cpu.write_text("flags\t\t: fpu vme svm sse\n")
    missing = str(tmp_path / "missing")
    assert lv_host.probe_virt_type(str(kvm), missing, str(cpu)) == "kvm"
    assert lv_host.probe_virt_type(missing, missing, str(cpu)) == "qemu"
    assert lv_host.probe_virt_type(str(kvm), str(tmp_path), str(cpu)) == "qemu"
    cpu.write_text("flags\t\t: fpu vme sse\n")
    assert lv_host.probe_virt_type(str(kvm), missing, str(cpu)) == "qemu"


def test_init_host_fails_when_libvirtd_is_unreachable(env: LibvirtEnv) -> None:
    env.override("connection_uri", "qemu:///system?socket=/nonexistent/libvirt-sock",
                 group="libvirt")
    try:
        drv = LibvirtDriver(RecordingVirtAPI())
        with pytest.raises(exception.HypervisorUnavailable, match="cannot connect to libvirt"):
            drv.init_host("lvtest-host")
    finally:
        CONF.clear_override("connection_uri", group="libvirt")


def test_available_resource_is_measured(drv: LibvirtDriver) -> None:
    res = drv.get_available_resource("lvtest-node")
    assert res.hypervisor_type == "QEMU"
    assert res.hypervisor_version >= 7000000
    assert res.vcpus == os.cpu_count()
    meminfo_kib = int(open("/proc/meminfo").readline().split()[1])
    assert res.memory_mb == meminfo_kib // 1024
    assert res.local_gb > 0 and 0 <= res.local_gb_used <= res.local_gb


# -- the life of a guest --------------------------------------------------------

def test_guest_life_cycle(env: LibvirtEnv, drv: LibvirtDriver) -> None:
    image_id = env.register("lvtest-empty", env.empty_qcow2(), "qcow2")
    inst = make_instance(image_id, display_name="life <&'\"]]>", hostname="life")
    ctxt = nl_context.get_admin_context()

    started = time.monotonic()
    drv.spawn(ctxt, inst, {"id": image_id}, [])
    spawn_s = time.monotonic() - started
    print(f"\nspawn → running: {spawn_s:.2f}s")
    assert drv.get_info(inst).state == power_state.RUNNING
    assert inst.uuid in drv.list_instance_uuids()
    inst_dir = env.instance_dir(inst)
    assert os.path.exists(os.path.join(inst_dir, "disk"))
    # NOTE: QEMU only traverses; libvirt chowned the disk and its base to it.
    cached = os.path.join(CONF.libvirt.image_cache_path, image_id)
    assert [stat.S_IMODE(os.stat(p).st_mode) for p in (
        CONF.libvirt.instances_path, inst_dir, os.path.join(inst_dir, "disk"), cached)] == [
        0o711, 0o711, 0o600, 0o600]

    conn = libvirt_connection()
    dom = conn.lookupByUUIDString(inst.uuid)
    assert dom.name() == f"instance-{inst.uuid}"
    live = ET.fromstring(dom.XMLDesc(0))
    assert live.get("type") == drv.virt_type
    if drv.virt_type == "qemu":
        assert live.find("features/tcg/tb-cache") is not None
    ns = {"n": lv_config.NOVALITE_NS}
    assert live.find("metadata/n:instance/n:name", ns).text == "life <&'\"]]>"
    disk = live.find("devices/disk/source").get("file")
    assert disk == os.path.join(inst_dir, "disk")
    conn.close()

    # SeaBIOS writes to the serial console even with nothing to boot.
    # NOTE: wait for the banner itself: the log's first bytes (an escape
    # sequence) may come alone.
    wait_until(lambda: b"SeaBIOS" in drv.get_console_output(ctxt, inst), 20,
             "SeaBIOS on the console")
    assert os.stat(os.path.join(inst_dir, "console.log")).st_mode & 0o077 == 0

    drv.power_off(inst, timeout=1)
    assert drv.get_info(inst).state == power_state.SHUTDOWN
    drv.power_off(inst, timeout=1)
    drv.power_on(ctxt, inst)
    assert drv.get_info(inst).state == power_state.RUNNING
    drv.power_on(ctxt, inst)
    drv.reboot(ctxt, inst, "SOFT")
    assert drv.get_info(inst).state == power_state.RUNNING
    drv.reboot(ctxt, inst, "HARD")
    assert drv.get_info(inst).state == power_state.RUNNING

    res = drv.get_available_resource("lvtest-node")
    assert res.running_vms >= 1 and res.memory_mb_used >= 128 and res.vcpus_used >= 1

    drv.destroy(ctxt, inst)
    assert inst.uuid not in drv.list_instance_uuids()
    assert f"instance-{inst.uuid}" not in leftover_domains()
    assert not os.path.exists(inst_dir)
    drv.destroy(ctxt, inst)
    with pytest.raises(exception.InstanceNotFound):
        drv.get_info(inst)
    with pytest.raises(exception.InstanceNotFound):
        drv.power_on(ctxt, inst)


def test_kernel_and_ramdisk_boot_with_hostname_on_the_command_line(
        env: LibvirtEnv, drv: LibvirtDriver) -> None:
    built = _tiny_guest()
    kernel_id = env.register("lvtest-kernel", built.kernel, "aki")
    ramdisk_id = env.register("lvtest-ramdisk", built.ramdisk, "ari")
    open(env.file("empty.ami"), "wb").close()
    ami_id = env.register("lvtest-ami", env.file("empty.ami"), "ami", kernel_id=kernel_id,
                          ramdisk_id=ramdisk_id)
    inst = make_instance(ami_id, hostname="Kern_El; rm -rf /")
    ctxt = nl_context.get_admin_context()
    started = time.monotonic()
    drv.spawn(ctxt, inst, {"id": ami_id}, [])
    print(f"\nkernel spawn → running: {time.monotonic() - started:.2f}s")
    try:
        conn = libvirt_connection()
        live = ET.fromstring(conn.lookupByUUIDString(inst.uuid).XMLDesc(0))
        conn.close()
        inst_dir = env.instance_dir(inst)
        assert live.find("os/kernel").text == os.path.join(inst_dir, "kernel")
        assert live.find("os/initrd").text == os.path.join(inst_dir, "ramdisk")
        assert live.find("os/cmdline").text == "console=ttyS0 novalite.hostname=kern-el-rm-rf"
        # NOTE: the empty ami is no root file system: a blank disk of the
        # flavor's size instead of an overlay.
        info = json.loads(subprocess.run(
            ["qemu-img", "info", "--output=json", "-U", "-f", "qcow2",
             os.path.join(inst_dir, "disk")], check=True, capture_output=True).stdout)
        assert "backing-filename" not in info and info["virtual-size"] == 1024 ** 3
        console = wait_until(lambda: b"Kernel command line" in drv.get_console_output(ctxt, inst)
                           and drv.get_console_output(ctxt, inst), 60, "the kernel's banner")
        print(f"kernel banner on the console after {time.monotonic() - started:.2f}s")
        assert b"novalite.hostname=kern-el-rm-rf" in console
    finally:
        drv.destroy(ctxt, inst)


def test_spawn_that_fails_after_its_disk_is_made_removes_it(env: LibvirtEnv,
                                                            drv: LibvirtDriver) -> None:
    image_id = env.register("lvtest-empty-3", env.empty_qcow2(), "qcow2")
    inst = make_instance(image_id)
    vifs = [{"id": "port-1", "address": "fa:16:3e:7e:57:01",
             "network": {"bridge": "lvtest-nobr"}}]
    with pytest.raises(exception.NovaliteException, match="bridge lvtest-nobr of VIF port-1"):
        drv.spawn(nl_context.get_admin_context(), inst, {"id": image_id}, vifs)
    assert not os.path.exists(env.instance_dir(inst))
    assert f"instance-{inst.uuid}" not in leftover_domains()


def test_spawn_that_libvirt_cannot_start_is_undefined(env: LibvirtEnv,
                                                      drv: LibvirtDriver) -> None:
    image_id = env.register("lvtest-empty-4", env.empty_qcow2(), "qcow2")
    inst = make_instance(image_id)
    # NOTE: "lo" exists, so the VIF passes the bridge check, but it is no
    # bridge: the domain is defined and then fails to start.
    vifs = [{"id": "port-2", "address": "fa:16:3e:7e:57:02", "network": {"bridge": "lo"}}]
    with pytest.raises(exception.InstanceSpawnError, match="libvirt could not start it"):
        drv.spawn(nl_context.get_admin_context(), inst, {"id": image_id}, vifs)
    assert not os.path.exists(env.instance_dir(inst))
    assert f"instance-{inst.uuid}" not in leftover_domains()


# -- refused images ---------------------------------------------------------------

def _qcow2_as_raw(env: LibvirtEnv) -> tuple[str, str]:
    return env.empty_qcow2(), "raw"


def _qcow2_backed_by_passwd(env: LibvirtEnv) -> tuple[str, str]:
    path = env.file("backed.qcow2")
    qemu_img("create", "-f", "qcow2", "-F", "raw", "-b", "/etc/passwd", "-u", path, "1G")
    return path, "qcow2"


def _qcow2_with_data_file(env: LibvirtEnv) -> tuple[str, str]:
    path = env.file("datafile.qcow2")
    qemu_img("create", "-f", "qcow2", "-o", f"data_file={env.file('datafile.raw')}", path, "1M")
    return path, "qcow2"


def _vmdk_with_extent(env: LibvirtEnv) -> tuple[str, str]:
    extent = env.file("extent.raw")
    with open(extent, "wb") as f:
        f.truncate(1024 * 1024)
    path = env.file("extent.vmdk")
    with open(path, "w") as f:
        f.write('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
                'createType="monolithicFlat"\n\n# Extent description\n'
                f'RW 2048 FLAT "{extent}" 0\n\n# The Disk Data Base\n#DDB\n\n'
                'ddb.virtualHWVersion = "4"\n')
    return path, "vmdk"


def _qcow2_larger_than_flavor(env: LibvirtEnv) -> tuple[str, str]:
    return env.empty_qcow2("2G"), "qcow2"


def _not_qcow2(env: LibvirtEnv) -> tuple[str, str]:
    path = env.file("text.qcow2")
    with open(path, "w") as f:
        f.write("just some text\n")
    return path, "qcow2"


@pytest.mark.parametrize("make_image, message", [
    (_qcow2_as_raw, "disk_format is raw but the data is a qcow2 image"),
    (_qcow2_backed_by_passwd, "it has a backing file"),
    (_qcow2_with_data_file, "it has an external data file"),
    (_vmdk_with_extent, "its vmdk descriptor refers to another extent file"),
    (_qcow2_larger_than_flavor, "virtual size (2.00 GiB) is larger than the flavor's root "
                                "disk (1 GiB)"),
    (_not_qcow2, "qemu-img cannot read it as qcow2 (Image is not in qcow2 format)"),
], ids=["raw-really-qcow2", "backing-file", "data-file", "vmdk-extent", "too-big",
        "not-qcow2"])
def test_unacceptable_images_are_refused(env: LibvirtEnv, drv: LibvirtDriver,
                                         make_image: Any, message: str) -> None:
    path, disk_format = make_image(env)
    image_id = env.register(f"lvtest-bad-{disk_format}", path, disk_format)
    inst = make_instance(image_id)
    with pytest.raises(imagebackend.ImageUnacceptable) as caught:
        drv.spawn(nl_context.get_admin_context(), inst, {"id": image_id}, [])
    assert message in caught.value.format_message()
    assert image_id in caught.value.format_message()
    assert len(caught.value.format_message()) <= 255
    assert f"instance-{inst.uuid}" not in leftover_domains()
    assert not os.path.exists(env.instance_dir(inst))


# -- downloads ---------------------------------------------------------------------

def test_image_whose_data_does_not_match_its_hash_is_refused(
        env: LibvirtEnv, tiny_server: TinyImageServer) -> None:
    drv = env.driver()
    image_id = tiny_server.add(b"\0" * 65536, lie=True)
    inst = make_instance(image_id)
    with pytest.raises(imagecache.ImageFetchError, match="does not match the record"):
        drv.spawn(nl_context.get_admin_context(), inst, {"id": image_id}, [])
    assert os.listdir(CONF.libvirt.image_cache_path) == [] or not any(
        n.startswith(image_id) for n in os.listdir(CONF.libvirt.image_cache_path))
    assert not os.path.exists(env.instance_dir(inst))


def test_raw_image_larger_than_the_flavor_is_refused_before_download(
        env: LibvirtEnv, tiny_server: TinyImageServer) -> None:
    image_id = tiny_server.add(b"\0" * 512)
    tiny_server.images[image_id]["meta"]["size"] = 1024 ** 3 + 512
    with pytest.raises(imagebackend.ImageUnacceptable,
                       match=r"is larger than the flavor's root disk \(1 GiB\)"):
        env.driver().spawn(nl_context.get_admin_context(), make_instance(image_id),
                           {"id": image_id}, [])
    assert tiny_server.downloads.get(image_id) is None


def test_concurrent_builds_download_an_image_once(env: LibvirtEnv,
                                                  tiny_server: TinyImageServer) -> None:
    drv = env.driver()
    image_id = tiny_server.add(b"\0" * (1024 * 1024), delay=0.02)
    insts = [make_instance(image_id) for _ in range(3)]
    ctxt = nl_context.get_admin_context()
    errors: list[BaseException] = []

    def build(inst: Instance) -> None:
        try:
            drv.spawn(ctxt, inst, {"id": image_id}, [])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=build, args=(i,)) for i in insts]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == []
        assert tiny_server.downloads[image_id] == 1
        assert all(drv.get_info(i).state == power_state.RUNNING for i in insts)
    finally:
        for inst in insts:
            drv.destroy(ctxt, inst)


def test_destroy_makes_a_spawn_in_flight_fail_promptly(env: LibvirtEnv,
                                                       tiny_server: TinyImageServer) -> None:
    drv = env.driver()
    # 64 chunks of 64 KiB, 0.25 s apart: ~16 s to download.
    image_id = tiny_server.add(b"\0" * (4 * 1024 * 1024), delay=0.25)
    inst = make_instance(image_id)
    ctxt = nl_context.get_admin_context()
    outcome: list[BaseException | None] = []

    def build() -> None:
        try:
            drv.spawn(ctxt, inst, {"id": image_id}, [])
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001
            outcome.append(e)

    t = threading.Thread(target=build)
    t.start()
    wait_until(lambda: os.path.isdir(env.instance_dir(inst)), 10, "the spawn to start")
    time.sleep(0.5)
    destroyed = time.monotonic()
    drv.destroy(ctxt, inst)
    t.join(10)
    assert not t.is_alive()
    print(f"\nspawn failed {time.monotonic() - destroyed:.2f}s after destroy")
    assert isinstance(outcome[0], exception.InstanceSpawnError)
    assert "destroyed while it was spawning" in str(outcome[0])
    assert not os.path.exists(env.instance_dir(inst))
    assert f"instance-{inst.uuid}" not in leftover_domains()


def test_second_spawn_of_a_running_instance_is_refused(env: LibvirtEnv,
                                                       drv: LibvirtDriver) -> None:
    image_id = env.register("lvtest-empty-2", env.empty_qcow2(), "qcow2")
    inst = make_instance(image_id)
    ctxt = nl_context.get_admin_context()
    drv.spawn(ctxt, inst, {"id": image_id}, [])
    try:
        with pytest.raises(exception.InstanceSpawnError, match="already exists"):
            drv.spawn(ctxt, inst, {"id": image_id}, [])
        assert drv.get_info(inst).state == power_state.RUNNING
        assert os.path.exists(env.instance_dir(inst))
    finally:
        drv.destroy(ctxt, inst)


def test_image_api_streams_the_file_with_glance_headers(env: LibvirtEnv) -> None:
    import urllib.request

    path = env.file("stream.raw")
    data = os.urandom(3 * 1024 * 1024 + 17)
    with open(path, "wb") as f:
        f.write(data)
    image_id = env.register("lvtest-stream", path, "raw")
    with urllib.request.urlopen(f"{env.api_url}/v2/images/{image_id}/file") as resp:
        body = resp.read()
        assert resp.headers["Content-Length"] == str(len(data))
        assert resp.headers["Content-MD5"] == hashlib.md5(data).hexdigest()
        assert resp.headers["Content-Type"] == "application/octet-stream"
    assert body == data


# -- the real tiny guest ---------------------------------------------------------

def _console_count(drv: LibvirtDriver, inst: Instance, text: str) -> int:
    return drv.get_console_output(nl_context.get_admin_context(), inst).decode(
        "utf-8", "replace").count(text)


def _agent_connected(inst: Instance) -> bool:
    conn = libvirt_connection()
    try:
        live = ET.fromstring(conn.lookupByUUIDString(inst.uuid).XMLDesc(0))
    finally:
        conn.close()
    target = live.find("devices/channel/target")
    return target is not None and target.get("state") == "connected"


def test_tiny_guest_boots_from_kernel_and_powers_off_cleanly(env: LibvirtEnv,
                                                             drv: LibvirtDriver) -> None:
    from novalite import tinyguest

    built = _tiny_guest()
    kernel_id = env.register("lvtest-tiny-kernel", built.kernel, "aki")
    ramdisk_id = env.register("lvtest-tiny-ramdisk", built.ramdisk, "ari")
    ami_id = env.register("lvtest-tiny", built.path("root"), "ami", kernel_id=kernel_id,
                          ramdisk_id=ramdisk_id)
    inst = make_instance(ami_id, hostname="tiny-lv1")
    ctxt = nl_context.get_admin_context()
    marker = tinyguest.marker_line("tiny-lv1")
    started = time.monotonic()
    drv.spawn(ctxt, inst, {"id": ami_id}, [])
    try:
        spawned = time.monotonic()
        wait_until(lambda: _console_count(drv, inst, marker), 90, "the tiny guest's marker")
        print(f"\ntiny guest (kernel): spawn {spawned - started:.2f}s, "
              f"marker after {time.monotonic() - started:.2f}s")
        wait_until(lambda: _agent_connected(inst), 30, "the guest agent to connect")

        stopping = time.monotonic()
        drv.power_off(inst, timeout=30)
        took = time.monotonic() - stopping
        print(f"clean power off in {took:.2f}s")
        assert drv.get_info(inst).state == power_state.SHUTDOWN
        assert took < 25, "the guest did not shut down by itself; it was forced"

        drv.power_on(ctxt, inst)
        wait_until(lambda: _console_count(drv, inst, marker) >= 2, 90, "the marker after start")
        wait_until(lambda: _agent_connected(inst), 30, "the guest agent to reconnect")
        rebooting = time.monotonic()
        drv.reboot(ctxt, inst, "SOFT")
        wait_until(lambda: _console_count(drv, inst, marker) >= 3, 90, "the marker after reboot")
        print(f"soft reboot to marker in {time.monotonic() - rebooting:.2f}s")
        assert drv.get_info(inst).state == power_state.RUNNING
    finally:
        drv.destroy(ctxt, inst)
    assert not os.path.exists(env.instance_dir(inst))


def test_tiny_guest_boots_from_its_qcow2_disk(env: LibvirtEnv, drv: LibvirtDriver) -> None:
    from novalite import tinyguest

    image_id = env.register("lvtest-tiny-disk", _tiny_guest().disk, "qcow2")
    inst = make_instance(image_id, hostname="tiny-lv2")
    ctxt = nl_context.get_admin_context()
    started = time.monotonic()
    drv.spawn(ctxt, inst, {"id": image_id}, [])
    try:
        spawned = time.monotonic()
        wait_until(lambda: _console_count(drv, inst, tinyguest.MARKER), 120,
                 "the tiny guest's marker")
        print(f"\ntiny guest (disk): spawn {spawned - started:.2f}s, "
              f"marker after {time.monotonic() - started:.2f}s")
    finally:
        drv.destroy(ctxt, inst)
