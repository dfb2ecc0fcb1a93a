"""The whole stack in one process on the real libvirtd, with the tiny guest.

``RealStack`` wraps ``tests.functional.stack.Stack`` with one compute host on
``libvirt.LibvirtDriver`` (``qemu:///system``), everything it writes under a
directory of its own in /var/lib/novalite-tests/ (QEMU runs as libvirt-qemu
and must traverse the path to the disks, which pytest's 0700 tmp dirs
forbid), domains named with a prefix of its own, the Image API URL pointing
at the stack's own API, and the tiny guest's images registered. ``stop()``
removes every domain with its prefix and every file, whatever happened.

Used by ``tests/integration/test_real_guests.py`` and
``benchmarks/bench_real_boot.py``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import libvirt

from novalite import tinyguest
from novalite.conf import CONF
from tests.functional.stack import Stack
from tests.integration import services

URI = "qemu:///system"
TEST_ROOT = "/var/lib/novalite-tests"
DRIVER = "libvirt.LibvirtDriver"
HOST = "realhost"
QEMU_LOG_DIR = "/var/log/libvirt/qemu"


class RealStackError(Exception):
    pass


def libvirt_connection() -> libvirt.virConnect:
    try:
        return libvirt.open(URI)
    except libvirt.libvirtError as e:
        raise RealStackError(
            f"libvirtd is not reachable at {URI} ({e}); start it as root with "
            "`mkdir -p /var/log/libvirt; virtlogd -d; libvirtd -d`") from e


def hostname_of(name: str) -> str:
    """The hostname the compute API derives from a server name (RFC 952)."""
    host = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return host or "server"


def marker_count(output: str, hostname: str) -> int:
    """How many whole console lines are the tiny guest's marker for ``hostname``."""
    line = tinyguest.marker_line(hostname)
    return sum(1 for ln in output.splitlines() if ln.strip() == line)


class RealStack:
    def __init__(self, label: str = "realguests", host: str = HOST,
                 overrides: dict[tuple[str | None, str], Any] | None = None) -> None:
        self.host = host
        os.makedirs(TEST_ROOT, mode=0o755, exist_ok=True)
        self.base = tempfile.mkdtemp(prefix=f"{label}-", dir=TEST_ROOT)
        os.chmod(self.base, 0o755)
        self.files = os.path.join(self.base, "files")
        self.instances_path = os.path.join(self.base, "instances")
        state = os.path.join(self.base, "state")
        for path in (self.files, state):
            os.makedirs(path, mode=0o755)
        # NOTE: unique per stack, so this stack's domains are recognisable on
        # a libvirtd others use too (and a leftover says whose it is).
        self.prefix = f"nlrg{uuid.uuid4().hex[:6]}-"
        all_overrides: dict[tuple[str | None, str], Any] = {
            ("libvirt", "instances_path"): self.instances_path,
            ("libvirt", "image_cache_path"): os.path.join(self.base, "_base"),
            ("libvirt", "instance_name_template"): self.prefix + "%08x",
            ("libvirt", "shutdown_timeout"): 30,
            ("compute", "guest_shutdown_timeout"): 30,
            # NOTE: a slow boot under TCG with several guests must not meet
            # the per-call deadline of the console-output calls.
            (None, "rpc_call_timeout"): 30,
            **(overrides or {}),
        }
        self.stack = Stack(state, computes=[(host, DRIVER)], overrides=all_overrides)
        self.images: dict[str, dict[str, Any]] = {}
        self._api_url_set = False

    # -- life cycle ------------------------------------------------------------

    def start(self) -> RealStack:
        libvirt_connection().close()
        self.stack.start()
        # NOTE: the API starts after compute in Stack.start; the driver reads
        # [image] api_url at each spawn, so setting it now is in time.
        CONF.set_override("api_url", f"{self.stack.base_url}/image", group="image")
        self._api_url_set = True
        from novalite.tinyguest import builder

        built = builder.build(progress=lambda _line: None)
        self.images = builder.register(built, progress=lambda _line: None)
        return self

    def stop(self) -> list[str]:
        """Stop everything, remove every domain and file of this stack;
        returns the problems found on the way (empty when all was clean)."""
        problems: list[str] = []
        try:
            if self.stack.base_url:
                problems += self.delete_all_servers()
        except Exception as e:  # noqa: BLE001
            problems.append(f"deleting the servers failed: {e!r}")
        try:
            self.stack.stop()
        except Exception as e:  # noqa: BLE001
            problems.append(f"stopping the stack failed: {e!r}")
        finally:
            if self._api_url_set:
                CONF.clear_override("api_url", group="image")
            left = self.domains()
            if left:
                problems.append(f"domains left after the servers were deleted: {left}")
            dirs = self.instance_dirs()
            if dirs:
                problems.append(f"instance directories left: {dirs}")
            self.destroy_domains()
            shutil.rmtree(self.base, ignore_errors=True)
            # NOTE: libvirt keeps each domain's QEMU log (not the console)
            # after the domain is gone; these names are this stack's alone.
            for log in glob.glob(os.path.join(QEMU_LOG_DIR, f"{self.prefix}*.log*")):
                with contextlib.suppress(OSError):
                    os.unlink(log)
        return problems

    # -- libvirt and files -------------------------------------------------------

    def domains(self) -> list[str]:
        """Names of this stack's domains (running or only defined)."""
        try:
            conn = libvirt_connection()
        except RealStackError:
            return []
        try:
            return sorted(d.name() for d in conn.listAllDomains(0)
                          if d.name().startswith(self.prefix))
        finally:
            conn.close()

    def destroy_domains(self) -> None:
        try:
            conn = libvirt_connection()
        except RealStackError:
            return
        try:
            services.purge_domains(conn, self.prefix)
        finally:
            conn.close()

    def domain(self, conn: libvirt.virConnect, server_id: str) -> libvirt.virDomain | None:
        try:
            return conn.lookupByUUIDString(server_id)
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    def domain_xml(self, server_id: str) -> ET.Element | None:
        conn = libvirt_connection()
        try:
            dom = self.domain(conn, server_id)
            return None if dom is None else ET.fromstring(dom.XMLDesc(0))
        finally:
            conn.close()

    def instance_dir(self, server_id: str) -> str:
        return os.path.join(self.instances_path, server_id)

    def instance_dirs(self) -> list[str]:
        try:
            return sorted(os.listdir(self.instances_path))
        except FileNotFoundError:
            return []

    def file(self, name: str) -> str:
        return os.path.join(self.files, name)

    # -- the API -------------------------------------------------------------------

    def boot(self, name: str, image: str, flavor: str = "1") -> dict:
        return self.stack.boot(name=name, flavor=flavor, image=image)

    def console(self, server_id: str, length: int | None = None) -> str | None:
        """The console output through the API; None while it is refused
        (409: the server is building or in a task)."""
        args: dict[str, Any] = {} if length is None else {"length": length}
        resp = self.stack.compute("POST", f"/servers/{server_id}/action",
                                  {"os-getConsoleOutput": args})
        if resp.status_code == 409:
            return None
        assert resp.status_code == 200, f"console output of {server_id}: {resp.status_code} " \
                                        f"{resp.text}"
        return str(resp.json()["output"])

    def wait_marker(self, server_id: str, hostname: str, timeout: float, at_least: int = 1,
                    length: int | None = None, interval: float = 0.2,
                    since: float | None = None) -> float:
        """Seconds (from ``since``, default now) until the console shows the
        marker for ``hostname`` ``at_least`` times; AssertionError at ``timeout``."""
        start = time.monotonic() if since is None else since
        deadline = time.monotonic() + timeout
        output: str | None = ""
        while True:
            output = self.console(server_id, length)
            if output is not None and marker_count(output, hostname) >= at_least:
                return time.monotonic() - start
            if time.monotonic() > deadline:
                tail = "\n".join((output or "").splitlines()[-15:])
                server = self.stack.server(server_id)
                raise AssertionError(
                    f"{server_id} did not show {tinyguest.marker_line(hostname)!r} "
                    f"{at_least}x within {timeout:.0f}s (status {server.get('status')}, "
                    f"fault {server.get('fault')}); console tail:\n{tail}")
            time.sleep(interval)

    def action(self, server_id: str, body: dict) -> None:
        resp = self.stack.compute("POST", f"/servers/{server_id}/action", body)
        assert resp.status_code == 202, f"{body}: {resp.status_code} {resp.text}"

    def delete(self, server_id: str, timeout: float = 60) -> None:
        resp = self.stack.compute("DELETE", f"/servers/{server_id}")
        assert resp.status_code in (204, 404), f"delete {server_id}: {resp.status_code} " \
                                               f"{resp.text}"
        self.stack.wait_gone(server_id, timeout)

    @contextlib.contextmanager
    def servers(self, timeout: float = 90) -> Iterator[list[str]]:
        """Ids appended to the list are deleted at the end, even on failure."""
        ids: list[str] = []
        try:
            yield ids
        finally:
            for sid in ids:
                self.stack.compute("DELETE", f"/servers/{sid}")
            for sid in ids:
                self.stack.wait_gone(sid, timeout)

    def delete_all_servers(self, timeout: float = 90) -> list[str]:
        resp = self.stack.compute("GET", "/servers")
        if resp.status_code != 200:
            return [f"listing the servers failed: {resp.status_code} {resp.text}"]
        ids = [s["id"] for s in resp.json()["servers"]]
        for sid in ids:
            self.stack.compute("DELETE", f"/servers/{sid}")
        problems = []
        deadline = time.monotonic() + timeout
        for sid in ids:
            try:
                self.stack.wait_gone(sid, max(1.0, deadline - time.monotonic()))
            except AssertionError as e:
                problems.append(str(e))
        return problems

    def upload_image(self, name: str, path: str, disk_format: str,
                     container_format: str = "bare", **properties: str) -> str:
        """An image created and uploaded through the Image API over HTTP."""
        resp = self.stack.request("POST", "/image/v2/images", {
            "name": name, "disk_format": disk_format, "container_format": container_format,
            **properties})
        assert resp.status_code == 201, resp.text
        image_id = str(resp.json()["id"])
        with open(path, "rb") as f:
            resp = self.stack.request("PUT", f"/image/v2/images/{image_id}/file", raw=f.read(),
                                      headers={"Content-Type": "application/octet-stream"})
        assert resp.status_code == 204, resp.text
        return image_id


