"""The contract between the volume manager and a backend (Cinder's volume
driver, reduced to what novalite's API offers). A file backend implements it
here; a Ceph RBD or LVM one would implement the same methods.

Failure semantics: every ``create*`` removes what it made before it raises
(the manager then records the volume in ``error`` with the message);
``delete``/``delete_snapshot`` succeed when the data is already gone and
leave none of the data readable by a later volume; ``extend`` never shrinks.
Methods take the volume (or snapshot) as its database dict and return, for
creates, the backend's ``provider_location`` (its name for the data).
"""

from __future__ import annotations

import abc
from typing import Any


class VolumeBackend(abc.ABC):
    #: How a compute host reads this backend's volumes ("raw" or "qcow2").
    volume_format = "raw"

    @abc.abstractmethod
    def setup(self) -> None:
        """Prepare the backend at service start (directories, pools)."""

    @abc.abstractmethod
    def stats(self) -> dict[str, Any]:
        """Cinder's pool stats: total/free/allocated capacity in GiB and the
        over-subscription ratio."""

    @abc.abstractmethod
    def create(self, volume: dict[str, Any]) -> str:
        """An empty volume of ``volume['size']`` GiB that reads zeros."""

    @abc.abstractmethod
    def create_from_image(self, volume: dict[str, Any], image_path: str,
                          image_format: str) -> str:
        """A volume holding the image's disk (converted from its format),
        grown to the volume's size. ImageUnacceptable when it does not fit."""

    @abc.abstractmethod
    def create_from_snapshot(self, volume: dict[str, Any], snapshot: dict[str, Any]) -> str:
        """A volume with the snapshot's data (grown to the volume's size)."""

    @abc.abstractmethod
    def clone(self, volume: dict[str, Any], source: dict[str, Any]) -> str:
        """A volume with the source volume's data (grown to the volume's size)."""

    @abc.abstractmethod
    def create_snapshot(self, snapshot: dict[str, Any], volume: dict[str, Any]) -> str:
        """A point-in-time copy of the volume (crash-consistent when in use)."""

    @abc.abstractmethod
    def delete_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Discard the snapshot's data."""

    @abc.abstractmethod
    def revert_to_snapshot(self, volume: dict[str, Any], snapshot: dict[str, Any]) -> None:
        """Make the volume's data the snapshot's again (the volume is not in use)."""

    @abc.abstractmethod
    def extend(self, volume: dict[str, Any], new_size: int) -> None:
        """Grow the volume to ``new_size`` GiB (also while attached)."""

    @abc.abstractmethod
    def delete(self, volume: dict[str, Any]) -> None:
        """Discard the volume's data: no later volume reads any of it."""

    @abc.abstractmethod
    def local_path(self, volume: dict[str, Any]) -> str:
        """The volume's data as a path on this host (what a local attach
        and an NBD export open)."""
