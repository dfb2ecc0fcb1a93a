"""The front door on the real host (issue 9): the README's first command,
the all-in-one's start-up checks, ``novalite-manage doctor`` and ``host
cleanup``, and a second deployment beside a guest a killed one left behind.

Everything runs as real processes against the real libvirtd (TCG) and
RabbitMQ; each test's state lives under /var/lib/novalite-tests (QEMU must
traverse it) and every guest, bridge and file it made is removed at its end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator

import libvirt
import pytest

from tests.integration.realstack import TEST_ROOT, libvirt_connection
from tests.procs import free_port, write_conf

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICKSTART = os.path.join(REPO, "tools", "quickstart")
NOVALITE_NS = "http://openstack.org/xmlns/libvirt/novalite/1.0"


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


def _remove_deployment(state: str) -> None:
    """Whatever a deployment under ``state`` left on the host."""
    _destroy_domains_of(os.path.join(state, "instances"))
    for bridge in _bridges_marked(state):
        subprocess.run(["ip", "link", "del", "dev", bridge], check=False)
    shutil.rmtree(state, ignore_errors=True)


class AllInOne:
    """``novalite-all-in-one`` as a real process in its own session."""

    def __init__(self, state: str, conf: str | None = None, driver: str = "libvirt") -> None:
        self.state, self.port = state, free_port()
        self.log = os.path.join(os.path.dirname(state), os.path.basename(state) + ".log")
        args = [sys.executable, "-m", "novalite.cmd.all_in_one", "--state-dir", state,
                "--port", str(self.port), "--driver", driver]
        if conf:
            args += ["--config-file", conf]
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
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
            subprocess.run([sys.executable, "-m", "novalite.cmd.all_in_one", "--state-dir",
                            self.state, "--stop"], timeout=150, check=False,
                           capture_output=True)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
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


def _network_conf(path: str) -> str:
    """Test-only bridge and subnet: the deployments here never touch the
    bridges of a deployment the machine runs for real."""
    tag = uuid.uuid4().hex[:4]
    return write_conf(path, {"network": {"default_bridge": f"nlfd{tag}0",
                                         "default_cidr": "10.79.0.0/24"}})


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


def test_second_all_in_one_boots_beside_a_killed_ones_guest_and_doctor_names_it(
        tmp_path) -> None:
    conf = _network_conf(str(tmp_path / "net.conf"))
    with deployment("fd-first", conf) as first:
        first.wait_up()
        first_id = first.boot("left-behind")
        first_bridges = _bridges_marked(first.state)
        assert len(first_bridges) == 1
        first.kill()
        # the killed all-in-one's guest keeps running, and its state goes
        left = _domains_of(os.path.join(first.state, "instances"))
        assert left == [f"instance-{first_id}"]
        shutil.rmtree(first.state)

        with deployment("fd-second", conf) as second:
            second.wait_up()
            second_id = second.boot("after-the-leftover")
            assert second_id != first_id
            assert _domains_of(os.path.join(second.state, "instances")) == [
                f"instance-{second_id}"]
            # its own bridge and subnet: the first one's bridge is still there
            second_bridges = _bridges_marked(second.state)
            assert len(second_bridges) == 1 and second_bridges != first_bridges
            addr = second.openstack("server", "show", second_id, "-f", "json", "-c",
                                    "addresses")
            assert "10.79.1." in addr.stdout, addr.stdout

            second_conf = os.path.join(second.state, "novalite.conf")
            doc = _manage(second_conf, "doctor")
            assert doc.returncode == 0, doc.stdout + doc.stderr
            assert (f"WARN  guest instance-{first_id}: was left by a deployment whose "
                    "state is gone") in doc.stdout
            assert "fix: novalite-manage host cleanup" in doc.stdout
            assert f"instance-{second_id}" not in doc.stdout

            clean = _manage(second_conf, "host", "cleanup", "--yes")
            assert clean.returncode == 0, clean.stdout + clean.stderr
            assert f"removed guest instance-{first_id}" in clean.stdout
            assert f"removed bridge {first_bridges[0]}" in clean.stdout
            assert not _domains_of(os.path.join(first.state, "instances"))
            assert not os.path.exists(f"/sys/class/net/{first_bridges[0]}")
            # this deployment's own guest and bridge were not touched
            assert _domains_of(os.path.join(second.state, "instances")) == [
                f"instance-{second_id}"]
            assert os.path.exists(f"/sys/class/net/{second_bridges[0]}")
            assert second.openstack("server", "delete", "--wait",
                                    second_id).returncode == 0


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


def test_quickstart_again_installs_nothing_and_boots_another_server(
        quickstart_state: dict) -> None:
    res = _quickstart(quickstart_state["env"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Python packages already installed" in res.stdout
    assert "the all-in-one already answers" in res.stdout
    assert "NOVALITE-TINY-BOOTED" in res.stdout
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
