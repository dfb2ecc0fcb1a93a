"""Volumes on REAL guests through the HTTP API (issue 14's first test
bullets and its compute fault): the control plane, a volume service (file
backend) and a libvirt compute (``realhost``) in this process, a second
libvirt compute (``realhost-b``) as a ``novalite-compute`` process of its
own, on a RabbitMQ vhost of this run. The volume host (``volhost``) is
neither compute, so every attachment is an NBD export of
qemu-storage-daemon for the compute's address, never a shared file.

- a volume attached to a running tiny guest on the first compute
  (os-volume_attachments), a block written with dd through the guest agent,
  detached, attached to a guest on the second compute: it reads the same
  block;
- the second compute SIGKILLed with the volume attached and started
  again: the attachment is intact (listed, the volume in-use, the guest
  still reads the block and writes another);
- a server booted from a volume made from the tiny image
  (block_device_mapping_v2 image -> volume) runs from it (its root disk is
  the NBD export); deleted, the volume stays available; booted again from
  that volume with delete_on_termination, deleted, the volume is gone.

Everything (servers, volumes and their exports, the second compute, the
vhost, files) is removed at the end, also on failure; nothing skips.
"""

from __future__ import annotations

import base64
import os
import signal
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest

from novalite import context as nl_context
from novalite.conf import CONF
from novalite.virt.libvirt import agent
from tests.integration import services
from tests.integration.realstack import DRIVER, HOST, RealStack, libvirt_connection
from tests.procs import Proc, wait_until, write_conf

pytestmark = pytest.mark.integration

HOST_B = "realhost-b"
VOLUME_HOST = "volhost"
UP_TIMEOUT = 90
ACTIVE_TIMEOUT = 240
AGENT_TIMEOUT = 180
DEVICE_TIMEOUT = 90
GiB = 1024 ** 3
BLOCK = 4096
BLOCK_SEEK = 100
ADMIN = nl_context.RequestContext(user_id="admin", project_id="admin", is_admin=True,
                                  roles=["admin", "member", "reader"])


class SecondCompute:
    """``novalite-compute`` for HOST_B: the stack's settings, its own
    instances path, image cache and state directory."""

    def __init__(self, rs: RealStack) -> None:
        self.rs = rs
        base = os.path.join(rs.base, "b")
        self.instances_path = os.path.join(base, "instances")
        self.state = os.path.join(base, "state")
        for path in (self.instances_path, self.state):
            os.makedirs(path, mode=0o755)
        os.chmod(base, 0o755)
        self.conf = os.path.join(self.state, "compute.conf")
        self.proc: Proc | None = None
        self.starts = 0

    def start(self) -> None:
        if self.proc is None:
            sections: dict[str, dict[str, Any]] = {"DEFAULT": {}}
            for (group, name), value in self.rs.stack.overrides.items():
                sections.setdefault(group or "DEFAULT", {})[name] = value
            sections["DEFAULT"].update({
                "host": HOST_B, "state_path": self.state, "debug": "false",
                "compute_driver": DRIVER, "control_exchange": CONF.control_exchange,
                "report_interval": 1})
            sections.setdefault("libvirt", {}).update({
                "instances_path": self.instances_path,
                "image_cache_path": os.path.join(self.state, "_base")})
            sections.setdefault("image", {})["api_url"] = CONF.image.api_url
            write_conf(self.conf, sections)
        self.proc = Proc(HOST_B, "novalite-compute", self.conf,
                         os.path.join(self.state, "compute.log")).start()
        self.starts += 1
        self.proc.wait_log(f"is consuming compute, compute.{HOST_B}", timeout=UP_TIMEOUT,
                           count=self.starts)

    def kill(self) -> None:
        assert self.proc is not None and self.proc.popen is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.popen.wait(30)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def log_tail(self) -> str:
        return self.proc.read_log()[-6000:] if self.proc is not None else ""


class Rig:
    def __init__(self, rs: RealStack, second: SecondCompute) -> None:
        self.rs = rs
        self.second = second
        self.volumes: list[str] = []

    @property
    def stack(self) -> Any:
        return self.rs.stack

    def compute(self, method: str, path: str, body: Any = None,
                version: str = "2.79") -> Any:
        return self.stack.compute(method, path, body,
                                  headers={"OpenStack-API-Version": f"compute {version}"})

    def boot(self, name: str, host: str, **server: Any) -> str:
        body = {"server": {"name": name, "flavorRef": "1", "networks": "none",
                           "host": host, **server}}
        if "block_device_mapping_v2" not in server:
            body["server"]["imageRef"] = self.rs.images["disk"]["id"]
        resp = self.compute("POST", "/servers", body)
        assert resp.status_code == 202, resp.text
        server_id = str(resp.json()["server"]["id"])
        self.wait_server(server_id, "ACTIVE")
        try:
            agent.wait_ready(self.domain(server_id), time.monotonic() + AGENT_TIMEOUT)
        except agent.AgentError as e:
            raise AssertionError(f"{e}\n--- {HOST_B} log ---\n{self.second.log_tail()}"
                                 ) from e
        return server_id

    def wait_server(self, server_id: str, status: str) -> dict:
        try:
            return dict(self.stack.wait_status(server_id, status, ACTIVE_TIMEOUT))
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- {HOST_B} log ---\n{self.second.log_tail()}") from e

    def delete_server(self, server_id: str) -> None:
        self.rs.delete(server_id, timeout=120)

    def domain(self, server_id: str) -> libvirt.virDomain:
        conn = libvirt_connection()
        dom = self.rs.domain(conn, server_id)
        assert dom is not None, f"no domain for {server_id}"
        return dom

    def new_volume(self, size: int = 1) -> str:
        from novalite.volume import api as volume_api

        vol = volume_api.API().create(ADMIN, size, name="real")
        self.volumes.append(vol["id"])
        self.wait_volume(vol["id"], "available")
        return str(vol["id"])

    @staticmethod
    def volume(volume_id: str) -> dict:
        from novalite.db import volumes as db

        return dict(db.volume_get(volume_id))

    def wait_volume(self, volume_id: str, status: str, timeout: float = 120) -> dict:
        def seen() -> dict | None:
            try:
                vol = self.volume(volume_id)
            except Exception:
                return {"status": "deleted"} if status == "deleted" else None
            return vol if vol["status"] == status else None
        return dict(wait_until(seen, timeout, f"volume {volume_id} {status}", interval=0.3))

    def attach(self, server_id: str, volume_id: str) -> str:
        resp = self.compute("POST", f"/servers/{server_id}/os-volume_attachments",
                            {"volumeAttachment": {"volumeId": volume_id}})
        assert resp.status_code == 200, resp.text
        self.wait_volume(volume_id, "in-use")
        return str(resp.json()["volumeAttachment"]["device"])

    def detach(self, server_id: str, volume_id: str) -> None:
        resp = self.compute("DELETE",
                            f"/servers/{server_id}/os-volume_attachments/{volume_id}")
        assert resp.status_code == 202, resp.text
        self.wait_volume(volume_id, "available")

    def cleanup_volumes(self) -> list[str]:
        from novalite.volume import api as volume_api

        problems = []
        for volume_id in self.volumes:
            try:
                vol = self.volume(volume_id)
            except Exception:
                continue
            try:
                for att in vol.get("attachments") or []:
                    volume_api.API().attachment_delete(ADMIN, att["id"])
                volume_api.API().delete(ADMIN, volume_id, force=True)
                self.wait_volume(volume_id, "deleted", 60)
            except Exception as e:  # noqa: BLE001
                problems.append(f"volume {volume_id}: {e!r}")
        return problems


def run(dom: libvirt.virDomain, *argv: str) -> str:
    status = agent.execute(dom, "/bin/busybox", list(argv), time.monotonic() + 60, capture=True)
    assert status.get("exitcode") == 0, (argv, status)
    return base64.b64decode(status.get("out-data", "")).decode()


def guest_disk(dom: libvirt.virDomain, serial: str) -> tuple[str, int] | None:
    """The guest's name for the disk whose serial is the volume id (the
    guest names disks in the order it finds them, not after libvirt's
    target), and its size in bytes."""
    script = ("for d in /sys/block/vd*; do echo $(basename $d) $(cat $d/serial 2>/dev/null) "
              "$(cat $d/size); done")
    for line in run(dom, "sh", "-c", script).splitlines():
        words = line.split()
        if len(words) == 3 and words[1] == serial[:20]:
            return words[0], int(words[2]) * 512
    return None


def wait_disk(dom: libvirt.virDomain, serial: str, present: bool = True) -> str:
    def seen() -> str | None:
        disk = guest_disk(dom, serial)
        if not present:
            return "gone" if disk is None else None
        return disk[0] if disk is not None and disk[1] == GiB else None
    return str(wait_until(seen, DEVICE_TIMEOUT, f"the guest's disk {serial}", interval=0.5))


def write_block(dom: libvirt.virDomain, dev: str, data: bytes, seek: int = BLOCK_SEEK) -> None:
    agent.write_file(dom, "/run/vol-block", data)
    run(dom, "dd", "if=/run/vol-block", f"of=/dev/{dev}", f"bs={BLOCK}", f"seek={seek}",
        "count=1", "conv=notrunc,fsync")


def read_block(dom: libvirt.virDomain, dev: str, skip: int = BLOCK_SEEK) -> bytes:
    run(dom, "dd", f"if=/dev/{dev}", "of=/run/vol-read", f"bs={BLOCK}", f"skip={skip}",
        "count=1", "iflag=direct")
    return agent.read_file(dom, "/run/vol-read")


def volume_source(dom: libvirt.virDomain, volume_id: str) -> ET.Element | None:
    """The <disk> of the volume in the live definition (by its serial)."""
    root = ET.fromstring(dom.XMLDesc(0))
    for disk in root.iter("disk"):
        if disk.findtext("serial") == volume_id:
            return disk
    return None


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    try:
        libvirt_connection().close()
    except Exception as e:  # noqa: BLE001
        pytest.fail(str(e))
    problems: list[str] = []
    with services.rabbitmq_vhost() as mq:
        rs = RealStack("realvolumes", overrides={(None, "transport_url"): mq})
        rs.stack.overrides[("volume", "storage_dir")] = os.path.join(rs.base, "volumes")
        second = SecondCompute(rs)
        r = Rig(rs, second)
        try:
            rs.start()
            from novalite.cmd import volume as volume_cmd

            volume_service = volume_cmd.create_service(VOLUME_HOST)
            volume_service.start()
            rs.stack.services.append(volume_service)
            second.start()
            yield r
        finally:
            try:
                problems += rs.delete_all_servers()
            except Exception as e:  # noqa: BLE001
                problems.append(f"deleting the servers failed: {e!r}")
            problems += r.cleanup_volumes()
            # NOTE: the NBD exports outlive the volume service: any a
            # failure left behind is stopped (and counted) here.
            service = next((svc for svc in rs.stack.services
                            if getattr(svc, "binary", "") == "novalite-volume"), None)
            exports = service.manager.exports() if service is not None else None
            if exports is not None:
                left = exports.exported()
                if left:
                    problems.append(f"NBD exports left: {sorted(left)}")
                exports.ensure({})
            second.stop()
            problems += rs.stop()
    assert not problems, problems


@pytest.fixture(scope="module")
def two_guests(rig: Rig) -> tuple[str, str]:
    return rig.boot("vol-a", HOST), rig.boot("vol-b", HOST_B)


def test_volume_written_on_one_compute_is_read_on_another(rig: Rig,
                                                          two_guests: tuple[str, str]) -> None:
    a, b = two_guests
    volume_id = rig.new_volume()
    pattern = os.urandom(BLOCK)
    assert rig.attach(a, volume_id) == "/dev/vdb"
    dom_a = rig.domain(a)
    disk = volume_source(dom_a, volume_id)
    # over the network: an NBD export of the volume host, not its file
    assert disk is not None and disk.get("type") == "network"
    source = disk.find("source")
    assert source is not None and source.get("protocol") == "nbd"
    dev = wait_disk(dom_a, volume_id)
    assert read_block(dom_a, dev) == bytes(BLOCK)  # a new volume reads zeros
    write_block(dom_a, dev, pattern)
    rig.detach(a, volume_id)
    wait_disk(dom_a, volume_id, present=False)
    assert volume_source(rig.domain(a), volume_id) is None

    rig.attach(b, volume_id)
    dom_b = rig.domain(b)
    assert read_block(dom_b, wait_disk(dom_b, volume_id)) == pattern
    listed = rig.compute("GET", f"/servers/{b}/os-volume_attachments").json()
    assert [v["volumeId"] for v in listed["volumeAttachments"]] == [volume_id]


def test_sigkilled_compute_comes_back_with_the_attachment_intact(
        rig: Rig, two_guests: tuple[str, str]) -> None:
    _a, b = two_guests
    vols = rig.compute("GET", f"/servers/{b}/os-volume_attachments").json()[
        "volumeAttachments"]
    assert len(vols) == 1, "the previous test leaves one volume attached to guest B"
    volume_id = vols[0]["volumeId"]
    attachment = rig.volume(volume_id)["attachments"][0]["id"]
    rig.second.kill()
    rig.second.start()
    # the service reports again and found its guest as it was
    rig.wait_server(b, "ACTIVE")
    vol = rig.volume(volume_id)
    assert vol["status"] == "in-use"
    assert [att["id"] for att in vol["attachments"]] == [attachment]
    listed = rig.compute("GET", f"/servers/{b}/os-volume_attachments").json()
    assert [v["volumeId"] for v in listed["volumeAttachments"]] == [volume_id]
    dom_b = rig.domain(b)
    dev = wait_disk(dom_b, volume_id)
    more = os.urandom(BLOCK)
    write_block(dom_b, dev, more, seek=BLOCK_SEEK + 1)
    assert read_block(dom_b, dev, skip=BLOCK_SEEK + 1) == more
    assert read_block(dom_b, dev) != bytes(BLOCK)
    rig.detach(b, volume_id)


def test_cold_migration_takes_the_volume_along(rig: Rig,
                                              two_guests: tuple[str, str]) -> None:
    """migrate (admins) + confirmResize of guest A, a volume attached: on
    the other compute the guest reads what it wrote before, through that
    compute's own attachment (the first one's deleted: one attachment)."""
    a, _b = two_guests
    volume_id = rig.new_volume()
    rig.attach(a, volume_id)
    dom = rig.domain(a)
    pattern = os.urandom(BLOCK)
    write_block(dom, wait_disk(dom, volume_id), pattern)
    before = rig.volume(volume_id)["attachments"][0]["id"]
    source = rig.stack.server(a)["OS-EXT-SRV-ATTR:host"]
    resp = rig.compute("POST", f"/servers/{a}/action", {"migrate": None})
    assert resp.status_code == 202, resp.text
    rig.wait_server(a, "VERIFY_RESIZE")
    resp = rig.compute("POST", f"/servers/{a}/action", {"confirmResize": None})
    assert resp.status_code == 204, resp.text
    rig.wait_server(a, "ACTIVE")
    assert rig.stack.server(a)["OS-EXT-SRV-ATTR:host"] != source
    vol = rig.volume(volume_id)
    assert vol["status"] == "in-use" and len(vol["attachments"]) == 1
    assert vol["attachments"][0]["id"] != before
    dom = rig.domain(a)
    try:
        agent.wait_ready(dom, time.monotonic() + AGENT_TIMEOUT)
    except agent.AgentError as e:
        raise AssertionError(f"{e}\n--- {HOST_B} log ---\n{rig.second.log_tail()}") from e
    assert read_block(dom, wait_disk(dom, volume_id)) == pattern
    rig.detach(a, volume_id)


def test_boot_from_a_volume_made_from_the_tiny_image(rig: Rig) -> None:
    image = rig.rs.images["disk"]["id"]
    server = rig.boot("vol-root", HOST, block_device_mapping_v2=[{
        "uuid": image, "source_type": "image", "destination_type": "volume",
        "boot_index": 0, "volume_size": 1, "delete_on_termination": False}])
    view = rig.stack.server(server)
    (attached,) = view["os-extended-volumes:volumes_attached"]
    root_id = attached["id"]
    rig.volumes.append(root_id)
    assert rig.volume(root_id)["bootable"]
    disk = volume_source(rig.domain(server), root_id)
    assert disk is not None and disk.get("type") == "network"
    target = disk.find("target")
    assert target is not None and target.get("dev") == "vda"
    # its agent answers: the guest runs from the volume
    assert float(run(rig.domain(server), "cat", "/proc/uptime").split()[0]) > 0
    rig.delete_server(server)
    rig.wait_volume(root_id, "available")

    again = rig.boot("vol-root-2", HOST_B, block_device_mapping_v2=[{
        "uuid": root_id, "source_type": "volume", "destination_type": "volume",
        "boot_index": 0, "delete_on_termination": True}])
    assert rig.volume(root_id)["status"] == "in-use"
    rig.delete_server(again)
    rig.wait_volume(root_id, "deleted")
