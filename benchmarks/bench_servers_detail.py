"""``GET /servers/detail`` latency with 1,000 servers in the database.

The stack is the functional tests' all-in-one (``tests.functional.stack``:
API on waitress over HTTP, conductor, scheduler and one FakeDriver compute
in one process, on the in-process bus and SQLite, ``auth_strategy=noauth``).
The servers are inserted straight through the DB layer
(``novalite.db.api.instance_create``, each with an address on one network;
one in twenty is in ERROR with a fault), not booted: what is measured is
the API's read path, and booting 1,000 servers would measure the build path.
They name a host no compute service runs on, so the compute's periodic
power-state sync does not work through them during the measurement.

Measured sequentially, one keep-alive client (``requests``, in the same
process, so it shares the interpreter with the services): the whole list (the default
page is ``[api] max_limit`` = 1000), pages of ``limit`` (the first, and one
after a marker), the same list as the caller's project and as an admin
across projects, the name regex filter, and the short list ``GET /servers``.

    python benchmarks/bench_servers_detail.py [--servers 1000] [--requests 50] [--append-results]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time

import _benchlib as lib

lib.add_repo_to_path()


def populate(stack, count: int) -> None:  # type: ignore[no-untyped-def]
    from oslo_utils import timeutils

    from novalite import context as nl_context
    from novalite.db import api as db
    from novalite.db import network as net_db
    from novalite.network import manage as network_manage
    from novalite.objects.flavor import Flavor

    ctx = nl_context.get_admin_context()
    flavor = Flavor.get_by_flavor_id(ctx, "1").to_snapshot()
    net = network_manage.create_network("bench", "10.64.0.0/20", bridge="nlbench0")
    now = timeutils.utcnow()
    for i in range(count):
        error = i % 20 == 0
        row = db.instance_create({
            "display_name": f"bench-{i:04d}", "hostname": f"bench-{i:04d}",
            "project_id": "admin", "user_id": "admin", "host": "bench-host",
            "node": "bench-host",
            "image_ref": stack.image_id, "flavor": flavor,
            "vm_state": "error" if error else "active", "power_state": 1,
            "launched_at": now, "launch_index": 0, "reservation_id": "r-bench",
            "metadata": {"role": random.choice(["web", "db", "cache"])},
            "system_metadata": {"requested_networks": '"auto"', "disk_config": "MANUAL"},
            "build_attempts": []})
        net_db.fixed_ip_allocate(net["uuid"], row["uuid"], "bench-host")
        if error:
            db.instance_fault_create({"instance_uuid": row["uuid"], "code": 500,
                                      "message": "bench fault", "details": "Traceback ...",
                                      "host": "bench-host"})


def measure(stack, path: str, requests_n: int) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """p50 and p99 latency (ms) of ``requests_n`` sequential GETs, and the
    number of servers in the answer."""
    resp = stack.compute("GET", path)
    assert resp.status_code == 200, resp.text
    size = len(resp.json()["servers"])
    lat = []
    for _ in range(requests_n):
        t0 = time.perf_counter()
        resp = stack.compute("GET", path)
        lat.append(time.perf_counter() - t0)
        assert resp.status_code == 200, resp.text
    return lib.percentile(lat, 50) * 1000, lib.percentile(lat, 99) * 1000, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=50, help="per measurement")
    parser.add_argument("--append-results", action="store_true")
    parser.add_argument("--no-wait-quiet", dest="wait_quiet", action="store_false")
    args = parser.parse_args()
    from tests.functional.stack import Stack

    state = tempfile.mkdtemp(prefix="bench-servers-")
    stack = Stack(state).start()
    try:
        t0 = time.perf_counter()
        populate(stack, args.servers)
        insert_s = time.perf_counter() - t0
        first_page = stack.compute("GET", "/servers?limit=100&sort_key=display_name"
                                          "&sort_dir=asc").json()["servers"]
        marker = first_page[-1]["id"]
        cases = [
            ("GET /servers/detail (all)", "/servers/detail"),
            ("GET /servers/detail?all_tenants=1", "/servers/detail?all_tenants=1"),
            ("GET /servers/detail?limit=100", "/servers/detail?limit=100"),
            ("GET /servers/detail?limit=100&marker=… (page 2, by name)",
             f"/servers/detail?limit=100&sort_key=display_name&sort_dir=asc&marker={marker}"),
            ("GET /servers/detail?limit=10", "/servers/detail?limit=10"),
            ("GET /servers/detail?name=^bench-00 (regex)", "/servers/detail?name=^bench-00"),
            ("GET /servers (all, short form)", "/servers"),
        ]
        rows = []
        for name, path in cases:
            noise = lib.wait_quiet(max_wait=120, window=2) if args.wait_quiet else 0.0
            p50, p99, size = measure(stack, path, args.requests)
            print(f"{name:60s} {size:5d} servers  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms",
                  flush=True)
            rows.append([name, str(size), f"{p50:.1f}", f"{p99:.1f}", f"{noise:.0%}"])
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    table = lib.md_table(["request", "servers in answer", "p50 ms", "p99 ms",
                          "machine busy before"], rows)
    print(table)
    if args.append_results:
        lib.append_results(
            f"GET /servers/detail with {args.servers} servers",
            f"`python benchmarks/bench_servers_detail.py --servers {args.servers} "
            f"--requests {args.requests}`: the functional tests' in-process stack (SQLite, "
            f"inproc://, FakeDriver, noauth), {args.servers} servers inserted through the "
            f"DB layer in {insert_s:.1f} s (each with one fixed IP; 1 in 20 in ERROR with a "
            f"fault), {args.requests} sequential requests per line, one keep-alive client in "
            f"the same process. The whole 1,000-server answer is ~1.5 MB of JSON.\n\n"
            + table)


if __name__ == "__main__":
    main()
