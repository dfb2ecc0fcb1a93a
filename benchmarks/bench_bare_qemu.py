"""The physical reference for guest boots: the tiny disk image on bare QEMU.

Each boot starts ``qemu-system-x86_64`` under TCG with 128 MiB on a fresh
qcow2 overlay of the tiny disk (as a cloud gives each instance its own
overlay; no NIC, no config drive unless asked), times process start -> the
marker line on the serial console, then presses the ACPI power button and
times until QEMU exits. Boots run one at a
time; what libvirt and novalite add on top is measured elsewhere against
these numbers. Builds the image first if needed (cached).

    python benchmarks/bench_bare_qemu.py [--boots 5] [--kernel] [--config-drive]
                                         [--output-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time

from novalite import tinyguest
from novalite.tinyguest import builder, qemu

BOOT_TIMEOUT = 120
STOP_TIMEOUT = 30
_RUN_INIT = re.compile(r"\[\s*([\d.]+)\] Run /init as init process")


def one_boot(form: str, build: builder.BuildResult, workdir: str, index: int,
             memory_mb: int, config_drive: bool) -> dict[str, float]:
    hostname = f"bench-{index}"
    if form == "disk":
        disk = qemu.overlay(build.disk, os.path.join(workdir, f"overlay-{index}.qcow2"))
        cdrom = None
        if config_drive:
            cdrom = qemu.config_drive(os.path.join(workdir, f"cd-{index}"), hostname)
        else:
            hostname = tinyguest.DEFAULT_HOSTNAME
        guest = qemu.boot_disk(disk, workdir, config_drive=cdrom, name=f"disk-{index}",
                               memory_mb=memory_mb)
    else:
        guest = qemu.boot_kernel(build.kernel, build.ramdisk, workdir, hostname=hostname,
                                 name=f"kernel-{index}", memory_mb=memory_mb)
    with guest:
        booted = guest.wait_booted(hostname, BOOT_TIMEOUT)
        asked = time.monotonic()
        guest.powerdown()
        guest.wait_exit(STOP_TIMEOUT)
        stopped = time.monotonic() - asked
        match = _RUN_INIT.search(guest.console())
    return {"boot": booted, "stop": stopped,
            "init_uptime": float(match.group(1)) if match else float("nan")}


def run(form: str, build: builder.BuildResult, boots: int, memory_mb: int,
        config_drive: bool) -> None:
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-bare-qemu-") as workdir:
        for i in range(boots):
            r = one_boot(form, build, workdir, i, memory_mb, config_drive)
            results.append(r)
            print(f"  {form} boot {i + 1}/{boots}: marker after {r['boot']:.2f} s "
                  f"(/init at guest uptime {r['init_uptime']:.2f} s), "
                  f"exit {r['stop']:.2f} s after power-off")
    boot = [r["boot"] for r in results]
    stop = [r["stop"] for r in results]
    print(f"{form}: median {statistics.median(boot):.2f} s to the marker "
          f"(min {min(boot):.2f}, max {max(boot):.2f}, n={boots}); "
          f"median {statistics.median(stop):.2f} s from ACPI power-off to exit")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--boots", type=int, default=5)
    p.add_argument("--memory", type=int, default=tinyguest.RECOMMENDED_RAM_MB,
                   help="guest RAM in MiB")
    p.add_argument("--kernel", action="store_true",
                   help="also time direct kernel + ramdisk boots")
    p.add_argument("--config-drive", action="store_true",
                   help="attach an IDE config drive naming the guest to each disk boot")
    p.add_argument("--output-dir", default=None, help="where the tiny image is (built)")
    args = p.parse_args(argv)

    build = builder.build(args.output_dir, progress=lambda line: print(f"[build] {line}"))
    print(f"bare QEMU, TCG, {args.memory} MiB, qcow2 overlay on "
          f"{os.path.basename(build.disk)} on virtio-blk"
          f"{' + IDE config drive' if args.config_drive else ''}; "
          f"{platform.node()}, {os.cpu_count()} cores, load "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    run("disk", build, args.boots, args.memory, args.config_drive)
    if args.kernel:
        run("kernel", build, args.boots, args.memory, False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
