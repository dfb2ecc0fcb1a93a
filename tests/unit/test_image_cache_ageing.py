"""Ageing of the compute image cache (Nova's remove_unused_base_images) on
real files: base images, qcow2 instance disks made by qemu-img on them, and
the periodic task that runs the pass."""

from __future__ import annotations

import os
import stat
import time
import types
import uuid
from collections.abc import Iterator

import pytest
from oslo_concurrency import lockutils

from novalite import config
from novalite.compute.periodic import ComputePeriodicTasks
from novalite.conf import CONF
from novalite.virt.libvirt import image_ageing, imagebackend, imagecache

DAY = 86400


@pytest.fixture
def dirs(tmp_path) -> Iterator[tuple[str, str]]:
    base, instances = tmp_path / "_base", tmp_path / "instances"
    base.mkdir()
    instances.mkdir()
    yield str(base), str(instances)


def base_image(base_dir: str, age: float, name: str | None = None) -> str:
    name = name or str(uuid.uuid4())
    path = os.path.join(base_dir, name)
    with open(path, "wb") as f:
        f.truncate(1024 * 1024)
    then = time.time() - age
    os.utime(path, (then, then))
    return name


def instance_disk(instances: str, base_dir: str, image_id: str) -> str:
    inst_dir = os.path.join(instances, str(uuid.uuid4()))
    os.mkdir(inst_dir)
    disk = os.path.join(inst_dir, "disk")
    imagebackend.create_overlay(os.path.join(base_dir, image_id), "raw", disk, 0)
    return disk


def instance(image_ref: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(uuid=str(uuid.uuid4()), image_ref=image_ref)


def age_of(base_dir: str, name: str) -> float:
    return time.time() - os.stat(os.path.join(base_dir, name)).st_mtime


def test_unused_base_images_past_the_minimum_age_are_removed_used_ones_stay(dirs):
    base_dir, instances = dirs
    booted = base_image(base_dir, 3 * DAY)
    backing = base_image(base_dir, 3 * DAY)
    unused_old = base_image(base_dir, 2 * DAY)
    unused_young = base_image(base_dir, 60)
    instance_disk(instances, base_dir, backing)
    stale_part = base_image(base_dir, 2 * DAY, f"{uuid.uuid4()}.part-0a1b2c3d")
    fresh_part = base_image(base_dir, 10, f"{uuid.uuid4()}.part-4e5f6a7b")
    foreign = base_image(base_dir, 9 * DAY, "README")
    os.chmod(os.path.join(base_dir, booted), 0o644)

    result = image_ageing.ImageCacheManager(base_dir, instances, True, DAY).update(
        [instance(booted)])

    assert sorted(result.in_use) == sorted([booted, backing])
    assert sorted(result.removed) == sorted([unused_old, stale_part])
    assert result.kept == [unused_young]
    assert sorted(os.listdir(base_dir)) == sorted(
        [booted, backing, unused_young, fresh_part, foreign])
    # NOTE: in use now, so once unused they age from this pass.
    assert age_of(base_dir, booted) < 60 and age_of(base_dir, backing) < 60
    # NOTE: and private, even the one an older release left world-readable.
    assert {stat.S_IMODE(os.stat(os.path.join(base_dir, n)).st_mode)
            for n in (booted, backing, unused_young)} == {0o600}


def test_a_base_an_image_was_deleted_from_still_backs_disks_until_they_go(dirs):
    base_dir, instances = dirs
    image_id = base_image(base_dir, 3 * DAY)
    disk = instance_disk(instances, base_dir, image_id)
    manager = image_ageing.ImageCacheManager(base_dir, instances, True, 0)
    assert manager.update([]).in_use == [image_id]
    os.unlink(disk)
    assert manager.update([]).removed == [image_id]
    assert os.listdir(base_dir) == []


def test_remove_unused_base_images_false_keeps_every_image(dirs):
    base_dir, instances = dirs
    old = base_image(base_dir, 30 * DAY)
    result = image_ageing.ImageCacheManager(base_dir, instances, False, DAY).update([])
    assert result.removed == [] and result.kept == [old]
    assert os.listdir(base_dir) == [old]


def test_an_unreadable_instance_disk_stops_every_removal(dirs):
    base_dir, instances = dirs
    old = base_image(base_dir, 30 * DAY)
    broken = os.path.join(instances, str(uuid.uuid4()))
    os.mkdir(broken)
    with open(os.path.join(broken, "disk"), "wb") as f:
        f.write(b"not a qcow2 image" * 64)
    result = image_ageing.ImageCacheManager(base_dir, instances, True, DAY).update([])
    assert result.removed == [] and os.listdir(base_dir) == [old]


def test_a_base_whose_download_or_build_holds_its_lock_is_kept(dirs):
    base_dir, instances = dirs
    busy = base_image(base_dir, 30 * DAY)
    sem = lockutils.internal_lock(f"novalite-image-cache-{busy}")
    sem.acquire()
    try:
        result = image_ageing.ImageCacheManager(base_dir, instances, True, DAY).update([])
    finally:
        sem.release()
    assert result.kept == [busy] and os.listdir(base_dir) == [busy]


def test_a_cache_hit_makes_the_base_image_new_again(dirs):
    base_dir, _instances = dirs
    image_id = base_image(base_dir, 30 * DAY)
    cache = imagecache.ImageCache(base_dir, "http://127.0.0.1:9/image", 1)
    path = cache.fetch(None, {"id": image_id}, lambda: None)
    assert path == os.path.join(base_dir, image_id) and age_of(base_dir, image_id) < 60


@pytest.fixture
def conf(dirs) -> Iterator[tuple[str, str]]:
    config.register_base_opts()
    base_dir, instances = dirs
    overrides = [("image_cache_path", base_dir, "libvirt"), ("instances_path", instances, "libvirt"),
                 ("connection_uri", "test:///default", "libvirt"), ("virt_type", "qemu", "libvirt"),
                 ("remove_unused_original_minimum_age_seconds", 3600, "image_cache")]
    for name, value, group in overrides:
        CONF.set_override(name, value, group=group)
    try:
        yield dirs
    finally:
        for name, _value, group in overrides:
            CONF.clear_override(name, group=group)
        CONF.clear_override("manager_interval", group="image_cache")


def test_the_libvirt_driver_ages_its_cache_as_configured(conf):
    from novalite.virt.libvirt import driver

    base_dir, instances = conf
    used, unused = base_image(base_dir, DAY), base_image(base_dir, DAY)
    driver.LibvirtDriver(None).manage_image_cache(None, [instance(used)])
    assert os.listdir(base_dir) == [used]
    CONF.set_override("remove_unused_base_images", False, group="image_cache")
    try:
        base_image(base_dir, DAY, unused)
        driver.LibvirtDriver(None).manage_image_cache(None, [])
        assert sorted(os.listdir(base_dir)) == sorted([used, unused])
    finally:
        CONF.clear_override("remove_unused_base_images", group="image_cache")


@pytest.mark.parametrize("interval, expected", [(2400, 2400), (0, 60), (-1, None)])
def test_the_image_cache_pass_runs_every_manager_interval(conf, interval, expected):
    CONF.set_override("manager_interval", interval, group="image_cache")
    mixin = type("Manager", (ComputePeriodicTasks,),
                 {"cleanup_running_deleted_instances": lambda self: None,
                  "_poll_unconfirmed_resizes": lambda self: None,
                  "offload_shelved_instances": lambda self: None})()
    tasks = {t.name: t.interval for t in mixin.periodic_tasks()}
    assert tasks.get("image_cache_manager_pass") == expected
    assert "update_available_resource" in tasks
