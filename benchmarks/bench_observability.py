"""What observability costs (issue 15): the boot benchmark with metrics and
the timeline on and off, and the time of a ``GET /metrics`` scrape with
1,000 servers.

(a) ``bench_boot.py --mode allinone`` (its own script, in a child process,
its ``--json`` result) once with ``[metrics] enabled`` and ``[timeline]
enabled`` True and once with both False (``--set``; ``[timeline] enabled``
only if this tree registers that option), ``--rounds`` times, alternating:
servers/s and the p50 POST→ACTIVE of each run.

(b) The functional tests' in-process stack (``tests.functional.stack``:
SQLite, inproc://, ``--hosts`` FakeDriver computes, tokens checked) with
``--servers`` servers inserted through the DB layer over 50 projects (one
of them the measured member's), and per-instance counters recorded for
every one of them as a compute's pass would (``novalite.metrics.instances``,
synthetic values: FakeDriver guests have none of their own): ``--scrapes``
sequential scrapes as the admin (every series) and as the member (their
project's), p50/p99 and the size of the answer.

    python benchmarks/bench_observability.py [--servers 1000] [--scrapes 50] \
        [--boot-servers 200] [--boot-hosts 10] [--rounds 1] [--skip-boot] [--smoke]

It prints a markdown section; exits 1 when a run did not finish.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import _benchlib as lib

lib.add_repo_to_path()

PROJECTS = 50


def timeline_option_registered() -> bool:
    from novalite.conf import CONF

    try:
        return "enabled" in CONF.timeline
    except Exception:  # noqa: BLE001 - no such group in this tree
        return False


def boot_run(on: bool, servers: int, hosts: int, smoke: bool) -> dict[str, Any]:
    value = str(on)
    cmd = [sys.executable, os.path.join(lib.HERE, "bench_boot.py"), "--mode", "allinone",
           "--json", "--set", f"metrics.enabled={value}"]
    if timeline_option_registered():
        cmd += ["--set", f"timeline.enabled={value}"]
    cmd += ["--smoke"] if smoke else ["--servers", str(servers), "--hosts", str(hosts),
                                      "--no-wait-quiet"]
    out = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise SystemExit(f"bench_boot.py ({'on' if on else 'off'}) exited {out.returncode}:\n"
                         f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    start = out.stdout.index("\n{") + 1
    return dict(json.loads(out.stdout[start:]))


def bench_boot(args: argparse.Namespace) -> str:
    runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for _ in range(args.rounds):
        for on in (True, False):
            r = boot_run(on, args.boot_servers, args.boot_hosts, args.smoke)
            runs[on].append(r)
            print(f"boot, observability {'on ' if on else 'off'}: "
                  f"{r['servers_per_s']:.1f} servers/s, p50 {r['p50_active_s'] * 1000:.0f} ms",
                  flush=True)
    rows = []
    for on in (True, False):
        label = "on (metrics + timeline)" if on else "off (both False)"
        rate = [r["servers_per_s"] for r in runs[on]]
        p50 = [r["p50_active_s"] * 1000 for r in runs[on]]
        rows.append([label, " / ".join(f"{x:.1f}" for x in rate),
                     " / ".join(f"{x:.0f}" for x in p50)])
    timeline = ("and `--set timeline.enabled=…`" if timeline_option_registered()
                else "(`[timeline] enabled` not registered in this tree: metrics only)")
    n = 4 if args.smoke else args.boot_servers
    return (f"(a) `bench_boot.py --mode allinone`, {n} servers, "
            f"`--set metrics.enabled=…` {timeline}, {args.rounds} round(s), on and off "
            f"alternating (one value per run):\n\n"
            + lib.md_table(["observability", "servers/s", "p50 POST→ACTIVE ms"], rows))


def populate(stack: Any, count: int, member_project: str) -> None:
    from oslo_utils import timeutils

    from novalite import context as nl_context
    from novalite.db import api as db
    from novalite.metrics import instances
    from novalite.objects.flavor import Flavor
    from novalite.virt.stats import InstanceStats

    ctx = nl_context.get_admin_context()
    flavor = Flavor.get_by_flavor_id(ctx, "1").to_snapshot()
    now = timeutils.utcnow()
    counters = {}
    for i in range(count):
        project = member_project if i % PROJECTS == 0 else f"bench-project-{i % PROJECTS:02d}"
        row = db.instance_create({
            "display_name": f"bench-{i:04d}", "hostname": f"bench-{i:04d}",
            "project_id": project, "user_id": "bench", "host": "bench-host",
            "node": "bench-host", "image_ref": stack.image_id, "flavor": flavor,
            "vm_state": "active", "power_state": 1, "launched_at": now, "launch_index": 0,
            "reservation_id": "r-bench", "metadata": {},
            "system_metadata": {"requested_networks": '"none"'}, "build_attempts": []})
        counters[row["uuid"]] = (project, InstanceStats(
            cpu_seconds=12.5 + i, memory_bytes=(256 + i) << 20, disk_read_bytes=i << 20,
            disk_write_bytes=i << 19, disk_read_requests=i * 10, disk_write_requests=i * 5,
            net_rx_bytes=i << 16, net_tx_bytes=i << 15, net_rx_packets=i * 40,
            net_tx_packets=i * 30))
    instances.record("bench-host", counters)


def scrape_times(stack: Any, session: Any, n: int) -> tuple[float, float, int, int]:
    lat = []
    body = b""
    for _ in range(n):
        t0 = time.perf_counter()
        resp = stack.request("GET", "/metrics", session=session)
        lat.append(time.perf_counter() - t0)
        if resp.status_code != 200:
            raise SystemExit(f"GET /metrics: {resp.status_code} {resp.text[:300]}")
        body = resp.content
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return lib.percentile(lat, 50) * 1000, lib.percentile(lat, 99) * 1000, len(body), series


def bench_scrape(args: argparse.Namespace) -> str:
    from tests.functional.stack import Stack

    state = tempfile.mkdtemp(prefix="bench-observability-")
    stack = Stack(state, auth="novalite",
                  computes=[(f"host{i}", "fake.FakeDriver") for i in range(args.hosts)])
    try:
        stack.start()
        user = stack.make_user("bench-member", "bench-member-project", "member")
        member = stack.login("bench-member", user["password"], "bench-member-project")
        t0 = time.perf_counter()
        populate(stack, args.servers, str(user["project_id"]))
        insert_s = time.perf_counter() - t0
        rows = []
        for who, session in (("admin (everything)", None), ("member (own project)", member)):
            p50, p99, size, series = scrape_times(stack, session, args.scrapes)
            print(f"scrape as {who}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, {size} bytes, "
                  f"{series} samples", flush=True)
            rows.append([who, f"{p50:.1f}", f"{p99:.1f}", f"{size / 1024:.0f}", str(series)])
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    return (f"(b) `GET /metrics` on the in-process stack ({args.hosts} FakeDriver hosts, "
            f"SQLite, tokens checked), {args.servers} servers inserted through the DB layer in "
            f"{insert_s:.1f} s over {PROJECTS} projects, per-instance counters recorded for "
            f"each (synthetic); {args.scrapes} sequential scrapes each, one keep-alive client "
            f"in the same process:\n\n"
            + lib.md_table(["scrape as", "p50 ms", "p99 ms", "KiB", "samples"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1000, help="(b) servers in the DB")
    parser.add_argument("--scrapes", type=int, default=50, help="(b) scrapes per caller")
    parser.add_argument("--hosts", type=int, default=4, help="(b) FakeDriver computes")
    parser.add_argument("--boot-servers", type=int, default=200)
    parser.add_argument("--boot-hosts", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1, help="(a) on/off pairs")
    parser.add_argument("--skip-boot", action="store_true", help="only (b)")
    parser.add_argument("--smoke", action="store_true",
                        help="the test suite's size: bench_boot's smoke run, 50 servers, "
                             "3 scrapes")
    args = parser.parse_args()
    if args.smoke:
        args.servers, args.scrapes, args.hosts, args.rounds = 50, 3, 1, 1
    lib.install_sigterm()
    parts = [] if args.skip_boot else [bench_boot(args)]
    parts.append(bench_scrape(args))
    print("\n\n".join(parts))


if __name__ == "__main__":
    main()
