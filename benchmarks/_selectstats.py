"""Wall time of each ``SchedulerManager.select_destinations`` in this
process (``select``: as its caller waits, the selection lock's wait
included) and of each ``HostManager.get_all_host_states`` (``host_states``:
reading every host's service and node, the part that grows with the cloud),
written every 2 s (and at exit) as JSON lists of seconds to the file named
by the environment variable ``NOVALITE_BENCH_SELECTSTATS`` plus ``.<pid>``.
Installed by the benchmark's runners (``_allinone_runner.py``,
``_scheduler_runner.py``); costs two clock reads per call."""

from __future__ import annotations

import atexit
import functools
import json
import os
import threading
import time
from typing import Any

_times: dict[str, list[float]] = {"select": [], "host_states": []}
_lock = threading.Lock()
ENV = "NOVALITE_BENCH_SELECTSTATS"


def _write() -> None:
    path = f"{os.environ[ENV]}.{os.getpid()}"
    with _lock:
        data = json.dumps(_times)
    with open(path + ".tmp", "w") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def _write_loop() -> None:
    while True:
        time.sleep(2)
        _write()


def _timed(cls: Any, name: str, key: str) -> None:
    original = getattr(cls, name)

    @functools.wraps(original)
    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            with _lock:
                _times[key].append(time.perf_counter() - t0)

    setattr(cls, name, timed)


def install() -> None:
    from novalite.scheduler import manager

    _timed(manager.SchedulerManager, "select_destinations", "select")
    host_manager = getattr(manager, "HostManager", None)
    if host_manager is not None and hasattr(host_manager, "get_all_host_states"):
        _timed(host_manager, "get_all_host_states", "host_states")
    started = {"pid": 0}

    def start_writer() -> None:
        # NOTE: the launcher forks the worker after install(): the writer
        # thread must be started in the process that schedules.
        if started["pid"] != os.getpid():
            started["pid"] = os.getpid()
            threading.Thread(target=_write_loop, name="selectstats", daemon=True).start()
            atexit.register(_write)

    original_init = manager.SchedulerManager.__init__

    @functools.wraps(original_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        start_writer()

    manager.SchedulerManager.__init__ = init  # type: ignore[method-assign]


def read(path: str) -> dict[str, list[float]]:
    """Every process's times (files ``path.<pid>``), merged."""
    import glob

    out: dict[str, list[float]] = {"select": [], "host_states": []}
    for name in glob.glob(glob.escape(path) + ".*"):
        if name.endswith(".tmp"):
            continue
        with open(name) as f:
            for key, values in json.load(f).items():
                out.setdefault(key, []).extend(values)
    return out
