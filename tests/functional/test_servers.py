"""The whole stack in one process, driven through the HTTP API with the
FakeDriver: the build flow, failures, deletes and power actions."""

import time

from novalite import context as nl_context
from novalite.conf import CONF
from novalite.objects.instance import Instance


def test_boot_list_show_delete(stack):
    server = stack.boot("web-1")
    assert server["id"] and server["adminPass"]
    active = stack.wait_status(server["id"], "ACTIVE")
    assert active["name"] == "web-1"
    assert active["OS-EXT-STS:vm_state"] == "active"
    assert active["OS-EXT-STS:power_state"] == 1
    assert active["OS-EXT-SRV-ATTR:host"] == "host1"
    assert active["flavor"]["id"] == "1" and active["image"]["id"] == stack.image_id
    listed = stack.compute("GET", "/servers").json()["servers"]
    assert [s["id"] for s in listed] == [server["id"]]
    detail = stack.compute("GET", "/servers/detail?name=^web").json()["servers"]
    assert [s["name"] for s in detail] == ["web-1"]
    assert stack.compute("GET", "/servers/detail?name=^db").json()["servers"] == []
    resp = stack.compute("DELETE", f"/servers/{server['id']}")
    assert resp.status_code == 204
    stack.wait_gone(server["id"])
    assert stack.compute("GET", "/servers").json()["servers"] == []


def test_every_state_transition_is_persisted(stack):
    CONF.set_override("spawn_delay", 0.3, group="fake_driver")
    try:
        server = stack.boot("slow")
        seen = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            s = stack.server(server["id"])
            state = (s["OS-EXT-STS:vm_state"], s["OS-EXT-STS:task_state"])
            if not seen or seen[-1] != state:
                seen.append(state)
            if state == ("active", None):
                break
            time.sleep(0.005)
    finally:
        CONF.clear_override("spawn_delay", group="fake_driver")
    assert seen[-1] == ("active", None)
    assert ("building", "spawning") in seen
    # every state seen is one of the build path's, in order
    order = [("building", "scheduling"), ("building", "networking"),
             ("building", "block_device_mapping"), ("building", "spawning"), ("active", None)]
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen)


def test_delete_during_build_leaves_nothing(make_stack):
    stack = make_stack(computes=[("host1", "fake.HangingSpawnDriver")])
    server = stack.boot("hang")
    stack.wait_for(server["id"], lambda s: s.get("OS-EXT-STS:task_state") == "spawning",
                   what="spawning")
    assert stack.compute("DELETE", f"/servers/{server['id']}").status_code == 204
    stack.wait_gone(server["id"])
    driver = stack.computes["host1"].manager.driver
    assert driver.list_instance_uuids() == []
    node = stack.computes["host1"].manager.rt
    assert node._claims == {}


def test_delete_before_scheduling_is_local(make_stack):
    stack = make_stack(computes=[])
    server = stack.boot("nohost")
    # no compute host: scheduling fails (ERROR) or is still pending; both delete
    assert stack.compute("DELETE", f"/servers/{server['id']}").status_code == 204
    stack.wait_gone(server["id"])


def test_spawn_failure_is_error_with_fault(make_stack):
    stack = make_stack(computes=[("host1", "fake.AlwaysFailingSpawnDriver")])
    server = stack.boot("doomed")
    s = stack.wait_status(server["id"], "ERROR")
    assert s["fault"]["code"] == 500
    assert "injected failure: this host cannot spawn" in s["fault"]["message"]
    assert "Traceback" in s["fault"]["details"]
    assert s["OS-EXT-STS:task_state"] is None
    # an ERROR instance can be deleted
    assert stack.compute("DELETE", f"/servers/{server['id']}").status_code == 204
    stack.wait_gone(server["id"])


def test_retryable_failure_reschedules_to_the_second_host(make_stack):
    # NOTE: equal hosts weigh the same and keep their registration order, so
    # host1 (which fails its first spawn) is tried first.
    stack = make_stack(computes=[("host1", "fake.FailingFirstSpawnDriver"),
                                 ("host2", "fake.FakeDriver")])
    server = stack.boot("retry")
    s = stack.wait_status(server["id"], "ACTIVE")
    ctxt = nl_context.get_admin_context()
    inst = Instance.get_by_uuid(ctxt, server["id"])
    assert inst.build_attempts == ["host1", "host2"]
    assert s["OS-EXT-SRV-ATTR:host"] == "host2"


def test_reschedules_end_in_error_after_max_attempts(make_stack):
    stack = make_stack(computes=[("host1", "fake.FailingFirstSpawnDriver"),
                                 ("host2", "fake.FailingFirstSpawnDriver")],
                       overrides={("scheduler", "max_attempts"): 1})
    server = stack.boot("once")
    s = stack.wait_status(server["id"], "ERROR")
    assert "Exceeded maximum number of retries" in s["fault"]["message"]
    assert "injected failure" in s["fault"]["message"]


def test_no_valid_host_says_which_filter_removed_which_hosts(make_stack):
    stack = make_stack(computes=[("host1", "fake.FakeDriver")],
                       overrides={("fake_driver", "memory_mb"): 1024,
                                  (None, "ram_allocation_ratio"): 1.0})
    server = stack.boot("big", flavor="3")
    s = stack.wait_status(server["id"], "ERROR")
    msg = s["fault"]["message"]
    assert msg.startswith("No valid host was found.")
    assert "m1.medium" in msg and "RamFilter removed 1 of 1 host" in msg and "host1" in msg


def test_availability_zone(stack):
    bad = stack.compute("POST", "/servers", {"server": {
        "name": "az", "flavorRef": "1", "imageRef": stack.image_id,
        "availability_zone": "mars"}})
    assert bad.status_code == 400 and "mars" in bad.json()["badRequest"]["message"]
    ok = stack.boot("az", availability_zone="nova")
    assert stack.wait_status(ok["id"], "ACTIVE")["OS-EXT-AZ:availability_zone"] == "nova"


def test_stop_start_reboot(stack):
    server = stack.boot("power")
    stack.wait_status(server["id"], "ACTIVE")
    act = lambda body: stack.compute("POST", f"/servers/{server['id']}/action", body)  # noqa: E731
    assert act({"os-stop": None}).status_code == 202
    s = stack.wait_status(server["id"], "SHUTOFF")
    assert s["OS-EXT-STS:power_state"] == 4
    # stopping a stopped server is a conflict, not a crash
    conflict = act({"os-stop": None})
    assert conflict.status_code == 409
    assert "conflictingRequest" in conflict.json()
    assert act({"os-start": None}).status_code == 202
    s = stack.wait_status(server["id"], "ACTIVE")
    assert s["OS-EXT-STS:power_state"] == 1
    for kind in ("SOFT", "HARD"):
        assert act({"reboot": {"type": kind}}).status_code == 202
        stack.wait_status(server["id"], "ACTIVE")
    out = act({"os-getConsoleOutput": {"length": 5}})
    assert out.status_code == 200 and "rebooted (HARD)" in out.json()["output"]


def test_many_servers_in_one_request_are_named_and_spread(make_stack):
    stack = make_stack(computes=[("host1", "fake.FakeDriver"), ("host2", "fake.FakeDriver")])
    resp = stack.compute("POST", "/servers", {"server": {
        "name": "batch", "flavorRef": "1", "imageRef": stack.image_id,
        "min_count": 6, "max_count": 6, "return_reservation_id": True}})
    assert resp.status_code == 202, resp.text
    assert resp.json()["reservation_id"].startswith("r-")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        servers = stack.compute("GET", "/servers/detail").json()["servers"]
        if len(servers) == 6 and all(s["status"] == "ACTIVE" for s in servers):
            break
        time.sleep(0.05)
    assert sorted(s["name"] for s in servers) == [f"batch-{i}" for i in range(1, 7)]
    assert {s["OS-EXT-SRV-ATTR:host"] for s in servers} == {"host1", "host2"}


def test_bad_requests_are_4xx_with_clear_messages(stack):
    cases = [
        ({"server": {"name": "x", "flavorRef": "999", "imageRef": stack.image_id}},
         400, "Flavor 999 could not be found"),
        ({"server": {"name": "x", "flavorRef": "1",
                     "imageRef": "6a7f0f46-0000-4000-8000-000000000000"}},
         400, "6a7f0f46-0000-4000-8000-000000000000"),
        ({"server": {"name": "   ", "flavorRef": "1", "imageRef": stack.image_id}},
         400, "name"),
        ({"server": {"name": "x" * 256, "flavorRef": "1", "imageRef": stack.image_id}},
         400, "name"),
        ({"server": {"flavorRef": "1", "imageRef": stack.image_id}}, 400, "name"),
        ({"nothing": {}}, 400, "server"),
    ]
    for body, code, text in cases:
        resp = stack.compute("POST", "/servers", body)
        assert resp.status_code == code, (body, resp.text)
        assert text in resp.json()["badRequest"]["message"], (body, resp.text)
    bad_json = stack.compute("POST", "/servers", raw=b"{not json",
                             headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert "Malformed request body" in bad_json.json()["badRequest"]["message"]
    missing = stack.compute("GET", "/servers/6a7f0f46-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert "could not be found" in missing.json()["itemNotFound"]["message"]
    assert stack.compute("POST", "/servers/6a7f0f46-0000-4000-8000-000000000000/action",
                         {"os-stop": None}).status_code == 404
    # nothing was created by any of them, and the API still serves
    assert stack.compute("GET", "/servers").json()["servers"] == []


def test_request_id_reaches_every_service_log(stack):
    """The id the API returns is on the conductor's, scheduler's and
    compute's log lines for that request (oslo.log's context formatter)."""
    import io
    import logging

    from oslo_log import formatters

    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(formatters.ContextFormatter(config=CONF))
    logger = logging.getLogger("novalite")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        resp = stack.compute("POST", "/servers", {"server": {
            "name": "traced", "flavorRef": "1", "imageRef": stack.image_id}})
        req_id = resp.headers["x-openstack-request-id"]
        assert req_id.startswith("req-")
        stack.wait_status(resp.json()["server"]["id"], "ACTIVE")
        # NOTE: compute logs "is active" just after it saved the state the
        # API already shows.
        deadline = time.monotonic() + 10
        while "is active on host1" not in buf.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = buf.getvalue().splitlines()
    compute_line = [ln for ln in lines if "is active on host1" in ln]
    sched_line = [ln for ln in lines if "novalite.scheduler.manager" in ln and "Scheduled" in ln]
    assert compute_line and req_id in compute_line[0], compute_line
    assert sched_line and req_id in sched_line[0], sched_line


def test_power_state_sync_notices_a_guest_that_shut_itself_down(make_stack):
    stack = make_stack(overrides={("compute", "sync_power_state_interval"): 1})
    server = stack.boot("sync")
    stack.wait_status(server["id"], "ACTIVE")
    stack.computes["host1"].manager.driver.simulate_guest_shutdown(server["id"])
    s = stack.wait_status(server["id"], "SHUTOFF", timeout=15)
    assert s["OS-EXT-STS:power_state"] == 4


def test_power_state_sync_puts_a_vanished_guest_in_error(make_stack):
    stack = make_stack(overrides={("compute", "sync_power_state_interval"): 1})
    server = stack.boot("gone")
    stack.wait_status(server["id"], "ACTIVE")
    stack.computes["host1"].manager.driver.simulate_guest_vanished(server["id"])
    s = stack.wait_status(server["id"], "ERROR", timeout=15)
    assert "disappeared" in s["fault"]["message"]


def test_a_build_past_its_deadline_ends_in_error(make_stack):
    stack = make_stack(computes=[("host1", "fake.HangingSpawnDriver")],
                       overrides={("compute", "build_timeout"): 2,
                                  ("compute", "deadline_check_interval"): 1})
    server = stack.boot("late")
    s = stack.wait_status(server["id"], "ERROR", timeout=20)
    assert "spawning did not finish within 2 seconds on host1" in s["fault"]["message"]
    assert stack.computes["host1"].manager.driver.list_instance_uuids() == []


def test_an_instance_no_host_took_ends_in_error(make_stack):
    """A build whose cast was lost stays unscheduled; the conductor's
    deadline check ends it in ERROR."""
    from novalite.compute import power_state, task_states, vm_states

    stack = make_stack(overrides={("conductor", "scheduling_timeout"): 1,
                                  ("compute", "deadline_check_interval"): 1})
    ctxt = nl_context.get_admin_context()
    lost = Instance(context=ctxt, display_name="lost", project_id="admin", user_id="admin",
                    vm_state=vm_states.BUILDING, task_state=task_states.SCHEDULING,
                    power_state=power_state.NOSTATE, image_ref=stack.image_id)
    lost.create()
    s = stack.wait_status(lost.uuid, "ERROR", timeout=15)
    assert "not scheduled within 1 seconds" in s["fault"]["message"]


def test_a_stopped_compute_shows_down_and_gets_no_builds(make_stack):
    stack = make_stack(computes=[("host1", "fake.FakeDriver"), ("host2", "fake.FakeDriver")])
    stack.stop_compute("host1")
    services = stack.compute("GET", "/os-services").json()["services"]
    state = {s["host"]: s["state"] for s in services if s["binary"] == "nova-compute"}
    assert state == {"host1": "down", "host2": "up"}
    ids = [stack.boot(f"after-{i}")["id"] for i in range(4)]
    for sid in ids:
        assert stack.wait_status(sid, "ACTIVE")["OS-EXT-SRV-ATTR:host"] == "host2"


def test_a_build_on_a_host_that_went_down_ends_in_error(make_stack):
    from novalite.compute import power_state, task_states, vm_states

    stack = make_stack(overrides={("compute", "build_timeout"): 1,
                                  ("compute", "deadline_check_interval"): 1})
    ctxt = nl_context.get_admin_context()
    orphan = Instance(context=ctxt, display_name="orphan", project_id="admin",
                      user_id="admin", host="vanished-host", vm_state=vm_states.BUILDING,
                      task_state=task_states.SPAWNING, power_state=power_state.NOSTATE,
                      image_ref=stack.image_id)
    orphan.create()
    s = stack.wait_status(orphan.uuid, "ERROR", timeout=15)
    assert "vanished-host went down during the build" in s["fault"]["message"]


def test_compute_restart_reconciles_guests(make_stack, caplog):
    """After a restart: a guest with no instance is reported, a guest that
    vanished is ERROR, the rest stays as it was, nothing is transitional."""
    import logging

    stack = make_stack()
    keep = stack.boot("keep")
    gone = stack.boot("gone")
    stack.wait_status(keep["id"], "ACTIVE")
    stack.wait_status(gone["id"], "ACTIVE")
    hypervisor = stack.computes["host1"].manager.driver
    stack.stop_compute("host1")
    # behind the stopped service's back:
    hypervisor.simulate_guest_vanished(gone["id"])
    hypervisor.simulate_foreign_guest("0b3b1f0e-1111-4222-8333-444455556666")
    caplog.set_level(logging.WARNING)
    stack.start_compute("host1")
    assert any("0b3b1f0e-1111-4222-8333-444455556666" in r.getMessage()
               and "belongs to no instance" in r.getMessage() for r in caplog.records)
    assert stack.server(keep["id"])["status"] == "ACTIVE"
    s = stack.wait_status(gone["id"], "ERROR", timeout=10)
    assert "disappeared" in s["fault"]["message"]


def test_reap_orphans_removes_foreign_guests(make_stack):
    stack = make_stack(overrides={("compute", "reap_orphans"): True})
    hypervisor = stack.computes["host1"].manager.driver
    stack.stop_compute("host1")
    hypervisor.simulate_foreign_guest("0b3b1f0e-1111-4222-8333-444455556666")
    stack.start_compute("host1")
    assert stack.computes["host1"].manager.driver.list_instance_uuids() == []
