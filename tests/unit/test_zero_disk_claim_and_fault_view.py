"""Issue 10 items 3 and 4 below the API: the compute host claims a 0 GB
root disk at the image's virtual size (also for instances found at start-up),
and a fault's message shown to users names no host path."""

from __future__ import annotations

import datetime

import pytest

from novalite import exception
from novalite.api import links
from novalite.api.views import servers as server_views
from novalite.compute import vm_states
from novalite.compute.resource_tracker import IMAGE_VIRTUAL_SIZE_KEY, ResourceTracker
from novalite.objects.compute_node import ComputeNode
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from novalite.objects.instance_fault import InstanceFault

GiB = 1024 ** 3


def _instance(uuid_tail: int, root_gb: int, virtual_size: int | None = None,
              **overrides: object) -> Instance:
    flavor = Flavor(flavorid="z", name="zero.disk", memory_mb=64, vcpus=1, root_gb=root_gb,
                    ephemeral_gb=0, swap=0)
    sysmeta = {} if virtual_size is None else {IMAGE_VIRTUAL_SIZE_KEY: str(virtual_size)}
    values: dict = dict(uuid=f"0b5e0b5e-0000-4000-8000-{uuid_tail:012d}", flavor=flavor,
                        system_metadata=sysmeta, vm_state=vm_states.ACTIVE)
    values.update(overrides)
    return Instance(**values)


class _RecordedNode(ComputeNode):
    """A compute node whose usage is kept in memory (no database here)."""

    def save(self) -> None:
        self.obj_reset_changes()


def _tracker(local_gb: int) -> ResourceTracker:
    rt = ResourceTracker("host1", driver=None)
    rt.compute_node = _RecordedNode(
        host="host1", hypervisor_hostname="host1", vcpus=8, memory_mb=8192,
        local_gb=local_gb, cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0,
        disk_allocation_ratio=1.0)
    return rt


def test_zero_disk_claim_takes_the_image_virtual_size():
    rt = _tracker(local_gb=50)
    rt.instance_claim(None, _instance(1, root_gb=0, virtual_size=20 * GiB + 1))
    assert rt.compute_node is not None and rt.compute_node.local_gb_used == 21

    with pytest.raises(exception.ComputeResourcesUnavailable) as refused:
        rt.instance_claim(None, _instance(2, root_gb=0, virtual_size=10 * 1024 * GiB))
    assert refused.value.format_message() == (
        "Insufficient compute resources: host host1 has 29 GiB free disk, zero.disk needs "
        "10240 (its root disk of 0 GB takes the image's virtual size, 10240 GiB)")
    assert refused.value.retryable
    assert rt.compute_node.local_gb_used == 21

    # a flavor with a root disk claims the flavor's size, whatever the image
    rt.instance_claim(None, _instance(3, root_gb=5, virtual_size=40 * GiB))
    assert rt.compute_node.local_gb_used == 26


def test_instances_found_at_start_up_claim_their_image_virtual_size():
    rt = _tracker(local_gb=50)
    rt.track_existing([_instance(1, root_gb=0, virtual_size=30 * GiB),
                       _instance(2, root_gb=0)])
    with pytest.raises(exception.ComputeResourcesUnavailable):
        rt.instance_claim(None, _instance(3, root_gb=0, virtual_size=21 * GiB))
    rt.instance_claim(None, _instance(4, root_gb=0, virtual_size=20 * GiB))
    assert rt.compute_node is not None and rt.compute_node.local_gb_used == 50


def _failed(message: str) -> Instance:
    created = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    fault = InstanceFault(code=500, message=message, details="Traceback: /var/lib/x",
                          created_at=created)
    return _instance(9, root_gb=1, vm_state=vm_states.ERROR, fault=fault, host=None,
                     id=9, display_name="vm", project_id="p", user_id="u", task_state=None,
                     image_ref="", metadata={}, created_at=created, updated_at=None,
                     availability_zone=None, launched_at=None, terminated_at=None,
                     access_ip_v4=None, access_ip_v6=None, key_name=None, config_drive=False,
                     power_state=0, node=None)


@pytest.mark.parametrize("message, user_message", [
    ("Spawning instance X failed: libvirt could not start it: Cannot access storage file "
     "'/var/lib/novalite/instances/X/disk' (as uid:64055, gid:64055): Permission denied",
     "Spawning instance X failed: libvirt could not start it: Cannot access storage file "
     "'<path>' (as uid:64055, gid:64055): Permission denied"),
    ("genisoimage could not build the config drive: Command: genisoimage -o "
     "/srv/nl/instances/X/disk.config -quiet /tmp/tmpab12",
     "genisoimage could not build the config drive: Command: genisoimage -o <path> "
     "-quiet <path>"),
    ("Could not fetch image X: the Image API at http://10.0.0.1:8774/image is unreachable",
     "Could not fetch image X: the Image API at http://10.0.0.1:8774/image is unreachable"),
    ("No valid host was found. 1 of 2 hosts", "No valid host was found. 1 of 2 hosts"),
])
def test_fault_message_shown_to_users_names_no_host_path(message, user_message):
    lk = links.Links("http://h")
    user = server_views.detail(_failed(message), lk, is_admin=False)["fault"]
    assert user == {"code": 500, "created": "2026-01-02T03:04:05Z", "message": user_message}
    admin = server_views.detail(_failed(message), lk, is_admin=True)["fault"]
    assert admin["message"] == message and admin["details"] == "Traceback: /var/lib/x"
    # the extended attributes an operator opens to others never show details
    opened = server_views.detail(_failed(message), lk, is_admin=True, fault_details=False)
    assert opened["fault"] == user
