"""Snapshots, shelve and rebuild of a REAL guest through the HTTP API
(issue 12 items 2-3): HTTP API → conductor → compute → LibvirtDriver →
libvirtd + QEMU, with the Image API the snapshots are uploaded to.

One guest booted from the tiny guest's qcow2 disk (guest agent, config
drive, a NIC on a real bridge) is shared by the module's tests:

- it writes a random block onto its own disk (through the guest agent,
  flushed), createImage snapshots it, and a second server booted from the
  snapshot answers HTTP with ITS OWN uuid and has that block;
- shelve (offloaded at once, [DEFAULT] shelved_offload_time 0) removes the
  domain; unshelve spawns it from the shelved image: HTTP again, same address;
- rebuild with another image (the kernel+ramdisk one) keeps the address.

Everything (servers, images' files, the bridge) is removed at the end, also
on failure; nothing here skips.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator

import pytest

from novalite.virt.libvirt import agent
from tests.integration import realguest
from tests.integration.realguest import ACTIVE_TIMEOUT
from tests.integration.realstack import RealStackError, libvirt_connection
from tests.integration.test_networking import NetStack
from tests.procs import wait_until

pytestmark = pytest.mark.integration

IMAGE_TIMEOUT = 120
PATTERN_OFFSET = 600 * 1024 * 1024   # inside the 1 GiB root disk, past the image's data
PATTERN_SIZE = 4096


class Guest(realguest.Guest):
    api_version = "2.45"

    def write_block(self, data: bytes) -> None:
        """``data`` onto the guest's own disk, flushed by the guest (dd conv=fsync)."""
        agent.write_file(self.domain(), "/run/rgia-block", data)
        self.run("dd", "if=/run/rgia-block", "of=/dev/vda", f"bs={len(data)}",
                 f"seek={PATTERN_OFFSET // len(data)}", "count=1", "conv=notrunc,fsync")

    def read_block(self, server_id: str) -> bytes:
        dom = self.domain(server_id)
        handle = agent.command(dom, "guest-file-open", {"path": "/dev/vda", "mode": "r"})
        try:
            agent.command(dom, "guest-file-seek", {"handle": handle, "offset": PATTERN_OFFSET,
                                                   "whence": "set"})
            res = agent.command(dom, "guest-file-read",
                                {"handle": handle, "count": PATTERN_SIZE})
        finally:
            agent.command(dom, "guest-file-close", {"handle": handle})
        return base64.b64decode(res["buf-b64"])


@pytest.fixture(scope="module")
def guest() -> Iterator[Guest]:
    try:
        libvirt_connection().close()
    except RealStackError as e:
        pytest.fail(str(e))
    ns = NetStack()
    problems: list[str] = []
    try:
        ns.start()
        with realguest.booted(Guest(ns), "rgia-src") as g:
            yield g
    finally:
        problems = ns.stop()
    assert not problems, "the stack was not left clean:\n" + "\n".join(problems)


def _wait_image_active(guest: Guest, image_id: str) -> dict:
    def active() -> dict | None:
        resp = guest.ns.rs.stack.request("GET", f"/image/v2/images/{image_id}")
        assert resp.status_code == 200, resp.text
        image = resp.json()
        assert image["status"] in ("queued", "saving", "active"), image
        return image if image["status"] == "active" else None
    return dict(wait_until(active, IMAGE_TIMEOUT, f"image {image_id} active", interval=0.5))


def test_snapshot_then_a_server_from_it_answers_with_its_uuid_and_has_the_block(
        guest: Guest) -> None:
    stack = guest.ns.rs.stack
    pattern = os.urandom(PATTERN_SIZE)
    guest.write_block(pattern)
    started = time.monotonic()
    image_id = guest.act({"createImage": {"name": "rgia-snap"}}).json()["image_id"]
    image = _wait_image_active(guest, image_id)
    stack.wait_status(guest.id, "ACTIVE", ACTIVE_TIMEOUT)
    print(f"\ncreateImage → image active {time.monotonic() - started:.2f}s "
          f"({image['size']} bytes)")
    assert image["disk_format"] == "qcow2" and image["image_type"] == "snapshot"
    assert image["instance_uuid"] == guest.id and image["hw_qemu_guest_agent"] == "yes"
    # the source guest kept running through the snapshot (frozen by its agent)
    guest.wait_up(guest.id, guest.address)

    with guest.ns.rs.servers(120) as ids:
        copy = guest.boot("rgia-copy", image_id)
        ids.append(copy["id"])
        active = stack.wait_status(copy["id"], "ACTIVE", ACTIVE_TIMEOUT)
        body = guest.wait_up(copy["id"], guest.ns.address(active))
        assert f"uuid={guest.id}" not in body.splitlines()
        assert guest.read_block(copy["id"]) == pattern
    resp = stack.request("DELETE", f"/image/v2/images/{image_id}")
    assert resp.status_code == 204, resp.text


def test_shelve_offload_then_unshelve_answers_http_at_the_same_address(guest: Guest) -> None:
    stack = guest.ns.rs.stack
    started = time.monotonic()
    guest.act({"shelve": None})
    shelved = stack.wait_status(guest.id, "SHELVED_OFFLOADED", ACTIVE_TIMEOUT)
    print(f"\nshelve → SHELVED_OFFLOADED {time.monotonic() - started:.2f}s")
    assert shelved["OS-EXT-SRV-ATTR:host"] is None
    assert guest.ns.rs.domain_xml(guest.id) is None, "the offloaded guest's domain is left"
    assert not os.path.exists(guest.ns.rs.instance_dir(guest.id))

    started = time.monotonic()
    guest.act({"unshelve": None})
    active = stack.wait_status(guest.id, "ACTIVE", ACTIVE_TIMEOUT)
    assert guest.ns.address(active) == guest.address
    guest.wait_up(guest.id, guest.address)
    print(f"unshelve → HTTP answer {time.monotonic() - started:.2f}s")
    shelved_images = stack.request("GET", "/image/v2/images?name=rgia-src-shelved").json()
    assert shelved_images["images"] == [], "the shelved image was not deleted"


def test_rebuild_with_another_image_keeps_the_address(guest: Guest) -> None:
    stack = guest.ns.rs.stack
    ami = guest.ns.rs.images["ami"]["id"]
    started = time.monotonic()
    resp = guest.act({"rebuild": {"imageRef": ami, "name": "rgia-rebuilt"}})
    assert resp.json()["server"]["adminPass"]
    active = stack.wait_status(guest.id, "ACTIVE", ACTIVE_TIMEOUT)
    assert active["image"]["id"] == ami
    assert guest.ns.address(active) == guest.address
    body = guest.wait_up(guest.id, guest.address)
    print(f"\nrebuild → HTTP answer {time.monotonic() - started:.2f}s")
    assert "hostname=rgia-src" in body.splitlines() or "hostname=rgia-rebuilt" in \
        body.splitlines(), body
    xml = guest.ns.rs.domain_xml(guest.id)
    assert xml is not None and xml.find("os/kernel") is not None, "not booted from the ami"
