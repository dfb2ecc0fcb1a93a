"""The modes of the state novalite keeps (novalite.filemodes): nothing for
other users. The database, the image store, the image cache, instance
directories, disks and config drives, whatever the umask of the process
that made them (these tests run with pytest's, 0022); the services' own
umask (0077) for the rest, logs included."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid

from novalite import context as nl_context
from novalite import filemodes
from novalite.image import api as image_api
from novalite.virt import configdrive
from novalite.virt.libvirt import imagebackend, imagecache
from tests.functional.test_image_api import OCTET, create, image_req
from tests.unit.test_configdrive import _instance

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_database_is_0600_even_when_it_was_world_readable(make_stack, tmp_path):
    database = tmp_path / "novalite.sqlite"
    database.touch()
    database.chmod(0o644)
    stack = make_stack()
    assert stack.compute("GET", "/flavors").status_code == 200
    assert mode(str(database)) == 0o600
    # NOTE: SQLite gives its WAL and shared-memory files the database's mode.
    for suffix in ("-wal", "-shm"):
        assert mode(f"{database}{suffix}") == 0o600


def test_image_data_is_0600_in_a_0700_store_even_one_made_world_readable(stack):
    os.chmod(image_api.images_dir(), 0o755)
    image = create(stack)
    resp = image_req(stack, "PUT", f"/images/{image['id']}/file", raw=b"secret" * 100,
                     headers=OCTET)
    assert resp.status_code == 204, resp.text
    store = image_api.images_dir()
    assert mode(store) == 0o700
    names = os.listdir(store)
    assert image["id"] in names and stack.image_id in names
    assert {name: mode(os.path.join(store, name)) for name in names} == dict.fromkeys(
        names, 0o600)


def test_cache_instance_dir_disk_and_config_drive_give_qemu_only_what_it_needs(stack,
                                                                               tmp_path):
    """The libvirt driver's files, made by the functions it calls: QEMU may
    pass through the directories (0711); the files are 0600 (libvirt's
    dynamic ownership chowns each to QEMU's user when the domain starts)."""
    ctxt = nl_context.get_admin_context()
    cache = imagecache.ImageCache(str(tmp_path / "state" / "_base"),
                                  f"{stack.base_url}/image", 10)
    base = cache.fetch(ctxt, cache.get_meta(ctxt, stack.image_id), lambda: None)
    inst_dir = filemodes.qemu_dir(str(tmp_path / "state" / "instances" / str(uuid.uuid4())))
    disk = os.path.join(inst_dir, "disk")
    imagebackend.create_overlay(base, "raw", disk, 1)
    drive = configdrive.make_drive(os.path.join(inst_dir, configdrive.FILE_NAME),
                                   _instance(user_data="c2VjcmV0"), [])

    state = tmp_path / "state"
    assert {p: mode(str(p)) for p in (state, state / "_base", state / "instances",
                                      inst_dir)} == dict.fromkeys(
        (state, state / "_base", state / "instances", inst_dir), 0o711)
    assert [mode(p) for p in (base, disk, drive)] == [0o600] * 3
    assert os.listdir(state / "_base") == [stack.image_id]


def test_directories_for_qemu_are_tightened_or_opened_to_0711_but_shared_ones_left(tmp_path):
    private = tmp_path / "made-by-mktemp"
    private.mkdir(mode=0o700)
    listable = tmp_path / "made-by-an-old-release"
    listable.mkdir(mode=0o755)
    shared = tmp_path / "like-tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    for path in (private, listable, shared):
        filemodes.qemu_dir(str(path))
    assert [mode(str(p)) for p in (private, listable, shared)] == [0o711, 0o711, 0o1777]
    filemodes.private_dir(str(listable))
    assert mode(str(listable)) == 0o700


def test_services_run_with_umask_077_so_their_logs_and_files_are_private(tmp_path):
    log, made = tmp_path / "novalite.log", tmp_path / "made-by-a-library"
    code = (
        "import sys\n"
        "from oslo_log import log as logging\n"
        "from novalite import config\n"
        f"config.parse_args(['novalite-test', '--log-file', {str(log)!r}])\n"
        "config.setup_logging()\n"
        "logging.getLogger('novalite').warning('started')\n"
        f"open({str(made)!r}, 'w').close()\n"
        "print([l for l in open('/proc/self/status') if l.startswith('Umask:')][0].split()[1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.split() == ["0077"]
    assert "started" in log.read_text()
    assert (mode(str(log)), mode(str(made))) == (0o600, 0o600)


def test_host_prepare_runs_apt_and_starts_daemons_with_the_systems_umask():
    """libvirtd and package scripts must not inherit the service umask: the
    directories they make are QEMU's to reach."""
    from novalite.tinyguest import host

    previous = filemodes.set_service_umask()
    try:
        out = host._run(["sh", "-c", "umask"]).stdout
    finally:
        os.umask(previous)
    assert out.strip() == "0022"


def test_libvirt_init_host_tightens_what_an_older_release_left_readable(tmp_path):
    from novalite import config
    from novalite.conf import CONF
    from novalite.virt.libvirt import driver

    config.register_base_opts()
    instances, cache = tmp_path / "instances", tmp_path / "_base"
    inst_dir = instances / str(uuid.uuid4())
    inst_dir.mkdir(parents=True)
    cache.mkdir()
    outside = tmp_path / "not-ours"
    files = [inst_dir / "disk", inst_dir / "disk.config", cache / str(uuid.uuid4()), outside]
    for path in files:
        path.write_bytes(b"old")
        path.chmod(0o644)
    for path in (instances, inst_dir, cache):
        path.chmod(0o755)
    (inst_dir / "link").symlink_to(outside)
    overrides = [("instances_path", str(instances)), ("image_cache_path", str(cache)),
                 ("connection_uri", "test:///default"), ("virt_type", "qemu")]
    for name, value in overrides:
        CONF.set_override(name, value, group="libvirt")
    try:
        drv = driver.LibvirtDriver(None)
        drv.init_host("modes-host")
        drv.cleanup_host("modes-host")
    finally:
        for name, _value in overrides:
            CONF.clear_override(name, group="libvirt")
    assert [mode(str(p)) for p in (instances, inst_dir, cache)] == [0o711] * 3
    assert [mode(str(p)) for p in files] == [0o600] * 3 + [0o644]
