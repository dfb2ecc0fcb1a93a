"""Config loading, the generated sample, and the service entry points."""

import os
import subprocess
import sys

import pytest

from novalite import config, service
from novalite.conf import CONF

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_sample_config_is_current(tmp_path):
    out = tmp_path / "sample"
    subprocess.run([sys.executable, "-m", "oslo_config.generator", "--config-file",
                    os.path.join(ROOT, "etc/novalite/novalite-config-generator.conf"),
                    "--output-file", str(out)], check=True, cwd=ROOT)
    with open(os.path.join(ROOT, "etc/novalite/novalite.conf.sample")) as f:
        committed = f.read()
    assert out.read_text() == committed, (
        "etc/novalite/novalite.conf.sample is stale: run "
        "oslo-config-generator --config-file etc/novalite/novalite-config-generator.conf")


def test_options_load_from_file(tmp_path):
    conf = tmp_path / "n.conf"
    conf.write_text("[DEFAULT]\nhost = cmp-7\ncompute_topic = compute-x\n"
                    "compute_driver = fake.HangingSpawnDriver\nauth_strategy = noauth\n"
                    "transport_url = rabbit://guest:guest@127.0.0.1:5672/\n"
                    "[database]\nconnection = postgresql+psycopg://u@127.0.0.1/db\n"
                    "[api]\nlisten = 127.0.0.2\nport = 9999\n"
                    "[upgrade_levels]\ncompute = auto\n")
    try:
        config.parse_args(["x", "--config-file", str(conf)])
        assert CONF.host == "cmp-7"
        assert CONF.compute_topic == "compute-x"
        assert CONF.compute_driver == "fake.HangingSpawnDriver"
        assert CONF.transport_url.startswith("rabbit://")
        assert CONF.database.connection.startswith("postgresql+psycopg://")
        assert CONF.api.port == 9999 and CONF.api.listen == "127.0.0.2"
        assert CONF.upgrade_levels.compute == "auto"
    finally:
        CONF.reset()
        CONF([], project="novalite", default_config_files=[])


def test_bad_option_value_is_refused(tmp_path):
    conf = tmp_path / "n.conf"
    conf.write_text("[DEFAULT]\nauth_strategy = magic\n")
    try:
        config.parse_args(["x", "--config-file", str(conf)])
        with pytest.raises(ValueError):
            CONF.auth_strategy  # noqa: B018
    finally:
        CONF.reset()
        CONF([], project="novalite", default_config_files=[])


def test_service_create_fills_defaults():
    CONF.set_override("compute_manager", "novalite.compute.manager.ComputeManager")
    CONF.set_override("host", "seed-host")
    try:
        svc = service.Service.create(binary="novalite-compute")
        assert svc.host == "seed-host"
        assert svc.topic == CONF.compute_topic == "compute"
        assert svc.manager_class_name == "novalite.compute.manager.ComputeManager"
        assert type(svc.manager).__name__ == "ComputeManager"
        assert type(svc.manager.driver).__name__ == "FakeDriver"
        cond = service.Service.create(binary="novalite-conductor", host="h2")
        assert cond.topic == "conductor" and cond.host == "h2"
    finally:
        CONF.clear_override("compute_manager")
        CONF.clear_override("host")


_IDLE = """
import novalite
from oslo_service import service as os_service
from novalite import service
from novalite.conf import CONF
CONF([], project="novalite", default_config_files=[])

class Idle(os_service.ServiceBase):
    def start(self): pass
    def stop(self): pass
    def wait(self): pass
    def reset(self): pass
"""


def _run(code: str) -> str:
    # NOTE: cotyledon allows one ServiceManager per process: each check runs
    # in its own interpreter.
    proc = subprocess.run([sys.executable, "-c", _IDLE + code], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_serve_can_only_be_called_once():
    out = _run("""
service.serve(Idle())
try:
    service.serve(Idle())
except RuntimeError as e:
    print("refused:", e)
""")
    assert "refused: serve() can only be called once" in out


def test_launch_picks_the_launcher():
    assert "ServiceLauncher" in _run("print(type(service.launch(Idle())).__name__)")
    assert "ProcessLauncher" in _run("print(type(service.launch(Idle(), workers=2)).__name__)")


def test_unknown_compute_driver_names_the_driver():
    from novalite import exception
    from novalite.virt import driver

    with pytest.raises(exception.VirtDriverNotFound, match="fake.NoSuchDriver"):
        driver.load_compute_driver(None, "fake.NoSuchDriver")
