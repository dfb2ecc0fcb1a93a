"""Real guests through the whole stack: HTTP API → conductor → scheduler →
compute → LibvirtDriver → libvirtd (``qemu:///system``) → QEMU, booting the
tiny guest and reading its serial console through the API.

One module-scoped stack (``realstack.RealStack``): one compute host on the
LibvirtDriver, its files under /var/lib/novalite-tests/, its domains named
with a prefix of its own, the tiny guest's images in its image store. Every
test deletes what it made; the stack's teardown checks that no domain, no
instance directory is left and removes everything anyway. An unreachable
libvirtd, or no QEMU, fails the tests: nothing here skips.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import libvirt
import pytest

from novalite import tinyguest
from novalite.compute import power_state
from tests.integration.realstack import (
    RealStack,
    RealStackError,
    hostname_of,
    libvirt_connection,
    marker_count,
)
from tests.procs import wait_until

pytestmark = pytest.mark.integration

BOOT_TIMEOUT = 120          # POST → marker, one guest
CONCURRENT_TIMEOUT = 240    # POST → all markers, four guests at once
ACTIVE_TIMEOUT = 90
POWER_TIMEOUT = 90          # stop/start/reboot → settled
TINY = "1"                  # m1.tiny: 512 MiB, 1 GiB disk (no flavor-create API)


@pytest.fixture(scope="module")
def rs() -> Iterator[RealStack]:
    try:
        libvirt_connection().close()
    except RealStackError as e:
        pytest.fail(str(e))
    stack = RealStack(label="realguests")
    problems: list[str] = []
    try:
        stack.start()
        yield stack
    finally:
        problems = stack.stop()
    assert not problems, "the stack was not left clean:\n" + "\n".join(problems)


def disk_guest_hostname(rs: RealStack, server_id: str, server_name: str) -> str:
    """The hostname a disk-booted tiny guest prints: the server's when it
    has a config drive to read it from, else the guest's default.

    NOTE: a disk boot has no kernel command line of ours; the config drive
    (``[compute] force_config_drive``, on by default) is a read-only disk
    named disk.config in the instance directory.
    """
    xml = rs.domain_xml(server_id)
    assert xml is not None, f"no domain for {server_id}"
    has_drive = any((d.find("source").get("file") or "").endswith("/disk.config")
                    for d in xml.findall("devices/disk") if d.find("source") is not None)
    return hostname_of(server_name) if has_drive else tinyguest.DEFAULT_HOSTNAME


def assert_gone_from_host(rs: RealStack, server_id: str) -> None:
    conn = libvirt_connection()
    try:
        assert rs.domain(conn, server_id) is None, f"the domain of {server_id} is left"
    finally:
        conn.close()
    assert not os.path.exists(rs.instance_dir(server_id)), \
        f"{rs.instance_dir(server_id)} (disk, console log) is left"
    left = [n for n in rs.instance_dirs() if server_id in n]
    assert not left, f"files of {server_id} left in {rs.instances_path}: {left}"


def create_steps(rs: RealStack, server_id: str, *until: str) -> dict[str, dict]:
    """The create action's events (2.84, as the admin) by name, once one of
    ``until`` is among them: compute sends its steps when the build ends."""
    found: dict[str, dict] = {}
    headers = {"OpenStack-API-Version": "compute 2.84"}

    def arrived() -> bool:
        actions = rs.stack.compute("GET", f"/servers/{server_id}/os-instance-actions",
                                   headers=headers).json()["instanceActions"]
        create = next(a for a in actions if a["action"] == "create")
        events = rs.stack.compute(
            "GET", f"/servers/{server_id}/os-instance-actions/{create['request_id']}",
            headers=headers).json()["instanceAction"]["events"]
        found.update({e["event"]: e for e in events})
        return any(u in found for u in until)
    wait_until(arrived, 20, f"the {' or '.join(until)} step of {server_id}")
    return found


def domain_state(rs: RealStack, server_id: str) -> int:
    conn = libvirt_connection()
    try:
        dom = rs.domain(conn, server_id)
        assert dom is not None, f"no domain for {server_id}"
        return int(dom.state()[0])
    finally:
        conn.close()


# -- (a) (b) one guest, disk and kernel ---------------------------------------------

def test_disk_image_boots_to_the_marker(rs: RealStack) -> None:
    name = "rg-disk"
    with rs.servers(60) as ids:
        posted = time.monotonic()
        server = rs.boot(name, rs.images["disk"]["id"], TINY)
        ids.append(server["id"])
        active = rs.stack.wait_status(server["id"], "ACTIVE", ACTIVE_TIMEOUT)
        active_s = time.monotonic() - posted
        assert active["OS-EXT-STS:power_state"] == power_state.RUNNING
        assert active["OS-EXT-SRV-ATTR:host"] == rs.host

        xml = rs.domain_xml(server["id"])
        assert xml is not None
        assert xml.findtext("name", "").startswith(rs.prefix)
        assert xml.find("os/kernel") is None
        source = xml.find("devices/disk/source")
        assert source is not None
        assert source.get("file") == os.path.join(rs.instance_dir(server["id"]), "disk")

        # the build's timeline: the real steps, each a Success with its times
        steps = create_steps(rs, server["id"], "domain_start")
        for step in ("api_accepted", "schedule_instances", "network_allocate", "image_check",
                     "image_fetch", "disk_create", "domain_define", "domain_start"):
            assert steps[step]["result"] == "Success", steps[step]
            assert steps[step]["start_time"] <= steps[step]["finish_time"], steps[step]
        fetched = steps["image_fetch"]["details"]
        assert f"{rs.images['disk']['size']} bytes" in fetched, fetched
        assert "downloaded" in fetched or "found in the cache" in fetched
        assert steps["domain_start"]["host"] == rs.host
        assert steps["image_fetch"]["start_time"] <= steps["domain_start"]["start_time"]

        hostname = disk_guest_hostname(rs, server["id"], name)
        took = rs.wait_marker(server["id"], hostname, BOOT_TIMEOUT, length=50, since=posted)
        print(f"\ndisk image: POST → ACTIVE {active_s:.2f}s, POST → marker "
              f"({tinyguest.marker_line(hostname)!r}) {took:.2f}s")
        tail = rs.console(server["id"], 50)
        assert tail is not None and len(tail.splitlines()) <= 50


def test_kernel_ramdisk_image_boots_to_the_marker_with_its_hostname(rs: RealStack) -> None:
    name = "rg-kernel"
    with rs.servers(60) as ids:
        posted = time.monotonic()
        server = rs.boot(name, rs.images["ami"]["id"], TINY)
        ids.append(server["id"])
        rs.stack.wait_status(server["id"], "ACTIVE", ACTIVE_TIMEOUT)
        active_s = time.monotonic() - posted

        xml = rs.domain_xml(server["id"])
        assert xml is not None
        inst_dir = rs.instance_dir(server["id"])
        assert xml.findtext("os/kernel") == os.path.join(inst_dir, "kernel")
        assert xml.findtext("os/initrd") == os.path.join(inst_dir, "ramdisk")
        assert f"{tinyguest.HOSTNAME_PARAM}={name}" in xml.findtext("os/cmdline", "")

        took = rs.wait_marker(server["id"], hostname_of(name), BOOT_TIMEOUT, length=50,
                              since=posted)
        print(f"\nkernel+ramdisk image: POST → ACTIVE {active_s:.2f}s, POST → marker {took:.2f}s")


# -- (c) power actions and delete ---------------------------------------------------

def test_stop_start_reboot_and_delete_leave_nothing_behind(rs: RealStack) -> None:
    name = "rg-life"
    with rs.servers(60) as ids:
        server = rs.boot(name, rs.images["disk"]["id"], TINY)
        sid = server["id"]
        ids.append(sid)
        rs.stack.wait_status(sid, "ACTIVE", ACTIVE_TIMEOUT)
        hostname = disk_guest_hostname(rs, sid, name)
        rs.wait_marker(sid, hostname, BOOT_TIMEOUT)
        xml = rs.domain_xml(sid)
        assert xml is not None
        domain_name = xml.findtext("name")

        def count() -> int:
            return marker_count(rs.console(sid) or "", hostname)

        boots = count()
        assert boots == 1

        started = time.monotonic()
        rs.action(sid, {"os-stop": None})
        stopped = rs.stack.wait_status(sid, "SHUTOFF", POWER_TIMEOUT)
        print(f"\nstop → SHUTOFF {time.monotonic() - started:.2f}s")
        assert stopped["OS-EXT-STS:power_state"] == power_state.SHUTDOWN
        assert domain_state(rs, sid) == libvirt.VIR_DOMAIN_SHUTOFF
        # The console log outlives a power cycle and is readable while stopped.
        assert count() == boots

        started = time.monotonic()
        rs.action(sid, {"os-start": None})
        active = rs.stack.wait_status(sid, "ACTIVE", POWER_TIMEOUT)
        assert active["OS-EXT-STS:power_state"] == power_state.RUNNING
        boots += 1
        rs.wait_marker(sid, hostname, BOOT_TIMEOUT, at_least=boots)
        print(f"start → marker again {time.monotonic() - started:.2f}s")

        for kind in ("SOFT", "HARD"):
            started = time.monotonic()
            rs.action(sid, {"reboot": {"type": kind}})
            active = rs.stack.wait_status(sid, "ACTIVE", POWER_TIMEOUT)
            assert active["OS-EXT-STS:power_state"] == power_state.RUNNING
            assert active.get("fault") is None
            boots += 1
            rs.wait_marker(sid, hostname, BOOT_TIMEOUT, at_least=boots)
            print(f"{kind} reboot → marker again {time.monotonic() - started:.2f}s")

        assert os.path.exists(os.path.join(rs.instance_dir(sid), "console.log"))
        started = time.monotonic()
        resp = rs.stack.compute("DELETE", f"/servers/{sid}")
        assert resp.status_code == 204, resp.text
        rs.stack.wait_gone(sid, 60)
        print(f"delete → 404 {time.monotonic() - started:.2f}s")
        assert rs.stack.compute("GET", f"/servers/{sid}").status_code == 404
        assert_gone_from_host(rs, sid)
        assert domain_name not in rs.domains()
        assert rs.domains() == []


# -- (d) four at once --------------------------------------------------------------

def test_four_concurrent_boots_on_one_host(rs: RealStack) -> None:
    # Two of each image: both paths at once, and each kernel guest must
    # show its own hostname (no mix-up between the builds).
    specs = [(f"rg-four-{i}", "disk" if i % 2 else "ami") for i in range(4)]
    with rs.servers(60) as ids:
        posted = time.monotonic()
        booted: list[tuple[str, str, str]] = []
        for name, image in specs:
            server = rs.boot(name, rs.images[image]["id"], TINY)
            ids.append(server["id"])
            booted.append((server["id"], name, image))
        deadline = posted + CONCURRENT_TIMEOUT
        for sid, _name, _image in booted:
            rs.stack.wait_status(sid, "ACTIVE", max(1.0, deadline - time.monotonic()))

        times: dict[str, float] = {}
        errors: list[BaseException] = []

        def watch(sid: str, name: str, image: str) -> None:
            try:
                hostname = (hostname_of(name) if image == "ami"
                            else disk_guest_hostname(rs, sid, name))
                times[name] = rs.wait_marker(sid, hostname,
                                             max(1.0, deadline - time.monotonic()),
                                             length=50, since=posted)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=watch, args=b) for b in booted]
        for t in threads:
            t.start()
        for t in threads:
            t.join(CONCURRENT_TIMEOUT + 30)
        assert not errors, errors[0]
        print("\n4 at once, POST → marker: " + ", ".join(
            f"{n} {s:.1f}s" for n, s in sorted(times.items())))
        assert len(times) == 4
        details = [rs.stack.server(sid) for sid, _n, _i in booted]
        assert {d["status"] for d in details} == {"ACTIVE"}
        assert len(set(rs.domains())) == 4
    for sid, _n, _i in booted:
        assert_gone_from_host(rs, sid)
    assert rs.domains() == []


# -- (e) refused images ------------------------------------------------------------

def _qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True, timeout=30)


def _qcow2_as_raw(rs: RealStack) -> tuple[str, str]:
    path = rs.file("really-qcow2.raw")
    _qemu_img("create", "-f", "qcow2", path, "64M")
    return path, "raw"


def _qcow2_backed_by_passwd(rs: RealStack) -> tuple[str, str]:
    path = rs.file("backed-by-passwd.qcow2")
    _qemu_img("create", "-f", "qcow2", "-F", "raw", "-b", "/etc/passwd", "-u", path, "64M")
    return path, "qcow2"


def _qcow2_larger_than_flavor(rs: RealStack) -> tuple[str, str]:
    path = rs.file("five-gib.qcow2")
    _qemu_img("create", "-f", "qcow2", path, "5G")
    return path, "qcow2"


@pytest.mark.parametrize("make_image, message", [
    (_qcow2_as_raw, "disk_format is raw but the data is a qcow2 image"),
    (_qcow2_backed_by_passwd, "it has a backing file"),
    (_qcow2_larger_than_flavor, "its virtual size (5.00 GiB) is larger than the flavor's "
                                "root disk (1 GiB)"),
], ids=["raw-really-qcow2", "backing-file", "too-big-for-flavor"])
def test_unacceptable_images_end_in_error_with_the_reason(
        rs: RealStack, make_image: Callable[[RealStack], tuple[str, str]], message: str) -> None:
    path, disk_format = make_image(rs)
    assert os.path.getsize(path) < 1024 * 1024
    image_id = rs.upload_image(f"rg-bad-{os.path.basename(path)}", path, disk_format)
    with rs.servers(60) as ids:
        server = rs.boot(f"rg-bad-{disk_format}", image_id, TINY)
        ids.append(server["id"])
        failed = rs.stack.wait_status(server["id"], "ERROR", ACTIVE_TIMEOUT)
        fault = failed.get("fault") or {}
        assert message in fault.get("message", ""), fault
        # the fault and the timeline name the image step that refused it
        assert fault["message"].startswith("Build failed while "), fault
        failed_steps = [s for s in create_steps(rs, server["id"], "image_check", "image_fetch")
                        .values() if s["result"] == "Error" and s["event"].startswith("image_")]
        assert len(failed_steps) == 1 and message in failed_steps[0]["details"], failed_steps
        assert image_id in fault["message"]
        assert "/" not in fault["message"], \
            f"the fault shows a host path: {fault['message']}"
        assert rs.domain_xml(server["id"]) is None
        assert not os.path.exists(rs.instance_dir(server["id"]))
    assert rs.stack.request("DELETE", f"/image/v2/images/{image_id}").status_code == 204
    assert rs.domains() == []


# -- (f) compute restart with guests changed behind its back --------------------------

def test_compute_restart_corrects_power_states_changed_behind_its_back(rs: RealStack) -> None:
    with rs.servers(60) as ids:
        off = rs.boot("rg-restart-off", rs.images["ami"]["id"], TINY)
        gone = rs.boot("rg-restart-gone", rs.images["ami"]["id"], TINY)
        ids += [off["id"], gone["id"]]
        for sid, name in ((off["id"], "rg-restart-off"), (gone["id"], "rg-restart-gone")):
            rs.stack.wait_status(sid, "ACTIVE", ACTIVE_TIMEOUT)
            rs.wait_marker(sid, hostname_of(name), BOOT_TIMEOUT)

        rs.stack.stop_compute(rs.host)
        try:
            conn = libvirt_connection()
            try:
                off_dom, gone_dom = rs.domain(conn, off["id"]), rs.domain(conn, gone["id"])
                assert off_dom is not None and gone_dom is not None
                # Shut off but still defined: the guest "stopped by itself".
                off_dom.destroy()
                # Destroyed and undefined: the guest disappeared.
                gone_dom.destroy()
                gone_dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
            finally:
                conn.close()
            # Nothing noticed yet: the API still shows both ACTIVE.
            assert rs.stack.server(off["id"])["status"] == "ACTIVE"
        finally:
            restarted = time.monotonic()
            rs.stack.start_compute(rs.host, "libvirt.LibvirtDriver")

        # NOTE: the compute service reconciles (sync_power_states) before it
        # starts serving, so both are corrected by the time start returns.
        def settled() -> tuple[dict, dict] | None:
            a, b = rs.stack.server(off["id"]), rs.stack.server(gone["id"])
            ok = a["status"] == "SHUTOFF" and b["status"] == "ERROR"
            return (a, b) if ok else None

        a, b = wait_until(settled, 30, "the power states to be corrected")
        print(f"\ncorrected {time.monotonic() - restarted:.2f}s after the compute restart")
        assert a["OS-EXT-STS:power_state"] == power_state.SHUTDOWN
        assert a["OS-EXT-STS:task_state"] is None and a.get("fault") is None
        assert b["OS-EXT-STS:power_state"] == power_state.NOSTATE
        assert b["OS-EXT-STS:task_state"] is None
        assert "disappeared" in (b.get("fault") or {}).get("message", ""), b.get("fault")
        assert domain_state(rs, off["id"]) == libvirt.VIR_DOMAIN_SHUTOFF

        # The SHUTOFF one starts again and boots.
        rs.action(off["id"], {"os-start": None})
        rs.stack.wait_status(off["id"], "ACTIVE", POWER_TIMEOUT)
        rs.wait_marker(off["id"], hostname_of("rg-restart-off"), BOOT_TIMEOUT, at_least=2)
    for sid in (off["id"], gone["id"]):
        assert_gone_from_host(rs, sid)
    assert rs.domains() == []
