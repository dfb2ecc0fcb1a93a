"""A real guest through the whole stack vs the same guest on bare QEMU.

novalite: ``POST /compute/v2.1/servers`` (tiny DISK image, a flavor of
``--memory`` MiB made for the run) → API → conductor → scheduler → compute →
LibvirtDriver → libvirtd (``qemu:///system``) → QEMU; the time is POST sent →
the tiny guest's marker line seen in ``os-getConsoleOutput`` (length 50,
polled every 0.2 s from POST by one thread per server; the 409s while it
builds included). Everything runs in this process
(``tests/integration/realstack.py``: ``inproc://`` + SQLite, the stack's own
Image API, files under /var/lib/novalite-tests/).

bare QEMU: ``qemu-system-x86_64`` with the same image (a fresh qcow2 overlay),
memory and accelerator (TCG here; ``novalite/tinyguest/qemu.py``, as
``bench_bare_qemu.py``); the time is process start → the marker line on the
serial console file (polled every 0.02 s).

One guest at a time: a warm-up boot of each (novalite's fills the image
cache: reported as "first boot"), then ``--boots`` boots of each, interleaved
so that drift on the machine hits both alike; medians. Then ``--concurrent``
boots at once on the one host (novalite: POSTed back to back; bare: started
back to back): first POST/start → last marker, and per guest (own POST/start
→ own marker) p50 and max. Also shown, to tell where the time goes: POST →
first console answer (the build is done: ACTIVE) and the guest's own uptime
when it printed the marker (the kernel and init, without BIOS and loader).

    python benchmarks/bench_real_boot.py [--boots 5] [--concurrent 8] [--memory 128]
        [--poll-interval 0.2] [--append-results] [--no-wait-quiet]

Needs libvirtd at qemu:///system and QEMU (``novalite-manage host prepare``);
stops everything it starts and removes every domain and file it made.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time

import _benchlib as lib
import requests

lib.add_repo_to_path()

from novalite import tinyguest  # noqa: E402
from novalite.tinyguest import builder, qemu  # noqa: E402
from tests.integration.realstack import RealStack, marker_count  # noqa: E402

POLL = 0.2
BOOT_TIMEOUT = 180.0
CONCURRENT_TIMEOUT = 400.0
FLAVOR_ID = "bench.real"
_READY = re.compile(r"tiny: ready at uptime ([\d.]+) s")


@dataclasses.dataclass
class Boot:
    start: float                    # monotonic: POST sent / QEMU started
    marker: float = 0.0             # seconds from start to the marker seen
    active: float | None = None     # novalite: seconds to the first console answer
    uptime: float | None = None     # the guest's uptime when it printed the marker


@dataclasses.dataclass
class Batch:
    boots: list[Boot]

    @property
    def span(self) -> float:
        """First start → last marker."""
        return max(b.start + b.marker for b in self.boots) - min(b.start for b in self.boots)

    @property
    def markers(self) -> list[float]:
        return [b.marker for b in self.boots]


def ready_uptime(console: str) -> float | None:
    """The guest's uptime when it said it was ready (its init prints it just
    before the marker)."""
    match = _READY.search(console)
    return float(match.group(1)) if match else None


# -- bare QEMU -----------------------------------------------------------------------

def bare_boots(build: builder.BuildResult, workdir: str, memory_mb: int, count: int,
               tag: str) -> Batch:
    """``count`` guests started back to back, their consoles polled together
    (so no guest waits for another's check)."""
    line = tinyguest.marker_line(tinyguest.DEFAULT_HOSTNAME)
    guests: list[qemu.Guest] = []
    try:
        for i in range(count):
            disk = qemu.overlay(build.disk, os.path.join(workdir, f"{tag}-{i}.qcow2"))
            guests.append(qemu.boot_disk(disk, workdir, name=f"{tag}-{i}", memory_mb=memory_mb))
        boots = [Boot(start=g.started) for g in guests]
        pending = set(range(count))
        deadline = time.monotonic() + (BOOT_TIMEOUT if count == 1 else CONCURRENT_TIMEOUT)
        while pending:
            for i in sorted(pending):
                g = guests[i]
                console = g.console()
                if any(ln.strip() == line for ln in console.splitlines()):
                    boots[i].marker = time.monotonic() - g.started
                    boots[i].uptime = ready_uptime(console)
                    pending.discard(i)
                elif g.proc.poll() is not None:
                    raise qemu.GuestError(f"QEMU {tag}-{i} exited ({g.proc.returncode}) "
                                          "before the marker")
            if pending and time.monotonic() > deadline:
                raise qemu.GuestError(f"bare QEMU {tag}: {len(pending)} guest(s) without "
                                      "the marker in time")
            time.sleep(0.02)
        return Batch(boots)
    finally:
        for g in guests:
            g.kill()
        for i in range(count):
            path = os.path.join(workdir, f"{tag}-{i}.qcow2")
            if os.path.exists(path):
                os.unlink(path)


# -- novalite ------------------------------------------------------------------------

class Poller(threading.Thread):
    """POST → marker for one server: the console API every 0.2 s, on a
    session of its own."""

    def __init__(self, base_url: str, server_id: str, boot: Boot, timeout: float,
                 interval: float = POLL) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.url = f"{base_url}/compute/v2.1/servers/{server_id}/action"
        self.server_id = server_id
        self.boot = boot
        self.timeout = timeout
        self.done = False
        self.error: str | None = None

    def run(self) -> None:
        hostname = tinyguest.DEFAULT_HOSTNAME
        b = self.boot
        try:
            with requests.Session() as s:
                while time.monotonic() < b.start + self.timeout:
                    resp = s.post(self.url, json={"os-getConsoleOutput": {"length": 50}},
                                  timeout=30)
                    if resp.status_code == 200:
                        if b.active is None:
                            b.active = time.monotonic() - b.start
                        output = resp.json()["output"]
                        if marker_count(output, hostname):
                            b.marker = time.monotonic() - b.start
                            b.uptime = ready_uptime(output)
                            self.done = True
                            return
                    elif resp.status_code != 409:
                        self.error = f"console output: {resp.status_code} {resp.text[:200]}"
                        return
                    time.sleep(self.interval)
            self.error = f"no marker within {self.timeout:.0f} s"
        except Exception as e:  # noqa: BLE001
            self.error = repr(e)


def stack_boots(rs: RealStack, image_id: str, count: int, tag: str,
                interval: float = POLL) -> Batch:
    """``count`` servers POSTed back to back; all deleted afterwards."""
    pollers: list[Poller] = []
    ids: list[str] = []
    timeout = BOOT_TIMEOUT if count == 1 else CONCURRENT_TIMEOUT
    try:
        for i in range(count):
            boot = Boot(start=time.monotonic())
            server = rs.boot(f"{tag}-{i}", image_id, FLAVOR_ID)
            ids.append(server["id"])
            poller = Poller(rs.stack.base_url, server["id"], boot, timeout, interval)
            poller.start()
            pollers.append(poller)
        for p in pollers:
            p.join(timeout + 30)
        failed = [f"{p.server_id}: {p.error}" for p in pollers if not p.done]
        if failed:
            details = [rs.stack.server(i) for i in ids]
            raise RuntimeError(f"{tag}: " + "; ".join(failed) + " — " + "; ".join(
                f"{d['id']} {d['status']} {d.get('fault')}" for d in details))
        return Batch([p.boot for p in pollers])
    finally:
        for sid in ids:
            rs.stack.compute("DELETE", f"/servers/{sid}")
        for sid in ids:
            rs.stack.wait_gone(sid, 120)


# -- report ----------------------------------------------------------------------------

def fmt(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def p50(values: list[float | None]) -> float:
    return lib.percentile([v for v in values if v is not None], 50)


def report(args: argparse.Namespace, build: builder.BuildResult, load_before: tuple,
           first: Batch, nl: list[Batch], bare: list[Batch], nl_many: Batch,
           bare_many: Batch) -> str:
    nl_med = statistics.median(b.span for b in nl)
    bare_med = statistics.median(b.span for b in bare)
    nl_boots = [b.boots[0] for b in nl]
    bare_boots_ = [b.boots[0] for b in bare]
    n = args.concurrent
    rows = [
        [f"one guest: POST/start → marker, median of {args.boots}", f"**{nl_med:.2f} s**",
         f"{bare_med:.2f} s", f"**{nl_med / bare_med:.2f}×**"],
        ["one guest: all runs", fmt([b.span for b in nl]), fmt([b.span for b in bare]), ""],
        ["one guest: POST → build done (first console answer), median",
         f"{p50([b.active for b in nl_boots]):.2f} s", "", ""],
        ["one guest: guest uptime at the marker (kernel + init), median",
         f"{p50([b.uptime for b in nl_boots]):.2f} s",
         f"{p50([b.uptime for b in bare_boots_]):.2f} s", ""],
        ["first boot (novalite: image not in the cache yet)", f"{first.span:.2f} s", "", ""],
        [f"{n} at once: first POST/start → last marker", f"**{nl_many.span:.2f} s**",
         f"{bare_many.span:.2f} s", f"**{nl_many.span / bare_many.span:.2f}×**"],
        [f"{n} at once: per guest p50 / max",
         f"{p50(list(nl_many.markers)):.2f} / {max(nl_many.markers):.2f} s",
         f"{p50(list(bare_many.markers)):.2f} / {max(bare_many.markers):.2f} s",
         f"{p50(list(nl_many.markers)) / p50(list(bare_many.markers)):.2f}×"],
        [f"{n} at once: POST → build done p50 / max",
         f"{p50([b.active for b in nl_many.boots]):.2f} / "
         f"{max(b.active or 0 for b in nl_many.boots):.2f} s", "", ""],
        [f"{n} at once: guest uptime at the marker p50 / max",
         f"{p50([b.uptime for b in nl_many.boots]):.2f} / "
         f"{max(b.uptime or 0 for b in nl_many.boots):.2f} s",
         f"{p50([b.uptime for b in bare_many.boots]):.2f} / "
         f"{max(b.uptime or 0 for b in bare_many.boots):.2f} s", ""],
    ]
    table = lib.md_table(["tiny disk image → marker on the console",
                          "novalite (POST → console API)", "bare QEMU (start → serial file)",
                          "ratio"], rows)
    return (f"`bench_real_boot.py --boots {args.boots} --concurrent {n} --memory "
            f"{args.memory}` (TCG, {args.memory} MiB, 1 vCPU, qcow2 overlay on "
            f"{os.path.basename(build.disk)}, virtio-blk; novalite: the whole stack in one "
            f"process on inproc:// + SQLite, libvirtd qemu:///system, console API polled every "
            f"{args.poll_interval} s per server; load average before: "
            f"{' '.join(f'{x:.2f}' for x in load_before)})\n\n{table}\n")


def _clean(problems: list[str], workdir: str) -> int:
    """1 (and what was left) when the stack did not clean up after itself."""
    shutil.rmtree(workdir, ignore_errors=True)
    if problems:
        print("NOT CLEAN:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--boots", type=int, default=5, help="single boots of each (median)")
    p.add_argument("--concurrent", type=int, default=8, help="boots at once on one host")
    p.add_argument("--memory", type=int, default=tinyguest.RECOMMENDED_RAM_MB,
                   help="guest RAM in MiB, both sides")
    p.add_argument("--append-results", action="store_true",
                   help="append a dated section to benchmarks/RESULTS.md")
    p.add_argument("--poll-interval", type=float, default=POLL,
                   help="seconds between console-output calls per server")
    p.add_argument("--no-wait-quiet", action="store_true",
                   help="do not wait for the machine to be idle first")
    p.add_argument("--smoke", action="store_true",
                   help="the test suite's size: one novalite boot, no bare QEMU side "
                        "(bench_bare_qemu.py's smoke run boots that), never appended")
    args = p.parse_args(argv)
    lib.install_sigterm()
    if args.smoke:
        args.no_wait_quiet, args.append_results = True, False

    build = builder.build(progress=lambda line: print(f"[build] {line}"))
    if not args.no_wait_quiet:
        lib.wait_quiet(max_wait=300)
    load_before = os.getloadavg()
    workdir = tempfile.mkdtemp(prefix="bench-real-boot-")
    # NOTE: no config drive, as on the bare QEMU side (bench_net_boot.py
    # measures the networked guest with its config drive).
    rs = RealStack(label="benchreal", overrides={("compute", "force_config_drive"): False})
    try:
        rs.start()
        from novalite.db import api as db_api

        db_api.flavor_create({"flavorid": FLAVOR_ID, "name": f"bench.{args.memory}",
                              "memory_mb": args.memory, "vcpus": 1, "root_gb": 1,
                              "ephemeral_gb": 0, "swap": 0, "rxtx_factor": 1.0,
                              "is_public": True, "disabled": False})
        image_id = rs.images["disk"]["id"]
        print(f"stack up: {rs.stack.base_url}, domains {rs.prefix}*, files {rs.base}")

        first = stack_boots(rs, image_id, 1, "first")
        if args.smoke:
            print(f"smoke: novalite POST → marker {first.span:.2f} s (build done after "
                  f"{first.boots[0].active or 0:.2f} s)")
        else:
            warm = bare_boots(build, workdir, args.memory, 1, "warm")
            print(f"warm-up: novalite (image not cached) {first.span:.2f} s, bare {warm.span:.2f} s")
            nl: list[Batch] = []
            bare: list[Batch] = []
            for i in range(args.boots):
                bare.append(bare_boots(build, workdir, args.memory, 1, f"bare{i}"))
                nl.append(stack_boots(rs, image_id, 1, f"one{i}", args.poll_interval))
                print(f"  boot {i + 1}/{args.boots}: bare {bare[-1].span:.2f} s, "
                      f"novalite {nl[-1].span:.2f} s (build done after "
                      f"{nl[-1].boots[0].active or 0:.2f} s)")
            n = args.concurrent
            nl_many = stack_boots(rs, image_id, n, "many", args.poll_interval)
            print(f"  {n} at once, novalite: all in {nl_many.span:.2f} s, per guest "
                  f"{fmt(sorted(nl_many.markers))}")
            bare_many = bare_boots(build, workdir, args.memory, n, "many")
            print(f"  {n} at once, bare: all in {bare_many.span:.2f} s, per guest "
                  f"{fmt(sorted(bare_many.markers))}")
    finally:
        problems = rs.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if _clean(problems, workdir):
        return 1
    if args.smoke:
        return 0

    body = report(args, build, load_before, first, nl, bare, nl_many, bare_many)
    print()
    print(body)
    if args.append_results:
        lib.append_results("Real boot: whole stack vs bare QEMU", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
