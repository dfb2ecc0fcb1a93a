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


def _volume_backed(instance: Instance) -> bool:
    """Nova's is_volume_backed_instance by its image_ref: '' for a server
    booted from a volume (its root disk is not on this host)."""
    return bool(instance.obj_attr_is_set("image_ref") and instance.image_ref == "")


def _usage(instance: Instance) -> tuple[int, int, int]:
    flavor = instance.flavor
    root = 0 if _volume_backed(instance) else root_disk_gb(flavor.root_gb,
                                                           _image_virtual_size(instance))
    return (flavor.vcpus, flavor.memory_mb,
            root + flavor.ephemeral_gb + (flavor.swap + 1023) // 1024)


def _disk_need(instance: Instance, disk: int) -> str:
    flavor = instance.flavor
    if flavor.root_gb or not _image_virtual_size(instance):
        return f"{flavor.name} needs {disk}"
    return (f"{flavor.name} needs {disk} (its root disk of 0 GB takes the image's virtual "
            f"size, {root_disk_gb(0, _image_virtual_size(instance))} GiB)")


class ResourceTracker:
    """Claims in memory, exact and synchronous; the node's usage recorded in
    the database by as few saves as keep it current.

    NOTE: every claim and release used to save the ComputeNode (through the
    conductor, from compute): ~450 saves for 200 builds. Now each change of
    the claims bumps a generation; a thread that changed them then saves
    unless a save that carries its generation already finished, and waits
    for a save in progress rather than starting a second beside it. So
    concurrent claims on one host share one save, and when a claim returns
    the database holds usage that includes it (the scheduler and the
    hypervisor API read it there). A save that would change nothing is not
    made.
    """

    def __init__(self, host: str, driver: Any) -> None:
        self.host = host
        self.driver = driver
        self.compute_node: ComputeNode | None = None
        self._claims: dict[str, tuple[int, int, int]] = {}
        # NOTE: _lock guards the claims, the generation and the node's
        # capacity fields (a claim reads them); _save_lock serialises writes
        # of the node. Order: _save_lock, then _lock.
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        self._generation = 0
        self._saved_generation = 0

    def track_existing(self, instances: list[Any]) -> None:
        """Claims for instances already on this host (at start-up); the next
        update_available_resource records them."""
        with self._lock:
            for inst in instances:
                if inst.flavor is not None:
                    self._claims[inst.uuid] = _usage(inst)
            self._generation += 1

    def instance_claim(self, context: RequestContext, instance: Instance) -> bool:
        """Claim the instance's resources or raise ComputeResourcesUnavailable
        (retryable: the conductor reschedules). Returns once the database
        holds usage including this claim (see the class docstring): True,
        or False when the instance held its claim here already."""
        usage = _usage(instance)
        node = self._ensure_node(context)
        with self._lock:
            if instance.uuid in self._claims:
                return False
            self._check_fits(node, instance, usage)
            self._claims[instance.uuid] = usage
            self._generation += 1
            generation = self._generation
        self._save_usage(generation)
        return True

    def _check_fits(self, node: ComputeNode, instance: Instance,
                    usage: tuple[int, int, int]) -> None:
        flavor = instance.flavor
        vcpus, ram, disk = usage
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

    def release(self, context: RequestContext, instance_uuid: str) -> None:
        with self._lock:
            if self._claims.pop(instance_uuid, None) is None:
                return
            self._generation += 1
            generation = self._generation
        self._save_usage(generation)

    def _used(self) -> tuple[int, int, int]:
        claims = list(self._claims.values())
        return (sum(c[0] for c in claims), sum(c[1] for c in claims), sum(c[2] for c in claims))

    def _usage_fields(self) -> dict[str, int]:
        """The node's usage fields from the claims (caller holds _lock)."""
        used_v, used_r, used_d = self._used()
        return {"vcpus_used": used_v, "memory_mb_used": used_r, "local_gb_used": used_d,
                "running_vms": len(self._claims)}

    def _save_usage(self, generation: int) -> None:
        """Record usage of at least ``generation`` unless a save did already."""
        with self._save_lock:
            node = self.compute_node
            if node is None or self._saved_generation >= generation:
                return
            with self._lock:
                usage = self._usage_fields()
                current = self._generation
            _assign(node, usage)
            if node.obj_what_changed():
                try:
                    node.save()
                except Exception:
                    # NOTE: the claim stands; the next change (or the
                    # periodic update) saves again what this one could not.
                    LOG.exception("Could not record resource usage of %s", self.host)
                    return
            self._saved_generation = current

    def _ensure_node(self, context: RequestContext) -> ComputeNode:
        if self.compute_node is None:
            self.update_available_resource(context)
        assert self.compute_node is not None
        return self.compute_node

    def update_available_resource(self, context: RequestContext) -> None:
        """Periodic: capacity from the driver, usage from our claims; saved
        only when something changed."""
        nodename = self.driver.get_available_nodes()[0]
        res = self.driver.get_available_resource(nodename)
        with self._save_lock:
            self._update(context, nodename, res)

    def _update(self, context: RequestContext, nodename: str, res: Any) -> None:
        node = self.compute_node
        if node is None:
            existing = [n for n in ComputeNodeList.get_all(context, host=self.host)
                        if n.hypervisor_hostname == nodename]
            node = existing[0] if existing else None
        if node is None:
            node = ComputeNode(context=context, host=self.host, hypervisor_hostname=nodename)
        with self._lock:
            _assign(node, {
                "hypervisor_type": res.hypervisor_type,
                "hypervisor_version": res.hypervisor_version,
                "hypervisor_description": res.hypervisor_description or res.hypervisor_type,
                "vcpus": res.vcpus, "memory_mb": res.memory_mb, "local_gb": res.local_gb,
                # NOTE: also the host's VXLAN endpoint, which the other hosts'
                # network state reads ([network] tunnel_ip when it differs).
                "host_ip": CONF.network.tunnel_ip or CONF.my_ip,
                "cpu_allocation_ratio": CONF.cpu_allocation_ratio,
                "ram_allocation_ratio": CONF.ram_allocation_ratio,
                "disk_allocation_ratio": CONF.disk_allocation_ratio,
                **self._usage_fields()})
            current = self._generation
        if not node.obj_attr_is_set("id"):
            node.create()
        elif node.obj_what_changed():
            node.save()
        self.compute_node = node
        self._saved_generation = current


def _assign(node: ComputeNode, values: dict[str, Any]) -> None:
    """Set the fields whose value differs, so that an unchanged node has
    nothing to save (setting a field marks it changed even to its value)."""
    for name, value in values.items():
        if not node.obj_attr_is_set(name) or getattr(node, name) != value:
            setattr(node, name, value)
