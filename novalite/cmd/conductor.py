"""novalite-conductor."""

from __future__ import annotations

from novalite import service
from novalite.cmd import _common
from novalite.conf import CONF


def main() -> None:
    _common.init()
    server = service.Service.create(binary="novalite-conductor", topic=CONF.conductor_topic)
    service.serve(server, workers=CONF.conductor.workers)
    service.wait()


if __name__ == "__main__":
    main()
