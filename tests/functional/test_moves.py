"""Resize, cold migration, evacuation and live migration through the HTTP API
on two FakeDriver computes (issue 12 item 3): the server's states and host,
its flavor, the claims on both hosts (os-hypervisors), the migration records
and their statuses (/os-migrations), the instance actions and their events,
and Nova's errors."""

from __future__ import annotations

import time
from typing import Any

import pytest

from novalite.virt import fake

TWO = [("hosta", "fake.FakeDriver"), ("hostb", "fake.FakeDriver")]
V = "OpenStack-API-Version"


def _mv(version: str) -> dict[str, str]:
    return {V: f"compute {version}"}


def _action(s: Any, sid: str, body: dict, version: str = "2.1") -> Any:
    return s.compute("POST", f"/servers/{sid}/action", body, headers=_mv(version))


def _used_ram(s: Any) -> dict[str, int]:
    hypervisors = s.compute("GET", "/os-hypervisors/detail").json()["hypervisors"]
    return {h["hypervisor_hostname"]: h["memory_mb_used"] for h in hypervisors}


def _wait_ram(s: Any, expected: dict[str, int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while _used_ram(s) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _used_ram(s) == expected


def _migrations(s: Any, version: str = "2.80", **query: str) -> list[dict]:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    resp = s.compute("GET", "/os-migrations" + (f"?{q}" if q else ""), headers=_mv(version))
    assert resp.status_code == 200, resp.text
    return list(resp.json()["migrations"])


def _wait_migration(s: Any, sid: str, status: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    found: list[dict] = []
    while time.monotonic() < deadline:
        found = _migrations(s, instance_uuid=sid)
        if found and found[0]["status"] == status:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"migration of {sid} never reached {status}: {found}")


def _events(s: Any, sid: str, action: str, timeout: float = 20.0) -> dict[str, str | None]:
    """``{event: result}`` of the server's action, once every event has a
    result (or at the deadline, as they are then). The compute records an
    event's result when the step it wraps returns (Nova's
    wrap_instance_event), after the step saved the server's state and the
    migration's status: a test that waited for those can look a moment
    before the result is there (seen under load: confirmResize's event
    still None after the migration was 'confirmed')."""
    deadline = time.monotonic() + timeout
    events: dict[str, str | None] = {}
    while True:
        actions = s.compute("GET", f"/servers/{sid}/os-instance-actions").json()[
            "instanceActions"]
        req = next((a["request_id"] for a in actions if a["action"] == action), None)
        if req is not None:
            detail = s.compute("GET", f"/servers/{sid}/os-instance-actions/{req}",
                               headers=_mv("2.51")).json()["instanceAction"]
            events = {e["event"]: e["result"] for e in detail["events"]}
            if events and None not in events.values():
                return events
        if time.monotonic() > deadline:
            return events
        time.sleep(0.05)


def _host(server: dict) -> str:
    return str(server["OS-EXT-SRV-ATTR:host"])


def _guest(host: str, sid: str) -> Any:
    return fake.FakeDriver._hypervisors.get(host, {}).get(sid)


@pytest.fixture
def two(make_stack):
    return make_stack(computes=TWO)


def _boot(s: Any, flavor: str = "1") -> tuple[str, str]:
    sid = s.boot("mover", flavor=flavor)["id"]
    return sid, _host(s.wait_status(sid, "ACTIVE"))


def test_resize_to_another_host_then_confirm(two):
    s = two
    sid, source = _boot(s)
    dest = "hostb" if source == "hosta" else "hosta"
    assert _action(s, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    server = s.wait_status(sid, "VERIFY_RESIZE")
    assert _host(server) == dest and server["flavor"]["id"] == "2"
    assert server["OS-EXT-STS:vm_state"] == "resized"
    # NOTE: the source keeps its claim of the old flavor until confirm.
    _wait_ram(s, {source: 512, dest: 2048})
    migration = _wait_migration(s, sid, "finished")
    assert (migration["source_compute"], migration["dest_compute"]) == (source, dest)
    assert migration["migration_type"] == "resize"
    assert migration["old_instance_type_id"] != migration["new_instance_type_id"]
    assert migration["user_id"] == "admin" and migration["uuid"]
    guest = _guest(dest, sid)
    assert (guest.memory_mb, guest.vcpus) == (2048, 1) and guest.disk_gb == 20
    assert _guest(source, sid).resize_from is not None
    assert _events(s, sid, "resize") == {
        "cold_migrate": "Success", "compute_prep_resize": "Success",
        "compute_resize_instance": "Success", "compute_finish_resize": "Success"}

    assert _action(s, sid, {"confirmResize": None}).status_code == 204
    server = s.wait_status(sid, "ACTIVE")
    assert _host(server) == dest and server["flavor"]["id"] == "2"
    _wait_migration(s, sid, "confirmed")
    _wait_ram(s, {source: 0, dest: 2048})
    assert _guest(source, sid) is None
    assert _events(s, sid, "confirmResize") == {"compute_confirm_resize": "Success"}
    # NOTE: confirmed: a second confirm finds nothing to confirm (409: not resized).
    assert _action(s, sid, {"confirmResize": None}).status_code == 409


def test_resize_then_revert_puts_it_back(two):
    s = two
    sid, source = _boot(s)
    dest = "hostb" if source == "hosta" else "hosta"
    assert _action(s, sid, {"resize": {"flavorRef": "3"}}).status_code == 202
    s.wait_status(sid, "VERIFY_RESIZE")
    _wait_ram(s, {source: 512, dest: 4096})
    assert _action(s, sid, {"revertResize": None}).status_code == 202
    server = s.wait_status(sid, "ACTIVE")
    assert _host(server) == source and server["flavor"]["id"] == "1"
    assert _wait_migration(s, sid, "reverted")["migration_type"] == "resize"
    _wait_ram(s, {source: 512, dest: 0})
    guest = _guest(source, sid)
    assert (guest.memory_mb, guest.resize_from) == (512, None)
    assert _guest(dest, sid) is None
    assert _events(s, sid, "revertResize") == {"compute_revert_resize": "Success",
                                                "compute_finish_revert_resize": "Success"}


def test_resize_of_a_stopped_server_stays_stopped(two):
    s = two
    sid, _source = _boot(s)
    assert _action(s, sid, {"os-stop": None}).status_code == 202
    s.wait_status(sid, "SHUTOFF")
    assert _action(s, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    assert s.wait_status(sid, "VERIFY_RESIZE")["OS-EXT-STS:power_state"] == 4
    assert _action(s, sid, {"confirmResize": None}).status_code == 204
    s.wait_status(sid, "SHUTOFF")


def test_same_host_resize_needs_the_option(make_stack):
    s = make_stack(computes=[("solo", "fake.FakeDriver")])
    sid, _ = _boot(s)
    assert _action(s, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    server = s.wait_for(sid, lambda x: x["OS-EXT-STS:task_state"] is None
                        and x["status"] == "ACTIVE", what="back to ACTIVE")
    assert server["flavor"]["id"] == "1"
    events = _events(s, sid, "resize")
    assert events == {"cold_migrate": "Error"}
    assert _migrations(s, instance_uuid=sid) == []


def test_same_host_resize_confirm_and_revert(make_stack):
    s = make_stack(computes=[("solo", "fake.FakeDriver")],
                   overrides={(None, "allow_resize_to_same_host"): True})
    sid, _ = _boot(s)
    assert _action(s, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    s.wait_status(sid, "VERIFY_RESIZE")
    # NOTE: both flavors are claimed on the one host until confirm.
    _wait_ram(s, {"solo": 512 + 2048})
    assert _action(s, sid, {"confirmResize": None}).status_code == 204
    s.wait_status(sid, "ACTIVE")
    _wait_ram(s, {"solo": 2048})
    assert _guest("solo", sid).memory_mb == 2048
    assert _action(s, sid, {"resize": {"flavorRef": "3"}}).status_code == 202
    s.wait_status(sid, "VERIFY_RESIZE")
    _wait_ram(s, {"solo": 2048 + 4096})
    assert _guest("solo", sid).memory_mb == 4096
    assert _action(s, sid, {"revertResize": None}).status_code == 202
    server = s.wait_status(sid, "ACTIVE")
    assert server["flavor"]["id"] == "2" and _guest("solo", sid).memory_mb == 2048
    _wait_ram(s, {"solo": 2048})


def test_auto_confirm_after_the_window(make_stack):
    s = make_stack(computes=TWO, overrides={("compute", "resize_confirm_window"): 1})
    sid, source = _boot(s)
    assert _action(s, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    s.wait_for(sid, lambda x: x["status"] in ("VERIFY_RESIZE", "ACTIVE")
               and x["flavor"]["id"] == "2", what="resized")
    server = s.wait_status(sid, "ACTIVE", timeout=15)
    assert _host(server) != source
    _wait_migration(s, sid, "confirmed")
    assert _guest(source, sid) is None
    assert _events(s, sid, "confirmResize") == {"compute_confirm_resize": "Success"}


def test_cold_migrate_confirm_and_revert(two):
    s = two
    sid, source = _boot(s)
    dest = "hostb" if source == "hosta" else "hosta"
    assert _action(s, sid, {"migrate": None}).status_code == 202
    server = s.wait_status(sid, "VERIFY_RESIZE")
    assert _host(server) == dest and server["flavor"]["id"] == "1"
    assert _wait_migration(s, sid, "finished")["migration_type"] == "migration"
    assert _action(s, sid, {"revertResize": None}).status_code == 202
    assert _host(s.wait_status(sid, "ACTIVE")) == source
    # NOTE: 2.56: the host may be named.
    assert _action(s, sid, {"migrate": {"host": dest}}, "2.56").status_code == 202
    assert _host(s.wait_status(sid, "VERIFY_RESIZE")) == dest
    assert _action(s, sid, {"confirmResize": None}).status_code == 204
    assert _host(s.wait_status(sid, "ACTIVE")) == dest
    _wait_ram(s, {source: 0, dest: 512})
    statuses = [m["status"] for m in _migrations(s, instance_uuid=sid)]
    assert statuses == ["confirmed", "reverted"]


def test_move_errors_as_nova(two):
    s = two
    sid, source = _boot(s)
    same = _action(s, sid, {"resize": {"flavorRef": "1"}})
    assert same.status_code == 400 and "must change flavor" in same.text
    missing = _action(s, sid, {"resize": {"flavorRef": "nope"}})
    assert missing.status_code == 400 and "nope" in missing.text
    assert _action(s, sid, {"resize": {}}).status_code == 400
    assert _action(s, sid, {"confirmResize": None}).status_code == 409
    assert _action(s, sid, {"revertResize": None}).status_code == 409
    assert _action(s, sid, {"migrate": {"host": source}}, "2.56").status_code == 400
    unknown = _action(s, sid, {"migrate": {"host": "nosuch"}}, "2.56")
    assert unknown.status_code == 400 and "nosuch" in unknown.text
    # NOTE: before 2.56 migrate takes no body.
    assert _action(s, sid, {"migrate": {"host": source}}).status_code == 400
    # NOTE: an upsize needs quota for the extra vCPUs (403 as Nova).
    quota = s.compute("PUT", "/os-quota-sets/admin", {"quota_set": {"cores": 1}})
    assert quota.status_code == 200, quota.text
    over = _action(s, sid, {"resize": {"flavorRef": "3"}})
    assert over.status_code == 403 and "cores" in over.text
    assert s.server(sid)["status"] == "ACTIVE"
    evac = _action(s, sid, {"evacuate": {}}, "2.68")
    assert evac.status_code == 400 and "still in use" in evac.text


def test_evacuate_from_a_host_that_is_down(make_stack):
    s = make_stack(computes=TWO, overrides={(None, "service_down_time"): 3})
    sid, source = _boot(s)
    dest = "hostb" if source == "hosta" else "hosta"
    s.stop_compute(source)
    resp = _action(s, sid, {"evacuate": {"onSharedStorage": False}})
    assert resp.status_code == 200 and resp.json()["adminPass"]
    server = s.wait_status(sid, "ACTIVE")
    assert _host(server) == dest and server["flavor"]["id"] == "1"
    migration = _wait_migration(s, sid, "done")
    assert (migration["migration_type"], migration["source_compute"],
            migration["dest_compute"]) == ("evacuation", source, dest)
    assert _guest(dest, sid) is not None and _guest(source, sid) is not None
    assert _events(s, sid, "evacuate") == {"rebuild_server": "Success",
                                           "compute_rebuild_instance": "Success"}
    # NOTE: the source, back, destroys its stale guest (Nova's
    # _destroy_evacuated_instances) and the migration is completed.
    s.start_compute(source)
    _wait_migration(s, sid, "completed")
    assert _guest(source, sid) is None
    assert _host(s.wait_status(sid, "ACTIVE")) == dest


def test_evacuate_at_2_95_leaves_it_stopped(make_stack):
    s = make_stack(computes=TWO, overrides={(None, "service_down_time"): 3})
    sid, source = _boot(s)
    s.stop_compute(source)
    resp = _action(s, sid, {"evacuate": {}}, "2.95")
    assert resp.status_code == 200 and not resp.content
    s.wait_status(sid, "SHUTOFF")
    bad = _action(s, sid, {"evacuate": {"force": True}}, "2.68")
    assert bad.status_code == 400


def test_live_migration_fake_path(two):
    s = two
    sid, source = _boot(s)
    dest = "hostb" if source == "hosta" else "hosta"
    resp = _action(s, sid, {"os-migrateLive": {"host": None, "block_migration": "auto"}},
                   "2.25")
    assert resp.status_code == 202
    server = s.wait_status(sid, "ACTIVE")
    s.wait_for(sid, lambda x: _host(x) == dest, what=f"on {dest}")
    migration = _wait_migration(s, sid, "completed")
    assert migration["migration_type"] == "live-migration"
    assert _guest(source, sid) is None and _guest(dest, sid).state == 1
    _wait_ram(s, {source: 0, dest: 512})
    assert server["OS-EXT-STS:power_state"] == 1
    listed = s.compute("GET", f"/servers/{sid}/migrations", headers=_mv("2.23"))
    assert listed.status_code == 200 and listed.json() == {"migrations": []}
    assert s.compute("GET", f"/servers/{sid}/migrations").status_code == 404
    assert _events(s, sid, "live-migration") == {
        "conductor_live_migrate_instance": "Success", "compute_live_migration": "Success",
        "compute_pre_live_migration": "Success",
        "compute_post_live_migration_at_destination": "Success"}
    # NOTE: 2.1 wants disk_over_commit; 2.25 refuses it.
    old = _action(s, sid, {"os-migrateLive": {"host": None, "block_migration": False}})
    assert old.status_code == 400
    bad = _action(s, sid, {"os-migrateLive": {"host": None, "block_migration": "auto",
                                              "disk_over_commit": False}}, "2.25")
    assert bad.status_code == 400


def test_os_migrations_views_and_paging(two):
    s = two
    sid, _ = _boot(s)
    for _ in range(2):
        assert _action(s, sid, {"migrate": None}).status_code == 202
        s.wait_status(sid, "VERIFY_RESIZE")
        assert _action(s, sid, {"confirmResize": None}).status_code == 204
        s.wait_status(sid, "ACTIVE")
    _wait_migration(s, sid, "confirmed")
    old = _migrations(s, "2.1")
    assert len(old) == 2 and "migration_type" not in old[0] and "uuid" not in old[0]
    at259 = _migrations(s, "2.59")
    assert "uuid" in at259[0] and "user_id" not in at259[0]
    page = s.compute("GET", "/os-migrations?limit=1", headers=_mv("2.59")).json()
    assert len(page["migrations"]) == 1 and page["migrations"][0]["id"] == at259[0]["id"]
    nxt = page["migrations_links"][0]["href"]
    assert "marker=" + at259[0]["uuid"] in nxt
    second = s.compute("GET", f"/os-migrations?limit=1&marker={at259[0]['uuid']}",
                       headers=_mv("2.59")).json()["migrations"]
    assert [m["id"] for m in second] == [at259[1]["id"]]
    bad = s.compute("GET", "/os-migrations?marker=nope", headers=_mv("2.59"))
    assert bad.status_code == 400
    assert _migrations(s, "2.80", user_id="someone-else") == []
    assert len(_migrations(s, "2.80", project_id="admin")) == 2
    assert _migrations(s, "2.23", migration_type="live-migration") == []
    assert _migrations(s, "2.59", **{"changes-since": "2099-01-01T00:00:00Z"}) == []
    assert len(_migrations(s, "2.66", **{"changes-before": "2099-01-01T00:00:00Z"})) == 2
    bad_time = s.compute("GET", "/os-migrations?changes-since=yesterday", headers=_mv("2.59"))
    assert bad_time.status_code == 400 and "changes-since" in bad_time.text


def test_a_member_resizes_but_moves_are_for_admins(make_stack):
    s = make_stack(computes=TWO, auth="novalite")
    user = s.make_user("mover-member", "movers")
    member = s.login("mover-member", user["password"], "movers")
    resp = s.compute("POST", "/servers", {"server": {"name": "m", "flavorRef": "1",
                                                     "imageRef": s.image_id}}, session=member)
    assert resp.status_code == 202, resp.text
    sid = resp.json()["server"]["id"]
    s.wait_status(sid, "ACTIVE")
    for body in ({"migrate": None}, {"os-migrateLive": {"host": None,
                                                        "block_migration": "auto"}},
                 {"evacuate": {}}):
        refused = s.compute("POST", f"/servers/{sid}/action", body, session=member,
                            headers=_mv("2.68"))
        assert refused.status_code == 403, (body, refused.text)
    assert s.compute("GET", "/os-migrations", session=member).status_code == 403
    assert s.compute("POST", f"/servers/{sid}/action", {"resize": {"flavorRef": "2"}},
                     session=member).status_code == 202
    s.wait_status(sid, "VERIFY_RESIZE")
    assert s.compute("POST", f"/servers/{sid}/action", {"confirmResize": None},
                     session=member).status_code == 204
    s.wait_status(sid, "ACTIVE")


def test_delete_while_resized_cleans_both_hosts(two):
    s = two
    sid, source = _boot(s)
    dest = "hostb" if source == "hosta" else "hosta"
    assert _action(s, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    s.wait_status(sid, "VERIFY_RESIZE")
    assert _guest(source, sid) is not None and _guest(dest, sid) is not None
    assert s.compute("DELETE", f"/servers/{sid}").status_code == 204
    s.wait_gone(sid)
    # NOTE: as Nova's _confirm_resize_on_deleting: the source's kept guest goes too.
    _wait_ram(s, {source: 0, dest: 0})
    deadline = time.monotonic() + 10
    while _guest(source, sid) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _guest(source, sid) is None and _guest(dest, sid) is None
    assert _migrations(s, instance_uuid=sid)[0]["status"] == "confirmed"


def test_delete_while_resized_on_one_host(make_stack):
    s = make_stack(computes=[("solo", "fake.FakeDriver")],
                   overrides={(None, "allow_resize_to_same_host"): True})
    sid, _ = _boot(s)
    assert _action(s, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    s.wait_status(sid, "VERIFY_RESIZE")
    assert s.compute("DELETE", f"/servers/{sid}").status_code == 204
    s.wait_gone(sid)
    _wait_ram(s, {"solo": 0})
    assert _guest("solo", sid) is None


def test_a_destination_that_cannot_listen_leaves_the_server_as_it_was(make_stack):
    # NOTE: [DEFAULT] my_ip set to an address this machine does not have: the
    # destination cannot open its end of the disk channel.
    s = make_stack(computes=TWO, overrides={(None, "my_ip"): "192.0.2.1"})
    sid, source = _boot(s)
    dest = "hostb" if source == "hosta" else "hosta"
    assert _action(s, sid, {"resize": {"flavorRef": "2"}}).status_code == 202
    migration = _wait_migration(s, sid, "error")
    assert (migration["source_compute"], migration["dest_compute"]) == (source, dest)
    server = s.wait_status(sid, "ACTIVE")
    assert _host(server) == source and server["flavor"]["id"] == "1"
    events = _events(s, sid, "resize")
    assert events["compute_prep_resize"] == "Error"
    _wait_ram(s, {source: 512, dest: 0})
    guest = _guest(source, sid)
    assert guest.state == 1 and guest.resize_from is None
    # NOTE: nothing is left half-done: the server can move again.
    assert _action(s, sid, {"resize": {"flavorRef": "2"}}).status_code == 202


def test_a_source_restarted_mid_move_rolls_it_back(two):
    from novalite import context as nl_context
    from novalite.compute import task_states
    from novalite.objects import migration as mig
    from novalite.objects.instance import Instance

    s = two
    sid, source = _boot(s)
    ctxt = nl_context.get_admin_context()
    # NOTE: what a source that died inside resize_instance leaves behind: the
    # guest off with its files kept aside, RESIZE_MIGRATING, a migration
    # "migrating".
    inst = Instance.get_by_uuid(ctxt, sid)
    s.stop_compute(source)
    drv = fake.FakeDriver(None)
    drv.init_host(source)
    flavor = inst.flavor
    drv.migrate_disk_and_power_off(ctxt, inst, "elsewhere", flavor)
    assert _guest(source, sid).resize_from is not None
    inst.task_state = task_states.RESIZE_MIGRATING
    inst.save()
    migration = mig.Migration(context=ctxt, instance_uuid=sid, migration_type=mig.MIGRATION,
                              status=mig.MIGRATING, source_compute=source,
                              dest_compute="hostb" if source == "hosta" else "hosta")
    migration.create()
    s.start_compute(source)
    server = s.wait_status(sid, "ACTIVE")
    assert _host(server) == source and server["OS-EXT-STS:power_state"] == 1
    guest = _guest(source, sid)
    assert guest.resize_from is None and guest.state == 1
    assert _wait_migration(s, sid, "error")["uuid"] == migration.uuid


def test_an_evacuation_no_host_takes_ends_in_error(make_stack):
    s = make_stack(computes=TWO, overrides={(None, "service_down_time"): 3,
                                            ("compute", "task_timeout"): 1,
                                            ("compute", "deadline_check_interval"): 1})
    sid, source = _boot(s)
    dest = "hostb" if source == "hosta" else "hosta"
    s.stop_compute(source)
    s.stop_compute(dest)
    # NOTE: forced (2.29) to a host that is down: its message waits unread.
    resp = _action(s, sid, {"evacuate": {"host": dest, "force": True}}, "2.29")
    assert resp.status_code == 200, resp.text
    server = s.wait_for(sid, lambda x: x["status"] == "ERROR", timeout=20, what="ERROR")
    assert "was not taken by a new host" in server["fault"]["message"]
    assert _wait_migration(s, sid, "failed")["migration_type"] == "evacuation"
    # NOTE: the destination, back, finds nothing to do with the late message.
    s.start_compute(dest)
    time.sleep(1)
    assert s.server(sid)["status"] == "ERROR" and _guest(dest, sid) is None
