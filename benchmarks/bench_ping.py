"""RPC ``ping`` calls/s on RabbitMQ: novalite's client and service against a
bare oslo.messaging server, on the same broker and vhost.

Everything runs as separate processes on a fresh RabbitMQ vhost (dropped
afterwards): a real ``novalite-conductor`` (SQLite; compute registers through
it) and ``novalite-compute`` (host ``ping-host``), two bare oslo.messaging RPC
servers (threading executor, no serializer) whose only endpoint is
``ping(ctxt, arg)`` in namespace ``baseapi`` 1.0 (so novalite's client
reaches them too): one with ``amqp_durable_queues = true`` as novalite runs,
one with oslo.messaging's defaults. Each measurement is its own client
process, sequential and with ``--threads`` threads, ``--calls`` calls or
``--budget`` seconds, whichever comes first, after 20 warm-up calls; each
case ``--repeat`` times (best reported: other work on the machine only ever
slows a run down), each repeat after the machine is quiet (< 15% busy).

Rows:

* novalite client → novalite-compute: ``BaseAPI("compute").ping(ctx, arg,
  server="ping-host")``, the product path;
* novalite client → bare server (durable): the same client, a trivial server;
* bare client → bare server (durable): ``RPCClient.call({}, "ping", arg=i)``;
* bare client → bare server (defaults: transient queues).

CPU columns: CPU milliseconds per call used by the client process, the
server's process tree and the RabbitMQ node (beam.smp) during the
measurement (psutil), i.e. who pays on these 2 shared cores; "machine busy"
is the whole machine's CPU use meanwhile (anything else running shows there).

    python benchmarks/bench_ping.py [--calls 2000] [--threads 8] [--budget 30] \
        [--repeat 3] [--append-results] [--no-wait-quiet]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import _benchlib as lib

WARMUP = 20
COMPUTE_HOST = "ping-host"


# -- child roles ------------------------------------------------------------------


def _conf(url: str, durable: bool, tmp: str) -> None:
    from oslo_config import cfg

    path = os.path.join(tmp, f"bare-{os.getpid()}.conf")
    # NOTE: the broker refuses to redeclare novalite's durable exchange as
    # transient, so the transient pair gets an exchange of its own.
    exchange = "" if durable else "control_exchange = bench-transient\n"
    with open(path, "w") as f:
        f.write(f"[DEFAULT]\ntransport_url = {url}\n{exchange}"
                f"[oslo_messaging_rabbit]\namqp_durable_queues = {str(durable).lower()}\n")
    cfg.CONF([], project="bench", default_config_files=[path])


def role_server(args: argparse.Namespace) -> None:
    import oslo_messaging
    from oslo_config import cfg

    _conf(args.url, args.durable, args.tmp)

    class Endpoint:
        target = oslo_messaging.Target(namespace="baseapi", version="1.0")

        def ping(self, ctxt: Any, arg: Any) -> dict:
            return {"service": "bare", "arg": arg}

    transport = oslo_messaging.get_rpc_transport(cfg.CONF)
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=args.topic, server=args.server), [Endpoint()],
        executor="threading", access_policy=oslo_messaging.DefaultRPCAccessPolicy)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    server.stop()
    server.wait()
    transport.cleanup()


def role_client(args: argparse.Namespace) -> None:
    if args.kind == "novalite":
        from novalite import baserpc, config, objects, rpc
        from novalite import context as nl_context
        from novalite.conf import CONF

        config.register_base_opts()
        objects.register_all()
        CONF.set_override("transport_url", args.url)
        CONF.set_override("amqp_durable_queues", args.durable, group="oslo_messaging_rabbit")
        rpc.init()
        api = baserpc.BaseAPI(args.topic)
        ctx = nl_context.RequestContext(user_id="bench", project_id="bench", is_admin=True)

        def call(i: int) -> Any:
            return api.ping(ctx, i, server=args.server)

        cleanup = rpc.cleanup
    else:
        import oslo_messaging
        from oslo_config import cfg

        _conf(args.url, args.durable, args.tmp)
        transport = oslo_messaging.get_rpc_transport(cfg.CONF)
        client = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target(topic=args.topic, server=args.server,
                                             namespace="baseapi", version="1.0"), timeout=30)

        def call(i: int) -> Any:
            return client.call({}, "ping", arg=i)

        cleanup = transport.cleanup

    for i in range(WARMUP):
        assert call(i)["arg"] == i
    print("warm", flush=True)
    sys.stdin.readline()  # the parent samples the server's CPU, then says go

    lock = threading.Lock()
    issued = [0]
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + args.budget

    def worker() -> None:
        while True:
            with lock:
                if issued[0] >= args.calls or time.monotonic() > deadline:
                    return
                issued[0] += 1
                i = issued[0]
            t0 = time.perf_counter()
            try:
                call(i)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append(type(exc).__name__)
                continue
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)

    cpu0 = time.process_time()
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    cleanup()
    print(json.dumps({"calls": len(latencies), "errors": len(errors), "elapsed": elapsed,
                      "rate": len(latencies) / elapsed,
                      "p50": lib.percentile(latencies, 50), "p99": lib.percentile(latencies, 99),
                      "client_cpu": cpu}), flush=True)


# -- orchestration ----------------------------------------------------------------


def broker_pid() -> int | None:
    """The local RabbitMQ node (beam.smp), to count its CPU too."""
    return lib.find_pid("beam", "rabbit")


def _env() -> dict[str, str]:
    # NOTE: oslo.service's eventlet modules warn on import; noise only.
    return dict(os.environ, PYTHONWARNINGS="ignore")


def measure(args: argparse.Namespace, url: str, tmp: str, kind: str, topic: str,
            server: str, durable: bool, threads: int, server_pid: int,
            broker: int | None) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--role", "client", "--kind", kind,
           "--url", url, "--topic", topic, "--server", server, "--tmp", tmp,
           "--calls", str(args.calls), "--threads", str(threads), "--budget", str(args.budget)]
    if durable:
        cmd.append("--durable")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=lib.REPO, env=_env())
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = proc.stdout.readline().strip()
        if line != "warm":
            raise RuntimeError(f"client did not warm up: {line!r}")
        cpu0 = lib.tree_cpu(server_pid)
        bcpu0 = lib.tree_cpu(broker) if broker else 0.0
        m0 = lib.machine_busy()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        result = json.loads(proc.stdout.readline())
        result["server_cpu"] = lib.tree_cpu(server_pid) - cpu0
        result["broker_cpu"] = (lib.tree_cpu(broker) - bcpu0) if broker else float("nan")
        result["machine_busy"] = ((lib.machine_busy() - m0) / result["elapsed"]
                                  / (os.cpu_count() or 1))
        proc.wait(60)
        return result
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def start_bare(url: str, tmp: str, topic: str, durable: bool) -> subprocess.Popen:
    cmd = [sys.executable, os.path.abspath(__file__), "--role", "server", "--url", url,
           "--topic", topic, "--server", COMPUTE_HOST, "--tmp", tmp]
    if durable:
        cmd.append("--durable")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=lib.REPO,
                            start_new_session=True, env=_env())
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("bare server did not start")
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def run(args: argparse.Namespace) -> list[list[str]]:
    lib.add_repo_to_path()
    from tests.cluster import Cluster
    from tests.integration import services

    tmp = tempfile.mkdtemp(prefix="novalite-bench-ping-")
    rows: list[list[str]] = []
    bare: list[subprocess.Popen] = []
    try:
        with services.rabbitmq_vhost() as url:
            cluster = Cluster(tmp, url, f"sqlite:///{tmp}/novalite.sqlite").prepare()
            try:
                cluster.start("novalite-conductor", "conductor")
                compute = cluster.start("novalite-compute", COMPUTE_HOST)
                compute.wait_log("is consuming", timeout=90)
                bare.append(start_bare(url, tmp, "bare-durable", True))
                bare.append(start_bare(url, tmp, "bare-default", False))
                cases = [
                    ("novalite client → novalite-compute", "novalite", "compute", True,
                     compute.pid),
                    ("novalite client → bare server (durable)", "novalite", "bare-durable",
                     True, bare[0].pid),
                    ("bare client → bare server (durable)", "bare", "bare-durable", True,
                     bare[0].pid),
                    ("bare client → bare server (defaults)", "bare", "bare-default", False,
                     bare[1].pid),
                ]
                broker = broker_pid()
                for label, kind, topic, durable, pid in cases:
                    for threads in ((1,) if args.smoke else (1, args.threads)):
                        runs = []
                        for _ in range(args.repeat):
                            if args.wait_quiet:
                                lib.wait_quiet(max_wait=120, window=2)
                            runs.append(measure(args, url, tmp, kind, topic, COMPUTE_HOST,
                                                durable, threads, pid, broker))
                        r = max(runs, key=lambda x: x["rate"])
                        rates = sorted(x["rate"] for x in runs)
                        n = max(r["calls"], 1)
                        row = [label, str(threads), f"**{r['rate']:.0f}**",
                               f"{rates[0]:.0f}–{rates[-1]:.0f}",
                               f"{r['p50'] * 1000:.1f} / {r['p99'] * 1000:.1f}",
                               f"{r['client_cpu'] / n * 1000:.2f}",
                               f"{r['server_cpu'] / n * 1000:.2f}",
                               f"{r['broker_cpu'] / n * 1000:.2f}",
                               f"{r['machine_busy']:.0%}",
                               f"{r['calls']} in {r['elapsed']:.1f} s", str(r["errors"])]
                        print(" | ".join(row), flush=True)
                        rows.append(row)
            finally:
                for proc in bare:
                    stop(proc)
                cluster.stop_all()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--budget", type=float, default=30.0,
                        help="seconds a measurement may take at most")
    parser.add_argument("--repeat", type=int, default=3,
                        help="measure each case N times, report the best (others' load "
                             "on the machine only ever slows a run down)")
    parser.add_argument("--append-results", action="store_true")
    parser.add_argument("--no-wait-quiet", dest="wait_quiet", action="store_false",
                        help="start at once even if other processes keep the machine busy")
    parser.add_argument("--smoke", action="store_true",
                        help="the test suite's size: 30 sequential calls per case, once, "
                             "no waiting for a quiet machine, never appended")
    # internal: the child roles
    parser.add_argument("--role", choices=["main", "server", "client"], default="main",
                        help=argparse.SUPPRESS)
    parser.add_argument("--kind", choices=["novalite", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--server", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    parser.add_argument("--durable", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "server":
        role_server(args)
        return
    if args.role == "client":
        role_client(args)
        return
    lib.install_sigterm()
    if args.smoke:
        args.calls, args.budget, args.repeat = 30, 5.0, 1
        args.wait_quiet, args.append_results = False, False
    if args.wait_quiet:
        lib.wait_quiet()
    rows = run(args)
    text = (f"`bench_ping.py --calls {args.calls} --threads {args.threads} --budget "
            f"{args.budget:g} --repeat {args.repeat}` (RabbitMQ 127.0.0.1, own vhost; "
            "separate processes; the row of the best of the repeats; latency and CPU "
            "columns from that run)\n\n")
    text += lib.md_table(["path", "threads", "calls/s (best)", f"range of {args.repeat}",
                          "p50 / p99 ms",
                          "client CPU ms/call", "server CPU ms/call", "broker CPU ms/call",
                          "machine busy", "done", "errors"], rows)
    print()
    print(text)
    if args.append_results:
        lib.append_results("RPC ping", text)
    errors = [row for row in rows if row[-1] not in ("0", "")]
    if errors:
        print(f"FAILED: calls failed in {[row[0] for row in errors]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
