"""Helpers shared by the benchmark scripts (not a benchmark itself):
machine description, percentiles, a peak-RSS sampler over process trees,
and appending a dated section to ``benchmarks/RESULTS.md``."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Iterable

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "RESULTS.md")


def add_repo_to_path() -> None:
    """So ``tests.cluster`` and friends import when run as a script."""
    if REPO not in sys.path:
        sys.path.insert(0, REPO)


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    uname = subprocess.run(["uname", "-srm"], capture_output=True, text=True).stdout.strip()
    mem = psutil.virtual_memory().total / 1024 ** 3
    return {"uname": uname, "cpu": cpu, "cores": str(os.cpu_count()),
            "memory": f"{mem:.0f} GiB", "python": platform.python_version()}


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def percentile(values: Iterable[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    data = sorted(values)
    if not data:
        return float("nan")
    rank = max(1, min(len(data), int(-(-pct * len(data) // 100))))
    return data[rank - 1]


def md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def revision() -> str:
    """The commit measured, and whether the product tree had local changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", REPO, *args], capture_output=True,
                              text=True).stdout

    rev = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "novalite").splitlines()
             if line.strip()]
    return rev + (f" + local changes in {', '.join(dirty)}" if dirty else "")


def append_results(title: str, body: str) -> None:
    m = machine()
    section = (f"\n## {title} — {now()}\n\n"
               f"Machine: `{m['uname']}`, {m['cpu']}, {m['cores']} cores, {m['memory']}, "
               f"Python {m['python']}. novalite at {revision()}.\n\n{body.rstrip()}\n")
    new = not os.path.exists(RESULTS)
    with open(RESULTS, "a") as f:
        if new:
            f.write("# novalite benchmark results\n\nAppended by the scripts in `benchmarks/` "
                    "(`--append-results`); newest last.\n")
        f.write(section)
    print(f"appended to {RESULTS}")


class RSSSampler:
    """Samples the RSS of named process trees every ``interval`` seconds in a
    thread; keeps, per name, the peak of the tree's sum and the peak of its
    largest single process (under cotyledon that is the worker)."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.roots: dict[str, int] = {}
        self.peak_tree: dict[str, int] = {}
        self.peak_proc: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._procs: dict[int, psutil.Process] = {}

    def watch(self, name: str, pid: int) -> None:
        self.roots[name] = pid

    def _proc(self, pid: int) -> psutil.Process:
        proc = self._procs.get(pid)
        if proc is None:
            proc = self._procs[pid] = psutil.Process(pid)
        return proc

    def sample(self) -> None:
        for name, pid in list(self.roots.items()):
            try:
                root = self._proc(pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            total = biggest = 0
            for p in procs:
                try:
                    rss = self._proc(p.pid).memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                biggest = max(biggest, rss)
            self.peak_tree[name] = max(self.peak_tree.get(name, 0), total)
            self.peak_proc[name] = max(self.peak_proc.get(name, 0), biggest)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> RSSSampler:
        self.sample()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sample()


def install_sigterm() -> None:
    """SIGTERM (e.g. from timeout(1)) raises KeyboardInterrupt, so every
    finally block runs and no service process is left behind."""
    import signal

    def _raise(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _raise)


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return total
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def machine_busy() -> float:
    """CPU seconds the whole machine spent not idle (all cores)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def self_cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def wait_quiet(max_wait: float = 900.0, threshold: float = 0.15, window: float = 5.0) -> float:
    """Wait (at most ``max_wait`` s) until the machine was less than
    ``threshold`` busy over ``window`` seconds: other work on these few cores
    (test suites, VMs) would be measured too. Returns the last busy share."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + max_wait
    waited = False
    while True:
        b0 = machine_busy()
        time.sleep(window)
        share = (machine_busy() - b0) / window / cores
        if share < threshold or time.monotonic() > deadline:
            if waited:
                print(f"machine {share:.0%} busy; starting", file=sys.stderr, flush=True)
            return share
        if not waited:
            print(f"machine {share:.0%} busy (other processes); waiting for it to calm "
                  f"down (at most {max_wait:.0f} s)", file=sys.stderr, flush=True)
            waited = True


def find_pid(name_prefix: str, cmdline_has: str = "") -> int | None:
    """The oldest process whose name starts with ``name_prefix`` (and whose
    command line contains ``cmdline_has``): e.g. beam.smp, postgres."""
    found: list[tuple[float, int]] = []
    for p in psutil.process_iter(["name", "cmdline", "create_time"]):
        try:
            if (p.info["name"] or "").startswith(name_prefix) and cmdline_has in " ".join(
                    p.info["cmdline"] or []):
                found.append((p.info["create_time"], p.pid))
        except psutil.Error:
            continue
    return min(found)[1] if found else None


def infra_cpu() -> dict[str, float]:
    """CPU seconds so far of the machine, the RabbitMQ node and PostgreSQL."""
    out = {"machine": machine_busy()}
    for key, (name, has) in {"infra:rabbitmq": ("beam", "rabbit"),
                             "infra:postgresql": ("postgres", "")}.items():
        pid = find_pid(name, has)
        if pid is not None:
            out[key] = tree_cpu(pid)
    return out


def mib(n: int) -> str:
    return f"{n / 1024 ** 2:.0f}"


def wait_for(pred, timeout: float, what: str, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = pred()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep waiting, report the last one
            last_exc = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}"
                       + (f" (last error: {last_exc!r})" if last_exc else ""))


# -- a client's identity ----------------------------------------------------------


class Client:
    """What a client holds after ``POST /identity/v3/auth/tokens`` with a
    password (as openstacksdk does): a project-scoped token and the project's
    id; ``headers()`` for each request."""

    def __init__(self, base_url: str, user: str, password: str, project: str) -> None:
        import requests

        self.base = base_url.rstrip("/")
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        resp = requests.post(self.base + "/identity/v3/auth/tokens", json=body, timeout=60)
        if resp.status_code != 201:
            raise RuntimeError(f"password auth of user {user!r} in project {project!r} "
                               f"refused: HTTP {resp.status_code} {resp.text[:300]}")
        self.token = resp.headers["X-Subject-Token"]
        self.project_id = resp.json()["token"]["project"]["id"]

    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}

    def lift_quotas(self, servers: int, flavor: str = "1") -> dict[str, int]:
        """Raise the project's instances/cores/ram quotas through the API
        (``PUT /os-quota-sets/{project}``, needs the admin role) to what
        ``servers`` servers of ``flavor`` need, never below the current
        limits; the limits set."""
        import requests

        compute = self.base + "/compute/v2.1"
        resp = requests.get(f"{compute}/flavors/{flavor}", headers=self.headers(), timeout=60)
        resp.raise_for_status()
        f = resp.json()["flavor"]
        resp = requests.get(f"{compute}/os-quota-sets/{self.project_id}",
                            headers=self.headers(), timeout=60)
        resp.raise_for_status()
        now = resp.json()["quota_set"]
        need = {"instances": servers, "cores": servers * f["vcpus"], "ram": servers * f["ram"]}
        limits = {k: -1 if now[k] == -1 else max(now[k], v) for k, v in need.items()}
        resp = requests.put(f"{compute}/os-quota-sets/{self.project_id}",
                            json={"quota_set": limits}, headers=self.headers(), timeout=60)
        if resp.status_code != 200:
            raise RuntimeError(f"quota update refused: HTTP {resp.status_code} "
                               f"{resp.text[:300]}")
        return limits
