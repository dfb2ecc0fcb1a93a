"""RequestSpec and its parts (ImageMeta, NetworkRequestList,
SchedulerRetries): what a build asks for crosses RPC as versioned objects,
an older service still gets and sends the dict it knows, and the spec is
recorded per instance (table request_specs)."""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from novalite import exception
from novalite.conf import CONF
from novalite.context import RequestContext
from novalite.db import api as db_api
from novalite.db import migration
from novalite.db import request_specs as spec_db
from novalite.objects.base import NovaliteObjectSerializer
from novalite.objects.flavor import Flavor
from novalite.objects.request_spec import (
    NetworkRequestList,
    RequestSpec,
    SchedulerRetries,
)

GiB = 1024 ** 3
NET = "4b2cf0a5-1d3e-4c2b-9f0a-6a1d2c3b4e5f"


CTX = RequestContext(project_id="p1", user_id="u1", is_admin=True, overwrite=False)


def _flavor(**kw: Any) -> Flavor:
    values: dict[str, Any] = dict(id=1, flavorid="1", name="m1.tiny", memory_mb=512, vcpus=1,
                                  root_gb=1, ephemeral_gb=0, swap=0, extra_specs={})
    values.update(kw)
    return Flavor(**values)


IMAGE = {"id": "9d4c8f5e-3b2a-4c1d-8e7f-6a5b4c3d2e1f", "name": "cirros", "disk_format": "qcow2",
         "container_format": "bare", "size": 1000, "virtual_size": 3 * GiB + 1, "min_ram": 0,
         "min_disk": 0, "checksum": "abc", "os_hash_algo": "sha512", "os_hash_value": "def",
         "properties": {"hw_qemu_guest_agent": "yes", "hw_rng": True, "tags": ["a"]}}


def _spec(**kw: Any) -> RequestSpec:
    args: dict[str, Any] = dict(flavor=_flavor(), image=IMAGE,
                                requested_networks=NetworkRequestList.from_api(
                                    [{"uuid": NET, "fixed_ip": "10.0.0.5"}]),
                                availability_zone="az1", num_instances=2)
    args.update(kw)
    return RequestSpec.from_components(CTX, **args)


def test_a_spec_crosses_rpc_as_an_object_with_every_part() -> None:
    spec = _spec()
    ser = NovaliteObjectSerializer()
    back = ser.deserialize_entity(None, json.loads(json.dumps(ser.serialize_entity(None, spec))))
    assert isinstance(back, RequestSpec)
    assert (back.flavor.name, back.memory_mb, back.vcpus) == ("m1.tiny", 512, 1)
    assert back.image.id == IMAGE["id"] and back.image.disk_format == "qcow2"
    # Glance properties are strings; other values keep their JSON text
    assert back.image.properties == {"hw_qemu_guest_agent": "yes", "hw_rng": "True",
                                     "tags": '["a"]'}
    assert back.requested_networks.to_legacy() == [{"uuid": NET, "fixed_ip": "10.0.0.5"}]
    assert (back.availability_zone, back.num_instances, back.project_id) == ("az1", 2, "p1")


def test_the_driver_gets_the_image_in_the_shape_it_had() -> None:
    image = _spec().image.to_dict()
    assert {k: image[k] for k in ("id", "disk_format", "min_disk", "virtual_size")} == {
        "id": IMAGE["id"], "disk_format": "qcow2", "min_disk": 0, "virtual_size": 3 * GiB + 1}
    assert image["properties"]["hw_qemu_guest_agent"] == "yes"


@pytest.mark.parametrize(("requested", "legacy"), [
    (None, "auto"), ("auto", "auto"), ("none", "none"),
    ([{"uuid": NET}], [{"uuid": NET, "fixed_ip": None}]),
    ([{"fixed_ip": "10.0.0.9"}], [{"uuid": None, "fixed_ip": "10.0.0.9"}]),
])
def test_requested_networks_keep_what_the_api_was_asked(requested: Any, legacy: Any) -> None:
    lst = NetworkRequestList.from_api(requested)
    assert lst.to_legacy() == legacy
    assert lst.auto_allocate == (legacy == "auto")
    assert lst.no_allocate == (legacy == "none")


def test_requested_networks_refuse_what_they_do_not_understand() -> None:
    with pytest.raises(ValueError, match="not understood"):
        NetworkRequestList.from_api("everything")
    with pytest.raises(ValueError):
        NetworkRequestList.from_api([{"uuid": NET, "fixed_ip": "not-an-address"}])


def test_a_zero_disk_flavor_places_the_image_virtual_size() -> None:
    spec = _spec(flavor=_flavor(root_gb=0, ephemeral_gb=1, swap=1025))
    assert spec.root_gb == 4          # 3 GiB + 1 byte, rounded up
    assert spec.disk_gb == 4 + 1 + 2  # root + ephemeral + swap rounded up to GiB
    assert _spec().root_gb == 1       # a flavor with a root disk places its own


def test_hosts_tried_and_hosts_to_ignore_are_both_avoided() -> None:
    spec = _spec()
    assert spec.hosts_to_avoid() == []
    spec.retry = SchedulerRetries(num_attempts=2, hosts=["h2", "h1"])
    spec.ignore_hosts = ["h3", "h1"]
    assert spec.hosts_to_avoid() == ["h1", "h2", "h3"]


def test_an_older_service_gets_and_sends_the_dict_it_knows() -> None:
    spec = _spec(flavor=_flavor(root_gb=0)).for_instance(str(uuid.uuid4()))
    spec.retry = SchedulerRetries(num_attempts=1, hosts=["h1"])
    legacy = spec.to_legacy_dict()
    assert legacy["flavor_root_gb"] == 4 and legacy["flavor_memory_mb"] == 512
    assert legacy["ignore_hosts"] == ["h1"] and legacy["image"]["id"] == IMAGE["id"]
    back = RequestSpec.from_legacy_dict(None, dict(legacy, from_the_future=1))
    assert (back.memory_mb, back.vcpus, back.disk_gb, back.availability_zone,
            back.hosts_to_avoid(), back.instance_uuid, back.flavor_name) == (
        512, 1, 4, "az1", ["h1"], spec.instance_uuid, "m1.tiny")
    assert RequestSpec.coerce(None, {}) is None and RequestSpec.coerce(None, spec) is spec


def test_for_instance_leaves_the_request_as_it_was() -> None:
    spec = _spec()
    one = spec.for_instance("0c5b6a7d-8e9f-4a1b-b2c3-d4e5f6a7b8c9")
    assert one.instance_uuid == "0c5b6a7d-8e9f-4a1b-b2c3-d4e5f6a7b8c9"
    assert spec.instance_uuid is None


# -- persistence -------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Any) -> Iterator[None]:
    CONF.set_override("connection", f"sqlite:///{tmp_path}/novalite.sqlite", group="database")
    db_api.dispose()
    migration.db_sync()
    try:
        yield
    finally:
        db_api.dispose()
        CONF.clear_override("connection", group="database")


def test_a_recorded_spec_reads_back_whole_and_saves_its_retries(db: None) -> None:
    uuid_ = str(uuid.uuid4())
    spec = _spec().for_instance(uuid_)
    spec.create()
    got = RequestSpec.get_by_instance_uuid(CTX, uuid_)
    assert got.id == spec.id and got.instance_uuid == uuid_
    assert got.obj_to_primitive() == spec.obj_to_primitive()
    assert not got.obj_what_changed()
    got.retry = SchedulerRetries(num_attempts=1, hosts=["host1"])
    got.save()
    again = RequestSpec.get_by_instance_uuid(CTX, uuid_)
    assert again.retry.hosts == ["host1"] and again.hosts_to_avoid() == ["host1"]


def test_one_spec_per_instance_and_none_for_an_unknown_one(db: None) -> None:
    uuid_ = str(uuid.uuid4())
    _spec().for_instance(uuid_).create()
    with pytest.raises(Exception, match="UNIQUE|unique|Duplicate"):
        _spec().for_instance(uuid_).create()
    with pytest.raises(exception.RequestSpecNotFound):
        RequestSpec.get_by_instance_uuid(CTX, str(uuid.uuid4()))
    with pytest.raises(exception.RequestSpecNotFound):
        spec_db.request_spec_update(str(uuid.uuid4()), "{}")
    RequestSpec.destroy_by_instance_uuid(CTX, uuid_)
    with pytest.raises(exception.RequestSpecNotFound):
        RequestSpec.get_by_instance_uuid(CTX, uuid_)


def test_every_request_spec_query_retries_on_transient_errors() -> None:
    queries = [n for n, f in vars(spec_db).items() if inspect.isfunction(f)
               and f.__module__ == spec_db.__name__ and not n.startswith("_")]
    assert queries and all(hasattr(getattr(spec_db, n), "__wrapped__") for n in queries)
