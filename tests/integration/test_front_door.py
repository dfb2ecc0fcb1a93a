"""The front door on the real host (issue 9): the README's first command,
the all-in-one's start-up checks, ``novalite-manage doctor`` and ``host
cleanup``, and a second deployment beside a guest a killed one left behind.

Everything runs as real processes against the real libvirtd (TCG) and
RabbitMQ; each test's state lives under /var/lib/novalite-tests (QEMU must
traverse it) and every guest, bridge and file it made is removed at its end.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import libvirt
import pytest

from tests.integration.realstack import TEST_ROOT, libvirt_connection
from tests.procs import free_port, pids_whose_cmdline_has, write_conf

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICKSTART = os.path.join(REPO, "tools", "quickstart")
NOVALITE_NS = "http://openstack.org/xmlns/libvirt/novalite/1.0"
REGISTRY = "/run/novalite/dataplanes"


def _state_dir(label: str) -> str:
    os.makedirs(TEST_ROOT, mode=0o755, exist_ok=True)
    path = tempfile.mkdtemp(prefix=f"{label}-", dir=TEST_ROOT)
    os.chmod(path, 0o755)
    return path


def _manage(conf: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "novalite.cmd.manage", "--config-file", conf,
                           *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


def _domains_of(path: str) -> list[str]:
    """Names of the domains whose novalite metadata names ``path`` (an
    instances path) as their deployment."""
    conn = libvirt_connection()
    try:
        names = []
        for dom in conn.listAllDomains():
            with contextlib.suppress(libvirt.libvirtError):
                meta = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NOVALITE_NS)
                if f'instancesPath="{os.path.realpath(path)}"' in meta:
                    names.append(dom.name())
        return names
    finally:
        conn.close()


def _destroy_domains_of(path: str) -> None:
    conn = libvirt_connection()
    try:
        for name in _domains_of(path):
            with contextlib.suppress(libvirt.libvirtError):
                dom = conn.lookupByName(name)
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    finally:
        conn.close()


def _bridges_marked(state: str) -> list[str]:
    mark = "novalite " + os.path.realpath(state)
    found = []
    for name in os.listdir("/sys/class/net"):
        with contextlib.suppress(OSError), open(f"/sys/class/net/{name}/ifalias") as f:
            if f.read().strip() == mark:
                found.append(name)
    return found


def _dataplane_of(state: str) -> dict:
    """What the all-in-one recorded of its data plane ({} before its start)."""
    try:
        with open(os.path.join(state, "dataplane.json")) as f:
            return dict(json.load(f))
    except FileNotFoundError:
        return {}


def _dataplane_left(prefix: str) -> list[str]:
    """Devices, namespaces, nftables tables and host routes of ``prefix``."""
    from novalite.network import agent_service
    from novalite.network.dataplane import names

    links = json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True,
                                      text=True, check=True).stdout or "[]")
    left = [str(link["ifname"]) for link in links
            if link.get("ifalias") == names.owner_mark(prefix)]
    left += [ns for ns in os.listdir("/run/netns") if ns.startswith(
        (f"{prefix}dhcp-", f"{prefix}r-"))] if os.path.isdir("/run/netns") else []
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                            check=False).stdout.split()
    left += [t for t in tables if t == names.nft_table(prefix)]
    left += subprocess.run(["ip", "-4", "route", "show", "proto",
                            str(agent_service.route_protocol(prefix))],
                           capture_output=True, text=True, check=False).stdout.splitlines()
    return left


def _remove_dataplane(state: str) -> None:
    """The data plane of a stopped deployment (``host cleanup`` does it; an
    empty state applied with its prefix when that could not)."""
    prefix = _dataplane_of(state).get("dataplane_prefix")
    if not prefix or _dataplane_of(state).get("dataplane") != "vxlan":
        return
    conf = os.path.join(state, "novalite.conf")
    if os.path.exists(conf):
        _manage(conf, "host", "cleanup", "--yes")
    if _dataplane_left(prefix):
        from novalite.network import agent_service
        from novalite.network.dataplane import agent, metadata_proxy
        from novalite.network.dataplane.state import HostState

        metadata_proxy.stop_all(os.path.join(state, "dataplane", prefix, "metadata"))
        empty = HostState(host="cleanup", local_ip="127.0.0.1")
        with tempfile.TemporaryDirectory() as tmp:
            agent.apply(empty, prefix=prefix, state_dir=tmp)
        agent_service.sync_host_routes(empty, prefix)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(REGISTRY, f"{prefix}.json"))


def _remove_deployment(state: str) -> None:
    """Whatever a deployment under ``state`` left on the host."""
    _destroy_domains_of(os.path.join(state, "instances"))
    for bridge in _bridges_marked(state):
        subprocess.run(["ip", "link", "del", "dev", bridge], check=False)
    _remove_dataplane(state)
    shutil.rmtree(state, ignore_errors=True)


class AllInOne:
    """``novalite-all-in-one`` as a real process in its own session."""

    def __init__(self, state: str, conf: str | None = None, driver: str = "libvirt") -> None:
        self.state, self.port = state, free_port()
        self.log = os.path.join(os.path.dirname(state), os.path.basename(state) + ".log")
        self.args = [sys.executable, "-m", "novalite.cmd.all_in_one", "--state-dir", state,
                     "--port", str(self.port), "--driver", driver]
        if conf:
            self.args += ["--config-file", conf]
        self.start()

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, start_new_session=True)

    def wait_up(self, timeout: float = 240) -> AllInOne:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"all-in-one exited {self.popen.returncode}:\n"
                                     f"{self.read_log()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://127.0.0.1:{self.port}/compute/", timeout=2).ok:
                    return self
            time.sleep(0.5)
        raise AssertionError(f"all-in-one not up in {timeout}s:\n{self.read_log()[-3000:]}")

    def read_log(self) -> str:
        with open(self.log, errors="replace") as f:
            return f.read()

    def openstack(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, OS_CLIENT_CONFIG_FILE=os.path.join(self.state, "clouds.yaml"),
                   OS_CLOUD="novalite")
        return subprocess.run(["openstack", *args], capture_output=True, text=True, env=env,
                              timeout=timeout, check=False)

    def boot(self, name: str, image: str = "novalite-tiny") -> str:
        res = self.openstack("server", "create", "--flavor", "m1.tiny", "--image", image,
                             "--wait", "-f", "json", name)
        assert res.returncode == 0, res.stderr + res.stdout
        server = json.loads(res.stdout)
        assert server["status"] == "ACTIVE", server
        return str(server["id"])

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self) -> None:
        if self.popen.poll() is None:
            # NOTE: the all-in-one is this process's child: reaped here while
            # --stop waits, else its zombie still "exists" for --stop.
            stopper = subprocess.Popen([sys.executable, "-m", "novalite.cmd.all_in_one",
                                        "--state-dir", self.state, "--stop"],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=150)
            try:
                stopper.wait(timeout=30)
            except subprocess.TimeoutExpired:
                stopper.kill()
                stopper.wait()
        self.kill()


@contextlib.contextmanager
def deployment(label: str, conf: str | None = None) -> Iterator[AllInOne]:
    state = _state_dir(label)
    aio = None
    try:
        aio = AllInOne(state, conf)
        yield aio
    finally:
        if aio is not None:
            aio.stop()
            with contextlib.suppress(OSError):
                os.unlink(aio.log)
        _remove_deployment(state)


def _ports_conf(path: str) -> str:
    """Ports of the test's own for the metadata service and the serial
    console proxy: a deployment the machine runs for real keeps its own.
    (Its data plane is the all-in-one's to keep apart: the claim.)"""
    return write_conf(path, {"metadata": {"port": free_port()},
                             "serial_console": {"serialproxy_port": free_port()}})


def _subnets(aio: AllInOne) -> dict[str, str]:
    res = aio.openstack("subnet", "list", "-f", "json", "-c", "Name", "-c", "Subnet")
    assert res.returncode == 0, res.stderr
    return {s["Name"]: s["Subnet"] for s in json.loads(res.stdout)}


# -- start-up checks ---------------------------------------------------------------


def test_state_dir_under_a_0700_parent_refuses_to_start() -> None:
    parent = tempfile.mkdtemp(prefix="nl-0700-", dir="/var/tmp")
    try:
        os.chmod(parent, 0o700)
        state = os.path.join(parent, "state")
        res = subprocess.run([sys.executable, "-m", "novalite.cmd.all_in_one", "--state-dir",
                              state, "--port", str(free_port()), "--driver", "libvirt"],
                             capture_output=True, text=True, timeout=120,
                             stdin=subprocess.DEVNULL, check=False)
        assert res.returncode == 1, res.stdout + res.stderr
        assert "cannot start" in res.stderr
        assert f"cannot enter {parent} (mode 0700" in res.stderr
        assert f"fix: chmod o+x {parent}" in res.stderr
        # nothing was set up to accept a boot that must fail
        assert not os.path.exists(os.path.join(state, "novalite.sqlite"))
        assert not _domains_of(os.path.join(state, "instances"))
    finally:
        shutil.rmtree(parent, ignore_errors=True)


# -- doctor --------------------------------------------------------------------------


def test_doctor_fails_on_a_stopped_libvirtd_and_a_stopped_broker(tmp_path) -> None:
    # NOTE: a libvirtd that is stopped has no socket; a broker that is
    # stopped listens on nothing: these are what the clients then meet.
    db = f"sqlite:///{tmp_path}/doctor.sqlite"
    conf = write_conf(str(tmp_path / "doctor.conf"), {
        "DEFAULT": {"transport_url": f"rabbit://guest:guest@127.0.0.1:{free_port()}/",
                    "state_path": str(tmp_path), "compute_driver": "libvirt.LibvirtDriver"},
        "database": {"connection": db},
        "libvirt": {"connection_uri": f"qemu:///system?socket={tmp_path}/no-libvirtd-sock"},
    })
    assert _manage(conf, "db", "sync").returncode == 0
    res = _manage(conf, "doctor")
    assert res.returncode == 1, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    libvirtd = next(i for i, ln in enumerate(lines) if ln.startswith("FAIL  libvirtd:"))
    assert "does not answer" in lines[libvirtd]
    assert "fix: start it: novalite-manage host prepare" in lines[libvirtd + 1]
    broker = next(i for i, ln in enumerate(lines) if ln.startswith("FAIL  message broker:"))
    assert "cannot reach the broker" in lines[broker]
    assert "fix: start RabbitMQ" in lines[broker + 1]


def test_doctor_passes_with_the_real_broker_and_libvirtd() -> None:
    state = _state_dir("doctor")
    try:
        conf = write_conf(os.path.join(state, "doctor.conf"), {
            "DEFAULT": {"transport_url": "rabbit://guest:guest@127.0.0.1:5672/",
                        "state_path": state, "compute_driver": "libvirt.LibvirtDriver"},
            "database": {"connection": f"sqlite:///{state}/doctor.sqlite"},
        })
        assert _manage(conf, "db", "sync").returncode == 0
        res = _manage(conf, "doctor")
        assert res.returncode == 0, res.stdout + res.stderr
        assert "OK    message broker: RabbitMQ answers at 127.0.0.1:5672" in res.stdout
        assert "OK    libvirtd: libvirtd answers" in res.stdout
        assert "OK    database: schema at" in res.stdout
        assert f"OK    instances path reachable by QEMU: libvirt-qemu can reach {state}" \
            in res.stdout
    finally:
        shutil.rmtree(state, ignore_errors=True)


# -- a second all-in-one beside a killed one's guest ----------------------------------


@pytest.mark.timeout(600)
def test_second_all_in_one_boots_beside_a_killed_ones_guest_and_data_plane(
        tmp_path) -> None:
    """Two vxlan all-in-ones on one machine (issue 13): the second finds the
    killed first one's data plane (bridge holding the public gateway, host
    route to its private subnet, VXLAN device, namespaces) and takes the next
    prefix, VNIs and subnets; doctor names the first one's leftovers, host
    cleanup removes them and not the second's; the second restarted keeps
    what it took; --stop and host cleanup leave nothing of it."""
    with deployment("fd-first", _ports_conf(str(tmp_path / "first.conf"))) as first:
        first.wait_up()
        first_plane = _dataplane_of(first.state)
        assert first_plane["dataplane"] == "vxlan", first_plane
        first_prefix = first_plane["dataplane_prefix"]
        first_subnets = _subnets(first)
        first_id = first.boot("left-behind")
        first.kill()
        # the killed all-in-one's guest and data plane stay, and its state goes
        left = _domains_of(os.path.join(first.state, "instances"))
        assert left == [f"instance-{first_id}"]
        assert _dataplane_left(first_prefix)
        shutil.rmtree(first.state)

        second_conf = _ports_conf(str(tmp_path / "second.conf"))
        with deployment("fd-second", second_conf) as second:
            second.wait_up()
            plane = _dataplane_of(second.state)
            prefix = plane["dataplane_prefix"]
            assert prefix != first_prefix
            assert plane["vni_ranges"] != first_plane["vni_ranges"]
            subnets = _subnets(second)
            assert subnets["public-subnet"] != first_subnets["public-subnet"]
            assert not set(subnets.values()) & set(first_subnets.values())
            second_id = second.boot("after-the-leftover")
            assert second_id != first_id
            assert _domains_of(os.path.join(second.state, "instances")) == [
                f"instance-{second_id}"]
            addr = second.openstack("server", "show", second_id, "-f", "json", "-c",
                                    "addresses")
            private = ipaddress.ip_network(
                next(v for k, v in subnets.items() if k != "public-subnet"))
            fixed = re.findall(r"\d+\.\d+\.\d+\.\d+", addr.stdout)
            assert fixed and all(ipaddress.ip_address(a) in private for a in fixed), \
                (addr.stdout, subnets)

            conf = os.path.join(second.state, "novalite.conf")
            doc = _manage(conf, "doctor")
            assert doc.returncode == 0, doc.stdout + doc.stderr
            assert (f"WARN  guest instance-{first_id}: was left by a deployment whose "
                    "state is gone") in doc.stdout
            assert (f"WARN  data plane {first_prefix}: was left by a deployment whose "
                    "state is gone") in doc.stdout
            assert f"OK    data plane: vxlan, prefix {prefix}" in doc.stdout
            assert "fix: novalite-manage host cleanup" in doc.stdout
            assert f"instance-{second_id}" not in doc.stdout

            clean = _manage(conf, "host", "cleanup", "--yes")
            assert clean.returncode == 0, clean.stdout + clean.stderr
            assert f"removed guest instance-{first_id}" in clean.stdout
            assert f"removed data plane {first_prefix}" in clean.stdout
            assert not _domains_of(os.path.join(first.state, "instances"))
            assert _dataplane_left(first_prefix) == []
            # this deployment's own guest and data plane were not touched
            assert _domains_of(os.path.join(second.state, "instances")) == [
                f"instance-{second_id}"]
            mine = _dataplane_left(prefix)
            assert any(n.startswith(f"{prefix}r-") for n in mine), mine
            assert second.openstack("server", "delete", "--wait",
                                    second_id).returncode == 0

            # a restart keeps the prefix, VNIs and subnets it took
            second.stop()
            second.start()
            second.wait_up()
            assert _dataplane_of(second.state) == plane
            assert _subnets(second) == subnets
            assert any(n.startswith(f"{prefix}r-") for n in _dataplane_left(prefix))

            # --stop, then host cleanup: nothing of its data plane is left
            second.stop()
            clean = _manage(conf, "host", "cleanup", "--yes")
            assert clean.returncode == 0, clean.stdout + clean.stderr
            assert f"removed data plane {prefix}" in clean.stdout
            assert _dataplane_left(prefix) == []
            assert not os.path.exists(os.path.join(REGISTRY, f"{prefix}.json"))


# -- the README's first command ----------------------------------------------------------


@pytest.fixture(scope="module")
def quickstart_state() -> Iterator[dict]:
    state = _state_dir("quickstart")
    env = dict(os.environ, NOVALITE_STATE_DIR=state, NOVALITE_PORT=str(free_port()))
    try:
        yield {"state": state, "env": env}
    finally:
        subprocess.run([os.path.join(REPO, ".venv", "bin", "novalite-all-in-one"),
                        "--state-dir", state, "--stop"], timeout=150, check=False,
                       capture_output=True)
        _remove_deployment(state)


def _quickstart_openstack(quickstart_state: dict, *args: str) -> str:
    res = subprocess.run(
        [os.path.join(REPO, ".venv", "bin", "openstack"), *args],
        env=dict(os.environ, OS_CLOUD="novalite", OS_CLIENT_CONFIG_FILE=os.path.join(
            quickstart_state["state"], "clouds.yaml")), capture_output=True, text=True,
        timeout=300, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def _quickstart_subnets(quickstart_state: dict) -> dict[str, str]:
    """{network name: its subnet's CIDR}."""
    nets = json.loads(_quickstart_openstack(quickstart_state, "network", "list", "-f", "json"))
    subnets = json.loads(_quickstart_openstack(quickstart_state, "subnet", "list", "-f",
                                               "json"))
    by_net = {s["Network"]: s["Subnet"] for s in subnets}
    return {n["Name"]: by_net[n["ID"]] for n in nets if n["ID"] in by_net}


def _quickstart(env: dict, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUICKSTART], capture_output=True, text=True, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False,
                          start_new_session=True)


def test_quickstart_boots_a_real_guest_that_answers_http(quickstart_state: dict) -> None:
    res = _quickstart(quickstart_state["env"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "NOVALITE-TINY-BOOTED hostname=demo-" in res.stdout
    server_id = res.stdout.split(") is ACTIVE")[0].rsplit("(", 1)[1]
    assert f"uuid={server_id}" in res.stdout  # the guest's own HTTP answer
    assert "Stop it:   novalite-all-in-one --state-dir" in res.stdout
    assert os.path.exists(os.path.join(REPO, ".venv", "bin", "novalite-all-in-one"))
    # over the vxlan data plane: the host reached the guest's fixed address
    # on the private subnet through router1, tcp/80 opened in its group
    assert _dataplane_of(quickstart_state["state"])["dataplane"] == "vxlan"
    assert "security group rule create --ingress --protocol tcp --dst-port 80" in res.stdout
    answered = res.stdout.split("waiting for the guest to answer HTTP on http://")[1]
    subnets = _quickstart_subnets(quickstart_state)
    assert ipaddress.ip_address(answered.split("/", 1)[0]) in ipaddress.ip_network(
        subnets["private"]), (answered[:40], subnets)


def test_quickstart_again_installs_nothing_and_boots_another_server(
        quickstart_state: dict) -> None:
    res = _quickstart(quickstart_state["env"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Python packages already installed" in res.stdout
    assert "the all-in-one already answers" in res.stdout
    assert "NOVALITE-TINY-BOOTED" in res.stdout
    assert "security group rule create" not in res.stdout  # opened once, on the first run
    listed = subprocess.run(
        [os.path.join(REPO, ".venv", "bin", "openstack"), "server", "list", "-f", "json"],
        env=dict(os.environ, OS_CLOUD="novalite", OS_CLIENT_CONFIG_FILE=os.path.join(
            quickstart_state["state"], "clouds.yaml")), capture_output=True, text=True,
        check=True)
    assert len([s for s in json.loads(listed.stdout) if s["Status"] == "ACTIVE"]) >= 2


def test_quickstart_exits_non_zero_when_the_guest_never_boots(quickstart_state: dict,
                                                            tmp_path) -> None:
    # a disk with no boot sector: SeaBIOS finds nothing to boot
    disk = tmp_path / "noboot.qcow2"
    subprocess.run(["qemu-img", "create", "-f", "qcow2", str(disk), "64M"], check=True,
                   capture_output=True)
    conf = os.path.join(quickstart_state["state"], "novalite.conf")
    reg = _manage(conf, "image", "register", "noboot", "--file", str(disk),
                  "--disk-format", "qcow2")
    assert reg.returncode == 0, reg.stdout + reg.stderr
    env = dict(quickstart_state["env"], NOVALITE_IMAGE="noboot", NOVALITE_BOOT_TIMEOUT="25")
    res = _quickstart(env)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "quickstart FAILED: the guest never printed NOVALITE-TINY-BOOTED within 25s" \
        in res.stderr
    assert "last lines of its console" in res.stderr


def test_quickstart_stop_and_host_cleanup_leave_nothing_of_its_data_plane(
        quickstart_state: dict) -> None:
    state = quickstart_state["state"]
    conf = os.path.join(state, "novalite.conf")
    prefix = _dataplane_of(state)["dataplane_prefix"]
    assert _dataplane_left(prefix)  # the running deployment's
    doc = _manage(conf, "doctor")
    assert f"OK    data plane: vxlan, prefix {prefix}" in doc.stdout, doc.stdout
    servers = _quickstart_openstack(quickstart_state, "server", "list", "-f", "value",
                                    "-c", "ID").split()
    assert servers
    _quickstart_openstack(quickstart_state, "server", "delete", "--wait", *servers)
    stop = subprocess.run([os.path.join(REPO, ".venv", "bin", "novalite-all-in-one"),
                           "--state-dir", state, "--stop"], timeout=150, check=False,
                          capture_output=True, text=True)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    # --stop leaves the data plane (a start applies it again) ...
    assert _dataplane_left(prefix)
    # ... host cleanup removes every bridge, VXLAN device, namespace, nftables
    # table and host route of it
    clean = _manage(conf, "host", "cleanup", "--yes")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"removed data plane {prefix}" in clean.stdout
    assert _dataplane_left(prefix) == []
    assert not os.path.exists(os.path.join(REGISTRY, f"{prefix}.json"))
    assert not _domains_of(os.path.join(state, "instances"))
    # no dnsmasq, metadata proxy or QEMU of it runs
    assert pids_whose_cmdline_has(state.encode()) == []
