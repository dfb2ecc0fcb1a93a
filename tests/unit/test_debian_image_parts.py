"""Parts of the Debian cloud image build that need no debootstrap: the
two-partition MBR, and what makes a bootstrapped root an image many
instances can boot (no shared SSH host keys or machine-id)."""

from __future__ import annotations

import os
import struct
from typing import Any

from novalite.image import debian


def test_mbr_has_an_active_boot_partition_and_the_root_last() -> None:
    sector = debian._mbr(b"\xeb" * 440, [(1 << 20, 32 << 20, debian.FAT16_LBA, True),
                                         (33 << 20, 400 << 20, debian.LINUX, False)])
    assert len(sector) == 512 and sector[510:] == b"\x55\xaa"
    entries = [struct.unpack("<B3sB3sII", sector[446 + 16 * i:462 + 16 * i]) for i in range(4)]
    assert [(e[0], e[2], e[4], e[5]) for e in entries[:2]] == [
        (0x80, 0x0E, 2048, 65536), (0, 0x83, 67584, 819200)]
    assert entries[2][4] == entries[3][4] == 0


def test_configure_removes_what_instances_must_not_share(tmp_path: Any) -> None:
    root = str(tmp_path / "root")
    for rel in ("etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_rsa_key.pub",
                "etc/machine-id", "usr/share/doc/bash/copyright", "var/lib/apt/lists/x_y",
                "etc/hostname"):
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "w") as f:
            f.write("from the build host\n")
    # A symlink in the root is replaced, never written through.
    outside = tmp_path / "outside"
    outside.write_text("keep\n")
    os.symlink(str(outside), os.path.join(root, "etc/hosts"))
    debian._configure(root, "0f0e0d0c-0b0a-4908-8706-050403020100")
    assert not [n for n in os.listdir(os.path.join(root, "etc/ssh")) if "host" in n]
    assert os.path.getsize(os.path.join(root, "etc/machine-id")) == 0
    assert os.listdir(os.path.join(root, "usr/share/doc")) == []
    assert not os.path.exists(os.path.join(root, "var/lib/apt/lists/x_y"))
    with open(os.path.join(root, "etc/fstab")) as f:
        assert f.read().startswith("UUID=0f0e0d0c-0b0a-4908-8706-050403020100 / ext4")
    with open(os.path.join(root, "etc/cloud/cloud.cfg.d/90-novalite.cfg")) as f:
        assert "ConfigDrive, OpenStack" in f.read()
    assert outside.read_text() == "keep\n"
    assert not os.path.islink(os.path.join(root, "etc/hosts"))
