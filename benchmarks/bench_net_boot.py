"""A networked guest through the whole stack: POST → the guest's first HTTP
answer, next to the bare-QEMU boot reference.

novalite: ``POST /compute/v2.1/servers`` (the tiny DISK image, a flavor of
``--memory`` MiB made for the run, the run's own network on a fresh bridge)
→ API → conductor (address from the database) → scheduler → compute →
LibvirtDriver (bridge, config drive, virtio NIC) → QEMU; the guest configures
its NIC from ``network_data.json`` and starts its HTTP server; the time is
POST sent → the first ``200`` on ``GET http://<address>/`` (the address read
from the server's ``addresses`` in the API, the page checked to carry the
server's uuid).

bare QEMU: the same image, memory and accelerator, no NIC and no config
drive (``bench_real_boot.py``'s reference): process start → the marker line
on the serial console.

One guest at a time, a warm-up of each first (novalite's fills the image
cache), then ``--boots`` of each interleaved; medians.

    python benchmarks/bench_net_boot.py [--boots 5] [--memory 128] [--append-results]
        [--no-wait-quiet]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import _benchlib as lib
import requests
from bench_real_boot import bare_boots

lib.add_repo_to_path()

from novalite import tinyguest  # noqa: E402
from novalite.tinyguest import builder  # noqa: E402
from tests.integration.test_networking import NetStack  # noqa: E402

BOOT_TIMEOUT = 180.0
POLL = 0.1
FLAVOR_ID = "bench.net"


def http_boot(ns: NetStack, image_id: str, tag: str) -> tuple[float, float]:
    """(POST → first HTTP answer, POST → address known) in seconds; the server
    is deleted afterwards."""
    http = requests.Session()
    http.trust_env = False
    start = time.monotonic()
    resp = ns.rs.stack.compute("POST", "/servers", {"server": {
        "name": tag, "imageRef": image_id, "flavorRef": FLAVOR_ID}})
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    try:
        address = None
        addressed = 0.0
        deadline = start + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if address is None:
                server = ns.rs.stack.server(sid)
                if server["status"] == "ERROR":
                    raise RuntimeError(f"{sid} in ERROR: {server.get('fault')}")
                addrs = server.get("addresses") or {}
                if addrs:
                    address = next(iter(addrs.values()))[0]["addr"]
                    addressed = time.monotonic() - start
            if address is not None:
                try:
                    page = http.get(f"http://{address}/", timeout=0.3)
                    if page.status_code == 200 and f"uuid={sid}" in page.text:
                        return time.monotonic() - start, addressed
                except requests.RequestException:
                    pass
            time.sleep(POLL)
        raise RuntimeError(f"{sid} did not answer HTTP within {BOOT_TIMEOUT}s")
    finally:
        ns.rs.stack.compute("DELETE", f"/servers/{sid}")
        ns.rs.stack.wait_gone(sid, 120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--boots", type=int, default=5)
    p.add_argument("--memory", type=int, default=tinyguest.RECOMMENDED_RAM_MB)
    p.add_argument("--append-results", action="store_true")
    p.add_argument("--no-wait-quiet", action="store_true")
    p.add_argument("--smoke", action="store_true",
                   help="the test suite's size: one networked novalite boot, no bare QEMU "
                        "side (bench_bare_qemu.py's smoke run boots that), never appended")
    args = p.parse_args(argv)
    lib.install_sigterm()
    if args.smoke:
        args.no_wait_quiet, args.append_results, args.boots = True, False, 0

    build = builder.build(progress=lambda line: print(f"[build] {line}"))
    if not args.no_wait_quiet:
        lib.wait_quiet(max_wait=300)
    load_before = os.getloadavg()
    workdir = tempfile.mkdtemp(prefix="bench-net-boot-")
    ns = NetStack()
    try:
        ns.start()
        from novalite.db import api as db_api

        db_api.flavor_create({"flavorid": FLAVOR_ID, "name": f"bench.net.{args.memory}",
                              "memory_mb": args.memory, "vcpus": 1, "root_gb": 1,
                              "ephemeral_gb": 0, "swap": 0, "rxtx_factor": 1.0,
                              "is_public": True, "disabled": False})
        image_id = ns.rs.images["disk"]["id"]
        first, addressed = http_boot(ns, image_id, "first")
        if args.smoke:
            print(f"smoke: novalite POST → HTTP {first:.2f} s (address in the API after "
                  f"{addressed:.2f} s)")
        else:
            warm = bare_boots(build, workdir, args.memory, 1, "warm")
            print(f"warm-up: novalite (image not cached) {first:.2f} s, bare {warm.span:.2f} s")
        nl: list[tuple[float, float]] = []
        bare: list[float] = []
        for i in range(args.boots):
            bare.append(bare_boots(build, workdir, args.memory, 1, f"bare{i}").span)
            nl.append(http_boot(ns, image_id, f"net{i}"))
            print(f"  boot {i + 1}/{args.boots}: bare → marker {bare[-1]:.2f} s, novalite "
                  f"POST → HTTP {nl[-1][0]:.2f} s (address in the API after {nl[-1][1]:.2f} s)")
    finally:
        problems = ns.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if problems:
        print("NOT CLEAN:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    if args.smoke:
        return 0

    nl_med = statistics.median(t for t, _ in nl)
    bare_med = statistics.median(bare)
    rows = [
        [f"POST/start → ready, median of {args.boots}", f"**{nl_med:.2f} s**",
         f"{bare_med:.2f} s", f"**{nl_med / bare_med:.2f}×**"],
        ["all runs", " ".join(f"{t:.2f}" for t, _ in nl), " ".join(f"{b:.2f}" for b in bare),
         ""],
        ["POST → address shown in the API, median",
         f"{statistics.median(a for _, a in nl):.2f} s", "", ""],
        ["first boot (image not in the cache yet)", f"{first:.2f} s", "", ""],
    ]
    table = lib.md_table(["tiny disk image, one guest at a time",
                          "novalite: POST → first HTTP 200 from the guest",
                          "bare QEMU: start → console marker (no NIC)", "ratio"], rows)
    body = (f"`bench_net_boot.py --boots {args.boots} --memory {args.memory}` (TCG, "
            f"{args.memory} MiB, 1 vCPU; novalite: the whole stack in one process on "
            f"inproc:// + SQLite, libvirtd qemu:///system, a fresh bridge and /24, config "
            f"drive with network_data.json, HTTP polled every {POLL} s; load average before: "
            f"{' '.join(f'{x:.2f}' for x in load_before)})\n\n{table}\n")
    print()
    print(body)
    if args.append_results:
        lib.append_results("Networked boot: POST → first HTTP answer vs bare QEMU", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
