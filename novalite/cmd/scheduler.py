"""novalite-scheduler."""

from __future__ import annotations

from novalite import service
from novalite.cmd import _common
from novalite.conf import CONF


def main() -> None:
    _common.init()
    server = service.Service.create(binary="novalite-scheduler", topic=CONF.scheduler_topic)
    service.serve(server)
    service.wait()


if __name__ == "__main__":
    main()
