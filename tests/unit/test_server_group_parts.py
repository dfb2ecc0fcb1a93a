"""Small parts of server groups and aggregates: every query of their
database modules retries (as tests/unit/test_db_retry_coverage.py holds the
older modules to), and the scheduler hints a create may carry."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from novalite.api import errors
from novalite.api.schemas import scheduler_hints
from novalite.db import aggregates, instance_groups


@pytest.mark.parametrize("module", [aggregates, instance_groups], ids=lambda m: m.__name__)
def test_every_query_retries(module: object) -> None:
    queries = [name for name, fn in vars(module).items()
               if inspect.isfunction(fn) and not name.startswith("_")
               and fn.__module__ == module.__name__]  # type: ignore[attr-defined]
    assert queries
    bare = [n for n in queries if not hasattr(getattr(module, n), "__wrapped__")]
    assert not bare, f"add @retry_on_db_error to {bare}"


def test_hints_are_lists_of_strings_and_server_lists_accept_one_uuid() -> None:
    group = "6f1a2b8e-1d0e-4a57-9a57-0c6f1f7b1c11"
    other = "0b7e8f8a-3c55-4a3a-8d5e-5f3c4a1e2d22"
    body = {"os:scheduler_hints": {"group": group, "same_host": other,
                                   "different_host": [other, group], "query": "x",
                                   "num": 3}}
    assert scheduler_hints.parse(body) == {
        "group": [group], "same_host": [other], "different_host": [other, group],
        "query": ["x"], "num": ["3"]}
    assert scheduler_hints.parse({"OS-SCH-HNT:scheduler_hints": {"group": group}}) == {
        "group": [group]}
    assert scheduler_hints.parse({}) == {}


@pytest.mark.parametrize("hints", [{"group": "nope"}, {"same_host": ["x"]},
                                   {"different_host": 5}, {"group": [None]}])
def test_malformed_hints_are_400_naming_the_hint(hints: dict) -> None:
    with pytest.raises(errors.HTTPError) as caught:
        scheduler_hints.parse({"os:scheduler_hints": hints})
    assert caught.value.code == 400 and next(iter(hints)) in caught.value.message


def test_placed_members_count_until_recorded_deleted_or_expired(monkeypatch: Any) -> None:
    """The scheduler's own record of members it placed: counted on their
    host while no instance row names it; dropped once a row does, once the
    member is gone, or after PENDING_SECONDS."""
    from novalite.objects.request_spec import RequestSpec
    from novalite.scheduler.filters import affinity_filter as af

    clock = [1000.0]
    monkeypatch.setattr(af.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(af, "_pending", {})
    group = "6f1a2b8e-1d0e-4a57-9a57-0c6f1f7b1c11"
    a, b, c = ("0b7e8f8a-3c55-4a3a-8d5e-5f3c4a1e2d2" + n for n in "abc")
    spec = RequestSpec(instance_group=group)
    af.selected(spec, [a, b, c], ["h1", "h2", "h2"])
    af.selected(RequestSpec(instance_group=None), [a], ["h9"])  # no group: nothing
    assert af._pending_hosts(group, [a, b, c], {}, exclude=None) == {"h1": 1, "h2": 2}
    # c is the instance being scheduled again; b's row now names its host; a is gone
    assert af._pending_hosts(group, [b, c], {b: "h2"}, exclude=c) == {}
    assert af._pending_hosts(group, [b, c], {}, exclude=None) == {"h2": 1}
    clock[0] += af.PENDING_SECONDS + 1
    assert af._pending_hosts(group, [b, c], {}, exclude=None) == {}
    assert group not in af._pending
