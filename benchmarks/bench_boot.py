"""Boot and delete N servers through the HTTP API on H FakeDriver hosts.

Modes (each starts and stops everything it needs):

* ``allinone``: one child process, novalite-all-in-one's start-up with H
  compute services (``_allinone_runner.py``): API, conductor, scheduler and
  the computes on ``inproc://`` + SQLite.
* ``multiprocess``: novalite-api, -conductor, -scheduler and H novalite-compute
  processes (real binaries, ``tests/cluster.py``) on a fresh RabbitMQ vhost
  and a fresh PostgreSQL database, both dropped afterwards; timers at the
  product's defaults (not tests/cluster.py's fast test timers).

The load generator is a client like any other: it logs in with a password
(``POST /identity/v3/auth/tokens``; in the all-in-one as its admin, with the
password the all-in-one generated into its state directory; across
processes as a user made with ``novalite-manage user create --role admin``),
then raises its project's instances/cores/ram quotas through
``PUT /compute/v2.1/os-quota-sets/{project}`` to what N servers need. Every
service option stays at its default unless ``--set`` says otherwise.

``--registered-hosts N`` also registers N compute hosts that run no service
(``_fakehosts.py``: rows written into the database, heartbeats kept fresh),
half a FakeDriver host each, so every filter passes them and the weighers
rank them, but they never win: the scheduler's cost as the cloud grows,
without builds sent to nobody. Each ``select_destinations``'s wall time in
the scheduler (its lock's wait included) is recorded (``_selectstats.py``)
and reported as p50/p99 in every run.

Load (this process, so it never shares the services' GIL): a pool of
``--concurrency`` threads POSTs ``/compute/v2.1/servers`` (flavor 1, the
image from ``GET /image/v2/images``) while one poller lists
``/servers/detail`` (one call per round, ``--poll-interval`` apart; each
round lists every server, which costs the services CPU too) and notes when
each server is first seen ACTIVE or ERROR; then the pool DELETEs them all and
the poller lists ``/servers`` until it is empty. A phase that makes no
progress for 90 s (longer than the 60 s RPC timeout) is declared stalled:
py-spy (if installed) dumps the services' threads into the kept state dir.

Reported: servers/s = N / (first POST sent → last server seen ACTIVE),
p50/p99 POST→ACTIVE (POST sent → the poll response that first showed it
ACTIVE, so values are upper bounds by about one poll round), POST/DELETE
HTTP latency, deletes/s = N / (first DELETE sent → list empty), errors, peak
RSS per service (psutil, every 0.2 s, per process tree; "worker" is the
largest process of the tree: the launcher forks one), CPU seconds per service
and phase, and how busy the machine was (other processes on these 2 cores
distort everything: by default the script first waits, up to 15 min, until
the machine is under 15% busy, and reports the CPU others used meanwhile).

    python benchmarks/bench_boot.py --mode allinone [--servers 200] [--hosts 10] \
        [--concurrency 16] [--poll-interval 0.5] [--registered-hosts 1000] \
        [--set SECTION.OPTION=VALUE ...] [--append-results] [--keep] [--max-quiet-wait S] \
        [--rpc-stats | --profile DIR [--profile-gil]]
    python benchmarks/bench_boot.py --mode allinone --smoke   # the test suite's run
    python benchmarks/bench_boot.py --mode multiprocess ...
    python benchmarks/bench_boot.py summarize DIR/*.txt   # py-spy raw files

It exits 1 when the run did not finish: a POST refused, a server not ACTIVE,
one left after the deletes, a stall. ``--set`` passes an option to every
service (a config file), e.g. ``--set DEFAULT.executor_thread_pool_size=512``.
``--rpc-stats`` (allinone) accounts the service's CPU by HTTP route, RPC
method, serializer and DB function (``_rpcstats.py``) and prints it.
``--profile DIR`` runs py-spy (``pip install py-spy``; needs ptrace, i.e. root
here) on the service workers during the run and prints CPU by layer and the
top functions (``--profile-gil``: only the thread holding the GIL, i.e. CPU
attribution). Diagnostic runs are slower and are never appended as results.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from typing import Any

import _benchlib as lib
import _selectstats
import requests

POLL_INTERVAL = 0.5
PHASE_TIMEOUT = 600.0
# NOTE: longer than the services' RPC call timeout (60 s by default), so a
# build that fails on a timeout still shows up as ERROR before we give up.
STALL_TIMEOUT = 90.0


# -- load generator ------------------------------------------------------------


class Load:
    def __init__(self, base_url: str, servers: int, concurrency: int,
                 on_stall: Any = None, cpu: Any = None,
                 poll_interval: float = POLL_INTERVAL,
                 headers: dict[str, str] | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.poll_interval = poll_interval
        self.cpu = cpu or (lambda: {})
        self.cpu_marks: list[dict[str, float]] = []
        self.on_stall = on_stall
        self.stalled: list[str] = []
        self.compute = self.base + "/compute/v2.1"
        self.n = servers
        self.concurrency = concurrency
        self._local = threading.local()

    def session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = self.new_session()
        return s

    def new_session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        s.headers.update(self.headers)
        return s

    def image_id(self) -> str:
        resp = self.session().get(self.base + "/image/v2/images", timeout=30)
        resp.raise_for_status()
        images = resp.json()["images"]
        if not images:
            raise RuntimeError("no image registered")
        return images[0]["id"]

    def run(self) -> dict[str, Any]:
        image = self.image_id()
        out: dict[str, Any] = {"servers": self.n, "concurrency": self.concurrency}
        c0 = self.cpu()
        out.update(self._boot(image))
        c1 = self.cpu()
        out.update(self._delete(out.pop("_ids")))
        c2 = self.cpu()
        out["cpu_boot_s"] = {k: c1[k] - c0.get(k, 0.0) for k in c1}
        out["cpu_delete_s"] = {k: c2[k] - c1.get(k, 0.0) for k in c2}
        return out

    # -- boot ------------------------------------------------------------------

    def _boot(self, image: str) -> dict[str, Any]:
        lock = threading.Lock()
        posted: dict[str, float] = {}
        post_latency: list[float] = []
        post_errors: Counter = Counter()
        active: dict[str, float] = {}
        error: dict[str, float] = {}
        posting_done = threading.Event()
        polls = {"n": 0, "time": 0.0, "errors": 0}

        def post(i: int) -> None:
            body = {"server": {"name": f"bench-{i}", "flavorRef": "1", "imageRef": image}}
            t0 = time.monotonic()
            try:
                resp = self.session().post(self.compute + "/servers", json=body, timeout=60)
            except requests.RequestException as exc:
                with lock:
                    post_errors[type(exc).__name__] += 1
                return
            t1 = time.monotonic()
            if resp.status_code != 202:
                with lock:
                    post_errors[f"HTTP {resp.status_code}"] += 1
                return
            with lock:
                posted[resp.json()["server"]["id"]] = t0
                post_latency.append(t1 - t0)

        def poll() -> None:
            session = self.new_session()
            deadline = time.monotonic() + PHASE_TIMEOUT
            progress, last_done = time.monotonic(), -1
            while time.monotonic() < deadline:
                t0 = time.monotonic()
                try:
                    resp = session.get(self.compute + "/servers/detail", timeout=60)
                    resp.raise_for_status()
                    servers = resp.json()["servers"]
                except (requests.RequestException, ValueError):
                    polls["errors"] += 1
                    time.sleep(self.poll_interval)
                    continue
                t = time.monotonic()
                polls["n"] += 1
                polls["time"] += t - t0
                for s in servers:
                    if s["status"] == "ACTIVE":
                        active.setdefault(s["id"], t)
                    elif s["status"] == "ERROR":
                        error.setdefault(s["id"], t)
                done = len(active) + len(error)
                if done != last_done:
                    progress, last_done = t, done
                elif t - progress > STALL_TIMEOUT:
                    self._stalled("boot", f"{done} servers final, none more for "
                                          f"{STALL_TIMEOUT:.0f} s")
                    return
                if posting_done.is_set():
                    with lock:
                        pending = set(posted) - set(active) - set(error)
                    if not pending:
                        return
                time.sleep(self.poll_interval)

        poller = threading.Thread(target=poll, name="poller", daemon=True)
        poller.start()
        t_start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(self.concurrency) as pool:
            list(pool.map(post, range(self.n)))
        t_posted = time.monotonic()
        posting_done.set()
        poller.join(PHASE_TIMEOUT + 60)
        ok = {sid: active[sid] - t0 for sid, t0 in posted.items() if sid in active}
        t_last = max(active[sid] for sid in ok) if ok else float("nan")
        boot_time = t_last - t_start
        return {
            "_ids": list(posted),
            "posted": len(posted),
            "post_errors": dict(post_errors),
            "active": len(ok),
            "error": len([s for s in posted if s in error and s not in active]),
            "error_then_active": len([s for s in posted if s in error and s in active
                                      and error[s] < active[s]]),
            "timed_out": len(set(posted) - set(active) - set(error)),
            "boot_s": boot_time,
            "servers_per_s": len(ok) / boot_time if ok else 0.0,
            "post_phase_s": t_posted - t_start,
            "posts_per_s": len(posted) / (t_posted - t_start),
            "p50_active_s": lib.percentile(ok.values(), 50),
            "p99_active_s": lib.percentile(ok.values(), 99),
            "max_active_s": max(ok.values()) if ok else float("nan"),
            "p50_post_http_s": lib.percentile(post_latency, 50),
            "p99_post_http_s": lib.percentile(post_latency, 99),
            "boot_polls": polls["n"],
            "boot_poll_avg_s": polls["time"] / polls["n"] if polls["n"] else float("nan"),
            "boot_poll_errors": polls["errors"],
        }

    def _stalled(self, phase: str, why: str) -> None:
        print(f"STALL in the {phase} phase: {why}", file=sys.stderr)
        self.stalled.append(f"{phase}: {why}")
        if self.on_stall is not None:
            self.on_stall(phase)

    # -- delete ----------------------------------------------------------------

    def _delete(self, ids: list[str]) -> dict[str, Any]:
        lock = threading.Lock()
        latency: list[float] = []
        errors: Counter = Counter()

        def delete(sid: str) -> None:
            t0 = time.monotonic()
            try:
                resp = self.session().delete(f"{self.compute}/servers/{sid}", timeout=60)
            except requests.RequestException as exc:
                with lock:
                    errors[type(exc).__name__] += 1
                return
            with lock:
                if resp.status_code != 204:
                    errors[f"HTTP {resp.status_code}"] += 1
                else:
                    latency.append(time.monotonic() - t0)

        t_start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(self.concurrency) as pool:
            list(pool.map(delete, ids))
        t_sent = time.monotonic()
        session = self.new_session()
        remaining = -1
        deadline = time.monotonic() + PHASE_TIMEOUT
        progress, last = time.monotonic(), -1
        while time.monotonic() < deadline:
            try:
                resp = session.get(self.compute + "/servers", timeout=60)
                resp.raise_for_status()
                remaining = len(resp.json()["servers"])
            except (requests.RequestException, ValueError):
                remaining = -1
            if remaining == 0:
                break
            if remaining != last:
                progress, last = time.monotonic(), remaining
            elif time.monotonic() - progress > STALL_TIMEOUT:
                self._stalled("delete", f"{remaining} servers left, none gone for "
                                        f"{STALL_TIMEOUT:.0f} s")
                break
            time.sleep(self.poll_interval)
        t_end = time.monotonic()
        return {
            "deleted": len(ids) if remaining == 0 else len(ids) - max(remaining, 0),
            "delete_errors": dict(errors),
            "left_after_delete": remaining,
            "delete_s": t_end - t_start,
            "deletes_per_s": len(ids) / (t_end - t_start) if remaining == 0 else 0.0,
            "delete_api_per_s": len(ids) / (t_sent - t_start) if ids else 0.0,
            "p50_delete_http_s": lib.percentile(latency, 50),
            "p99_delete_http_s": lib.percentile(latency, 99),
            "stalls": list(self.stalled),
        }


def wait_ready(base_url: str, hosts: int, headers: dict[str, str],
               timeout: float = 180.0) -> None:
    """All H hypervisors listed and up (as the admin sees them)."""
    session = requests.Session()
    session.trust_env = False
    session.headers.update(headers)

    def ready() -> bool:
        resp = session.get(base_url + "/compute/v2.1/os-hypervisors", timeout=10)
        if resp.status_code != 200:
            return False
        up = [h for h in resp.json()["hypervisors"] if h["state"] == "up"]
        return len(up) >= hosts

    lib.wait_for(ready, timeout, f"{hosts} hypervisors up")
    session.close()


# -- profiling -------------------------------------------------------------------


class Profiler:
    """py-spy on some pids while a phase runs; raw (collapsed) output."""

    def __init__(self, out_dir: str | None, gil: bool) -> None:
        self.out_dir = out_dir
        self.gil = gil
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, targets: dict[str, int]) -> None:
        if not self.out_dir:
            return
        os.makedirs(self.out_dir, exist_ok=True)
        for name, pid in targets.items():
            out = os.path.join(self.out_dir, f"{name}.txt")
            cmd = ["py-spy", "record", "--format", "raw", "--rate", "100", "--nonblocking",
                   "-p", str(pid), "-o", out, "-d", str(int(PHASE_TIMEOUT))]
            if self.gil:
                cmd.append("--gil")
            self.procs.append((name, subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))

    def stop(self) -> None:
        for _name, proc in self.procs:
            proc.send_signal(signal.SIGINT)
        for _name, proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        for name, _proc in self.procs:
            path = os.path.join(self.out_dir or "", f"{name}.txt")
            if os.path.exists(path):
                print(f"\n### py-spy: {name} ({path})\n")
                print(summarize_collapsed(path))


def dump_stacks(targets: dict[str, int], out_dir: str, tag: str) -> None:
    """``py-spy dump`` of each target into ``out_dir`` and a count of its
    threads by the innermost frames (who waits on what)."""
    if shutil.which("py-spy") is None:
        print("(py-spy not installed: no stack dump)", file=sys.stderr)
        return
    for name, pid in targets.items():
        path = os.path.join(out_dir, f"stacks-{tag}-{name}.txt")
        with open(path, "w") as f:
            subprocess.run(["py-spy", "dump", "-p", str(pid)], stdout=f,
                           stderr=subprocess.STDOUT, timeout=60)
        print(f"stack dump of {name} in {path}; threads by innermost frames:", file=sys.stderr)
        print(thread_summary(path), file=sys.stderr)


def thread_summary(path: str, depth: int = 4, top: int = 12) -> str:
    with open(path) as f:
        blocks = f.read().split("\nThread ")[1:]
    counts: Counter = Counter()
    for block in blocks:
        frames = [ln.strip().split(" (")[0] for ln in block.splitlines()[1:] if ln.strip()]
        frames = [fr for fr in frames if not fr.startswith(("Condition.wait", "Event.wait"))]
        counts[" <- ".join(frames[:depth])] += 1
    return "\n".join(f"  {n:4d}  {key}" for key, n in counts.most_common(top))


# (layer, path fragments): a sample counts for the layer of its innermost
# frame that matches one.
LAYERS = [
    ("JSON encode/decode", ("json/", "oslo_serialization/")),
    ("logging", ("logging/", "oslo_log/")),
    ("SQL (SQLAlchemy, psycopg, sqlite3)", ("sqlalchemy/", "psycopg", "sqlite3/")),
    ("AMQP (kombu, py-amqp, oslo.messaging rabbit driver)",
     ("amqp/", "kombu/", "oslo_messaging/_drivers/impl_rabbit", "oslo_messaging/_drivers/amqp")),
    ("in-process bus (novalite.messaging.inproc)", ("novalite/messaging/",)),
    ("oslo.messaging (client, server, dispatcher)", ("oslo_messaging/",)),
    ("versioned objects (oslo.versionedobjects)", ("oslo_versionedobjects/",)),
    ("HTTP (waitress, webob, routes, jsonschema)",
     ("waitress/", "webob/", "routes/", "jsonschema", "referencing/")),
    ("threads, locks, queues", ("threading.py", "futurist/", "queue.py", "oslo_concurrency/")),
    ("novalite", ("novalite/",)),
]


def _layer(frames: list[str]) -> str:
    for frame in reversed(frames):
        for layer, fragments in LAYERS:
            if any(f in frame for f in fragments):
                return layer
    return "other"


def summarize_collapsed(path: str, top: int = 20) -> str:
    """Samples by layer, then top functions by own samples and by samples
    anywhere on the stack."""
    layers: Counter = Counter()
    own: Counter = Counter()
    incl: Counter = Counter()
    total = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [fr for fr in stack.split(";") if not fr.startswith("process ")
                      and not fr.startswith("thread ")]
            if not frames:
                continue
            own[frames[-1]] += n
            layers[_layer(frames)] += n
            for fr in set(frames):
                incl[fr] += n
    if not total:
        return "(no samples)"
    rows = [[f"{c / total:.1%}", name] for name, c in layers.most_common()]
    text = f"{total} samples\n\nby layer (innermost matching frame):\n\n"
    text += lib.md_table(["share", "layer"], rows)
    rows = [[f"{c / total:.1%}", f"`{fr[:110]}`"] for fr, c in own.most_common(top)]
    text += "\n\nown time:\n\n" + lib.md_table(["share", "function"], rows)
    rows = [[f"{c / total:.1%}", f"`{fr[:110]}`"] for fr, c in incl.most_common(top * 2)]
    return text + "\n\ninclusive:\n\n" + lib.md_table(["share", "function"], rows)


# -- modes ----------------------------------------------------------------------


def _worker_pid(pid: int) -> int:
    import psutil

    try:
        kids = psutil.Process(pid).children()
    except psutil.Error:
        return pid
    return kids[0].pid if kids else pid


def run_allinone(args: argparse.Namespace) -> dict[str, Any]:
    lib.add_repo_to_path()
    from tests.procs import free_port

    tmp = tempfile.mkdtemp(prefix="novalite-bench-aio-")
    port = free_port()
    log = os.path.join(tmp, "allinone.log")
    cmd = [sys.executable, os.path.join(lib.HERE, "_allinone_runner.py"),
           "--hosts", str(args.hosts), "--state-dir", tmp, "--port", str(port),
           "--log-file", log]
    if args.set:
        from tests.procs import write_conf

        cmd += ["--config-file", write_conf(os.path.join(tmp, "extra.conf"), args.set)]
    env = dict(os.environ)
    stats_path = os.path.join(tmp, "rpcstats.json")
    if args.rpc_stats:
        env["NOVALITE_BENCH_RPCSTATS"] = stats_path
    select_path = os.path.join(tmp, "selectstats.json")
    env["NOVALITE_BENCH_SELECTSTATS"] = select_path
    out = open(os.path.join(tmp, "allinone.out"), "ab")
    popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True, env=env)
    out.close()
    sampler = lib.RSSSampler().start()
    sampler.watch("all-in-one", popen.pid)
    base = f"http://127.0.0.1:{port}"
    profiler = Profiler(args.profile, args.profile_gil)
    fake_hosts = None
    try:
        t0 = time.monotonic()

        def api_up() -> bool:
            if popen.poll() is not None:
                raise SystemExit(f"the all-in-one exited ({popen.returncode}); log: {log}")
            try:
                return requests.get(base + "/identity/v3", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        lib.wait_for(api_up, 180, "the all-in-one's API")
        # NOTE: as a user of the all-in-one: its admin, with the password it
        # generated on first start (what clouds.yaml holds).
        with open(os.path.join(tmp, "admin-password")) as f:
            client = lib.Client(base, "admin", f.read().strip(), "admin")
        wait_ready(base, args.hosts, client.headers())
        startup = time.monotonic() - t0
        client.lift_quotas(args.servers)
        if args.registered_hosts:
            from _fakehosts import FakeHosts

            fake_hosts = FakeHosts(f"sqlite:///{tmp}/novalite.sqlite",
                                   args.registered_hosts).register()
        profiler.start({"allinone": _worker_pid(popen.pid)})

        def on_stall(phase: str) -> None:
            args.keep = True
            dump_stacks({"allinone": _worker_pid(popen.pid)}, tmp, phase)

        try:
            result = Load(base, args.servers, args.concurrency, on_stall,
                          lambda: {"all-in-one": lib.tree_cpu(popen.pid),
                                   "machine": lib.machine_busy(),
                                   "self:load generator": lib.self_cpu()},
                          args.poll_interval, client.headers()).run()
        finally:
            profiler.stop()
        result["startup_s"] = startup
        time.sleep(2.5)  # the next write of the select_destinations times
        result["select_s"] = _selectstats.read(select_path)
        if args.rpc_stats:
            time.sleep(2.5)  # the next write of the stats file
            print_rpc_stats(stats_path, result["cpu_boot_s"]["all-in-one"]
                            + result["cpu_delete_s"]["all-in-one"])
    finally:
        if fake_hosts is not None:
            fake_hosts.remove()
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(10)
        sampler.stop()
        if args.keep:
            print(f"state and logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    result["rss"] = {"all-in-one": (sampler.peak_tree["all-in-one"],
                                    sampler.peak_proc["all-in-one"])}
    result["rss_note"] = f"getrusage(RUSAGE_CHILDREN).ru_maxrss = {lib.mib(ru)} MiB"
    result["exit_code"] = popen.returncode
    return result


def run_multiprocess(args: argparse.Namespace) -> dict[str, Any]:
    lib.add_repo_to_path()
    from tests.cluster import Cluster
    from tests.integration import services

    tmp = tempfile.mkdtemp(prefix="novalite-bench-mp-")
    sampler = lib.RSSSampler()
    profiler = Profiler(args.profile, args.profile_gil)
    computes = [f"bench-{i}" for i in range(args.hosts)]
    select_path = os.path.join(tmp, "selectstats.json")
    os.environ[_selectstats.ENV] = select_path
    fake_hosts = None
    try:
        with services.rabbitmq_vhost() as url, services.postgres_database() as db:
            cluster = Cluster(tmp, url, db).prepare()
            password = secrets.token_urlsafe(16)
            cluster.manage("user", "create", "bench", "--project", "bench", "--role", "admin",
                           "--password", password)
            try:
                t0 = time.monotonic()
                # NOTE: tests/cluster.py tunes timers for tests (1 s heartbeats,
                # a 2 s deadline check), turns identity off and lifts quotas;
                # measure with the product's defaults.
                extra: dict[str, dict[str, Any]] = {
                    "DEFAULT": {"report_interval": 10, "service_down_time": 60,
                                "rpc_call_timeout": 60, "compute_driver": "fake.FakeDriver",
                                "auth_strategy": "novalite"},
                    "compute": {"deadline_check_interval": 30},
                    "quota": _quota_defaults()}
                for section, opts in args.set.items():
                    extra.setdefault(section, {}).update(opts)
                sampler.watch("conductor", cluster.start("novalite-conductor", "conductor",
                                                         extra).pid)
                sampler.watch("scheduler", cluster.start(
                    _timed_scheduler(tmp), "scheduler", extra).pid)
                for name in computes:
                    sampler.watch(name, cluster.start("novalite-compute", name, extra).pid)
                sampler.watch("api", start_api(cluster, extra).pid)
                sampler.start()
                base = f"http://127.0.0.1:{cluster.api_port}"
                client = lib.Client(base, "bench", password, "bench")
                wait_ready(base, args.hosts, client.headers())
                for name in computes:
                    cluster.procs[name].wait_log("is consuming", timeout=60)
                startup = time.monotonic() - t0
                client.lift_quotas(args.servers)
                if args.registered_hosts:
                    from _fakehosts import FakeHosts

                    fake_hosts = FakeHosts(db, args.registered_hosts).register()
                targets = {name: _worker_pid(cluster.procs[name].pid)
                           for name in ("api", "conductor", "scheduler", computes[0])}
                profiler.start(targets)

                def on_stall(phase: str) -> None:
                    args.keep = True
                    dump_stacks(targets, tmp, phase)

                try:
                    pids = {name: proc.pid for name, proc in cluster.procs.items()}
                    result = Load(base, args.servers, args.concurrency, on_stall,
                                  lambda: {**{n: lib.tree_cpu(p) for n, p in pids.items()},
                                           **lib.infra_cpu(),
                                           "self:load generator": lib.self_cpu()},
                                  args.poll_interval, client.headers()).run()
                finally:
                    profiler.stop()
                result["startup_s"] = startup
                time.sleep(2.5)  # the next write of the select_destinations times
                result["select_s"] = _selectstats.read(select_path)
            finally:
                if fake_hosts is not None:
                    fake_hosts.remove()
                sampler.stop()
                codes = {}
                for name, proc in reversed(list(cluster.procs.items())):
                    codes[name] = proc.stop()
                result_codes = codes
    finally:
        if args.keep:
            print(f"config and logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result["rss"] = {name: (sampler.peak_tree[name], sampler.peak_proc[name])
                     for name in sampler.roots}
    result["exit_codes"] = result_codes
    return result


def _quota_defaults() -> dict[str, int]:
    """[quota] instances/cores/ram at the product's defaults (tests/cluster.py
    lifts them for its tests)."""
    from novalite.conf import quota

    return {opt.name: opt.default for opt in quota.quota_opts
            if opt.name in ("instances", "cores", "ram")}


def _timed_scheduler(tmp: str) -> str:
    """An executable that runs novalite-scheduler with ``_selectstats``."""
    path = os.path.join(tmp, "novalite-scheduler-timed")
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\nexec {sys.executable} "
                f"{os.path.join(lib.HERE, '_scheduler_runner.py')} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


def start_api(cluster: Any, extra: dict | None) -> Any:
    """tests.cluster's start_api(), with extra options."""
    from tests.procs import free_port

    cluster.api_port = free_port()
    sections = {section: dict(opts) for section, opts in (extra or {}).items()}
    sections.setdefault("api", {}).update({"listen": "127.0.0.1", "port": cluster.api_port})
    proc = cluster.start("novalite-api", "api", sections)
    proc.wait_log("http://127.0.0.1", timeout=30)
    return proc


def parse_set(values: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        section, dot, name = key.rpartition(".")
        if not sep or not dot:
            raise SystemExit(f"--set wants SECTION.OPTION=VALUE, got {item!r}")
        out.setdefault(section, {})[name] = value
    return out


def print_rpc_stats(path: str, total_cpu: float, top: int = 15) -> None:
    """The _rpcstats files (one per process, merged) as tables: CPU by
    operation, per group."""
    import glob

    stats: dict[str, dict[str, list[float]]] = {}
    for name in glob.glob(glob.escape(path) + ".*"):
        with open(name) as f:
            for group, rows in json.load(f)["stats"].items():
                for key, (n, cpu, wall) in rows.items():
                    row = stats.setdefault(group, {}).setdefault(key, [0, 0.0, 0.0])
                    row[0] += n
                    row[1] += cpu
                    row[2] += wall
    if not stats:
        print("(no rpc stats written)")
        return
    print(f"\n### CPU by operation (thread CPU time; process total {total_cpu:.1f} s "
          "for boot + delete; groups nest)\n")
    for group in ("http", "rpc-server", "rpc-client", "serializer", "db"):
        rows = sorted(stats.get(group, {}).items(), key=lambda kv: -kv[1][1])
        gsum = sum(v[1] for _k, v in rows)
        print(f"**{group}**: {gsum:.1f} s CPU ({gsum / total_cpu:.0%} of the process)\n")
        table = [[f"`{k}`", str(int(v[0])), f"{v[1]:.2f}", f"{v[1] / v[0] * 1000:.2f}",
                  f"{v[2] / v[0] * 1000:.1f}", f"{v[1] / total_cpu:.1%}"]
                 for k, v in rows[:top]]
        print(lib.md_table(["operation", "count", "CPU s", "CPU ms each", "wall ms each",
                            "of process CPU"], table))
        print()


# -- report ---------------------------------------------------------------------


def _ms(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x == x else "n/a"


def report(mode: str, args: argparse.Namespace, r: dict[str, Any]) -> str:
    what = ("all-in-one: 1 process, inproc:// + SQLite" if mode == "allinone"
            else "separate processes: RabbitMQ (own vhost) + PostgreSQL (own database)")
    errors = (sum(r["post_errors"].values()) + r["error"] + r["timed_out"]
              + sum(r["delete_errors"].values()) + max(r["left_after_delete"], 0))
    rows = [
        ["servers/s (N / first POST → last ACTIVE)", f"**{r['servers_per_s']:.1f}**"],
        ["boot phase", f"{r['boot_s']:.2f} s"],
        ["POST→ACTIVE p50 / p99 / max",
         f"{_ms(r['p50_active_s'])} / {_ms(r['p99_active_s'])} / {_ms(r['max_active_s'])}"],
        ["POST HTTP latency p50 / p99",
         f"{_ms(r['p50_post_http_s'])} / {_ms(r['p99_post_http_s'])}"],
        ["POSTs accepted/s", f"{r['posts_per_s']:.1f}"],
        ["deletes/s (N / first DELETE → list empty)", f"**{r['deletes_per_s']:.1f}**"],
        ["DELETE HTTP latency p50 / p99",
         f"{_ms(r['p50_delete_http_s'])} / {_ms(r['p99_delete_http_s'])}"],
        ["DELETEs accepted/s", f"{r['delete_api_per_s']:.1f}"],
        ["ACTIVE / ERROR / timed out", f"{r['active']} / {r['error']} / {r['timed_out']}"],
        ["seen ERROR, later ACTIVE (counted ACTIVE)", str(r.get("error_then_active", 0))],
        ["errors (POST, DELETE, left over)",
         f"{errors} ({r['post_errors'] or 0}, {r['delete_errors'] or 0}, "
         f"{max(r['left_after_delete'], 0)})"],
        ["list polls during boot (avg duration)",
         f"{r['boot_polls']} ({_ms(r['boot_poll_avg_s'])})"],
        ["start-up until all hypervisors up", f"{r['startup_s']:.1f} s"],
    ]
    times = r.get("select_s") or {}
    for key, label in (("select", "scheduler `select_destinations` calls; p50 / p99 / max "
                                  "(wall in the scheduler, its wait for a host-state "
                                  "read and for its batch included)"),
                       ("host_states", "host-state reads (`get_all_host_states`, on the "
                                       "scheduler's own thread, outside the selection "
                                       "lock; each serves many requests); p50 / p99 / max")):
        values = times.get(key) or []
        if values or key == "select":
            rows.append([label, f"{len(values)}; {_ms(lib.percentile(values, 50))} / "
                                f"{_ms(lib.percentile(values, 99))} / "
                                f"{_ms(max(values, default=float('nan')))}"])
    def services_only(d: dict) -> float:
        return sum(v for k, v in (d or {}).items() if k != "machine" and ":" not in k)

    cpu_boot, cpu_del = services_only(r.get("cpu_boot_s")), services_only(r.get("cpu_delete_s"))
    if cpu_boot:
        rows.append(["service CPU, boot phase (per server)",
                     f"{cpu_boot:.1f} s ({cpu_boot / max(r['active'], 1) * 1000:.0f} ms)"])
        rows.append(["service CPU, delete phase (per server)",
                     f"{cpu_del:.1f} s ({cpu_del / max(r['deleted'], 1) * 1000:.0f} ms)"])
    busy = (r.get("cpu_boot_s") or {}).get("machine")
    if busy is not None and r["boot_s"] == r["boot_s"]:
        cores = os.cpu_count() or 1
        rows.append(["machine CPU busy, boot phase (all processes, load generator too)",
                     f"{busy:.1f} s = {busy / r['boot_s'] / cores:.0%} of {cores} cores"])
    for key in ("infra:rabbitmq", "infra:postgresql", "self:load generator"):
        if key in (r.get("cpu_boot_s") or {}):
            rows.append([f"{key.split(':')[1]} CPU, boot / delete phase",
                         f"{r['cpu_boot_s'][key]:.1f} s / {r['cpu_delete_s'][key]:.1f} s"])
    if busy is not None:
        others = busy - sum(v for k, v in r["cpu_boot_s"].items() if k != "machine")
        rows.append(["CPU of other processes on the machine, boot phase (noise)",
                     f"{max(others, 0.0):.1f} s (machine {r.get('busy_before', 0):.0%} busy "
                     "just before the run)"])
    for stall in r.get("stalls") or []:
        rows.append(["**stalled**", stall])
    sets = "".join(f" --set {sec}.{k}={v}" for sec, opts in args.set.items()
                   for k, v in opts.items())
    registered = (f" --registered-hosts {args.registered_hosts}" if args.registered_hosts
                  else "")
    also = (f"; {args.registered_hosts} more compute hosts registered that run no service "
            "(half a FakeDriver host each: every filter passes, they always weigh less)"
            if args.registered_hosts else "")
    head = (f"`bench_boot.py --mode {mode} --servers {args.servers} --hosts {args.hosts} "
            f"--concurrency {args.concurrency} --poll-interval {args.poll_interval:g}"
            f"{registered}{sets}` ({what}; FakeDriver, spawn_delay 0; password auth as a "
            f"client, quotas lifted through the API{also})\n\n")
    text = head + lib.md_table(["metric", "value"], rows)
    cb, cd = r.get("cpu_boot_s") or {}, r.get("cpu_delete_s") or {}

    def cpu(names: list[str]) -> str:
        if not cb:
            return ""
        return f"{sum(cb.get(n, 0.0) for n in names):.1f} / {sum(cd.get(n, 0.0) for n in names):.1f}"

    rss_rows = [[name, lib.mib(tree), lib.mib(proc), cpu([name])]
                for name, (tree, proc) in r["rss"].items() if not name.startswith("bench-")]
    computes = [name for name in r["rss"] if name.startswith("bench-")]
    if computes:
        rss_rows.append([f"compute (each of {len(computes)}: max RSS; CPU: all together)",
                         lib.mib(max(r["rss"][n][0] for n in computes)),
                         lib.mib(max(r["rss"][n][1] for n in computes)), cpu(computes)])
    if len(r["rss"]) > 1:
        rss_rows.append(["**all services**", lib.mib(sum(t for t, _ in r["rss"].values())),
                         "", cpu(list(r["rss"]))])
    text += ("\n\nPer service: peak RSS in MiB (tree = launcher + worker, sum of peaks for "
             "several; worker = largest process) and CPU seconds used in the boot / delete "
             "phases:\n\n")
    text += lib.md_table(["service", "RSS tree", "RSS worker", "CPU s boot / delete"],
                         rss_rows)
    if r.get("rss_note"):
        text += f"\n\n({r['rss_note']})"
    return text


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "summarize":
        for path in sys.argv[2:]:
            print(f"### {path}\n\n{summarize_collapsed(path)}\n")
        return
    lib.install_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["allinone", "multiprocess"], required=True)
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--poll-interval", type=float, default=POLL_INTERVAL,
                        help="seconds between two list calls (default %(default)s); each "
                             "lists every server, which is not free for the services")
    parser.add_argument("--append-results", action="store_true",
                        help="append a dated section to benchmarks/RESULTS.md")
    parser.add_argument("--profile", metavar="DIR",
                        help="py-spy the service workers during the run (raw files in DIR)")
    parser.add_argument("--profile-gil", action="store_true",
                        help="with --profile: sample only the thread holding the GIL")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.OPTION=VALUE",
                        help="extra service option, e.g. DEFAULT.executor_thread_pool_size=256 "
                             "(repeatable; every service gets it)")
    parser.add_argument("--rpc-stats", action="store_true",
                        help="allinone only: account CPU by HTTP route, RPC method, "
                             "serializer and DB function (_rpcstats.py) and print it")
    parser.add_argument("--no-wait-quiet", dest="wait_quiet", action="store_false",
                        help="start at once even if other processes keep the machine busy")
    parser.add_argument("--registered-hosts", type=int, default=0, metavar="N",
                        help="also register N compute hosts that run no service (the "
                             "scheduler's cost as the cloud grows; _fakehosts.py)")
    parser.add_argument("--smoke", action="store_true",
                        help="the test suite's size: 4 servers on 2 hosts, 2 client "
                             "threads, no waiting for a quiet machine, never appended")
    parser.add_argument("--max-quiet-wait", type=float, default=900.0, metavar="SECONDS",
                        help="wait at most this long for a quiet machine (default %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep state dir and logs")
    parser.add_argument("--json", action="store_true", help="also print the raw result")
    args = parser.parse_args()
    args.set = parse_set(args.set)
    if args.smoke:
        args.servers, args.hosts, args.concurrency = 4, 2, 2
        args.poll_interval, args.wait_quiet, args.append_results = 0.2, False, False
    run = run_allinone if args.mode == "allinone" else run_multiprocess
    busy_before = (lib.wait_quiet(args.max_quiet_wait) if args.wait_quiet
                   else float("nan"))
    uptime = _uptime()
    result = run(args)
    result["busy_before"] = busy_before
    text = report(args.mode, args, result)
    text += f"\n\nLoad before the run (uptime): `{uptime}`; after: `{_uptime()}`."
    print(text)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    failed = failures(args, result)
    if failed:
        print("FAILED: " + "; ".join(failed), file=sys.stderr)
    if args.append_results:
        if args.profile or args.rpc_stats:
            print("not appending: a diagnostic run is not a result")
        else:
            title = ("Boot: all-in-one" if args.mode == "allinone"
                     else "Boot: separate processes")
            lib.append_results(title, text)
    sys.exit(1 if failed else 0)


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def failures(args: argparse.Namespace, r: dict[str, Any]) -> list[str]:
    """Why the run did not finish as asked: every server POSTed, ACTIVE,
    deleted, nothing stalled (a benchmark that cannot finish fails)."""
    out = []
    if r["posted"] != args.servers:
        out.append(f"{args.servers - r['posted']} of {args.servers} POSTs failed "
                   f"({r['post_errors']})")
    if r["active"] != r["posted"]:
        out.append(f"{r['posted'] - r['active']} of {r['posted']} servers never ACTIVE "
                   f"({r['error']} ERROR, {r['timed_out']} timed out)")
    if r["left_after_delete"] != 0 or r["delete_errors"]:
        out.append(f"delete: {r['left_after_delete']} left, errors {r['delete_errors']}")
    out.extend(f"stalled in {s}" for s in r.get("stalls") or [])
    if not (r.get("select_s") or {}).get("select"):
        out.append("no select_destinations time recorded")
    return out


if __name__ == "__main__":
    main()
