"""The per-migration disk channel (novalite/compute/disk_transfer.py): a real
file arrives intact, a wrong token is refused before any data is kept, and a
file that never comes fails the receive naming it."""

from __future__ import annotations

import os
import uuid

import pytest

from novalite import config
from novalite.compute.disk_transfer import ChannelSender, DiskReceiver
from novalite.conf import CONF
from novalite.virt import driver


@pytest.fixture(autouse=True)
def _conf():
    config.register_base_opts()
    CONF.set_override("disk_transfer_timeout", 2, group="compute")
    yield
    CONF.clear_override("disk_transfer_timeout", group="compute")


@pytest.fixture
def receiver():
    r = DiskReceiver(str(uuid.uuid4()), "inst-1", address="127.0.0.1")
    yield r
    r.close()


def test_a_file_arrives_intact_and_the_staging_dir_goes(tmp_path, receiver):
    src = tmp_path / "disk"
    data = os.urandom(3 * 1024 * 1024 + 17)
    src.write_bytes(data)
    ChannelSender(receiver.endpoint()).send("inst-1", "disk", str(src))
    dest = tmp_path / "out" / "disk"
    receiver.transfer().receive("inst-1", "disk", str(src), str(dest))
    assert dest.read_bytes() == data
    staging = receiver._staging
    receiver.close()
    assert not os.path.exists(staging)


def test_a_wrong_token_is_refused(tmp_path, receiver):
    src = tmp_path / "disk"
    src.write_bytes(b"secret disk")
    endpoint = {**receiver.endpoint(), "token": "0" * 64}
    with pytest.raises(driver.MigrationError, match="wrong token"):
        ChannelSender(endpoint).send("inst-1", "disk", str(src))
    assert os.listdir(receiver._staging) == []


def test_a_file_of_another_instance_is_refused(tmp_path, receiver):
    src = tmp_path / "disk"
    src.write_bytes(b"x")
    with pytest.raises(driver.MigrationError, match="unexpected file"):
        ChannelSender(receiver.endpoint()).send("inst-2", "disk", str(src))


def test_a_file_that_never_comes_fails_naming_it(tmp_path, receiver):
    with pytest.raises(driver.MigrationError, match="file disk of instance inst-1 did not "
                                                    "arrive"):
        receiver.transfer().receive("inst-1", "disk", "/nowhere", str(tmp_path / "d"))


def test_fake_paths_carry_their_text(receiver):
    ChannelSender(receiver.endpoint()).send("inst-1", "disk", "fake://h1/inst-1/disk")
    receiver.transfer().receive("inst-1", "disk", "fake://h1/inst-1/disk",
                                "fake://h2/inst-1/disk")
