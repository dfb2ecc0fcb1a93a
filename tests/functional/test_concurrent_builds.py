"""200 concurrent builds on the all-in-one with its defaults (issue 11): all
ACTIVE, none ERROR.

A correctness test with a generous bound, not a timing test (the speed is
``benchmarks/bench_boot.py``'s business). The real ``novalite-all-in-one``
binary with nothing but ``--state-dir``, ``--port`` and ``--driver fake``
(one FakeDriver host, every option at its default); the client logs in as
the all-in-one's admin with the password it generated, lifts the project's
quotas through ``os-quota-sets`` as an operator would, POSTs 200 servers from
16 threads at once, then deletes them all. The old all-in-one failed exactly
load: its conductor's RPC pool starved under 200 builds and most of them
ended in ERROR after 60 s RPC timeouts (benchmarks/RESULTS.md, 2026-11-24)."""

from __future__ import annotations

import concurrent.futures
import os
import time

import pytest
import requests

from tests.functional.test_openstack_cli import AllInOne, all_in_one  # noqa: F401 (fixture)

pytestmark = pytest.mark.process

SERVERS = 200
THREADS = 16
BOUND = 600.0  # seconds for all builds to settle: generous, not a speed target


def _login(base: str, state_dir: str) -> tuple[requests.Session, str]:
    with open(os.path.join(state_dir, "admin-password")) as f:
        password = f.read().strip()
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    resp = requests.post(base + "/identity/v3/auth/tokens", json=body, timeout=60)
    assert resp.status_code == 201, resp.text
    session = requests.Session()
    session.trust_env = False
    session.headers["X-Auth-Token"] = resp.headers["X-Subject-Token"]
    return session, resp.json()["token"]["project"]["id"]


def _statuses(session: requests.Session, compute: str) -> dict[str, dict]:
    resp = session.get(compute + "/servers/detail", timeout=120)
    assert resp.status_code == 200, resp.text
    return {s["id"]: s for s in resp.json()["servers"]}


def test_200_concurrent_builds_at_defaults_all_become_active(all_in_one):  # noqa: F811
    aio = all_in_one
    base = f"http://127.0.0.1:{aio.port}"
    compute = base + "/compute/v2.1"
    session, project = _login(base, aio.state_dir)
    resp = session.put(f"{compute}/os-quota-sets/{project}", timeout=60, json={
        "quota_set": {"instances": SERVERS, "cores": SERVERS, "ram": SERVERS * 512}})
    assert resp.status_code == 200, resp.text
    image = session.get(base + "/image/v2/images", timeout=60).json()["images"][0]["id"]
    flavor = session.get(compute + "/flavors/1", timeout=60).json()["flavor"]
    assert flavor["vcpus"] == 1 and flavor["ram"] <= 512, flavor

    def client() -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        s.headers.update(session.headers)
        return s

    def post(i: int) -> tuple[int, str]:
        r = client().post(compute + "/servers", timeout=120, json={"server": {
            "name": f"many-{i}", "flavorRef": "1", "imageRef": image}})
        return r.status_code, r.json()["server"]["id"] if r.status_code == 202 else r.text

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(post, range(SERVERS)))
    refused = [text for code, text in answers if code != 202]
    assert not refused, f"{len(refused)} POSTs refused, e.g. {refused[:3]}"
    ids = {text for _code, text in answers}
    assert len(ids) == SERVERS

    deadline = time.monotonic() + BOUND
    servers = _statuses(session, compute)
    while time.monotonic() < deadline:
        servers = _statuses(session, compute)
        if all(servers[i]["status"] in ("ACTIVE", "ERROR") for i in ids):
            break
        time.sleep(1)
    counts: dict[str, int] = {}
    for i in ids:
        counts[servers[i]["status"]] = counts.get(servers[i]["status"], 0) + 1
    faults = [servers[i].get("fault") for i in ids if servers[i]["status"] == "ERROR"]
    assert counts == {"ACTIVE": SERVERS}, (
        f"after {BOUND:.0f} s: {counts}; faults: {faults[:5]}\n{aio.tail()}")

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        codes = list(pool.map(lambda i: client().delete(f"{compute}/servers/{i}",
                                                        timeout=120).status_code, ids))
    assert set(codes) == {204}, codes
    deadline = time.monotonic() + BOUND
    while _statuses(session, compute) and time.monotonic() < deadline:
        time.sleep(1)
    assert _statuses(session, compute) == {}
