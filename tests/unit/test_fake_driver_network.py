"""FakeDriver plugs nothing on the host but records what it was asked, and
keeps injected files, so fake-driver stacks exercise the network path."""

from __future__ import annotations

import base64
from typing import Any

from novalite.network import model
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from novalite.virt.fake import FakeDriver
from tests.unit.test_libvirt_config import NullVirtAPI

FIP = {"uuid": "port-1", "mac": "fa:16:3e:00:00:01", "address": "10.1.0.2",
       "network": {"uuid": "n1", "name": "net", "bridge": "br-x", "cidr": "10.1.0.0/24",
                   "gateway": "10.1.0.1"}}


def _instance() -> Any:
    flavor = Flavor(id=1, flavorid="1", name="t", memory_mb=64, vcpus=1, root_gb=1,
                    ephemeral_gb=0, swap=0, extra_specs={})
    return Instance(id=1, uuid="6b4e6a0e-5f3e-4c8e-9d7f-0a1b2c3d4e5f", flavor=flavor)


def test_plug_unplug_recorded_and_files_kept() -> None:
    FakeDriver.forget_all_hosts()
    drv = FakeDriver(NullVirtAPI())
    drv.init_host("fakehost")
    inst = _instance()
    drv.spawn(None, inst, {}, [model.vif_from_fixed_ip(FIP)])
    assert drv.plugged == [("plug", "port-1", "br-x")]
    drv.inject_files(None, inst, [{"path": "/etc/x", "contents":
                                   base64.b64encode(b"data").decode()}], 5)
    assert drv._guest(inst).files == {"/etc/x": b"data"}
    drv.destroy(None, inst)
    assert drv.plugged == [("plug", "port-1", "br-x"), ("unplug", "port-1", "br-x")]
    drv.destroy(None, inst)
    assert len(drv.plugged) == 2
