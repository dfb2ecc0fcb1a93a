"""The API's edge under hostile clients (issue 10 items 1 and 2).

Two figures, on the functional tests' all-in-one (``tests.functional.stack``:
API on waitress over HTTP, conductor, scheduler and one FakeDriver compute in
one process, on the in-process bus and SQLite, ``auth_strategy=noauth``):

- **request rate with idle keep-alive connections open**: ``--idle`` clients
  (100) each make one request and keep their connection open, idle; then a
  new client (a keep-alive ``requests`` session in this process) sends
  sequential ``GET /compute/v2.1/flavors`` for ``--seconds``. Also measured
  with no idle connection, for comparison. waitress stopped accepting at 100
  connections, so the new client got no answer (for up to two minutes).
- **time of a hostile name pattern**: one server per length L named
  ``<L>aaa…a!`` (L a's), then ``GET /servers?name=^<L>(a+)+$``, which makes a
  backtracking engine try every way to split the a's; meanwhile another
  client keeps asking for flavors and the longest wait it saw is reported.

``--repo DIR`` measures another checkout (e.g. a ``git worktree`` of the
commit before a change); ``--json FILE`` saves the figures and
``--before FILE`` puts such a file's figures beside these in the table.

    python benchmarks/bench_api_edge.py [--idle 100] [--seconds 10] [--lengths 18,20,22,24,40,200]
        [--repo DIR] [--json FILE] [--before FILE] [--append-results] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from typing import Any

import _benchlib as lib


def open_idle(port: int, count: int) -> list[socket.socket]:
    """``count`` keep-alive connections that made one request each, now idle."""
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            sock.sendall(b"GET /compute/ HTTP/1.1\r\nHost: bench\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                data = sock.recv(65536)
                if not data:
                    break
                head += data
        except OSError:
            pass  # NOTE: the old server stops answering at its limit: still open
        socks.append(sock)
    return socks


def request_rate(base_url: str, seconds: float) -> tuple[float, str]:
    """Sequential GETs per second from a new keep-alive client, and a note."""
    import requests

    done = 0
    started = time.monotonic()
    with requests.Session() as session:
        while time.monotonic() - started < seconds:
            try:
                resp = session.get(base_url + "/compute/v2.1/flavors", timeout=(5, 10))
            except requests.RequestException as e:
                return done / (time.monotonic() - started), \
                    f"{type(e).__name__} after {time.monotonic() - started:.0f} s"
            assert resp.status_code == 200, resp.text
            done += 1
    return done / (time.monotonic() - started), ""


def hostile(stack: Any, length: int) -> tuple[float, float, int]:
    """Seconds for the hostile name request, the longest another client
    waited meanwhile, and how many requests that client got answered."""
    import requests

    waits: list[float] = []
    stop = threading.Event()

    def other() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                t0 = time.monotonic()
                session.get(stack.base_url + "/compute/v2.1/flavors", timeout=600)
                waits.append(time.monotonic() - t0)

    thread = threading.Thread(target=other, daemon=True)
    thread.start()
    time.sleep(0.2)
    pattern = urllib.parse.quote(f"^{length:03d}(a+)+$", safe="")
    t0 = time.monotonic()
    resp = stack.session.get(f"{stack.base_url}/compute/v2.1/servers?name={pattern}",
                             timeout=600)
    took = time.monotonic() - t0
    time.sleep(0.2)
    stop.set()
    thread.join(600)
    assert resp.status_code == 200, resp.text
    assert resp.json()["servers"] == [], resp.text
    return took, max(waits), len(waits)


def quiet(args: argparse.Namespace) -> float:
    """How busy the machine was before a rate measurement (after waiting a
    while for other work on these few cores to calm down)."""
    return 0.0 if args.smoke else lib.wait_quiet(max_wait=args.quiet_wait, window=2)


def measure(args: argparse.Namespace) -> dict:
    from tests.functional.stack import Stack

    state = tempfile.mkdtemp(prefix="bench-edge-")
    stack = Stack(state).start()
    out: dict = {"rate": {}, "hostile": {}}
    try:
        port = stack.api_service.port
        busy = quiet(args)
        rate, note = request_rate(stack.base_url, args.seconds)
        out["rate"]["0"] = [rate, note, busy]
        print(f"{rate:8.1f} requests/s with no idle connection {note}", flush=True)
        # NOTE: quiet first: idle connections time out while it waits.
        busy = quiet(args)
        socks = open_idle(port, args.idle)
        try:
            rate, note = request_rate(stack.base_url, args.seconds)
        finally:
            for sock in socks:
                sock.close()
        out["rate"][str(args.idle)] = [rate, note, busy]
        print(f"{rate:8.1f} requests/s with {args.idle} idle keep-alive connections {note}",
              flush=True)
        for length in args.lengths:
            stack.boot(name=f"{length:03d}" + "a" * length + "!")
        for length in args.lengths:
            took, worst, served = hostile(stack, length)
            out["hostile"][str(length)] = [took, worst, served]
            print(f"name=^{length:03d}(a+)+$ against {length} a's: {took:8.3f} s; another "
                  f"client's longest wait meanwhile {worst:.3f} s ({served} answered)",
                  flush=True)
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    return out


def table(after: dict, before: dict | None, idle: int) -> str:
    def rate_cell(figures: dict | None, key: str) -> str:
        if figures is None or key not in figures["rate"]:
            return ""
        rate, note, busy = figures["rate"][key]
        return f"{rate:.1f}" + (f" ({note})" if note else "") + f", machine {busy:.0%} busy"

    def hostile_cell(figures: dict | None, key: str) -> str:
        if figures is None or key not in figures["hostile"]:
            return "not run (would take minutes or more)" if figures is not None else ""
        took, worst, served = figures["hostile"][key]
        return f"{took:.3f} s (another client waited ≤ {worst:.3f} s)"

    rows = [["GET /flavors, requests/s, no idle connection", rate_cell(before, "0"),
             rate_cell(after, "0")],
            [f"GET /flavors, requests/s, {idle} idle keep-alive connections open",
             rate_cell(before, str(idle)), rate_cell(after, str(idle))]]
    for key in sorted(after["hostile"], key=int):
        rows.append([f"GET /servers?name=^NNN(a+)+$ against {key} a's", hostile_cell(before, key),
                     hostile_cell(after, key)])
    header = ["measurement", "before", "after"] if before is not None else \
        ["measurement", "", "figure"]
    return lib.md_table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--lengths", default="18,20,22,24,40,200")
    parser.add_argument("--quiet-wait", type=float, default=120,
                        help="most seconds to wait for a quiet machine before a rate")
    parser.add_argument("--repo", default=lib.REPO, help="the checkout to measure")
    parser.add_argument("--json", help="save the figures here")
    parser.add_argument("--before", help="figures of the code before (from --json)")
    parser.add_argument("--append-results", action="store_true")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny run for the test suite: 1 s per rate, names of 22 and 40")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.lengths = 1.0, "22,40"
    args.lengths = [int(x) for x in args.lengths.split(",")]
    sys.path.insert(0, os.path.abspath(args.repo))
    after = measure(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(after, f)
    before = None
    if args.before:
        with open(args.before) as f:
            before = json.load(f)
    text = table(after, before, args.idle)
    print(text)
    if args.append_results:
        lib.append_results(
            "API edge: idle keep-alive connections and a hostile name pattern",
            f"`python benchmarks/bench_api_edge.py --idle {args.idle} --seconds "
            f"{args.seconds:g} --lengths {','.join(map(str, args.lengths))}`: the functional "
            f"tests' in-process stack (SQLite, inproc://, FakeDriver, noauth); the measuring "
            f"clients are in the same process. \"Before\" is the same script run against a "
            f"`git worktree` of the commit before the change (`--repo`).\n\n" + text)


if __name__ == "__main__":
    main()
