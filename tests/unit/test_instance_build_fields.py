"""key_data, user_data and auto_disk_config are the instance's own fields
(Instance 1.2, as Nova's), the personality files travel with the build
request (InjectedFileList), and migration 008 moves what older instances
kept in system_metadata."""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from novalite.conf import CONF
from novalite.context import RequestContext
from novalite.db import api as db_api
from novalite.db import block_devices, info_caches, migration
from novalite.objects.base import NovaliteObjectSerializer
from novalite.objects.instance import Instance
from novalite.objects.instance_info_cache import InstanceInfoCache
from novalite.objects.request_spec import InjectedFileList

UUID = "3f1e2d3c-4b5a-4697-8877-665544332211"


def test_an_older_receiver_gets_an_instance_without_the_new_fields() -> None:
    inst = Instance(uuid=UUID, key_data="ssh-ed25519 AAAA", user_data="aGk=",
                    auto_disk_config=True, system_metadata={})
    old = inst.obj_to_primitive(target_version="1.1")["novalite_object.data"]
    assert not {"key_data", "user_data", "auto_disk_config"} & set(old)
    new = inst.obj_to_primitive()["novalite_object.data"]
    assert (new["key_data"], new["user_data"], new["auto_disk_config"]) == (
        "ssh-ed25519 AAAA", "aGk=", True)


def test_personality_files_cross_rpc_as_objects() -> None:
    files = [{"path": "/etc/motd", "contents": "aGVsbG8K"}, {"path": "/root/empty"}]
    ser = NovaliteObjectSerializer()
    sent = ser.serialize_entity(None, InjectedFileList.from_api(files))
    back = ser.deserialize_entity(None, json.loads(json.dumps(sent)))
    assert isinstance(back, InjectedFileList)
    assert back.to_dicts() == [{"path": "/etc/motd", "contents": "aGVsbG8K"},
                               {"path": "/root/empty", "contents": ""}]
    assert InjectedFileList.from_api(None).to_dicts() == []


@pytest.fixture
def db_url(tmp_path: Any) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/novalite.sqlite"
    CONF.set_override("connection", url, group="database")
    db_api.dispose()
    try:
        yield url
    finally:
        db_api.dispose()
        CONF.clear_override("connection", group="database")


def test_migration_008_moves_the_build_keys_out_of_system_metadata(db_url: str) -> None:
    migration.db_sync("007")
    engine = sa.create_engine(db_url)
    sysmeta = {"key_data": "ssh-rsa K", "user_data": "dXNlcg==", "disk_config": "AUTO",
               "injected_files": "[]", "block_devices": "root:image:x",
               "image_virtual_size": "1024"}
    try:
        with engine.begin() as conn:
            for i, meta in ((1, sysmeta), (2, {"disk_config": "MANUAL"})):
                conn.execute(sa.text(
                    "INSERT INTO instances (id, uuid, config_drive, locked, deleted, "
                    "system_metadata) VALUES (:id, :uuid, 0, 0, 0, :meta)"),
                    {"id": i, "uuid": f"{i}-{UUID[2:]}", "meta": json.dumps(meta)})
        db_api.dispose()
        migration.db_sync()
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT id, key_data, user_data, auto_disk_config, system_metadata "
                "FROM instances ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [(r[0], r[1], r[2], bool(r[3]), json.loads(r[4])) for r in rows] == [
        (1, "ssh-rsa K", "dXNlcg==", True, {"image_virtual_size": "1024"}),
        (2, None, None, False, {}),
    ]


def test_migration_009_moves_network_info_into_the_info_cache(db_url: str) -> None:
    migration.db_sync("008")
    engine = sa.create_engine(db_url)
    vifs = '[{"id": "port-1"}]'
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO instances (id, uuid, config_drive, locked, deleted, auto_disk_config,"
                " system_metadata) VALUES (1, :uuid, 0, 0, 0, 0, :meta)"),
                {"uuid": UUID, "meta": json.dumps({"network_info": vifs, "image_x": "1"})})
        db_api.dispose()
        migration.db_sync()
        with engine.connect() as conn:
            sysmeta = conn.execute(sa.text("SELECT system_metadata FROM instances")).scalar()
    finally:
        engine.dispose()
    assert json.loads(sysmeta) == {"image_x": "1"}
    cache = InstanceInfoCache.get_by_instance_uuid(
        RequestContext(is_admin=True, overwrite=False), UUID)
    assert cache.vifs == [{"id": "port-1"}]
    assert InstanceInfoCache.get_by_instance_uuid(
        RequestContext(is_admin=True, overwrite=False), str(uuid.uuid4())).vifs == []


@pytest.mark.parametrize("module", [info_caches, block_devices], ids=lambda m: m.__name__)
def test_every_info_cache_and_block_device_query_retries(module: Any) -> None:
    queries = [n for n, f in vars(module).items() if inspect.isfunction(f)
               and f.__module__ == module.__name__ and not n.startswith("_")]
    assert queries and all(hasattr(getattr(module, n), "__wrapped__") for n in queries)
