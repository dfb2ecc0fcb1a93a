"""novalite-volume: the volume service of one volume host (its file
backend and NBD exports), as Cinder's cinder-volume."""

from __future__ import annotations

from novalite import service
from novalite.cmd import _common
from novalite.conf import CONF

BINARY = "novalite-volume"
MANAGER = "novalite.volume.manager.VolumeManager"


def create_service(host: str | None = None) -> service.Service:
    """The volume service (the all-in-one and tests start it the same way)."""
    return service.Service.create(host=host, binary=BINARY, topic=CONF.volume.topic,
                                  manager=MANAGER, db_allowed=True)


def main() -> None:
    _common.init()
    server = create_service()
    service.serve(server)
    service.wait()


if __name__ == "__main__":
    main()
