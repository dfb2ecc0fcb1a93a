"""The tiny guest's building blocks that need no packages: the cpio writer,
the MBR, the init script's contract, and the KVM probe."""

from __future__ import annotations

import io
import stat

import pytest

from novalite import tinyguest
from novalite.tinyguest import cpio, disk, host, initramfs


def read_newc(data: bytes) -> list[tuple[str, int, bytes, int, int, int]]:
    """(name, mode, data, mtime, rdevmajor, rdevminor) per member, trailer included."""
    out, pos = [], 0
    while True:
        assert data[pos:pos + 6] == b"070701", f"bad magic at {pos}"
        f = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = f[11], f[6]
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        body = data[pos:pos + filesize]
        pos += filesize
        pos += -pos % 4
        out.append((name, f[1], body, f[5], f[9], f[10]))
        if name == cpio.TRAILER:
            return out


def test_cpio_is_sorted_has_parents_and_fixed_times():
    arc = cpio.Archive()
    arc.add_file("sbin/shutdown", b"#!/bin/sh\n", 0o755)
    arc.add_symlink("bin/sh", "/bin/busybox")
    arc.add_chardev("dev/console", 5, 1)
    arc.add_file("init", b"x" * 5)
    buf = io.BytesIO()
    arc.write(buf, mtime=1704067200)
    data = buf.getvalue()
    assert len(data) % 512 == 0
    members = read_newc(data)
    names = [m[0] for m in members]
    assert names == ["bin", "bin/sh", "dev", "dev/console", "init", "sbin", "sbin/shutdown",
                     cpio.TRAILER]
    by_name = {m[0]: m for m in members}
    assert stat.S_ISDIR(by_name["bin"][1])
    assert stat.S_ISLNK(by_name["bin/sh"][1]) and by_name["bin/sh"][2] == b"/bin/busybox"
    assert stat.S_ISCHR(by_name["dev/console"][1]) and by_name["dev/console"][4:] == (5, 1)
    assert by_name["sbin/shutdown"][1] == stat.S_IFREG | 0o755
    assert by_name["init"][2] == b"xxxxx"
    assert {m[3] for m in members[:-1]} == {1704067200}


def test_cpio_does_not_depend_on_insertion_order():
    def build(order):
        arc = cpio.Archive()
        for path in order:
            arc.add_file(path, path.encode())
        buf = io.BytesIO()
        arc.write(buf, mtime=0)
        return buf.getvalue()

    assert build(["a/b", "c", "a/a"]) == build(["c", "a/a", "a/b"])


def test_mbr_has_one_active_fat16_partition_at_1_mib():
    sector = disk.mbr(b"\xfa" * 440, disk.PART_START, 32 * disk.MiB)
    assert len(sector) == 512 and sector[510:] == b"\x55\xaa"
    entry = sector[446:462]
    assert entry[0] == 0x80 and entry[4] == disk.FAT16_LBA
    assert int.from_bytes(entry[8:12], "little") == 2048
    assert int.from_bytes(entry[12:16], "little") == 32 * 2048
    assert sector[462:510] == b"\0" * 48
    with pytest.raises(disk.DiskError):
        disk.mbr(b"\0" * 446, disk.PART_START, disk.MiB)


def test_partition_size_fits_the_files_with_room():
    assert disk.partition_size(1000) == 32 * disk.MiB
    big = 40 * disk.MiB
    assert disk.partition_size(big) >= big * 1.2 and disk.partition_size(big) % disk.MiB == 0


def test_init_prints_the_marker_tests_wait_for():
    script = initramfs.init_script()
    assert f'echo "{tinyguest.MARKER} hostname=$name"' in script
    assert f"{tinyguest.HOSTNAME_PARAM}=*" in script
    assert f"name={tinyguest.DEFAULT_HOSTNAME}" in script
    assert "@" not in script.replace("${arg#", "")
    assert tinyguest.marker_line("vm-1") == "NOVALITE-TINY-BOOTED hostname=vm-1"


@pytest.fixture
def fake_host(tmp_path):
    kvm = tmp_path / "kvm"
    kvm.write_text("")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu vme sse2 vmx lm\n")
    return {"dev_kvm": str(kvm), "pvm_module": str(tmp_path / "kvm_pvm"),
            "cpuinfo": str(cpuinfo)}


def test_kvm_usable_with_vmx_and_no_pvm(fake_host):
    assert host.kvm_usable(**fake_host) == (True, f"{fake_host['dev_kvm']} with vmx")


def test_kvm_not_usable_under_pvm(fake_host, tmp_path):
    (tmp_path / "kvm_pvm").mkdir()
    usable, reason = host.kvm_usable(**fake_host)
    assert not usable and "PVM" in reason


def test_kvm_not_usable_without_vmx_or_svm(fake_host, tmp_path):
    (tmp_path / "cpuinfo").write_text("flags\t\t: fpu vme sse2 lm hypervisor\n")
    usable, reason = host.kvm_usable(**fake_host)
    assert not usable and "neither vmx nor svm" in reason


def test_kvm_not_usable_without_dev_kvm(fake_host, tmp_path):
    usable, reason = host.kvm_usable(**{**fake_host, "dev_kvm": str(tmp_path / "none")})
    assert not usable and "does not exist" in reason
