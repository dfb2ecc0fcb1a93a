"""Kernel module load order from modinfo ``depends=``, on synthetic modules."""

from __future__ import annotations

import struct

import pytest

from novalite.tinyguest import elf, modules


def make_elf(sections: dict[str, bytes]) -> bytes:
    """A minimal little-endian ELF64 file holding ``sections`` (no segments)."""
    names = b"\0"
    offsets = {}
    for name in [*sections, ".shstrtab"]:
        offsets[name] = len(names)
        names += name.encode() + b"\0"
    body = b""
    placed = []
    for name, data in [*sections.items(), (".shstrtab", names)]:
        placed.append((name, 64 + len(body), len(data)))
        body += data
    shoff = 64 + len(body)
    header = (b"\x7fELF\x02\x01\x01" + b"\0" * 9
              + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64,
                            len(placed) + 1, len(placed)))
    shdrs = b"\0" * 64
    for name, off, size in placed:
        shdrs += struct.pack("<IIQQQQIIQQ", offsets[name], 3 if name == ".shstrtab" else 1,
                             0, 0, off, size, 0, 0, 1, 0)
    return header + body + shdrs


def modinfo_blob(name: str, depends: str) -> bytes:
    return f"license=GPL\0depends={depends}\0alias=pci:v1AF4*\0name={name}\0".encode()


GRAPH = {
    "virtio_pci": ["virtio_ring", "virtio_pci_modern_dev", "virtio", "virtio_pci_legacy_dev"],
    "virtio": ["virtio_ring"],
    "virtio_ring": [],
    "virtio_pci_modern_dev": [],
    "virtio_pci_legacy_dev": [],
    "virtio_net": ["virtio_ring", "virtio", "net_failover"],
    "net_failover": ["failover"],
    "failover": [],
    "sr_mod": ["scsi_mod", "cdrom", "scsi_common"],
    "scsi_mod": ["scsi_common"],
    "scsi_common": [],
    "cdrom": [],
    "isofs": ["cdrom"],
    "button": [],
}


def check_order(order: list[str], graph: dict[str, list[str]]) -> None:
    position = {name: i for i, name in enumerate(order)}
    assert len(position) == len(order), f"duplicates in {order}"
    for name in order:
        for dep in graph[name]:
            assert position[dep] < position[name], f"{name} loads before its dependency {dep}"


def test_every_module_follows_its_dependencies():
    wanted = ["virtio_pci", "virtio_net", "sr_mod", "isofs", "button"]
    order = modules.load_order(wanted, GRAPH.__getitem__)
    check_order(order, GRAPH)
    assert set(order) == set(GRAPH)


def test_order_is_stable_and_follows_the_wanted_order():
    order = modules.load_order(["button", "isofs", "virtio_net"], GRAPH.__getitem__)
    assert order == ["button", "cdrom", "isofs", "virtio_ring", "virtio", "failover",
                     "net_failover", "virtio_net"]


def test_shared_dependency_is_loaded_once():
    order = modules.load_order(["sr_mod", "isofs", "sr_mod"], GRAPH.__getitem__)
    assert order.count("cdrom") == 1 and order.count("sr_mod") == 1


def test_dashes_and_underscores_name_the_same_module():
    graph = {"virtio_rng": ["virtio"], "virtio": []}
    assert modules.load_order(["virtio-rng"], graph.__getitem__) == ["virtio", "virtio_rng"]


def test_cycle_is_reported_with_its_path():
    graph = {"a": ["b"], "b": ["c"], "c": ["a"]}
    with pytest.raises(modules.ModuleError, match="cycle: a -> b -> c -> a"):
        modules.load_order(["a"], graph.__getitem__)


def test_parse_modinfo_keeps_repeated_keys_and_empty_depends():
    info = modules.parse_modinfo(b"alias=a\0alias=b\0depends=\0name=x\0\0\0")
    assert info["alias"] == ["a", "b"]
    assert modules.depends(info) == []
    assert modules.depends(modules.parse_modinfo(b"depends=scsi_mod,cdrom\0")) == \
        ["scsi_mod", "cdrom"]


def test_modinfo_is_read_from_the_elf_section(tmp_path):
    path = tmp_path / "sr_mod.ko"
    path.write_bytes(make_elf({".text": b"\x90" * 16,
                               ".modinfo": modinfo_blob("sr_mod", "scsi_mod,cdrom")}))
    assert modules.depends(modules.read_modinfo(str(path))) == ["scsi_mod", "cdrom"]


def test_a_file_without_modinfo_is_refused(tmp_path):
    path = tmp_path / "odd.ko"
    path.write_bytes(make_elf({".text": b"\x90"}))
    with pytest.raises(modules.ModuleError, match="no .modinfo"):
        modules.read_modinfo(str(path))
    path.write_bytes(b"not an elf file at all, just text" * 4)
    with pytest.raises(elf.ElfError):
        modules.read_modinfo(str(path))


def fake_tree(root, graph: dict[str, list[str]]) -> None:
    for i, (name, deps) in enumerate(sorted(graph.items())):
        d = root / "kernel" / f"dir{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        filename = name.replace("_", "-") if name == "virtio_pci_legacy_dev" else name
        (d / f"{filename}.ko").write_bytes(make_elf({".modinfo": modinfo_blob(name,
                                                                              ",".join(deps))}))


def test_resolve_orders_a_tree_of_fake_modules(tmp_path):
    fake_tree(tmp_path, GRAPH)
    resolved = modules.resolve(str(tmp_path), ["isofs", "virtio_pci", "sr_mod"])
    order = [name for name, _ in resolved]
    check_order(order, GRAPH)
    assert order[:2] == ["cdrom", "isofs"]
    assert dict(resolved)["virtio_pci_legacy_dev"].endswith("virtio-pci-legacy-dev.ko")


def test_resolve_names_the_module_that_needs_a_missing_one(tmp_path):
    fake_tree(tmp_path, {"sr_mod": ["scsi_mod", "cdrom"], "cdrom": []})
    with pytest.raises(modules.ModuleError, match=r"scsi_mod \(needed by sr_mod\)"):
        modules.resolve(str(tmp_path), ["sr_mod"])
