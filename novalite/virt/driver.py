"""The compute driver contract.

Every driver implements ``ComputeDriver``. The compute manager relies on the
failure semantics written on each method; a driver that breaks them leaves
instances or host resources behind. Drivers never import the database: what
they need from the service they get through the ``VirtAPI``.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from oslo_log import log as logging
from stevedore import driver as stevedore_driver

from novalite import exception
from novalite.virt.hardware import HostResources, InstanceInfo
from novalite.virt.virtapi import VirtAPI

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance

LOG = logging.getLogger(__name__)

NAMESPACE = "novalite.virt"


class ComputeDriver(abc.ABC):
    """A hypervisor, seen by the compute manager.

    ``capabilities`` tells the manager what the driver can do, so it never
    has to guess from the class.
    """

    capabilities: dict[str, bool] = {
        "supports_reboot": True,
        "supports_console_output": False,
        "supports_file_injection": False,
    }

    def __init__(self, virtapi: VirtAPI) -> None:
        self.virtapi = virtapi

    def init_host(self, host: str) -> None:
        """Prepare the host (connect to the hypervisor). Raises
        HypervisorUnavailable when it cannot; the service then fails to start."""
        return None

    def cleanup_host(self, host: str) -> None:
        """Release what init_host took (connections); guests keep running."""
        return None

    @abc.abstractmethod
    def get_available_nodes(self) -> list[str]:
        """Names of the nodes this driver manages (one for most drivers)."""

    @abc.abstractmethod
    def get_available_resource(self, nodename: str) -> HostResources:
        """Capacity and current usage of ``nodename``, as measured."""

    @abc.abstractmethod
    def spawn(self, context: RequestContext, instance: Instance, image_meta: dict[str, Any],
              network_info: list[Any], block_device_info: dict[str, Any] | None = None, *,
              injected_files: list[dict[str, str]] | None = None) -> None:
        """Create and start a guest; return when it is running.

        ``injected_files``: the build request's personality files
        (``{path, contents}``, contents base64), for the config drive.

        On failure, remove everything this call made (disks, domains) before
        raising. Raise an exception whose ``retryable`` is True when another
        host might succeed (e.g. ComputeResourcesUnavailable); anything else
        ends the build in ERROR. ``destroy`` may be called concurrently and
        must make a spawn in progress fail promptly.
        """

    @abc.abstractmethod
    def destroy(self, context: RequestContext, instance: Instance, network_info: list[Any] | None = None,
                block_device_info: dict[str, Any] | None = None) -> None:
        """Stop and remove the guest and everything made for it.

        Succeeds when the guest is already gone (idempotent); only raises when
        something could not be removed.
        """

    @abc.abstractmethod
    def power_off(self, instance: Instance, timeout: int = 0) -> None:
        """Shut the guest down: gracefully within ``timeout`` seconds, then
        forcibly. Succeeds when it is already off. Raises InstanceNotFound
        when there is no guest."""

    @abc.abstractmethod
    def power_on(self, context: RequestContext, instance: Instance, *,
                 network_info: list[dict[str, Any]] | None = None) -> None:
        """Start a stopped guest, its ports (``network_info``) plugged again
        first. Succeeds when it is already running. Raises InstanceNotFound
        when there is no guest."""

    @abc.abstractmethod
    def reboot(self, context: RequestContext, instance: Instance, reboot_type: str, *,
               network_info: list[dict[str, Any]] | None = None) -> None:
        """SOFT: ask the guest to restart, falling back to HARD; HARD: reset,
        its ports (``network_info``) plugged again. The guest is running when
        this returns. Raises InstanceNotFound when there is no guest."""

    @abc.abstractmethod
    def get_info(self, instance: Instance) -> InstanceInfo:
        """The guest's power state. Raises InstanceNotFound when there is none."""

    @abc.abstractmethod
    def list_instance_uuids(self) -> list[str]:
        """UUIDs of the guests that exist on this host."""

    def manage_image_cache(self, context: RequestContext, all_instances: list[Any]) -> None:
        """Remove cached images that none of ``all_instances`` (this host's)
        uses, as ``[image_cache]`` says (Nova's). Never removes one in use;
        a driver without a cache does nothing."""
        return None

    def get_console_output(self, context: RequestContext, instance: Instance) -> bytes:
        """What the guest wrote to its console so far."""
        raise NotImplementedError()

    def inject_files(self, context: RequestContext, instance: Instance, files: list[dict[str, Any]],
                     timeout: float) -> None:
        """Write files ({"path": absolute path, "contents": base64}) into the
        running guest (``supports_file_injection``), within ``timeout``
        seconds; raise naming the file and the step that failed. The guest
        keeps running either way."""
        raise NotImplementedError()


def load_compute_driver(virtapi: VirtAPI, compute_driver: str) -> ComputeDriver:
    """Load ``compute_driver`` (e.g. 'fake.FakeDriver') from the
    novalite.virt entry points."""
    LOG.info("Loading compute driver '%s'", compute_driver)
    try:
        mgr: stevedore_driver.DriverManager[ComputeDriver] = stevedore_driver.DriverManager(
            NAMESPACE, compute_driver, invoke_on_load=True, invoke_args=(virtapi,))
    except Exception as e:
        LOG.error("Unable to load the virtualization driver %s: %s", compute_driver, e)
        raise exception.VirtDriverNotFound(name=compute_driver) from e
    drv = mgr.driver
    if not isinstance(drv, ComputeDriver):
        raise exception.VirtDriverNotFound(name=compute_driver)
    return drv
