"""The driver contract's get_instance_diagnostics, on FakeDriver and on
LibvirtDriver against the real libvirtd: the standard (Nova 2.48) format
with every key, sizes matching the flavor, real counters from libvirt."""

from __future__ import annotations

from typing import Any

import pytest

from novalite import exception
from novalite.virt import diagnostics
from tests.integration.test_driver_contract import DriverCase, case, lv_env  # noqa: F401

pytestmark = pytest.mark.integration

_KEYS = {"state", "driver", "hypervisor", "hypervisor_os", "uptime", "config_drive",
         "num_cpus", "num_nics", "num_disks", "memory_details", "cpu_details",
         "nic_details", "disk_details"}


def test_diagnostics_of_a_running_guest(case: DriverCase) -> None:  # noqa: F811
    inst = case.spawn()
    diag: dict[str, Any] = case.driver.get_instance_diagnostics(inst)
    assert set(diag) == _KEYS and diag["state"] == "running"
    assert diag["driver"] == diagnostics.DRIVER
    assert diag["num_cpus"] == inst.flavor.vcpus == len(diag["cpu_details"])
    assert diag["memory_details"]["maximum"] == inst.flavor.memory_mb
    assert diag["num_disks"] == len(diag["disk_details"]) >= 1
    if diag["hypervisor"] != "fake":
        # NOTE: libvirt measures (a just-started vCPU may still read 0 ns)
        assert diag["hypervisor"] in ("qemu", "kvm")
        assert isinstance(diag["cpu_details"][0]["time"], int)
        assert diag["cpu_details"][0]["time"] >= 0
        assert isinstance(diag["disk_details"][0]["read_requests"], int)
        assert diag["memory_details"]["used"] is not None
    legacy = diagnostics.legacy(diag)
    assert legacy["memory"] == inst.flavor.memory_mb * 1024


def test_diagnostics_of_a_missing_guest_raise_instance_not_found(
        case: DriverCase) -> None:  # noqa: F811
    with pytest.raises(exception.InstanceNotFound):
        case.driver.get_instance_diagnostics(case.instance())


def test_host_uptime_is_the_hosts_uptime_line(case: DriverCase) -> None:  # noqa: F811
    line = case.driver.get_host_uptime()
    assert " up " in line and "load average" in line
