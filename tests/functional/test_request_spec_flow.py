"""The build's request crosses the services as a RequestSpec object and is
recorded per instance: what the API was asked (flavor, image, networks,
zone) is what the conductor, the scheduler and compute act on, and a
reschedule records the hosts it tried."""

from __future__ import annotations

import base64
import json
from typing import Any

from novalite import context as nl_context
from novalite.objects.block_device import BlockDeviceMappingList
from novalite.objects.instance import Instance
from novalite.objects.request_spec import RequestSpec
from novalite.virt import fake


def test_a_created_server_has_its_request_spec_recorded(stack: Any) -> None:
    server = stack.boot("spec", networks="none", availability_zone="nova")
    stack.wait_status(server["id"], "ACTIVE")
    ctxt = nl_context.get_admin_context()
    spec = RequestSpec.get_by_instance_uuid(ctxt, server["id"])
    assert spec.instance_uuid == server["id"]
    assert (spec.flavor.flavorid, spec.image.id) == ("1", stack.image_id)
    assert spec.requested_networks.no_allocate
    assert spec.availability_zone == "nova"
    # NOTE: system_metadata no longer carries what the spec holds.
    inst = Instance.get_by_uuid(ctxt, server["id"])
    assert "requested_networks" not in inst.system_metadata


def test_a_reschedule_records_the_hosts_it_tried_in_the_spec(make_stack: Any) -> None:
    stack = make_stack(computes=[("host1", "fake.FailingFirstSpawnDriver"),
                                 ("host2", "fake.FakeDriver")])
    server = stack.boot("retry")
    s = stack.wait_status(server["id"], "ACTIVE")
    assert s["OS-EXT-SRV-ATTR:host"] == "host2"
    spec = RequestSpec.get_by_instance_uuid(nl_context.get_admin_context(), server["id"])
    assert spec.retry is not None and spec.retry.hosts == ["host1"]
    assert spec.retry.num_attempts == 1


def _config_drive(host: str, server_id: str) -> dict[str, bytes]:
    with open(fake.guests_file(host)) as f:
        guests = {g["uuid"]: g for g in json.load(f)["guests"]}
    return {p: base64.b64decode(v) for p, v in guests[server_id]["config_drive"].items()}


def test_personality_files_reach_the_host_that_builds_after_a_reschedule(
        make_stack: Any) -> None:
    """The files travel with the build request (not system_metadata): the
    second host, after the first failed, still gets them."""
    stack = make_stack(computes=[("host1", "fake.FailingFirstSpawnDriver"),
                                 ("host2", "fake.FakeDriver")])
    motd = base64.b64encode(b"hello\n").decode()
    server = stack.boot("files", config_drive=True,
                        personality=[{"path": "/etc/motd", "contents": motd}])
    s = stack.wait_status(server["id"], "ACTIVE")
    assert s["OS-EXT-SRV-ATTR:host"] == "host2"
    assert _config_drive("host2", server["id"]) == {"/etc/motd": b"hello\n"}
    inst = Instance.get_by_uuid(nl_context.get_admin_context(), server["id"])
    assert "injected_files" not in inst.system_metadata


def test_a_server_records_its_root_disk_as_a_block_device_mapping(stack: Any) -> None:
    server = stack.boot("bdm")
    stack.wait_status(server["id"], "ACTIVE")
    bdms = BlockDeviceMappingList.get_by_instance_uuid(nl_context.get_admin_context(),
                                                       server["id"])
    assert [(b.source_type, b.destination_type, b.boot_index, b.image_id, b.device_name)
            for b in bdms] == [("image", "local", 0, stack.image_id, "/dev/vda")]
    # NOTE: the driver contract's shape (Nova's), no volumes here.
    assert bdms.block_device_info() == {"root_device_name": "/dev/vda", "ephemerals": [],
                                        "swap": None, "block_device_mapping": []}
    inst = Instance.get_by_uuid(nl_context.get_admin_context(), server["id"])
    assert "block_devices" not in inst.system_metadata
