"""GET /metrics on the in-process stack (FakeDriver): parsed with
prometheus_client's own parser; what a boot moves (request latency, build
steps, per-project usage, per-instance counters); what a member of one
project sees (their project's series only, never another's); no token: 401."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.functional.stack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: Any) -> Iterator[Stack]:
    s = Stack(str(tmp_path_factory.mktemp("metrics")), auth="novalite",
              overrides={("metrics", "instance_stats_interval"): 1}).start()
    try:
        yield s
    finally:
        s.stop()


def _member(stack: Stack, name: str, project: str) -> tuple[requests.Session, str]:
    user = stack.make_user(name, project, "member")
    return stack.login(name, user["password"], project), str(user["project_id"])


@pytest.fixture(scope="module")
def project_a(stack: Stack) -> tuple[requests.Session, str]:
    return _member(stack, "metrics-a", "metrics-project-a")


@pytest.fixture(scope="module")
def project_b(stack: Stack) -> tuple[requests.Session, str]:
    return _member(stack, "metrics-b", "metrics-project-b")


Samples = list[tuple[str, dict[str, str], float]]


def scrape(stack: Stack, session: requests.Session | None = None) -> Samples:
    resp = stack.request("GET", "/metrics", session=session)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(resp.text)
            for s in family.samples]


def value(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples ``name`` whose labels include ``labels`` (0 if none)."""
    return sum(v for n, lab, v in samples
               if n == name and all(lab.get(k) == want for k, want in labels.items()))


def boot_as(stack: Stack, session: requests.Session, name: str) -> str:
    body = {"server": {"name": name, "flavorRef": "1", "imageRef": stack.image_id,
                       "networks": "none"}}
    resp = stack.compute("POST", "/servers", body, session=session,
                         headers={"OpenStack-API-Version": "compute 2.37"})
    assert resp.status_code == 202, resp.text
    server_id = str(resp.json()["server"]["id"])
    stack.wait_status(server_id, "ACTIVE")
    return server_id


def wait_metric(stack: Stack, name: str, timeout: float = 15.0, **labels: str) -> Samples:
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(stack)
        if value(samples, name, **labels) > 0 or time.monotonic() > deadline:
            return samples
        time.sleep(0.2)


@pytest.fixture(scope="module")
def servers(stack: Stack, project_a: tuple[requests.Session, str],
            project_b: tuple[requests.Session, str]) -> dict[str, str]:
    before = scrape(stack)
    a_id = boot_as(stack, project_a[0], "metrics-a-vm")
    b_id = boot_as(stack, project_b[0], "metrics-b-vm")
    return {"a": a_id, "b": b_id, "before_posts": str(value(
        before, "novalite_api_request_seconds_count", method="POST",
        route="/compute/v2.1/servers", status="202"))}


def test_no_token_is_401_in_the_api_error_format(stack: Stack) -> None:
    resp = requests.get(stack.base_url + "/metrics", timeout=10)
    assert resp.status_code == 401
    assert "unauthorized" in resp.json()


def test_a_boot_moves_request_latency_steps_and_usage(stack: Stack, servers: dict[str, str],
                                                      project_a: tuple[requests.Session, str],
                                                      ) -> None:
    samples = wait_metric(stack, "novalite_instance_cpu_seconds_total", instance=servers["a"])
    posts = value(samples, "novalite_api_request_seconds_count", api="compute", method="POST",
                  route="/compute/v2.1/servers", status="202")
    assert posts == float(servers["before_posts"]) + 2
    # NOTE: by template: no series carries a server's id in its route.
    routes = {lab["route"] for n, lab, _v in samples if n == "novalite_api_request_seconds_count"}
    assert "/compute/v2.1/servers/{id}" in routes
    assert not any(servers["a"] in r for r in routes)
    assert value(samples, "novalite_instance_step_seconds_count", result="Success") > 0
    assert value(samples, "novalite_rpc_client_seconds_count", topic="conductor") > 0
    project = project_a[1]
    assert value(samples, "novalite_project_usage", project_id=project,
                 resource="instances") == 1
    assert value(samples, "novalite_project_usage", project_id=project, resource="cores") >= 1
    assert value(samples, "novalite_project_quota_limit", project_id=project,
                 resource="instances") == 10
    assert value(samples, "novalite_instance_memory_bytes", instance=servers["a"],
                 project_id=project) > 0
    # NOTE: admin-only families are there for the admin.
    assert value(samples, "novalite_host_capacity", host="host1", resource="vcpus") > 0
    assert value(samples, "novalite_host_allocated", host="host1", resource="vcpus") >= 2
    assert value(samples, "novalite_service_up", binary="novalite-compute", host="host1") == 1
    assert any(n == "novalite_bus_queue_depth" for n, _l, _v in samples)


def test_member_sees_only_their_project(stack: Stack, servers: dict[str, str],
                                        project_a: tuple[requests.Session, str],
                                        project_b: tuple[requests.Session, str]) -> None:
    wait_metric(stack, "novalite_instance_cpu_seconds_total", instance=servers["b"])
    session, project = project_a
    samples = scrape(stack, session)
    assert samples, "a member sees their own project's series"
    assert {lab.get("project_id") for _n, lab, _v in samples} == {project}
    assert value(samples, "novalite_project_usage", project_id=project,
                 resource="instances") == 1
    assert value(samples, "novalite_instance_cpu_seconds_total", instance=servers["a"]) >= 0
    assert any(lab.get("instance") == servers["a"] for _n, lab, _v in samples)
    text = stack.request("GET", "/metrics", session=session).text
    assert servers["b"] not in text and project_b[1] not in text
    names = {n for n, _l, _v in samples}
    assert not names & {"novalite_host_capacity", "novalite_service_up",
                        "novalite_api_request_seconds_count", "novalite_bus_queue_depth"}
