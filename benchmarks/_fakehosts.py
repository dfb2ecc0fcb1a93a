"""Registered compute hosts that run no service: ``--registered-hosts`` of
``bench_boot.py`` (the scheduler's cost as the cloud grows).

Each is a ``novalite-compute`` service row plus its compute node row, written
in one transaction straight into the deployment's database (SQLAlchemy Core
on novalite's tables), and kept up by one ``UPDATE`` of their heartbeats
every few seconds, as if each sent its own. They are half the size of a
FakeDriver host (``[fake_driver]`` defaults), so they pass every scheduler
filter and go through the weighers like any host, but always weigh less
than the real hosts: no build is ever sent to a host that nobody serves.
``remove()`` deletes the rows again.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from oslo_utils import timeutils

from novalite.db import models

PREFIX = "far-"
HEARTBEAT = 5.0


class FakeHosts:
    def __init__(self, database_url: str, count: int) -> None:
        self.engine = sa.create_engine(database_url)
        self.count = count
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def names(self) -> list[str]:
        return [f"{PREFIX}{i:04d}" for i in range(self.count)]

    def register(self) -> FakeHosts:
        now = timeutils.utcnow()
        table = models.Service.__table__
        with self.engine.connect() as conn:
            # NOTE: the version the real computes registered with, so that
            # [upgrade_levels] compute = auto is not pinned down by these.
            version = conn.scalar(sa.select(table.c.rpc_version)
                                  .where(table.c.binary == "novalite-compute").limit(1))
        services = [{"host": h, "binary": "novalite-compute", "topic": "compute",
                     "report_count": 1, "disabled": False, "forced_down": False,
                     "last_seen_up": now, "rpc_version": version,
                     "created_at": now, "deleted": 0} for h in self.names()]
        nodes = [{"host": h, "hypervisor_hostname": h, "hypervisor_type": "fake",
                  "hypervisor_version": 1, "vcpus": 32, "memory_mb": 131072, "local_gb": 2048,
                  "vcpus_used": 0, "memory_mb_used": 0, "local_gb_used": 0, "running_vms": 0,
                  "cpu_allocation_ratio": 16.0, "ram_allocation_ratio": 1.5,
                  "disk_allocation_ratio": 1.0, "created_at": now, "updated_at": now,
                  "deleted": 0} for h in self.names()]
        with self.engine.begin() as conn:
            conn.execute(sa.insert(models.Service.__table__), services)
            conn.execute(sa.insert(models.ComputeNode.__table__), nodes)
        self._thread = threading.Thread(target=self._beat, name="fake-hosts", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        table = models.Service.__table__
        while not self._stop.wait(HEARTBEAT):
            try:
                with self.engine.begin() as conn:
                    conn.execute(sa.update(table)
                                 .where(table.c.host.startswith(PREFIX, autoescape=True))
                                 .values(last_seen_up=timeutils.utcnow()))
            except sa.exc.OperationalError:
                continue  # NOTE: SQLite busy under load: the next beat will do

    def remove(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        with self.engine.begin() as conn:
            for table in (models.ComputeNode.__table__, models.Service.__table__):
                conn.execute(sa.delete(table).where(
                    table.c.host.startswith(PREFIX, autoescape=True)))
        self.engine.dispose()
