"""The driver contract of attach_interface / detach_interface
(``novalite/virt/driver.py``), against FakeDriver and LibvirtDriver on the
real libvirtd (the flat data plane: a Linux bridge of the test's own with
its gateway, libvirt's clean-traffic nwfilter, the host filter rule).

The contract guest has an empty disk (no OS), so nothing in it would eject a
NIC: a live detach needs a guest that answers ACPI, which
tests/integration/test_real_interfaces.py shows with the tiny guest. Here
the NIC goes into a running guest live, and in and out of a stopped guest's
definition (there at its next start, gone after a detach); both calls are
idempotent; a missing guest is InstanceNotFound.
"""

from __future__ import annotations

import contextlib
import ipaddress
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from novalite import exception
from novalite.compute import power_state
from novalite.network import filtering, linux_net
from tests.integration.test_driver_contract import DriverCase, case, lv_env  # noqa: F401
from tests.integration.test_networking import _free_cidr

pytestmark = pytest.mark.integration


@pytest.fixture
def vif() -> Iterator[dict[str, Any]]:
    """A flat VIF on a bridge of the test's own (removed at the end)."""
    cidr = ipaddress.ip_network(_free_cidr())
    port = str(uuid.uuid4())
    bridge = f"nlc{port[:8]}"
    mac = "fa:16:3e:%02x:%02x:%02x" % tuple(uuid.uuid4().bytes[:3])
    try:
        yield {"id": port, "address": mac, "type": "bridge", "devname": ("tap" + port)[:14],
               "vnic_type": "normal",
               "network": {"id": str(uuid.uuid4()), "label": "contract", "bridge": bridge,
                           "mtu": 1500, "subnets": [{
                               "cidr": str(cidr), "gateway": str(cidr.network_address + 1),
                               "ips": [{"address": str(cidr.network_address + 10),
                                        "type": "fixed", "version": 4}]}]}}
    finally:
        with contextlib.suppress(Exception):
            filtering.unprotect_host(("tap" + port)[:14])
        with contextlib.suppress(Exception):
            linux_net.delete_device(bridge)


def _macs(case: DriverCase, inst: Any) -> list[str]:  # noqa: F811
    diag = case.driver.get_instance_diagnostics(inst)
    return [str(n["mac_address"]).lower() for n in diag["nic_details"]]


def _destroy(case: DriverCase, inst: Any, vif: dict[str, Any]) -> None:  # noqa: F811
    case.driver.destroy(case.ctxt, inst, [vif])


def test_attach_interface_to_a_running_guest(case: DriverCase, vif: dict) -> None:  # noqa: F811
    inst = case.spawn()
    case.driver.attach_interface(case.ctxt, inst, {"id": case.image_id}, vif)
    case.driver.attach_interface(case.ctxt, inst, {"id": case.image_id}, vif)
    assert _macs(case, inst) == [vif["address"]]
    assert case.driver.get_info(inst).state == power_state.RUNNING
    _destroy(case, inst, vif)


def test_interface_in_and_out_of_a_stopped_guest(case: DriverCase, vif: dict) -> None:  # noqa: F811
    inst = case.spawn()
    case.driver.power_off(inst, timeout=0)
    case.driver.attach_interface(case.ctxt, inst, {"id": case.image_id}, vif)
    case.driver.attach_interface(case.ctxt, inst, {"id": case.image_id}, vif)
    assert case.driver.get_info(inst).state == power_state.SHUTDOWN
    case.driver.power_on(case.ctxt, inst, network_info=[vif])
    assert _macs(case, inst) == [vif["address"]]
    case.driver.power_off(inst, timeout=0)
    case.driver.detach_interface(case.ctxt, inst, vif)
    case.driver.detach_interface(case.ctxt, inst, vif)
    case.driver.power_on(case.ctxt, inst, network_info=[])
    assert _macs(case, inst) == []
    _destroy(case, inst, vif)


def test_interface_calls_on_a_missing_guest_raise_instance_not_found(
        case: DriverCase, vif: dict) -> None:  # noqa: F811
    inst = case.instance()
    with pytest.raises(exception.InstanceNotFound):
        case.driver.attach_interface(case.ctxt, inst, {"id": case.image_id}, vif)
    with pytest.raises(exception.InstanceNotFound):
        case.driver.detach_interface(case.ctxt, inst, vif)
