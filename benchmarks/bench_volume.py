"""Volume I/O in the tiny guest over NBD vs attached locally vs the bare file
on the host, and attach/detach latency (issue 14).

One tiny guest (TCG here, 128 MiB, 1 vCPU, guest agent, no NIC, no config drive)
is spawned through ``LibvirtDriver`` against the real libvirtd
(``qemu:///system``), as ``bench_lifecycle.py`` does, and serves every
run. One raw volume file (``--volume-mib``, fully preallocated) is used
three ways, one after the other (the NBD daemon locks the file, so the two
attachments cannot coexist):

nbd
  ``novalite/volume/exports.py`` exports it (one ``qemu-storage-daemon``,
  NBD on 127.0.0.1, the exports' nftables table) and
  ``LibvirtDriver.attach_volume`` hot-plugs it (``driver_volume_type``
  ``nbd``) as a virtio-blk disk;
local
  ``attach_volume`` with ``driver_volume_type`` ``local`` (the file itself
  as a ``<disk type='file'>``);
bare
  the host itself on the file, with O_DIRECT.

Each target, with O_DIRECT everywhere (the guest's page cache is not
measured):

- sequential write then read of ``--seq-mib`` MiB in 1 MiB blocks: busybox
  ``dd`` in the guest (``oflag=direct conv=fsync`` / ``iflag=direct``),
  timed by the guest from ``/proc/uptime`` (10 ms ticks); GNU ``dd`` on the
  host;
- random 4 KiB reads, then writes, at ``--rand-ops`` block numbers drawn
  once (uniform over the volume) and used by every target, queue depth 1:
  busybox has no fio and no positioned I/O short of a ``dd`` process per
  operation (under TCG the fork+exec costs more than the I/O), so a tiny C
  tool of this script's own (``TOOL_C``: O_DIRECT pread/pwrite, one
  fdatasync after the writes, its own CLOCK_MONOTONIC timing) is built
  static with gcc and run, the same binary, in the guest (copied in
  through the agent) and on the host.

The host's page cache of the volume file is dropped (``fdatasync`` +
``POSIX_FADV_DONTNEED``) before every read run. The libvirt disks use
``[libvirt] disk_cachemode`` (default writeback: QEMU, like the NBD
daemon, goes through the host's page cache; the bare runs do not).

Attach latency, ``--attaches`` times for each kind, alternating: the
``attach_volume`` call, and call → the guest lists the disk with the
volume's serial in ``/sys/block/*/serial``: a watcher in the guest (the
tool's ``wait``, started through the agent before the call) sees it within
2 ms and reports the time on the guest's clock, which is set against the
host's with the agent's ``guest-get-time`` just before (the shortest of 5
round trips, ~2 ms here: half of it is the uncertainty; the agent's own
exec polling, 0.1 s, would be coarser than what is measured). The NBD
export's creation (``Exports.export``) is timed separately. Detach: the ``detach_volume`` call (it
returns when libvirt dropped the device from the live definition) and
call → the guest no longer lists it. The I/O runs (``--io-runs``) are done
during the first attaches, interleaved: NBD, local, then the bare file
with nothing attached, again.

    python benchmarks/bench_volume.py [--seq-mib 128] [--rand-ops 2000]
        [--attaches 5] [--volume-mib 512] [--io-runs 3] [--append-results]
        [--no-wait-quiet] [--smoke]

Needs libvirtd at qemu:///system, QEMU, qemu-storage-daemon, nft and gcc
with a static libc (packages gcc, libc6-dev) (root);
removes the guest, the exports (daemons, nftables table) and every file it
made (under /var/lib/novalite-tests/), also on failure, and exits 1 if
anything was left.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import random
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from typing import Any

import _benchlib as lib
import bench_lifecycle
import psutil

lib.add_repo_to_path()

import libvirt  # noqa: E402
from oslo_utils import uuidutils  # noqa: E402

from novalite import context as nl_context  # noqa: E402
from novalite import tinyguest  # noqa: E402
from novalite.conf import CONF  # noqa: E402
from novalite.objects.instance import Instance  # noqa: E402
from novalite.virt.libvirt import agent  # noqa: E402
from novalite.virt.libvirt.driver import LibvirtDriver  # noqa: E402
from novalite.volume.exports import Exports  # noqa: E402
from tests.integration.test_libvirt_driver import (  # noqa: E402
    LibvirtEnv,
    _tiny_guest,
    libvirt_connection,
)

MiB = 1024 * 1024
BLOCK = 4096
BOOT_TIMEOUT = 180.0
AGENT_TIMEOUT = 90.0
DEVICE_TIMEOUT = 60.0
CTXT = nl_context.get_admin_context()
# NOTE: our own id range (not the tests' instance-7e57…, which a test run's
# purge of its leftovers takes, nor bench_lifecycle's 7e5c…).
ID_BASE = 0x7E5D0000
KINDS = ("nbd", "local")
MOUNTPOINT = "/dev/vdb"
GUEST_TOOL = "/run/bench-voltool"
GUEST_BLOCKS = "/run/bench-blocks"


# A static tool of the benchmark's own, the same binary on the host and in the
# guest (busybox has no positioned I/O short of a dd process per operation,
# which under TCG costs more than the I/O, and its date has no sub-second
# clock):
#   voltool DEVICE r|w BLOCKS_FILE: 4 KiB O_DIRECT preads or pwrites at the
#     block numbers of the file, one fdatasync after the writes; prints the
#     operations and the nanoseconds they took (CLOCK_MONOTONIC);
#   voltool wait SERIAL 1|0: checks every 2 ms whether a /sys/block/vd*/serial
#     is SERIAL; prints CLOCK_REALTIME when it is (1) / is not (0); exit 3
#     after 60 s.
TOOL_C = r"""
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int has_serial(const char *serial) {
    DIR *d = opendir("/sys/block");
    struct dirent *e;
    char path[320], buf[128];
    int found = 0;
    if (!d) return 0;
    while (!found && (e = readdir(d))) {
        if (strncmp(e->d_name, "vd", 2)) continue;
        snprintf(path, sizeof path, "/sys/block/%s/serial", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(buf, sizeof buf, f)) {
            buf[strcspn(buf, "\n")] = 0;
            found = !strcmp(buf, serial);
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "wait")) {
        int want = atoi(argv[3]) != 0;
        struct timespec pause = {0, 2000000}, now;
        for (int i = 0; has_serial(argv[2]) != want; i++) {
            if (i > 30000) { fprintf(stderr, "timed out\n"); return 3; }
            nanosleep(&pause, NULL);
        }
        clock_gettime(CLOCK_REALTIME, &now);
        printf("%lld.%09ld\n", (long long)now.tv_sec, now.tv_nsec);
        return 0;
    }
    if (argc != 4 || (argv[2][0] != 'r' && argv[2][0] != 'w')) {
        fprintf(stderr, "usage: voltool DEVICE r|w BLOCKS_FILE | voltool wait SERIAL 1|0\n");
        return 2;
    }
    int w = argv[2][0] == 'w';
    FILE *f = fopen(argv[3], "r");
    if (!f) { perror(argv[3]); return 1; }
    size_t n = 0, cap = 1024;
    long long *blk = malloc(cap * sizeof *blk), x;
    while (blk && fscanf(f, "%lld", &x) == 1) {
        if (n == cap) { cap *= 2; blk = realloc(blk, cap * sizeof *blk); if (!blk) break; }
        blk[n++] = x;
    }
    fclose(f);
    if (!blk) { fprintf(stderr, "out of memory\n"); return 1; }
    int fd = open(argv[1], (w ? O_RDWR : O_RDONLY) | O_DIRECT);
    if (fd < 0) { perror(argv[1]); return 1; }
    unsigned char *buf;
    if (posix_memalign((void **)&buf, 4096, 4096)) { fprintf(stderr, "memalign\n"); return 1; }
    for (int i = 0; i < 4096; i++) buf[i] = (unsigned char)rand();
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (size_t i = 0; i < n; i++) {
        ssize_t r = w ? pwrite(fd, buf, 4096, blk[i] * 4096) : pread(fd, buf, 4096, blk[i] * 4096);
        if (r != 4096) { perror(w ? "pwrite" : "pread"); return 1; }
    }
    if (w && fdatasync(fd)) { perror("fdatasync"); return 1; }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%zu %lld\n", n,
           (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
    return close(fd) ? 1 : 0;
}
"""


def build_tool(workdir: str) -> str:
    """The tool, compiled static (gcc, libc6-dev) for the host and the guest."""
    src, out = os.path.join(workdir, "voltool.c"), os.path.join(workdir, "voltool")
    with open(src, "w") as f:
        f.write(TOOL_C)
    try:
        subprocess.run(["gcc", "-static", "-O2", "-s", "-o", out, src], check=True,
                       capture_output=True, text=True)
    except FileNotFoundError as e:
        raise RuntimeError("gcc is needed to build the benchmark's tool (packages gcc, "
                           "libc6-dev)") from e
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"building the benchmark's tool failed: {e.stderr}") from e
    return out


class Noise(bench_lifecycle.Noise):
    """bench_lifecycle's, with this benchmark's own tools."""

    def _ours(self, p: psutil.Process) -> bool:
        return super()._ours(p) or (p.info["name"] or "").startswith(
            ("qemu-storage", "dd", "nft", "voltool", "gcc"))


class Bench:
    def __init__(self, env: LibvirtEnv, args: argparse.Namespace) -> None:
        self.env = env
        self.args = args
        self.drv: LibvirtDriver = env.driver()
        self.inst: Instance | None = None
        self.t = bench_lifecycle.Timings()
        self.volumes = os.path.join(env.base, "volumes")
        os.makedirs(self.volumes, mode=0o711)
        self.path = os.path.join(self.volumes, "bench-volume.raw")
        self.exports = Exports(os.path.join(env.base, "exports"), "127.0.0.1",
                               (13100 + os.getpid() % 300 * 10, 13109 + os.getpid() % 300 * 10),
                               nft_prefix=f"bv{uuidutils.generate_uuid()[:8]}")
        self.volume_id = uuidutils.generate_uuid()
        self.attached: dict[str, Any] | None = None
        self.attach_seq = 0
        rng = random.Random(14)
        blocks = args.volume_mib * MiB // BLOCK
        self.offsets = [rng.randrange(blocks) for _ in range(args.rand_ops)]
        self.dev = ""
        self.accel = ""

    # -- the guest ---------------------------------------------------------------

    @property
    def instance(self) -> Instance:
        assert self.inst is not None
        return self.inst

    @property
    def inst_dir(self) -> str:
        return os.path.join(CONF.libvirt.instances_path, self.instance.uuid)

    def domain(self) -> libvirt.virDomain:
        return libvirt_connection().lookupByUUIDString(self.instance.uuid)

    def start(self) -> None:
        built = _tiny_guest()
        image_id = self.env.register("bench-volume-tiny", built.disk, "qcow2",
                                     hw_qemu_guest_agent="yes")
        flavor = bench_lifecycle._flavor("bench.volume", root_gb=1, vcpus=1,
                                         memory_mb=tinyguest.RECOMMENDED_RAM_MB)
        self.inst = Instance(id=ID_BASE + int(uuidutils.generate_uuid()[:4], 16),
                             uuid=uuidutils.generate_uuid(), display_name="bench-volume",
                             hostname="bench-volume", project_id="bench", user_id="bench",
                             image_ref=image_id, flavor=flavor, metadata={},
                             system_metadata={})
        started = time.monotonic()
        self.drv.spawn(CTXT, self.instance,
                       {"id": image_id, "properties": {"hw_qemu_guest_agent": "yes"}}, [])
        deadline = started + BOOT_TIMEOUT
        while self.markers() < 1:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no boot marker on the console of {self.instance.uuid} "
                                   f"within {BOOT_TIMEOUT:.0f} s")
            time.sleep(0.1)
        agent.wait_ready(self.domain(), time.monotonic() + AGENT_TIMEOUT)
        root = ET.fromstring(self.domain().XMLDesc(0))
        self.accel = "TCG" if root.get("type") == "qemu" else str(root.get("type"))
        print(f"guest {self.instance.uuid} ({self.accel}) up after "
              f"{time.monotonic() - started:.1f} s",
              flush=True)
        subprocess.run(["qemu-img", "create", "-q", "-f", "raw", "-o", "preallocation=full",
                        self.path, str(self.args.volume_mib * MiB)], check=True)
        self.tool = build_tool(self.volumes)
        self.blocks_file = os.path.join(self.volumes, "blocks")
        blocks = "".join(f"{o}\n" for o in self.offsets).encode()
        with open(self.blocks_file, "wb") as f:
            f.write(blocks)
        with open(self.tool, "rb") as f:
            agent.write_file(self.domain(), GUEST_TOOL, f.read())
        agent.write_file(self.domain(), GUEST_BLOCKS, blocks)
        self.run("chmod", "755", GUEST_TOOL)

    def markers(self) -> int:
        try:
            with open(os.path.join(self.inst_dir, "console.log"), "rb") as f:
                return f.read().count(tinyguest.MARKER.encode())
        except FileNotFoundError:
            return 0

    def run(self, *argv: str, timeout: float = 600.0, path: str = "/bin/busybox") -> str:
        status = agent.execute(self.domain(), path, list(argv),
                               time.monotonic() + timeout, capture=True)
        if status.get("exitcode") != 0:
            err = base64.b64decode(status.get("err-data", "")).decode(errors="replace")
            raise RuntimeError(f"in the guest {argv[:3]}… exited {status.get('exitcode')}: "
                               f"{err[-500:]}")
        return base64.b64decode(status.get("out-data", "")).decode()

    def timed_script(self, body: str) -> float:
        """Seconds the guest spent on the shell script ``body`` (its own
        clock, /proc/uptime)."""
        script = ("read t0 _ < /proc/uptime\n" + body +
                  "\nread t1 _ < /proc/uptime\necho $t0 $t1\n")
        agent.write_file(self.domain(), "/run/bench.sh", script.encode())
        t0, t1 = (float(x) for x in self.run("sh", "/run/bench.sh").split()[-2:])
        # NOTE: one tick at least (10 ms), so a smoke run's rate stays finite.
        return max(t1 - t0, 0.01)

    def guest_disks(self) -> dict[str, str]:
        """serial (20 bytes) -> the guest's name for the disk."""
        out = self.run("sh", "-c", "for d in /sys/block/vd*; do echo $(basename $d) "
                                   "$(cat $d/serial 2>/dev/null); done")
        return {w[1]: w[0] for w in (line.split() for line in out.splitlines()) if len(w) == 2}

    def wait_guest(self, present: bool) -> float:
        """Monotonic time the guest was first seen with (without) the volume."""
        serial = self.volume_id[:20]
        deadline = time.monotonic() + DEVICE_TIMEOUT
        while True:
            disks = self.guest_disks()
            now = time.monotonic()
            if (serial in disks) == present:
                if present:
                    self.dev = disks[serial]
                return now
            if now > deadline:
                raise TimeoutError(f"the guest {'never listed' if present else 'still lists'}"
                                   f" the volume's disk after {DEVICE_TIMEOUT:.0f} s")

    # -- attachments -------------------------------------------------------------

    def connection_info(self, kind: str) -> dict[str, Any]:
        data: dict[str, Any] = {"format": "raw", "volume_id": self.volume_id,
                                "access_mode": "rw"}
        if kind == "nbd":
            self.attach_seq += 1
            started = time.monotonic()
            export = self.exports.export(f"bench-att-{self.attach_seq}", self.path, "raw",
                                         "127.0.0.1")
            self.t.add("nbd: export", time.monotonic() - started)
            data.update(host=export["host"], port=export["port"], name=export["name"])
        else:
            data["device_path"] = self.path
        return {"driver_volume_type": kind, "serial": self.volume_id, "data": data}

    def clock_offset(self) -> float:
        """The guest's CLOCK_REALTIME minus the host's (s), from the agent's
        guest-get-time: of 5 tries the one with the shortest round trip,
        whose half is its uncertainty (recorded)."""
        dom = self.domain()
        best: tuple[float, float] | None = None
        for _ in range(5):
            h0 = time.time()
            guest = int(agent.command(dom, "guest-get-time")) / 1e9
            h1 = time.time()
            if best is None or h1 - h0 < best[1]:
                best = (guest - (h0 + h1) / 2, h1 - h0)
        assert best is not None
        self.t.add("clock sync round trip", best[1])
        return best[0]

    def timed_change(self, present: bool, change: Any) -> tuple[float, float]:
        """(seconds ``change()`` took, seconds from its start until the guest
        saw the volume's disk appear (``present``) or go): the guest's own
        watcher (``voltool wait``, started before the change) reports the
        time on its clock, brought to the host's by ``clock_offset``."""
        offset = self.clock_offset()
        dom = self.domain()
        pid = agent.command(dom, "guest-exec", {
            "path": GUEST_TOOL, "arg": ["wait", self.volume_id[:20], "1" if present else "0"],
            "capture-output": True})["pid"]
        started = time.time()
        change()
        called = time.time()
        deadline = time.monotonic() + DEVICE_TIMEOUT + 10
        while True:
            status = agent.command(dom, "guest-exec-status", {"pid": pid})
            if status.get("exited"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the guest's watcher did not finish")
            time.sleep(0.05)
        out = base64.b64decode(status.get("out-data", "")).decode()
        if status.get("exitcode") != 0:
            raise RuntimeError(f"the guest {'never listed' if present else 'still lists'} the "
                               f"volume's disk after {DEVICE_TIMEOUT:.0f} s: {status}")
        seen = float(out) - offset
        if seen < started - 0.05:
            raise RuntimeError(f"the guest saw the change {started - seen:.3f} s before it was "
                               "asked for: the clock sync is off")
        return called - started, seen - started

    def attach(self, kind: str) -> None:
        ci = self.connection_info(kind)

        def change() -> None:
            self.drv.attach_volume(CTXT, ci, self.instance, MOUNTPOINT)
            self.attached = ci

        call, seen = self.timed_change(True, change)
        self.t.add(f"{kind}: attach call", call)
        self.t.add(f"{kind}: attach → in guest", seen)
        self.wait_guest(True)

    def detach(self, kind: str) -> None:
        ci = self.attached
        assert ci is not None

        def change() -> None:
            self.drv.detach_volume(CTXT, ci, self.instance, MOUNTPOINT)
            self.attached = None

        call, gone = self.timed_change(False, change)
        self.t.add(f"{kind}: detach call", call)
        self.t.add(f"{kind}: detach → gone from guest", gone)
        if kind == "nbd":
            started = time.monotonic()
            self.exports.unexport(f"bench-att-{self.attach_seq}")
            self.t.add("nbd: unexport", time.monotonic() - started)

    # -- I/O ---------------------------------------------------------------------

    def drop_host_cache(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    def guest_io(self, kind: str) -> None:
        dev, mib = f"/dev/{self.dev}", self.args.seq_mib
        self.t.add(f"{kind}: seq write", self.timed_script(
            f"dd if=/dev/zero of={dev} bs=1048576 count={mib} oflag=direct conv=fsync "
            "2>/dev/null"))
        self.drop_host_cache()
        self.t.add(f"{kind}: seq read", self.timed_script(
            f"dd if={dev} of=/dev/null bs=1048576 count={mib} iflag=direct 2>/dev/null"))
        self.drop_host_cache()
        for mode, what in (("r", "rand read"), ("w", "rand write")):
            if mode == "r":
                self.drop_host_cache()
            out = self.run(dev, mode, GUEST_BLOCKS, path=GUEST_TOOL)
            self.t.add(f"{kind}: {what}", io_seconds(out, len(self.offsets)))

    def bare_io(self) -> None:
        mib = self.args.seq_mib

        def dd(*argv: str) -> float:
            started = time.monotonic()
            subprocess.run(["dd", *argv, "status=none"], check=True)
            return time.monotonic() - started

        self.t.add("bare: seq write", dd("if=/dev/zero", f"of={self.path}", "bs=1M",
                                         f"count={mib}", "oflag=direct", "conv=notrunc,fsync"))
        self.drop_host_cache()
        self.t.add("bare: seq read", dd(f"if={self.path}", "of=/dev/null", "bs=1M",
                                        f"count={mib}", "iflag=direct"))
        self.drop_host_cache()
        for mode, what in (("r", "rand read"), ("w", "rand write")):
            if mode == "r":
                self.drop_host_cache()
            out = subprocess.run([self.tool, self.path, mode, self.blocks_file], check=True,
                                 capture_output=True, text=True).stdout
            self.t.add(f"bare: {what}", io_seconds(out, len(self.offsets)))

    # -- the whole run -----------------------------------------------------------

    def measure(self) -> None:
        for rnd in range(self.args.attaches):
            for kind in (KINDS if rnd % 2 == 0 else KINDS[::-1]):
                self.attach(kind)
                if rnd < self.args.io_runs:
                    self.guest_io(kind)
                self.detach(kind)
                t = self.t.steps
                print(f"  attach {rnd + 1}/{self.args.attaches} {kind}: attach → in guest "
                      f"{t[f'{kind}: attach → in guest'][-1]:.2f} s, detach → gone "
                      f"{t[f'{kind}: detach → gone from guest'][-1]:.2f} s", flush=True)
                if rnd < self.args.io_runs:
                    print(f"    {kind}: " + io_line(self.args, t, kind), flush=True)
            if rnd < self.args.io_runs:
                # NOTE: on the host with no attachment holding the file.
                self.bare_io()
                print("    bare: " + io_line(self.args, self.t.steps, "bare"), flush=True)

    def stop(self) -> list[str]:
        """Removes the guest and the exports; what is left (nothing, normally)."""
        left: list[str] = []
        if self.inst is not None:
            if self.attached is not None:
                with contextlib.suppress(Exception):
                    self.drv.detach_volume(CTXT, self.attached, self.instance, MOUNTPOINT)
            with contextlib.suppress(Exception):
                self.drv.destroy(CTXT, self.instance, [])
            self.drv.cleanup_host(CONF.host)
            conn = libvirt_connection()
            try:
                if any(d.UUIDString() == self.instance.uuid for d in conn.listAllDomains(0)):
                    left.append(f"domain of {self.instance.uuid}")
            finally:
                conn.close()
        try:
            self.exports.ensure({})
        except Exception as e:  # noqa: BLE001 - reported as a leftover below
            left.append(f"exports: {e}")
        if self.exports.socket_dir != self.exports.state_dir:
            shutil.rmtree(self.exports.socket_dir, ignore_errors=True)
        nft = subprocess.run(["nft", "list", "table", "inet", self.exports.table],
                             capture_output=True)
        if nft.returncode == 0:
            left.append(f"nft table inet {self.exports.table}")
        for p in psutil.process_iter(["name", "cmdline"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if (p.info["name"] or "").startswith("qemu-storage") and self.env.base in cmd:
                left.append(f"qemu-storage-daemon pid {p.pid}")
        return left


def io_seconds(out: str, ops: int) -> float:
    done, ns = (int(x) for x in out.split())
    if done != ops:
        raise RuntimeError(f"the random I/O tool did {done} operations, not {ops}")
    return max(ns / 1e9, 1e-6)


def io_line(args: argparse.Namespace, t: dict[str, list[float]], kind: str) -> str:
    """The last run of ``kind``'s I/O."""
    return (f"seq write {args.seq_mib / t[f'{kind}: seq write'][-1]:.1f} MiB/s, read "
            f"{args.seq_mib / t[f'{kind}: seq read'][-1]:.1f} MiB/s; 4k random read "
            f"{args.rand_ops / t[f'{kind}: rand read'][-1]:.0f} IOPS, write "
            f"{args.rand_ops / t[f'{kind}: rand write'][-1]:.0f} IOPS")


def rate_cell(seconds: list[float], amount: float, fmt: str) -> str:
    """``amount`` per second: p50 (min–max) over the runs."""
    rates = [amount / s for s in seconds]
    return (f"{lib.percentile(rates, 50):{fmt}} ({min(rates):{fmt}}–{max(rates):{fmt}})"
            if len(rates) > 1 else f"{rates[0]:{fmt}}")


def stop_env(env: LibvirtEnv) -> None:
    """``LibvirtEnv.stop`` without its purge of the tests' domain names (a
    test run on this machine may own some)."""
    from novalite.db import api as db_api

    if env.api is not None:
        env.api.stop()
    db_api.dispose()
    for name, group in env._overrides:
        CONF.clear_override(name, group=group)
    shutil.rmtree(env.base, ignore_errors=True)


# -- report ------------------------------------------------------------------------------

def report(args: argparse.Namespace, bench: Bench, noise: bench_lifecycle.Noise,
           busy_before: float | None,
           load_before: tuple[float, float, float]) -> str:
    t = bench.t

    def ms_per_op(name: str) -> str:
        return f"{lib.percentile(t.steps[name], 50) / ops * 1000:.2f}"

    ops = args.rand_ops
    rows = []
    for kind, label in (("nbd", "guest, NBD (qemu-storage-daemon, 127.0.0.1)"),
                        ("local", "guest, local file"), ("bare", "host, bare file, O_DIRECT")):
        rows.append([label, rate_cell(t.steps[f"{kind}: seq write"], args.seq_mib, ".0f"),
                     rate_cell(t.steps[f"{kind}: seq read"], args.seq_mib, ".0f"),
                     rate_cell(t.steps[f"{kind}: rand read"], ops, ".0f"),
                     rate_cell(t.steps[f"{kind}: rand write"], ops, ".0f"),
                     f"{ms_per_op(f'{kind}: rand read')} / {ms_per_op(f'{kind}: rand write')}"])
    io = lib.md_table([f"p50 (min–max) of {args.io_runs} run(s)", "seq write MiB/s",
                       "seq read MiB/s", "4k rand read IOPS", "4k rand write IOPS",
                       "ms per 4k op, p50 (read / write)"], rows)
    lat_rows = [[what, t.cell(f"nbd: {step}"), t.cell(f"local: {step}")]
                for what, step in (("attach_volume call", "attach call"),
                                   ("attach call → disk in the guest", "attach → in guest"),
                                   ("detach_volume call", "detach call"),
                                   ("detach call → gone from the guest",
                                    "detach → gone from guest"))]
    lat_rows.append(["NBD export created (Exports.export, before the attach)",
                     t.cell("nbd: export"), ""])
    lat_rows.append(["NBD export removed (Exports.unexport, after the detach)",
                     t.cell("nbd: unexport"), ""])
    lat = lib.md_table(["s: p50 (min–max)", f"NBD (n={args.attaches})",
                        f"local (n={args.attaches})"], lat_rows)
    busy = (f"machine {busy_before:.0%} busy before" if busy_before is not None
            else "no wait for a quiet machine")
    sync_ms = t.p50("clock sync round trip") * 1000
    sync_max = max(t.steps["clock sync round trip"]) * 1000
    return (f"`bench_volume.py --seq-mib {args.seq_mib} --rand-ops {ops} --attaches "
            f"{args.attaches} --volume-mib {args.volume_mib} --io-runs {args.io_runs}` "
            f"({bench.accel}; the tiny guest spawned by the LibvirtDriver, 128 MiB, 1 vCPU, "
            f"libvirtd qemu:///system; one {args.volume_mib} MiB raw volume, preallocated, "
            f"virtio-blk, "
            f"disk_cachemode={CONF.libvirt.disk_cachemode}; {args.io_runs} run(s) of each I/O "
            f"pattern on each target, interleaved: NBD, local, bare, again)\n\n"
            f"{io}\n\n"
            f"In the guest: busybox dd with O_DIRECT, timed by the guest (/proc/uptime, 10 ms "
            f"ticks), sequential {args.seq_mib} MiB in 1 MiB blocks (write with "
            f"conv=fsync); host: GNU dd O_DIRECT. Random: {ops} 4 KiB operations at the same "
            f"block numbers (uniform over the volume) for every target, one at a time (queue "
            f"depth 1), by a static tool of the script's own (O_DIRECT pread/pwrite, one "
            f"fdatasync after the writes, timed with CLOCK_MONOTONIC by itself), the same "
            f"binary in the guest and on the host. The host's page cache of the file is "
            f"dropped before each read run; the guest's disks go through it (writeback), "
            f"the bare runs do not.\n\n"
            f"{lat}\n\n"
            f"'In the guest': a watcher in the guest (the tool, started before the call) "
            f"checks /sys/block/vd*/serial every 2 ms and reports the time on the guest's "
            f"clock, set against the host's with the agent's guest-get-time before each call "
            f"(round trip p50 {sync_ms:.1f} ms, max {sync_max:.1f} ms; half of it is the "
            f"uncertainty). Attaches alternate NBD and local, each NBD attach on a fresh "
            f"export. Exports.unexport waits until the daemon's pid is gone: a daemonized "
            f"qemu-storage-daemon exits within ~10 ms of SIGTERM but stays a zombie until "
            f"PID 1 reaps it, which is most of that row on a machine whose init reaps "
            f"slowly.\n\n"
            f"Noise: {busy}; {noise.describe()}; load average before "
            f"{' '.join(f'{x:.2f}' for x in load_before)}.\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seq-mib", type=int, default=128,
                   help="MiB written, then read, sequentially in 1 MiB blocks")
    p.add_argument("--rand-ops", type=int, default=2000,
                   help="random 4 KiB reads, then as many writes")
    p.add_argument("--attaches", type=int, default=5,
                   help="attach/detach cycles of each kind (p50/min/max)")
    p.add_argument("--volume-mib", type=int, default=512, help="the volume's size")
    p.add_argument("--io-runs", type=int, default=3,
                   help="runs of the I/O patterns on each target (during the first "
                        "attaches; at most --attaches)")
    p.add_argument("--append-results", action="store_true",
                   help="append a dated section to benchmarks/RESULTS.md")
    p.add_argument("--no-wait-quiet", action="store_true",
                   help="do not wait for the machine to be idle first")
    p.add_argument("--smoke", action="store_true",
                   help="the test suite's size: 4 MiB, 50 random ops, one attach of each, "
                        "no quiet wait, never appended")
    args = p.parse_args(argv)
    lib.install_sigterm()
    if args.smoke:
        args.seq_mib, args.rand_ops, args.attaches, args.volume_mib = 4, 50, 1, 16
        args.io_runs = 1
        args.no_wait_quiet, args.append_results = True, False
    if (min(args.seq_mib, args.rand_ops, args.attaches, args.io_runs) < 1
            or args.seq_mib > args.volume_mib or args.io_runs > args.attaches):
        p.error("--seq-mib, --rand-ops, --attaches and --io-runs must be at least 1, "
                "--seq-mib at most --volume-mib, --io-runs at most --attaches")

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
        bench = Bench(env, args)
        bench.start()
        with Noise() as noise:
            bench.measure()
    finally:
        if bench is not None:
            left = bench.stop()
        stop_env(env)
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
        lib.append_results("Volumes: I/O in the tiny guest over NBD vs local vs the bare "
                           "file, attach latency", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
