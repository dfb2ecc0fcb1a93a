"""The benchmarks that need RabbitMQ, PostgreSQL or libvirtd, at smoke size
(issue 11): each runs as a script and must finish and exit 0 (the service
missing is a failure, never a skip). The real-guest ones boot one guest
each, and only one of them boots bare QEMU (bench_bare_qemu); the others'
--smoke leave their bare side out. The rest are in
tests/functional/test_benchmarks_smoke.py."""

from __future__ import annotations

import pytest

from tests.functional.test_benchmarks_smoke import run_bench


@pytest.mark.timeout(180)
def test_bench_boot_multiprocess_smoke_on_rabbitmq_and_postgresql(tmp_path):
    # NOTE: the real binaries with identity on (a user made with
    # novalite-manage logs in with its password) and the default quotas,
    # lifted through the API.
    out = run_bench(tmp_path, "bench_boot.py", "--mode", "multiprocess", "--smoke")
    assert "| ACTIVE / ERROR / timed out | 4 / 0 / 0 |" in out
    assert "| scheduler |" in out and "| api |" in out


@pytest.mark.timeout(180)
def test_bench_ping_smoke(tmp_path):
    out = run_bench(tmp_path, "bench_ping.py", "--smoke")
    rows = [line for line in out.splitlines() if line.startswith("| novalite client")
            or line.startswith("| bare client")]
    assert len(rows) == 4, out
    assert all(row.rstrip(" |").endswith("| 0") for row in rows), out


@pytest.mark.timeout(240)
def test_bench_bare_qemu_smoke_one_boot(tmp_path):
    out = run_bench(tmp_path, "bench_bare_qemu.py", "--boots", "1", timeout=220)
    assert "disk boot 1/1: marker after" in out


@pytest.mark.timeout(240)
def test_bench_real_boot_smoke_one_boot(tmp_path):
    out = run_bench(tmp_path, "bench_real_boot.py", "--smoke", timeout=220)
    assert "smoke: novalite POST → marker" in out


@pytest.mark.timeout(240)
def test_bench_net_boot_smoke_one_boot(tmp_path):
    out = run_bench(tmp_path, "bench_net_boot.py", "--smoke", timeout=220)
    assert "smoke: novalite POST → HTTP" in out


@pytest.mark.timeout(150)
def test_bench_lifecycle_smoke_snapshot_and_resize(tmp_path):
    # NOTE: one run of each step on one guest; the script itself fails when
    # the driver took another snapshot path than the one measured, when the
    # resized guest lacks the new disk/vCPU/RAM, or when anything is left.
    out = run_bench(tmp_path, "bench_lifecycle.py", "--smoke", timeout=140)
    assert "run 1/1: snapshot bare" in out
    for row in ("| snapshot, agent path", "| snapshot, pause path", "| resize 1→2 GiB",
                "| revert "):
        assert row in out, out
    assert "Noise: " in out


@pytest.mark.timeout(480)
def test_bench_network_smoke_http_on_a_floating_ip(tmp_path):
    # NOTE: the all-in-one (its own process, dataplane = vxlan, the real
    # libvirt driver) boots the tiny guest once, its floating IP associated
    # as soon as the port exists, and the host reads the guest's uuid over
    # HTTP on that address; no Debian side (minutes under TCG). The script
    # itself fails when a domain, link, namespace, nftables table or route
    # of its data plane prefix is left.
    out = run_bench(tmp_path, "bench_network.py", "--smoke", timeout=460)
    assert "smoke: novalite POST → HTTP on the floating IP" in out, out
    assert "(a) run 1/1: POST → HTTP on the floating IP" in out, out


@pytest.mark.timeout(240)
def test_bench_volume_smoke_nbd_local_and_bare(tmp_path):
    # NOTE: one tiny guest through the LibvirtDriver; a volume over NBD
    # (qemu-storage-daemon), then the same file attached locally, then the
    # bare file on the host: one small pass of each. The script itself
    # fails when the guest's watcher saw a change before it was asked for,
    # when the I/O tool did fewer operations than asked, or when a domain,
    # an export daemon, its nftables table or a file is left.
    out = run_bench(tmp_path, "bench_volume.py", "--smoke", timeout=220)
    for row in ("| guest, NBD (qemu-storage-daemon, 127.0.0.1) |", "| guest, local file |",
                "| host, bare file, O_DIRECT |", "| attach call → disk in the guest |",
                "| detach call → gone from the guest |"):
        assert row in out, out
    assert "attach 1/1 nbd: attach → in guest" in out, out
    assert "attach 1/1 local: attach → in guest" in out, out
    assert "Noise: " in out, out
