"""novalite-compute: the seed's service (nova/cmd/compute.py)."""

from __future__ import annotations

import sys

from oslo_log import log as logging

from novalite import service
from novalite.cmd import _common
from novalite.conf import CONF
from novalite.db import api as db_api

LOG = logging.getLogger(__name__)


def main() -> None:
    _common.init()
    if CONF.database.connection:
        LOG.warning("[database] connection is set but novalite-compute never uses it: "
                    "remove the credentials from compute hosts")
    from novalite import doctor

    try:
        # NOTE: before the service consumes anything: a host where every
        # boot would fail refuses to start, saying how to fix it.
        doctor.enforce(doctor.startup_checks(CONF.compute_driver), LOG)
    except doctor.HostCheckFailed:
        sys.exit(1)
    # NOTE: the whole process: no thread of a compute host reaches a database.
    db_api.disable("novalite-compute")
    if CONF.metrics.compute_listen_port:
        from novalite.metrics import listener

        listener.start(CONF.metrics.compute_listen, CONF.metrics.compute_listen_port)
    server = service.Service.create(binary="novalite-compute", topic=CONF.compute_topic,
                                    db_allowed=False)
    service.serve(server)
    service.wait()


if __name__ == "__main__":
    main()
