"""Token issue and validation rates of the built-in identity service, over HTTP.

Starts ``novalite-all-in-one --driver fake`` (defaults: SQLite, in-process
bus, ``auth_strategy = novalite``) in a temporary state directory, or uses a
running API (``--url`` with ``--password``), and measures, sequentially and
with ``--threads`` client threads (one keep-alive session each):

- issue (password): ``POST /identity/v3/auth/tokens`` with the admin's
  password: one bcrypt check per token, at ``[identity] password_hash_rounds``;
- issue (token): the same with the ``token`` method (re-scoping, no bcrypt);
- validate: ``GET /identity/v3/auth/tokens`` (X-Auth-Token = X-Subject-Token);
- authenticated API call: ``GET /compute/v2.1/flavors`` with a token, which
  is what every client request pays (token check + the call itself).

    python benchmarks/bench_tokens.py [--seconds 10] [--threads 8] [--append-results]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

import _benchlib as lib
import requests

lib.add_repo_to_path()


def _binary(name: str) -> str:
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.access(here, os.X_OK) else (shutil.which(name) or name)


class AllInOne:
    def __init__(self, rounds: int | None) -> None:
        from tests.procs import free_port

        self.dir = tempfile.mkdtemp(prefix="bench-tokens-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.rounds = rounds
        self.proc: subprocess.Popen | None = None

    def start(self) -> AllInOne:
        argv = [_binary("novalite-all-in-one"), "--state-dir", self.dir, "--port",
                str(self.port), "--driver", "fake"]
        if self.rounds is not None:
            conf = os.path.join(self.dir, "bench.conf")
            with open(conf, "w") as f:
                f.write(f"[identity]\npassword_hash_rounds = {self.rounds}\n")
            argv += ["--config-file", conf]
        log = open(os.path.join(self.dir, "all-in-one.log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        lib.wait_for(self._up, 90, "the all-in-one to answer")
        return self

    def _up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise SystemExit(f"all-in-one exited; see {self.dir}/all-in-one.log")
        try:
            return requests.get(self.url + "/identity/v3", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    @property
    def password(self) -> str:
        with open(os.path.join(self.dir, "admin-password")) as f:
            return f.read().strip()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _password_body(user: str, password: str, project: str) -> dict:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}


def measure(op: Callable[[requests.Session], None], threads: int, seconds: float,
            ) -> tuple[int, float, float, int]:
    """Calls of ``op`` by ``threads`` threads for ``seconds``: count, rate,
    p50 latency (ms), errors."""
    stop = threading.Event()
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        session = requests.Session()
        mine: list[float] = []
        bad = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                op(session)
            except Exception:  # noqa: BLE001 - counted, reported
                bad += 1
            mine.append(time.perf_counter() - t0)
        with lock:
            lat.extend(mine)
            errors[0] += bad

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    return len(lat), len(lat) / elapsed, lib.percentile(lat, 50) * 1000, errors[0]


def run(args: argparse.Namespace, url: str, password: str) -> list[list[str]]:
    tokens_url = url + "/identity/v3/auth/tokens"
    body = _password_body(args.user, password, args.project)
    first = requests.post(tokens_url, json=body, timeout=30)
    assert first.status_code == 201, first.text
    token = first.headers["X-Subject-Token"]
    rescope = {"auth": {"identity": {"methods": ["token"], "token": {"id": token}},
                        "scope": body["auth"]["scope"]}}
    auth_headers = {"X-Auth-Token": token, "X-Subject-Token": token}

    def expect(resp: requests.Response, code: int) -> None:
        if resp.status_code != code:
            raise RuntimeError(f"{resp.status_code}: {resp.text[:200]}")

    ops: list[tuple[str, Callable[[requests.Session], None]]] = [
        ("issue (password)", lambda s: expect(s.post(tokens_url, json=body, timeout=60), 201)),
        ("issue (token)", lambda s: expect(s.post(tokens_url, json=rescope, timeout=60), 201)),
        ("validate", lambda s: expect(s.get(tokens_url, headers=auth_headers, timeout=60),
                                      200)),
        ("GET /compute/v2.1/flavors", lambda s: expect(
            s.get(url + "/compute/v2.1/flavors", headers={"X-Auth-Token": token},
                  timeout=60), 200)),
    ]
    rows = []
    for name, op in ops:
        for threads in (1, args.threads):
            if args.wait_quiet:
                lib.wait_quiet(max_wait=120, window=2)
            count, rate, p50, errors = measure(op, threads, args.seconds)
            print(f"{name:28s} threads={threads}: {rate:8.1f}/s  p50 {p50:7.1f} ms  "
                  f"({count} calls, {errors} errors)", flush=True)
            rows.append([name, str(threads), f"{rate:.1f}", f"{p50:.1f}", str(count),
                         str(errors)])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--url", help="a running API (default: start an all-in-one)")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--project", default="admin")
    parser.add_argument("--password", help="with --url: the user's password")
    parser.add_argument("--hash-rounds", type=int, default=None,
                        help="[identity] password_hash_rounds of the started all-in-one "
                             "(default: the option's default, 12)")
    parser.add_argument("--append-results", action="store_true")
    parser.add_argument("--no-wait-quiet", dest="wait_quiet", action="store_false")
    args = parser.parse_args()
    lib.install_sigterm()
    aio = None
    try:
        if args.url:
            url, password = args.url.rstrip("/"), args.password or ""
        else:
            aio = AllInOne(args.hash_rounds).start()
            url, password = aio.url, aio.password
        rows = run(args, url, password)
    finally:
        if aio is not None:
            aio.stop()
    table = lib.md_table(["operation", "client threads", "calls/s", "p50 ms", "calls",
                          "errors"], rows)
    print(table)
    if args.append_results:
        rounds = args.hash_rounds if args.hash_rounds is not None else "12 (default)"
        where = args.url or "novalite-all-in-one --driver fake (SQLite, inproc://)"
        lib.append_results(
            "Tokens: issue and validation over HTTP (bench_tokens.py)",
            f"Against {where}; bcrypt cost {rounds}; {args.seconds:.0f} s per "
            f"measurement; one keep-alive HTTP session per client thread.\n\n{table}\n")
    errors = sum(int(row[5]) for row in rows)
    if errors:
        print(f"FAILED: {errors} requests failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
