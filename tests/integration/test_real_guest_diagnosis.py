"""The guest watcher on real guests (novalite/compute/guest_watch.py): after
a build, the compute host follows each guest's serial console and agent and
records what it saw as events of the server's create action, which the
server's owner reads through os-instance-actions.

One NetStack (real libvirtd, QEMU, a network with an address for every
server), four small guests booted at once, each a way a boot goes:

- the tiny guest (kernel + ramdisk + config drive): first console line, its
  address announced, its guest agent ready; after a hard reboot the first
  two again, under the reboot action;
- the tiny guest whose /init exits at once: the kernel panics;
- a raw disk of zeros: the firmware finds nothing to boot;
- the tiny guest whose /init sleeps silently: it prints (its kernel) but never
  shows its address, so the deadline (shortened here) records
  guest_no_sign_of_life.

Beside them, an image the host's format inspection refuses (qcow2 data
declared raw) is booted: no guest runs, the build ends in ERROR at its image
step. The stack checks real tokens (auth_strategy "novalite"), so the
dashboard (/dashboard, headless Chromium) is also opened as a member of the
servers' project: it shows the refused image's failing step, the panicking
guest's diagnosis and the silent guest's missed deadline.

The images are the tiny guest's kernel and ramdisk (built and cached as the
other real-guest tests do) with a second initramfs archive appended that
replaces /init (the kernel unpacks the archives in order). Everything is
deleted at the end, also on failure (NetStack/RealStack teardown).
"""

from __future__ import annotations

import datetime
import io
import re
import stat
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from novalite.tinyguest import builder, cpio
from tests import dashboard_browser
from tests.integration.realstack import RealStackError, libvirt_connection
from tests.integration.test_networking import NetStack

pytestmark = pytest.mark.integration

DEADLINE = 75           # [compute] guest_boot_deadline for this module
ACTIVE_TIMEOUT = 150
EVENTS_TIMEOUT = DEADLINE + 60
LATEST = "latest"
# NOTE: a member of the project the stack's admin boots into ("admin").
MEMBER, PROJECT = "diagnosis-member", "admin"
REFUSED = "disk_format is raw but the data is a qcow2 image"


@pytest.fixture(scope="module")
def ns() -> Iterator[NetStack]:
    try:
        libvirt_connection().close()
    except RealStackError as e:
        pytest.fail(str(e))
    stack = NetStack()
    # NOTE: real tokens, for the dashboard; the stack's own calls carry the
    # bootstrapped admin's.
    stack.rs.stack.auth = "novalite"
    stack.rs.stack.overrides.update({
        ("compute", "guest_boot_deadline"): DEADLINE,
        ("compute", "guest_watch_interval"): 1,
    })
    problems: list[str] = []
    try:
        stack.start()
        yield stack
    finally:
        problems = stack.stop()
    assert not problems, "the stack was not left clean:\n" + "\n".join(problems)


def _init_overlay(script: str) -> bytes:
    """A newc archive holding only /init (a busybox shell script)."""
    archive = cpio.Archive()
    archive.add_file("init", script.encode(), mode=0o755)
    assert archive.entries["init"].mode & stat.S_IXUSR
    out = io.BytesIO()
    archive.write(out, mtime=0)
    return out.getvalue()


def _kernel_image(ns: NetStack, name: str, init_script: str) -> str:
    """An ami booting the tiny kernel with the tiny ramdisk whose /init is
    ``init_script`` (no agent declared); its id."""
    rs = ns.rs
    with open(builder.build(progress=lambda _line: None).path("ramdisk"), "rb") as f:
        ramdisk = f.read() + _init_overlay(init_script)
    ramdisk_path = rs.file(f"{name}.ramdisk")
    with open(ramdisk_path, "wb") as f:
        f.write(ramdisk)
    ari = rs.upload_image(f"{name}-ramdisk", ramdisk_path, "ari", "ari")
    # NOTE: an ami under one sector: no root file system, the guest boots
    # from its kernel and ramdisk (the driver gives it a blank disk).
    ami_path = rs.file(f"{name}.ami")
    with open(ami_path, "wb") as f:
        f.write(b"\0" * 16)
    return rs.upload_image(name, ami_path, "ami", "ami",
                           kernel_id=rs.images["kernel"]["id"], ramdisk_id=ari)


def _zero_disk(ns: NetStack) -> str:
    path = ns.rs.file("zeros.raw")
    with open(path, "wb") as f:
        f.write(b"\0" * (1 << 20))
    return ns.rs.upload_image("diagnosis-zeros", path, "raw")


def _qcow2_as_raw(ns: NetStack) -> str:
    path = ns.rs.file("really-qcow2.raw")
    subprocess.run(["qemu-img", "create", "-f", "qcow2", path, "64M"], check=True,
                   capture_output=True, timeout=30)
    return ns.rs.upload_image("diagnosis-refused", path, "raw")


def _create_events(ns: NetStack, server_id: str, session: requests.Session | None = None,
                   action: str = "create") -> list[dict]:
    """The action's events as ``session`` reads them (default: the admin)."""
    stack = ns.rs.stack
    hdrs = {"OpenStack-API-Version": f"compute {LATEST}"}
    actions = stack.compute("GET", f"/servers/{server_id}/os-instance-actions", headers=hdrs,
                            session=session)
    assert actions.status_code == 200, actions.text
    # NOTE: newest first.
    create = [a for a in actions.json()["instanceActions"] if a["action"] == action][0]
    detail = stack.compute(
        "GET", f"/servers/{server_id}/os-instance-actions/{create['request_id']}",
        headers=hdrs, session=session)
    assert detail.status_code == 200, detail.text
    return list(detail.json()["instanceAction"]["events"])


def _wait_events(ns: NetStack, server_id: str, wanted: set[str],
                 action: str = "create") -> dict[str, dict]:
    """The action's events by name (as the admin sees them) once every
    ``wanted`` event has finished."""
    deadline = time.monotonic() + EVENTS_TIMEOUT
    while True:
        events = {e["event"]: e for e in _create_events(ns, server_id, action=action)}
        if all(events.get(w, {}).get("finish_time") for w in wanted):
            return events
        if time.monotonic() > deadline:
            raise AssertionError(f"{server_id}: events {sorted(wanted)} not all finished "
                                 f"within {EVENTS_TIMEOUT}s: "
                                 f"{[(e['event'], e['result']) for e in events.values()]}")
        time.sleep(1)


def _when(iso: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _dashboard_server(page: Page, ns: NetStack, server_id: str, name: str,
                      status: str) -> None:
    """The server's page in the dashboard (logged in), once it shows ``status``."""
    page.goto(f"{ns.rs.stack.base_url}/dashboard/#server/{server_id}")
    expect(page.locator("#view h1").first).to_have_text(name)
    expect(page.locator("#server-status")).to_have_text(status)


def _failed_step(page: Page, event: str) -> Locator:
    """The diagnosis's line for the failed step ``event``."""
    return page.locator(f"#diagnosis .failed-step[data-event='{event}']")


def _boot(ns: NetStack, ids: list[str], kind: str, image: str) -> tuple[str, dict]:
    server_id = str(ns.boot(f"diag-{kind}", imageRef=image)["id"])
    ids.append(server_id)
    return server_id, ns.rs.stack.wait_status(server_id, "ACTIVE", ACTIVE_TIMEOUT)


def test_guest_boots_and_failures_are_told_in_the_create_action(ns: NetStack) -> None:
    rs = ns.rs
    panic_image = _kernel_image(ns, "diagnosis-panic", "#!/bin/sh\nexit 1\n")
    silent_image = _kernel_image(ns, "diagnosis-silent",
                                 "#!/bin/sh\nwhile :; do sleep 3600; done\n")
    zeros_image = _zero_disk(ns)
    refused_image = _qcow2_as_raw(ns)
    member = rs.stack.make_user(MEMBER, PROJECT)
    as_member = rs.stack.login(MEMBER, member["password"], PROJECT)
    # NOTE: two guests at a time: four TCG guests booting at once on two
    # cores made a kernel's timer check fail ("Kernel panic - not syncing:
    # IO-APIC + timer doesn't work!", which the watcher reported as it should).
    with (rs.servers(120) as ids, dashboard_browser.chromium() as browser,
          dashboard_browser.watched_page(browser) as page):
        # NOTE: the silent guest first: its deadline runs out while the
        # others are checked.
        silent_id, _ = _boot(ns, ids, "silent", silent_image)
        started = time.monotonic()
        healthy_id, healthy_server = _boot(ns, ids, "healthy", rs.images["ami"]["id"])
        zeros_id, _ = _boot(ns, ids, "zeros", zeros_image)

        # The tiny guest: every step seen, as Success.
        address = ns.address(healthy_server)
        steps = {"guest_first_console_line", "guest_address_announced", "guest_agent_ready"}
        healthy = _wait_events(ns, healthy_id, steps)
        assert {s: healthy[s]["result"] for s in steps} == dict.fromkeys(steps, "Success"), (
            [(s, healthy[s]["details"]) for s in steps], rs.console(healthy_id, 40))
        assert address in healthy["guest_address_announced"]["details"]
        assert "guest_console_diagnosis" not in healthy
        assert "guest_no_sign_of_life" not in healthy
        print(f"\nhealthy: {[(s, healthy[s]['details']) for s in sorted(steps)]}")

        # A reboot is followed too, from what the guest prints after it.
        resp = rs.stack.compute("POST", f"/servers/{healthy_id}/action",
                                {"reboot": {"type": "HARD"}})
        assert resp.status_code == 202, resp.text
        rs.stack.wait_status(healthy_id, "ACTIVE", ACTIVE_TIMEOUT)
        steps = {"guest_first_console_line", "guest_address_announced"}
        rebooted = _wait_events(ns, healthy_id, steps, action="reboot")
        assert {s: rebooted[s]["result"] for s in steps} == dict.fromkeys(steps, "Success"), (
            [(s, rebooted[s]["details"]) for s in steps])
        print(f"reboot: {[(s, rebooted[s]['details']) for s in sorted(steps)]}")

        # A disk of zeros: SeaBIOS says so on the serial console.
        zeros = _wait_events(ns, zeros_id, {"guest_console_diagnosis"})
        assert zeros["guest_console_diagnosis"]["result"] == "Error"
        assert "found nothing to boot" in zeros["guest_console_diagnosis"]["details"]
        print(f"zeros: {zeros['guest_console_diagnosis']['details']}")
        for sid in (healthy_id, zeros_id):
            rs.stack.compute("DELETE", f"/servers/{sid}")

        panic_id, _ = _boot(ns, ids, "panic", panic_image)

        # An image the host refuses: ERROR at the image step, its reason
        # told to the member in the API and the dashboard (while the
        # panicking guest boots).
        refused_id = str(ns.boot("diag-refused", imageRef=refused_image)["id"])
        ids.append(refused_id)
        fault = rs.stack.wait_status(refused_id, "ERROR", ACTIVE_TIMEOUT)["fault"]
        assert REFUSED in fault["message"], fault
        refused = [e for e in _create_events(ns, refused_id, as_member)
                   if e["result"] == "Error" and e["event"].startswith("image_")]
        assert len(refused) == 1 and REFUSED in refused[0]["details"], refused
        shown = time.monotonic()
        dashboard_browser.login(page, rs.stack.base_url, MEMBER, member["password"], PROJECT)
        _dashboard_server(page, ns, refused_id, "diag-refused", "ERROR")
        expect(page.locator("#diagnosis .fault-message")).to_contain_text(REFUSED)
        expect(_failed_step(page, refused[0]["event"])).to_contain_text(REFUSED)
        expect(page.locator(f"#timeline tr.event-error[data-event='{refused[0]['event']}']")) \
            .to_have_count(1)
        in_browser = time.monotonic() - shown

        # The kernel panic: a diagnosis the member sees as an Error event of
        # the create action, its words (details) for admins, and the server
        # still ACTIVE.
        panic = _wait_events(ns, panic_id, {"guest_console_diagnosis"})
        diag = panic["guest_console_diagnosis"]
        assert diag["result"] == "Error"
        assert "Attempted to kill init" in diag["details"], diag["details"]
        assert diag["details"].startswith("The guest's kernel panicked")
        assert panic["guest_first_console_line"]["result"] == "Success"
        assert panic["guest_address_announced"]["result"] == "Error"
        assert "Not reached" in panic["guest_address_announced"]["details"]
        seen = {e["event"]: e for e in _create_events(ns, panic_id, as_member)}
        assert seen["guest_console_diagnosis"]["result"] == "Error"
        assert "Attempted to kill init" in seen["guest_console_diagnosis"]["details"]
        assert "host" not in seen["guest_console_diagnosis"]
        assert rs.stack.server(panic_id)["status"] == "ACTIVE"
        print(f"panic: {diag['details']}")
        # ... and in the dashboard: an ACTIVE server with a failed step.
        shown = time.monotonic()
        _dashboard_server(page, ns, panic_id, "diag-panic", "ACTIVE")
        expect(page.locator("#diagnosis h2")).to_have_text("A step failed")
        step = _failed_step(page, "guest_console_diagnosis")
        expect(step).to_contain_text(re.compile("kernel panic", re.IGNORECASE))
        expect(step).to_contain_text("Attempted to kill init")
        expect(page.locator("#timeline tr.event-error[data-event='guest_console_diagnosis']")) \
            .to_have_count(1)
        page.screenshot(path=str(dashboard_browser.artifacts_dir()
                                 / "dashboard-kernel-panic.png"), full_page=True)
        in_browser += time.monotonic() - shown

        # Silent after its kernel: the deadline tells it.
        silent = _wait_events(ns, silent_id, {"guest_no_sign_of_life"})
        waited = time.monotonic() - started
        # NOTE: the watch's steps start on its first pass, the verdict at the deadline.
        watched = (_when(silent["guest_no_sign_of_life"]["start_time"])
                   - _when(silent["guest_first_console_line"]["start_time"]))
        assert silent["guest_first_console_line"]["result"] == "Success"
        assert silent["guest_no_sign_of_life"]["result"] == "Error"
        assert "did not show its address" in silent["guest_no_sign_of_life"]["details"]
        assert silent["guest_address_announced"]["result"] == "Error"
        assert "guest_console_diagnosis" not in silent, silent["guest_console_diagnosis"]
        assert DEADLINE - 2 <= watched.total_seconds() <= DEADLINE + 10, watched
        assert waited >= DEADLINE - 2
        assert rs.stack.server(silent_id)["status"] == "ACTIVE"
        print(f"silent: {silent['guest_no_sign_of_life']['details']}")
        shown = time.monotonic()
        _dashboard_server(page, ns, silent_id, "diag-silent", "ACTIVE")
        expect(_failed_step(page, "guest_no_sign_of_life")) \
            .to_contain_text("did not show its address")
        in_browser += time.monotonic() - shown
        print(f"dashboard: {in_browser:.1f} s in the browser")
