"""ResourceTracker: what this host has promised to its instances.

Claims are checked against capacity × allocation ratio before a build
spawns, so two schedulers' optimistic picks can never over-commit the host:
a claim that does not fit fails with a retryable error and the conductor
reschedules.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from oslo_log import log as logging

from novalite import exception
from novalite.conf import CONF
from novalite.objects.compute_node import ComputeNode, ComputeNodeList

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance

LOG = logging.getLogger(__name__)


GiB = 1024 ** 3
# NOTE: recorded in system_metadata by the compute API when the flavor's root
# disk is 0 GB: such a root disk takes the image's virtual size (bytes), and
# the host must claim that, not 0, or one small qcow2 with a huge virtual
# size could fill the host's disk.
IMAGE_VIRTUAL_SIZE_KEY = "image_virtual_size"


def root_disk_gb(flavor_root_gb: int, image_virtual_size: int | None) -> int:
    """GiB the root disk takes: the flavor's, or for a 0 GB flavor the
    image's virtual size rounded up to whole GiB."""
    if flavor_root_gb or not image_virtual_size:
        return flavor_root_gb
    return -(-image_virtual_size // GiB)


def _image_virtual_size(instance: Instance) -> int | None:
    sysmeta = instance.system_metadata if instance.obj_attr_is_set("system_metadata") else {}
    try:
        return int((sysmeta or {}).get(IMAGE_VIRTUAL_SIZE_KEY) or 0) or None
    except ValueError:
        return None


def _usage(instance: Instance) -> tuple[int, int, int]:
    flavor = instance.flavor
    root = root_disk_gb(flavor.root_gb, _image_virtual_size(instance))
    return (flavor.vcpus, flavor.memory_mb,
            root + flavor.ephemeral_gb + (flavor.swap + 1023) // 1024)


def _disk_need(instance: Instance, disk: int) -> str:
    flavor = instance.flavor
    if flavor.root_gb or not _image_virtual_size(instance):
        return f"{flavor.name} needs {disk}"
    return (f"{flavor.name} needs {disk} (its root disk of 0 GB takes the image's virtual "
            f"size, {root_disk_gb(0, _image_virtual_size(instance))} GiB)")


class ResourceTracker:
    def __init__(self, host: str, driver: Any) -> None:
        self.host = host
        self.driver = driver
        self.compute_node: ComputeNode | None = None
        self._claims: dict[str, tuple[int, int, int]] = {}
        self._lock = threading.Lock()

    def track_existing(self, instances: list[Any]) -> None:
        """Claims for instances already on this host (at start-up)."""
        with self._lock:
            for inst in instances:
                if inst.flavor is not None:
                    self._claims[inst.uuid] = _usage(inst)

    def instance_claim(self, context: RequestContext, instance: Instance) -> None:
        flavor = instance.flavor
        vcpus, ram, disk = _usage(instance)
        with self._lock:
            if instance.uuid in self._claims:
                return
            node = self._ensure_node(context)
            used_v, used_r, used_d = self._used()
            free_r = node.memory_mb * node.ram_allocation_ratio - used_r
            free_v = node.vcpus * node.cpu_allocation_ratio - used_v
            free_d = node.local_gb * node.disk_allocation_ratio - used_d
            short = []
            if ram > free_r:
                short.append(f"{int(free_r)} MiB free RAM, {flavor.name} needs {ram}")
            if vcpus > free_v:
                short.append(f"{int(free_v)} free vCPUs, {flavor.name} needs {vcpus}")
            if disk > free_d:
                short.append(f"{int(free_d)} GiB free disk, {_disk_need(instance, disk)}")
            if short:
                raise exception.ComputeResourcesUnavailable(
                    reason=f"host {self.host} has " + "; ".join(short))
            self._claims[instance.uuid] = (vcpus, ram, disk)
            self._save_usage(node)

    def release(self, context: RequestContext, instance_uuid: str) -> None:
        with self._lock:
            if self._claims.pop(instance_uuid, None) is None:
                return
            if self.compute_node is not None:
                self._save_usage(self.compute_node)

    def _used(self) -> tuple[int, int, int]:
        claims = list(self._claims.values())
        return (sum(c[0] for c in claims), sum(c[1] for c in claims), sum(c[2] for c in claims))

    def _save_usage(self, node: ComputeNode) -> None:
        node.vcpus_used, node.memory_mb_used, node.local_gb_used = self._used()
        node.running_vms = len(self._claims)
        try:
            node.save()
        except Exception:
            LOG.exception("Could not record resource usage of %s", self.host)

    def _ensure_node(self, context: RequestContext) -> ComputeNode:
        if self.compute_node is None:
            self._update(context)
        assert self.compute_node is not None
        return self.compute_node

    def update_available_resource(self, context: RequestContext) -> None:
        """Periodic: capacity from the driver, usage from our claims."""
        with self._lock:
            self._update(context)

    def _update(self, context: RequestContext) -> None:
        nodename = self.driver.get_available_nodes()[0]
        res = self.driver.get_available_resource(nodename)
        node = self.compute_node
        if node is None:
            existing = [n for n in ComputeNodeList.get_all(context, host=self.host)
                        if n.hypervisor_hostname == nodename]
            node = existing[0] if existing else None
        if node is None:
            node = ComputeNode(context=context, host=self.host, hypervisor_hostname=nodename)
        node.hypervisor_type = res.hypervisor_type
        node.hypervisor_version = res.hypervisor_version
        node.hypervisor_description = res.hypervisor_description or res.hypervisor_type
        node.vcpus, node.memory_mb, node.local_gb = res.vcpus, res.memory_mb, res.local_gb
        node.cpu_allocation_ratio = CONF.cpu_allocation_ratio
        node.ram_allocation_ratio = CONF.ram_allocation_ratio
        node.disk_allocation_ratio = CONF.disk_allocation_ratio
        node.vcpus_used, node.memory_mb_used, node.local_gb_used = self._used()
        node.running_vms = len(self._claims)
        if node.obj_attr_is_set("id"):
            node.save()
        else:
            node.create()
        self.compute_node = node
