"""Every benchmark that needs no external service, at smoke size (issue 11):
a benchmark that can no longer finish (e.g. every request refused once
identity landed) fails here instead of going unnoticed. Each runs as a
script, as a person would run it; the figures are not checked, only that it
finished, reported, and exited 0. The ones that need RabbitMQ, PostgreSQL or
libvirtd are in tests/integration/test_benchmarks_smoke.py; bench_api_edge's
smoke run is in test_api_edge.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "benchmarks")


def run_bench(tmp_path, script: str, *args: str, timeout: float = 150) -> str:
    out = subprocess.run([sys.executable, os.path.join(BENCH, script), *args],
                         capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, f"{script} exited {out.returncode}:\n{out.stdout[-4000:]}\n" \
                                f"{out.stderr[-4000:]}"
    return out.stdout


@pytest.mark.timeout(180)
def test_bench_boot_allinone_smoke_authenticates_and_lifts_quotas_at_defaults(tmp_path):
    # NOTE: 4 servers on 2 hosts through the all-in-one's own identity (its
    # admin's generated password) and its default quotas, lifted through the
    # API; plus 20 registered hosts that run no service, which the scheduler
    # must weigh and never pick (a build sent there would never finish).
    out = run_bench(tmp_path, "bench_boot.py", "--mode", "allinone", "--smoke",
                    "--registered-hosts", "20")
    assert "| ACTIVE / ERROR / timed out | 4 / 0 / 0 |" in out
    assert "select_destinations` calls" in out and "| 4; " in out
    assert "--registered-hosts 20" in out


@pytest.mark.timeout(60)
def test_bench_inproc_transport_smoke(tmp_path):
    out = run_bench(tmp_path, "bench_inproc_transport.py", "--calls", "30", "--casts", "200",
                    timeout=50)
    lines = {line.split()[0]: line.split() for line in out.splitlines()
             if line.startswith(("inproc://", "fake://"))}
    assert set(lines) == {"inproc://", "fake://"}, out
    assert all(row[2] == "30" and row[4] == "200" for row in lines.values()), out


@pytest.mark.timeout(60)
def test_bench_servers_detail_smoke(tmp_path):
    out = run_bench(tmp_path, "bench_servers_detail.py", "--servers", "20", "--requests", "2",
                    "--no-wait-quiet", timeout=50)
    assert "| GET /servers/detail (all) | 20 |" in out


@pytest.mark.timeout(60)
def test_bench_tokens_smoke(tmp_path):
    out = run_bench(tmp_path, "bench_tokens.py", "--seconds", "0.3", "--threads", "2",
                    "--hash-rounds", "4", "--no-wait-quiet", timeout=50)
    rows = [line for line in out.splitlines() if line.startswith("| issue (password) |")]
    assert len(rows) == 2, out


@pytest.mark.timeout(240)
def test_bench_observability_smoke(tmp_path):
    # NOTE: bench_boot's smoke run with metrics (and the timeline) on, then
    # off, and a few /metrics scrapes as admin and as a member.
    out = run_bench(tmp_path, "bench_observability.py", "--smoke", timeout=220)
    assert "| on (metrics + timeline) |" in out and "| off (both False) |" in out, out
    assert "| admin (everything) |" in out and "| member (own project) |" in out, out
