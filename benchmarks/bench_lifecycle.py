"""Snapshot and resize of the tiny guest through the LibvirtDriver, next to
the bare tools doing the same to the same disk (issue 12).

One tiny guest (TCG, 128 MiB, 1 vCPU, 1 GiB qcow2 overlay on the tiny disk
image, guest agent channel, no NIC, no config drive) is spawned through
``LibvirtDriver`` against the real libvirtd (``qemu:///system``), as
``tests/integration/test_libvirt_lifecycle.py`` does, and serves every run.
Each run, one after the other on the running guest:

snapshot
  - novalite, agent path: ``driver.snapshot()`` with an image that declares
    the agent (file systems frozen, ``qemu-img convert -U`` of the disk
    to a standalone qcow2, thawed);
  - novalite, pause path: ``driver.snapshot()`` with an image that declares
    none (guest paused around the copy, resumed);
  - bare: ``qemu-img convert -U -f qcow2 -O qcow2`` of the same disk file
    (the copy alone: no freeze, no pause).

resize (root disk 1 → 2 GiB, 1 → 2 vCPUs, 128 → 192 MiB; the time ends when
the resized guest prints its boot marker on the console log)
  - bare: the same libvirt domain destroyed, ``cp`` of its disk file,
    ``qemu-img resize`` of the copy, the domain redefined on the copy with the
    new vCPU/RAM and started (the domain is put back as it was afterwards,
    untimed);
  - novalite: ``migrate_disk_and_power_off`` to this host (hard power off:
    ``timeout=0``, as the bare side) + ``finish_migration`` (copy through
    ``LocalDiskTransfer``, grow, define, start); then
    ``finish_revert_migration``, timed too, so that every run starts from
    the same guest.

Runs interleave the bare and the novalite steps so that drift on the machine
hits both alike (and swap their order every other run; ``sync`` before each
step, an untimed copy of the disk before the snapshots: see ``one_run``); p50/min/max per step, the disk's sizes, the overhead
(novalite p50 − bare p50, and the ratio), and the noise: how busy the
machine was before, and the CPU other processes used during the runs.

    python benchmarks/bench_lifecycle.py [--runs 5] [--fill-mib 0]
        [--append-results] [--no-wait-quiet] [--smoke]

Needs libvirtd at qemu:///system and QEMU (``novalite-manage host prepare``);
removes the guest and every file it made (under /var/lib/novalite-tests/),
also on failure, and exits 1 if anything was left.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import _benchlib as lib
import psutil

lib.add_repo_to_path()

import libvirt  # noqa: E402
from oslo_utils import uuidutils  # noqa: E402

from novalite import context as nl_context  # noqa: E402
from novalite import tinyguest  # noqa: E402
from novalite.conf import CONF  # noqa: E402
from novalite.objects.flavor import Flavor  # noqa: E402
from novalite.objects.instance import Instance  # noqa: E402
from novalite.virt.libvirt import agent  # noqa: E402
from novalite.virt.libvirt.driver import LibvirtDriver  # noqa: E402
from tests.integration.test_libvirt_driver import (  # noqa: E402
    LibvirtEnv,
    _tiny_guest,
    libvirt_connection,
)

GiB = 1024 ** 3
BOOT_TIMEOUT = 120.0
AGENT_TIMEOUT = 60.0
POLL = 0.05
CTXT = nl_context.get_admin_context()
OLD = {"root_gb": 1, "vcpus": 1, "memory_mb": tinyguest.RECOMMENDED_RAM_MB}
NEW = {"root_gb": 2, "vcpus": 2, "memory_mb": 192}
# NOTE: our own id range, so that a test run's purge of its own leftovers
# (instance-7e57…) never takes this guest.
ID_BASE = 0x7E5C0000


def _flavor(name: str, root_gb: int, vcpus: int, memory_mb: int) -> Flavor:
    return Flavor(id=1, flavorid=name, name=name, memory_mb=memory_mb, vcpus=vcpus,
                  root_gb=root_gb, ephemeral_gb=0, swap=0, extra_specs={})


def _qemu_img_info(path: str) -> dict[str, Any]:
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", "-f", "qcow2", path],
                         check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out))


def _run(*cmd: str) -> None:
    subprocess.run(list(cmd), check=True, capture_output=True)


class SnapshotPaths(logging.Handler):
    """What the driver said it did for each snapshot ("file systems frozen by
    the guest agent" or "guest paused"): proves which path a run measured."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.hows: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("Snapshot of") and isinstance(record.args, tuple):
            self.hows.append(str(record.args[1]))


class Noise:
    """CPU seconds that processes other than this benchmark, its tools,
    libvirt and QEMU used while it measured (sampled every second)."""

    OURS = ("qemu-system", "qemu-img", "libvirtd", "virtlogd", "cp")

    def __init__(self) -> None:
        self.others = 0.0
        self.machine = 0.0
        self.wall = 0.0
        self._seen: dict[tuple[int, float], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="noise", daemon=True)

    def _ours(self, p: psutil.Process) -> bool:
        me = os.getpid()
        if p.pid == me or any(a.pid == me for a in p.parents()):
            return True
        return (p.info["name"] or "").startswith(self.OURS)

    def _sample(self, first: bool) -> None:
        seen: dict[tuple[int, float], float] = {}
        for p in psutil.process_iter(["name", "create_time", "cpu_times"]):
            try:
                if self._ours(p):
                    continue
                t = p.info["cpu_times"]
                key = (p.pid, p.info["create_time"])
                seen[key] = t.user + t.system
            except (psutil.Error, TypeError, AttributeError):
                continue
        if not first:
            self.others += sum(cpu - self._seen.get(key, 0.0) for key, cpu in seen.items())
        self._seen = seen

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self._sample(False)

    def __enter__(self) -> Noise:
        self._start = (time.monotonic(), lib.machine_busy())
        self._sample(True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._sample(False)
        self.wall = time.monotonic() - self._start[0]
        self.machine = lib.machine_busy() - self._start[1]

    def describe(self) -> str:
        cores = os.cpu_count() or 1
        return (f"machine busy {self.machine / self.wall / cores:.0%} of {cores} cores over "
                f"the {self.wall:.0f} s of runs; other processes (not this benchmark, its "
                f"tools, libvirt or QEMU) used {self.others:.1f} s of CPU "
                f"({self.others / self.wall / cores:.0%})")


@dataclasses.dataclass
class Timings:
    """Seconds per step name, one value per run."""

    steps: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def add(self, name: str, value: float) -> None:
        self.steps.setdefault(name, []).append(value)

    def p50(self, name: str) -> float:
        return lib.percentile(self.steps.get(name, []), 50)

    def cell(self, name: str) -> str:
        values = self.steps.get(name, [])
        if not values:
            return ""
        return f"{self.p50(name):.2f} ({min(values):.2f}–{max(values):.2f})"


class Bench:
    """The shared guest and the steps measured on it."""

    def __init__(self, env: LibvirtEnv, fill_mib: int) -> None:
        self.env = env
        self.fill_mib = fill_mib
        self.drv: LibvirtDriver = env.driver()
        self.t = Timings()
        self.paths = SnapshotPaths()
        self.image_id = ""
        self.inst: Instance | None = None
        self.sizes: dict[str, int] = {}
        self.scratch = os.path.join(env.base, "bare")
        os.makedirs(self.scratch)

    # -- the guest -----------------------------------------------------------

    @property
    def instance(self) -> Instance:
        assert self.inst is not None
        return self.inst

    @property
    def inst_dir(self) -> str:
        return os.path.join(CONF.libvirt.instances_path, self.instance.uuid)

    @property
    def disk(self) -> str:
        return os.path.join(self.inst_dir, "disk")

    @property
    def image_meta(self) -> dict[str, Any]:
        return {"id": self.image_id, "properties": {"hw_qemu_guest_agent": "yes"}}

    def domain(self) -> libvirt.virDomain:
        return libvirt_connection().lookupByUUIDString(self.instance.uuid)

    def start(self) -> None:
        built = _tiny_guest()
        self.image_id = self.env.register("bench-lifecycle-tiny", built.disk, "qcow2",
                                          hw_qemu_guest_agent="yes")
        flavor = _flavor("bench.lifecycle", **OLD)
        self.inst = Instance(id=ID_BASE + int(uuidutils.generate_uuid()[:4], 16),
                             uuid=uuidutils.generate_uuid(), display_name="bench-lifecycle",
                             hostname="bench-lifecycle", project_id="bench", user_id="bench",
                             image_ref=self.image_id, flavor=flavor, metadata={},
                             system_metadata={})
        started = time.monotonic()
        self.drv.spawn(CTXT, self.instance, self.image_meta, [])
        self.wait_marker(1, started)
        self.wait_agent()
        print(f"guest {self.instance.uuid} up after {time.monotonic() - started:.2f} s "
              "(image fetched into the cache first)", flush=True)
        if self.fill_mib:
            self.fill()
        self.measure_disk()

    def stop(self) -> list[str]:
        """Removes the guest; what is left (nothing, normally)."""
        if self.inst is None:
            return []
        with contextlib.suppress(Exception):
            self.drv.destroy(CTXT, self.instance, [])
        self.drv.cleanup_host(CONF.host)
        left = []
        conn = libvirt_connection()
        try:
            if any(d.UUIDString() == self.instance.uuid for d in conn.listAllDomains(0)):
                left.append(f"domain of {self.instance.uuid}")
        finally:
            conn.close()
        for path in (self.inst_dir, self.inst_dir + "_resize"):
            if os.path.exists(path):
                left.append(path)
        return left

    def markers(self) -> int:
        try:
            with open(os.path.join(self.inst_dir, "console.log"), "rb") as f:
                return f.read().count(tinyguest.MARKER.encode())
        except FileNotFoundError:
            return 0

    def console_tail(self, size: int = 2000) -> str:
        try:
            with open(os.path.join(self.inst_dir, "console.log"), "rb") as f:
                f.seek(max(0, os.fstat(f.fileno()).st_size - size))
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return "(no console log)"

    def wait_marker(self, count: int, started: float) -> float:
        """Seconds from ``started`` until the console log holds ``count``
        boot markers."""
        deadline = started + BOOT_TIMEOUT
        while self.markers() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no boot marker #{count} on the console of "
                                   f"{self.instance.uuid} within {BOOT_TIMEOUT:.0f} s "
                                   f"(domain state {self.domain().state()}); the console "
                                   f"ends with:\n{self.console_tail()}")
            time.sleep(POLL)
        return time.monotonic() - started

    def wait_agent(self) -> None:
        agent.wait_ready(self.domain(), time.monotonic() + AGENT_TIMEOUT)

    def shape(self) -> tuple[int, int, int]:
        """(vda capacity GiB, vCPUs, MiB) as libvirt reports them."""
        dom = self.domain()
        _state, max_kib, _mem, vcpus, _cpu = dom.info()
        return int(dom.blockInfo("vda", 0)[0]) // GiB, int(vcpus), int(max_kib) // 1024

    def expect_shape(self, want: dict[str, int], what: str) -> None:
        got = self.shape()
        if got != (want["root_gb"], want["vcpus"], want["memory_mb"]):
            raise RuntimeError(f"after {what} the guest has (disk GiB, vCPUs, MiB) {got}, "
                               f"not {want}")

    def fill(self) -> None:
        """``fill_mib`` MiB of random data written by the guest into its disk
        (past its file system), so that the copies have more to copy."""
        started = time.monotonic()
        status = agent.execute(self.domain(), "/bin/busybox",
                               ["dd", "if=/dev/urandom", "of=/dev/vda", "bs=1048576",
                                "seek=600", f"count={self.fill_mib}", "conv=notrunc,fsync"],
                               time.monotonic() + 600, capture=True)
        if status.get("exitcode") != 0:
            raise RuntimeError(f"filling the guest's disk failed: {status}")
        print(f"the guest wrote {self.fill_mib} MiB into its disk in "
              f"{time.monotonic() - started:.1f} s", flush=True)

    def measure_disk(self) -> None:
        info = _qemu_img_info(self.disk)
        backing = info.get("full-backing-filename") or info.get("backing-filename")
        self.sizes = {"virtual": int(info["virtual-size"]),
                      "overlay": os.stat(self.disk).st_blocks * 512,
                      "backing": os.stat(backing).st_blocks * 512 if backing else 0}

    # -- snapshot ----------------------------------------------------------------

    def snapshot_novalite(self, step: str, image_meta: dict[str, Any], how: str) -> None:
        done = len(self.paths.hows)
        started = time.monotonic()
        path = self.drv.snapshot(CTXT, self.instance, image_meta)
        self.t.add(step, time.monotonic() - started)
        try:
            if self.paths.hows[done:] != [how]:
                raise RuntimeError(f"{step}: the driver took the path "
                                   f"{self.paths.hows[done:]}, not [{how!r}]")
            self.sizes["snapshot"] = os.stat(path).st_blocks * 512
        finally:
            os.unlink(path)

    def snapshot_bare(self) -> None:
        out = os.path.join(self.scratch, "snapshot.qcow2")
        started = time.monotonic()
        _run("qemu-img", "convert", "-U", "-f", "qcow2", "-O", "qcow2", self.disk, out)
        self.t.add("snap bare", time.monotonic() - started)
        self.sizes["bare snapshot"] = os.stat(out).st_blocks * 512
        os.unlink(out)

    # -- resize ------------------------------------------------------------------

    def resize_bare(self) -> None:
        """The same domain: off, disk copied and grown, redefined with the
        new vCPU/RAM, started; then put back as it was (untimed)."""
        conn = libvirt_connection()
        dom = conn.lookupByUUIDString(self.instance.uuid)
        original = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        copy = os.path.join(self.inst_dir, "disk.bare")
        before = self.markers()
        started = time.monotonic()
        dom.destroy()
        off = time.monotonic()
        _run("cp", self.disk, copy)
        _run("qemu-img", "resize", "-f", "qcow2", copy, f"{NEW['root_gb']}G")
        copied = time.monotonic()
        dom = conn.defineXML(_resized_xml(original, copy, NEW["vcpus"], NEW["memory_mb"]))
        dom.create()
        launched = time.monotonic()
        total = self.wait_marker(before + 1, started)
        self.t.add("resize bare: power off", off - started)
        self.t.add("resize bare: copy + grow", copied - off)
        self.t.add("resize bare: define + start", launched - copied)
        self.t.add("resize bare: until started", launched - started)
        self.t.add("resize bare: boot", total - (launched - started))
        self.t.add("resize bare", total)
        self.expect_shape(NEW, "the bare resize")
        # NOTE: back to the driver's own definition and disk.
        dom.destroy()
        conn.defineXML(original)
        os.unlink(copy)
        before = self.markers()
        dom.create()
        self.wait_marker(before + 1, time.monotonic())
        self.wait_agent()
        self.expect_shape(OLD, "putting the bare resize back")

    def resize_novalite(self) -> None:
        inst = self.instance
        old, new = inst.flavor, _flavor("bench.lifecycle.bigger", **NEW)
        migration = {"source_compute": CONF.host, "dest_compute": CONF.host}
        log_before = os.stat(os.path.join(self.inst_dir, "console.log")).st_ino
        markers_before = self.markers()
        started = time.monotonic()
        disk_info = self.drv.migrate_disk_and_power_off(CTXT, inst, CONF.host, new, [],
                                                        timeout=0)
        off = time.monotonic()
        inst.flavor = new
        self.drv.finish_migration(CTXT, migration, inst, disk_info, [], self.image_meta,
                                  True, power_on=True)
        finished = time.monotonic()
        # NOTE: the resized guest writes a new console log (the old one stays
        # with the files kept aside for a revert).
        if os.stat(os.path.join(self.inst_dir, "console.log")).st_ino == log_before:
            raise RuntimeError("the resized guest kept its console log")
        total = self.wait_marker(1, started)
        self.t.add("resize: power off + keep aside", off - started)
        self.t.add("resize: finish (copy, grow, define, start)", finished - off)
        self.t.add("resize: until started", finished - started)
        self.t.add("resize: boot", total - (finished - started))
        self.t.add("resize", total)
        self.wait_agent()
        self.t.add("resize, agent answering", time.monotonic() - started)
        self.expect_shape(NEW, "the resize")

        inst.flavor = old
        started = time.monotonic()
        self.drv.finish_revert_migration(CTXT, inst, [], migration, power_on=True)
        self.t.add("revert", self.wait_marker(markers_before + 1, started))
        self.wait_agent()
        self.expect_shape(OLD, "the revert")

    def one_run(self, index: int) -> None:
        """Every step once; the bare and the novalite sides swap places every
        other run, and each step starts with the host's dirty pages written
        out. An untimed copy of the disk goes before the snapshots: here the
        first large copy after a few idle seconds (or after a resize) takes
        ~0.5 s longer whoever makes it (bare qemu-img too, even with
        ``-t unsafe``; ext4 mounted with ``discard``), which in a first version
        of this script always hit the side that went first."""
        snapshots = [self.snapshot_bare,
                     lambda: self.snapshot_novalite("snap agent", self.image_meta,
                                                    "file systems frozen by the guest agent"),
                     lambda: self.snapshot_novalite("snap pause",
                                                    {"id": self.image_id, "properties": {}},
                                                    "guest paused")]
        resizes = [self.resize_bare, self.resize_novalite]
        if index % 2:
            snapshots.reverse()
            resizes.reverse()
        warm = os.path.join(self.scratch, "warm-up.qcow2")
        _run("qemu-img", "convert", "-U", "-f", "qcow2", "-O", "qcow2", self.disk, warm)
        os.unlink(warm)
        for step in snapshots + resizes:
            os.sync()
            step()


def _resized_xml(xml: str, disk: str, vcpus: int, memory_mb: int) -> str:
    """``xml`` (libvirt's inactive definition) on ``disk`` with ``vcpus`` and
    ``memory_mb``: what a person would edit with ``virsh edit``."""
    root = ET.fromstring(xml)
    for tag in ("memory", "currentMemory"):
        node = root.find(tag)
        if node is not None:
            node.text, node.attrib = str(memory_mb * 1024), {"unit": "KiB"}
    vcpu = root.find("vcpu")
    if vcpu is None:
        raise RuntimeError("the domain XML has no <vcpu>")
    vcpu.text = str(vcpus)
    topology = root.find("cpu/topology")
    if topology is not None:
        topology.set("sockets", str(vcpus))
    source = None
    for node in root.findall("devices/disk"):
        target = node.find("target")
        if target is not None and target.get("dev") == "vda":
            source = node.find("source")
    if source is None:
        raise RuntimeError("the domain XML has no vda disk")
    source.set("file", disk)
    return ET.tostring(root, encoding="unicode")


# -- report ----------------------------------------------------------------------------

def report(args: argparse.Namespace, bench: Bench, noise: Noise, busy_before: float | None,
           load_before: tuple[float, float, float]) -> str:
    t = bench.t

    def row(what: str, nl: str, bare: str) -> list[str]:
        a, b = t.p50(nl), t.p50(bare)
        return [what, t.cell(nl), t.cell(bare), f"{a - b:+.2f} s", f"{a / b:.2f}×"]

    rows = [
        row("snapshot, agent path (freeze, convert, thaw)", "snap agent", "snap bare"),
        row("snapshot, pause path (pause, convert, resume)", "snap pause", "snap bare"),
        row("resize 1→2 GiB, 1→2 vCPU, 128→192 MiB: power off → marker", "resize",
            "resize bare"),
        ["  of which: power off (novalite: + files kept aside)",
         t.cell("resize: power off + keep aside"), t.cell("resize bare: power off"), "", ""],
        ["  of which: copy + grow (novalite: + define + start)",
         t.cell("resize: finish (copy, grow, define, start)"),
         t.cell("resize bare: copy + grow"), "", ""],
        ["  of which: define + start (bare)", "", t.cell("resize bare: define + start"),
         "", ""],
        row("  of which: power off → guest started (all but its boot)", "resize: until started",
            "resize bare: until started"),
        ["  of which: started → marker (the guest's boot)", t.cell("resize: boot"),
         t.cell("resize bare: boot"), "", ""],
        ["resize: power off → the agent answers", t.cell("resize, agent answering"), "",
         "", ""],
        ["revert (finish_revert_migration → marker)", t.cell("revert"), "", "", ""],
    ]
    table = lib.md_table(["tiny guest, s: p50 (min–max)", "novalite (LibvirtDriver)",
                          "bare (qemu-img / cp / libvirt)", "overhead (p50)", "ratio"], rows)
    s = bench.sizes
    busy = (f"machine {busy_before:.0%} busy before" if busy_before is not None
            else "no wait for a quiet machine")
    return (f"`bench_lifecycle.py --runs {args.runs}"
            f"{f' --fill-mib {args.fill_mib}' if args.fill_mib else ''}` (TCG; the tiny "
            f"guest spawned by the LibvirtDriver, libvirtd qemu:///system, no NIC, no config "
            f"drive; n={args.runs} runs each, interleaved)\n\n"
            f"Disk: {s['virtual'] / GiB:.0f} GiB virtual; qcow2 overlay {lib.mib(s['overlay'])} "
            f"MiB allocated on a {lib.mib(s['backing'])} MiB base image; the snapshot (the "
            f"chain flattened to one qcow2) {lib.mib(s.get('snapshot', 0))} MiB "
            f"(bare convert {lib.mib(s.get('bare snapshot', 0))} MiB).\n\n{table}\n\n"
            f"Noise: {busy}; {noise.describe()}; load average before "
            f"{' '.join(f'{x:.2f}' for x in load_before)}.\n")


@contextlib.contextmanager
def _driver_log(handler: logging.Handler) -> Iterator[None]:
    log = logging.getLogger("novalite.virt.libvirt.driver")
    level = log.level
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="runs of every step (p50/min/max)")
    p.add_argument("--fill-mib", type=int, default=0,
                   help="random data the guest writes into its disk first (0: the tiny "
                        "guest's disk as it boots)")
    p.add_argument("--append-results", action="store_true",
                   help="append a dated section to benchmarks/RESULTS.md")
    p.add_argument("--no-wait-quiet", action="store_true",
                   help="do not wait for the machine to be idle first")
    p.add_argument("--smoke", action="store_true",
                   help="the test suite's size: one run, no quiet wait, never appended")
    args = p.parse_args(argv)
    lib.install_sigterm()
    if args.smoke:
        args.runs, args.no_wait_quiet, args.append_results = 1, True, False
    if args.runs < 1:
        p.error("--runs must be at least 1")

    _tiny_guest()
    busy_before = None if args.no_wait_quiet else lib.wait_quiet(max_wait=300)
    load_before = os.getloadavg()
    env = LibvirtEnv()
    bench: Bench | None = None
    left: list[str] = []
    try:
        # NOTE: the driver fetches the image from the env's own Image API
        # without a token, as the libvirt tests do.
        env.override("auth_strategy", "noauth")
        env.start()
        env.override("force_config_drive", False, group="compute")
        bench = Bench(env, args.fill_mib)
        with _driver_log(bench.paths):
            bench.start()
            with Noise() as noise:
                for i in range(args.runs):
                    bench.one_run(i)
                    t = bench.t.steps
                    print(f"  run {i + 1}/{args.runs}: snapshot bare {t['snap bare'][-1]:.2f} s, "
                          f"agent {t['snap agent'][-1]:.2f} s, pause {t['snap pause'][-1]:.2f} s;"
                          f" resize bare {t['resize bare'][-1]:.2f} s, novalite "
                          f"{t['resize'][-1]:.2f} s, revert {t['revert'][-1]:.2f} s", flush=True)
    finally:
        if bench is not None:
            left = bench.stop()
        env.stop()
        if os.path.exists(env.base):
            left.append(env.base)
    if left:
        print("NOT CLEAN: " + ", ".join(left), file=sys.stderr)
        return 1
    assert bench is not None
    body = report(args, bench, noise, busy_before, load_before)
    print()
    print(body)
    if args.append_results:
        lib.append_results("Lifecycle: snapshot and resize vs bare qemu-img/cp/libvirt", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
