"""Cold migration and evacuation of a REAL guest between TWO libvirt compute
services on this machine's one libvirtd (issue 12: "two compute services,
cold migrate with confirm and revert, evacuate when the source is down").

The control plane and the first compute (``realhost``) run in the test
process, the second (``realhost-b``) is a ``novalite-compute`` process of
its own (config file, log), both on a RabbitMQ vhost of this run. Each
compute has its own instances path and image cache; the domain of the
instance keeps its name and UUID wherever it is, and its novalite metadata
says which compute's instances path it belongs to: that, not the domain's
existence, decides what each compute may take over or destroy
(novalite/virt/libvirt/driver.py).

One guest booted from the tiny guest's qcow2 disk (guest agent, config
drive, a NIC on a real bridge) is shared by the module's tests, in order:

- ``migrate`` (admin): VERIFY_RESIZE on the second host, the guest answers
  HTTP with its uuid from the second compute's domain while the first keeps
  its files aside; ``revertResize``: ACTIVE on the first host, answers, the
  second's files gone;
- ``migrate`` again and ``confirmResize``: ACTIVE on the second host,
  answers (the first did not unplug the tap it now uses), nothing kept on the
  first, one domain;
- the second compute is killed (SIGKILL: its guest keeps running, as a
  guest outlives its compute process) and forced down (os-services, 2.53);
  ``evacuate``: ACTIVE on the first host, answers HTTP, one domain, the first
  compute's; the second compute started again removes what it kept of the
  evacuated instance and leaves the first's guest running.

The migration records end ``completed`` (the evacuation, once its source is
back), ``confirmed``, ``reverted``, as Nova's. Everything (servers,
processes, files, the bridge, the vhost) is removed at the end, also on
failure; nothing here skips.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from novalite.conf import CONF
from novalite.virt.libvirt import config as libvirt_config
from tests.integration import realguest, services
from tests.integration.realguest import Guest
from tests.integration.realstack import DRIVER, HOST, RealStackError, libvirt_connection
from tests.integration.test_networking import NetStack
from tests.procs import Proc, wait_until, write_conf

pytestmark = pytest.mark.integration

HOST_B = "realhost-b"
UP_TIMEOUT = 90
MIGRATION_TIMEOUT = 120


class SecondCompute:
    """The ``novalite-compute`` process of HOST_B: the stack's settings, its
    own instances path, image cache and state directory."""

    def __init__(self, ns: NetStack) -> None:
        self.ns = ns
        base = os.path.join(ns.rs.base, "b")
        self.instances_path = os.path.join(base, "instances")
        self.state = os.path.join(base, "state")
        for path in (self.instances_path, self.state):
            os.makedirs(path, mode=0o755)
        os.chmod(base, 0o755)
        self.conf = os.path.join(self.state, "compute.conf")
        self.proc: Proc | None = None
        self.starts = 0

    def write_conf(self) -> None:
        sections: dict[str, dict[str, Any]] = {"DEFAULT": {}}
        for (group, name), value in self.ns.rs.stack.overrides.items():
            sections.setdefault(group or "DEFAULT", {})[name] = value
        sections["DEFAULT"].update({
            "host": HOST_B, "state_path": self.state, "debug": "false",
            "compute_driver": DRIVER,
            "control_exchange": CONF.control_exchange, "report_interval": 1})
        sections["libvirt"].update({
            "instances_path": self.instances_path,
            "image_cache_path": os.path.join(self.state, "_base")})
        sections.setdefault("image", {})["api_url"] = CONF.image.api_url
        write_conf(self.conf, sections)

    def start(self) -> None:
        if self.proc is None:
            self.write_conf()
        self.proc = Proc(HOST_B, "novalite-compute", self.conf,
                         os.path.join(self.state, "compute.log")).start()
        self.starts += 1
        self.proc.wait_log(f"is consuming compute, compute.{HOST_B}", timeout=UP_TIMEOUT,
                           count=self.starts)

    def kill(self) -> None:
        """SIGKILL, the whole process group (cotyledon's parent and worker)."""
        assert self.proc is not None and self.proc.popen is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.popen.wait(30)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def log_tail(self) -> str:
        return self.proc.read_log()[-6000:] if self.proc is not None else ""


class TwoHosts(Guest):
    second: SecondCompute

    def wait_up(self, server_id: str | None = None, address: str | None = None) -> str:
        """As Guest's; on failure with the guest's console and the second
        compute's log."""
        try:
            return super().wait_up(server_id, address)
        except AssertionError as e:
            consoles = []
            for path in (self.ns.rs.instances_path, self.second.instances_path):
                log = os.path.join(path, self.id, "console.log")
                if os.path.exists(log):
                    with open(log, errors="replace") as f:
                        consoles.append(f"--- {log} ---\n{f.read()[-3000:]}")
            raise AssertionError(f"{e}\n" + "\n".join(consoles)
                                 + f"\n--- {HOST_B} log ---\n{self.second.log_tail()}") from e

    def host(self) -> str:
        return str(self.stack.server(self.id)["OS-EXT-SRV-ATTR:host"])

    def owner(self) -> str | None:
        """The instances path the domain of the guest says it belongs to."""
        xml = self.ns.rs.domain_xml(self.id)
        assert xml is not None, f"no domain for {self.id}"
        found = xml.find(f"metadata/{{{libvirt_config.NOVALITE_NS}}}instance/"
                         f"{{{libvirt_config.NOVALITE_NS}}}deployment")
        return None if found is None else found.get("instancesPath")

    def files(self, instances_path: str) -> list[str]:
        """This instance's entries in ``instances_path`` (its directory, one kept aside)."""
        try:
            return sorted(e for e in os.listdir(instances_path) if e.startswith(self.id))
        except FileNotFoundError:
            return []

    @property
    def path_a(self) -> str:
        return os.path.realpath(self.ns.rs.instances_path)

    @property
    def path_b(self) -> str:
        return os.path.realpath(self.second.instances_path)

    def wait_migration(self, status: str) -> dict:
        return dict(wait_until(
            lambda: next((m for m in self.migrations()[:1] if m["status"] == status), None),
            MIGRATION_TIMEOUT, f"the newest migration of {self.id} {status}", interval=0.5))

    def service(self, host: str) -> dict:
        resp = self.stack.compute("GET", f"/os-services?host={host}&binary=novalite-compute",
                                  headers={"OpenStack-API-Version": "compute 2.53"})
        assert resp.status_code == 200, resp.text
        (svc,) = resp.json()["services"]
        return dict(svc)

    def hypervisor_hosts(self) -> list[str]:
        resp = self.stack.compute("GET", "/os-hypervisors/detail")
        assert resp.status_code == 200, resp.text
        return [h["service"]["host"] for h in resp.json()["hypervisors"]]

    def force_down(self, host: str, down: bool) -> None:
        svc = self.service(host)
        resp = self.stack.compute("PUT", f"/os-services/{svc['id']}", {"forced_down": down},
                                  headers={"OpenStack-API-Version": "compute 2.53"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["service"]["forced_down"] is down


@pytest.fixture(scope="module")
def guest() -> Iterator[TwoHosts]:
    try:
        libvirt_connection().close()
    except RealStackError as e:
        pytest.fail(str(e))
    problems: list[str] = []
    with services.rabbitmq_vhost() as mq:
        ns = NetStack()
        # NOTE: a bus both processes reach; the second compute holds no
        # database credentials (it persists through the conductor).
        ns.rs.stack.overrides[(None, "transport_url")] = mq
        second = SecondCompute(ns)
        try:
            ns.start()
            g = TwoHosts(ns)
            g.second = second
            # NOTE: booted before the second compute starts: on the first.
            with realguest.booted(g, "rcm-1"):
                second.start()
                wait_until(lambda: g.service(HOST_B)["state"] == "up", UP_TIMEOUT,
                           f"{HOST_B} up")
                wait_until(lambda: HOST_B in g.hypervisor_hosts(), UP_TIMEOUT,
                           f"the hypervisor of {HOST_B}")
                yield g
        finally:
            second.stop()
            problems = ns.stop()
    assert not problems, "the stack was not left clean:\n" + "\n".join(problems)


def test_cold_migrate_to_the_other_compute_then_revert(guest: TwoHosts) -> None:
    g = guest
    assert g.host() == HOST and g.owner() == g.path_a
    g.act({"migrate": None})
    g.wait("VERIFY_RESIZE")
    assert g.host() == HOST_B
    g.wait_up()
    # NOTE: the second compute took the domain over (same name and UUID);
    # the first keeps the files and the definition to go back to.
    assert g.owner() == g.path_b
    assert g.files(g.path_a) == [f"{g.id}_resize"]
    assert g.files(g.path_b) == [g.id]
    (migration,) = g.migrations()
    assert (migration["migration_type"], migration["source_compute"],
            migration["dest_compute"], migration["status"]) == (
        "migration", HOST, HOST_B, "finished")

    g.act({"revertResize": None})
    g.wait("ACTIVE")
    assert g.host() == HOST
    g.wait_up()
    assert g.owner() == g.path_a
    assert g.files(g.path_a) == [g.id] and g.files(g.path_b) == []
    assert [m["status"] for m in g.migrations()] == ["reverted"]


def test_cold_migrate_again_and_confirm(guest: TwoHosts) -> None:
    g = guest
    g.act({"migrate": None})
    g.wait("VERIFY_RESIZE")
    assert g.host() == HOST_B
    g.act({"confirmResize": None}, status=204)
    g.wait("ACTIVE")
    assert g.host() == HOST_B
    # NOTE: answers after the first compute confirmed: it left the domain
    # (now the second's) and its tap alone.
    g.wait_up()
    assert g.owner() == g.path_b
    assert g.files(g.path_a) == [] and g.files(g.path_b) == [g.id]
    assert len(g.ns.rs.domains()) == 1
    assert [m["status"] for m in g.migrations()] == ["confirmed", "reverted"]


def test_evacuate_when_the_other_compute_is_down(guest: TwoHosts) -> None:
    g = guest
    g.second.kill()
    g.force_down(HOST_B, True)
    assert g.service(HOST_B)["state"] == "down"
    # NOTE: the dead compute's guest still runs on the shared libvirtd.
    assert g.domain().isActive() and g.owner() == g.path_b

    resp = g.act({"evacuate": {}}, status=200, version="2.68")
    assert not resp.content
    g.wait("ACTIVE")
    assert g.host() == HOST
    g.wait_up()
    assert g.owner() == g.path_a
    assert len(g.ns.rs.domains()) == 1
    migration = g.wait_migration("done")
    assert (migration["migration_type"], migration["source_compute"],
            migration["dest_compute"]) == ("evacuation", HOST_B, HOST)
    assert g.files(g.path_a) == [g.id] and g.files(g.path_b) == [g.id]

    # NOTE: the source back (Nova's _destroy_evacuated_instances): what it
    # kept goes, the first compute's guest stays and runs.
    g.second.start()
    g.wait_migration("completed")
    assert g.files(g.path_b) == []
    assert g.domain().isActive() and g.owner() == g.path_a
    g.force_down(HOST_B, False)
    g.wait_up()
    assert len(g.ns.rs.domains()) == 1
    assert [m["status"] for m in g.migrations()] == ["completed", "confirmed", "reverted"]
