"""The persistence route is chosen per service, not per process (issue 11,
item 1): in one process (the all-in-one's shape) the API and the scheduler
run remotable object methods against the database and never call the
conductor for them, while compute's always go through the conductor and its
code cannot reach the database at all."""

from __future__ import annotations

import collections
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from novalite import context as nl_context
from novalite import exception, persistence
from novalite.conductor.manager import ConductorManager
from novalite.db import api as db_api
from novalite.objects.instance import Instance
from novalite.objects.request_spec import RequestSpec
from novalite.scheduler import rpcapi as scheduler_rpcapi


class ObjectCalls:
    """What the conductor was asked to run for objects, counted where it
    serves them."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def record(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()


@pytest.fixture
def object_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[ObjectCalls]:
    seen = ObjectCalls()
    action = ConductorManager.object_action
    class_action = ConductorManager.object_class_action_versions

    def object_action(self: Any, context: Any, objinst: Any, objmethod: str, *a: Any,
                      **kw: Any) -> Any:
        seen.record(f"{objinst.obj_name()}.{objmethod}")
        return action(self, context, objinst, objmethod, *a, **kw)

    def object_class_action_versions(self: Any, context: Any, objname: str, objmethod: str,
                                     *a: Any, **kw: Any) -> Any:
        seen.record(f"{objname}.{objmethod}")
        return class_action(self, context, objname, objmethod, *a, **kw)

    monkeypatch.setattr(ConductorManager, "object_action", object_action)
    monkeypatch.setattr(ConductorManager, "object_class_action_versions",
                        object_class_action_versions)
    yield seen


def test_api_and_scheduler_objects_never_go_through_the_conductor(
        stack: Any, object_calls: ObjectCalls) -> None:
    sid = stack.boot("routes")["id"]
    stack.wait_status(sid, "ACTIVE")
    object_calls.reset()

    for path in ("/servers/detail", f"/servers/{sid}", "/servers", "/flavors/detail",
                 "/os-services", "/os-hypervisors/detail", "/limits",
                 f"/servers/{sid}/os-instance-actions"):
        resp = stack.compute("GET", path)
        assert resp.status_code == 200, (path, resp.text)
    # the scheduler reads every host's state and service through objects
    spec = RequestSpec.from_legacy_dict(None, {"instance_uuid": None, "flavor_memory_mb": 64,
                                               "flavor_vcpus": 1, "flavor_root_gb": 1})
    dests = scheduler_rpcapi.SchedulerAPI().select_destinations(
        nl_context.get_admin_context(), spec, [str(uuid.uuid4())])
    assert [d["host"] for d in dests] == list(stack.computes)
    assert object_calls.total() == 0, dict(object_calls.calls)


def test_compute_objects_always_go_through_the_conductor(
        stack: Any, object_calls: ObjectCalls) -> None:
    sid = stack.boot("routes")["id"]
    stack.wait_status(sid, "ACTIVE")
    # the build's database work was done for compute by the conductor: one
    # call before the spawn, one after it
    assert object_calls.calls["InstanceBuild.begin"] == 1, dict(object_calls.calls)
    assert object_calls.calls["InstanceBuild.finish"] == 1, dict(object_calls.calls)
    assert any(k.startswith("ComputeNode.") for k in object_calls.calls), \
        dict(object_calls.calls)
    # code running as compute cannot reach the database, even in this process
    compute = next(iter(stack.computes.values()))
    assert compute.route is not None
    with persistence.through(compute.route):
        with pytest.raises(exception.DBNotAllowed):
            db_api.instance_get_by_uuid(sid)
        before = object_calls.total()
        inst = Instance.get_by_uuid(nl_context.get_admin_context(), sid)
        assert inst.uuid == sid
        assert object_calls.total() == before + 1
    # and the same read from the API's side goes to the database
    before = object_calls.total()
    assert Instance.get_by_uuid(nl_context.get_admin_context(), sid).uuid == sid
    assert object_calls.total() == before
