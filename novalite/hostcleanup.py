"""``novalite-manage host cleanup``: remove what novalite made on this host
and nothing else uses any more, after asking.

What it finds:
- guests (libvirt domains with novalite's metadata) that belong to no
  instance of this deployment, or to a deployment whose state directory is
  gone; guests of another deployment that still has its state are left alone;
- taps on novalite's bridges that no running guest uses;
- this deployment's bridges (and bridges of gone deployments) with no port;
- with ``[network] dataplane = vxlan``: this deployment's data plane (bridges,
  VXLAN devices, namespaces, nftables tables, host routes of its prefix) when
  it does not run, and the data planes of deployments whose state is gone;
- cached base images that no instance disk of this deployment is built on.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from novalite.conf import CONF


@dataclasses.dataclass
class Item:
    kind: str           # guest, tap, bridge, cached image
    name: str
    why: str
    remove: Callable[[], None]

    def line(self) -> str:
        return f"  {self.kind:12} {self.name}: {self.why}"


def _sysfs(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _guests(conn: Any) -> list[Item]:
    from novalite import doctor
    from novalite.virt.libvirt.guest import Guest

    items = []
    for g in doctor.leftover_guests():
        if g["kind"] == "other":
            continue
        why = ("belongs to no instance of this deployment" if g["kind"] == "orphan" else
               f"its deployment's state is gone ({g['instances_path']})")

        def remove(uuid: str = g["uuid"], path: str | None = g["instances_path"]) -> None:
            guest = Guest(conn.lookupByUUIDString(uuid))
            if guest.is_active():
                guest.poweroff()
            guest.delete_configuration()
            if path:
                shutil.rmtree(os.path.join(path, uuid), ignore_errors=True)

        items.append(Item("guest", f"{g['name']} ({g['uuid']})",
                          f"{why}, {'running' if g['running'] else 'shut off'}", remove))
    return items


def _novalite_bridges() -> dict[str, str]:
    """Bridges novalite made here: name -> the state path in its mark ('' when
    it is one of this deployment's networks' bridges without a mark)."""
    from novalite.network import linux_net

    bridges: dict[str, str] = {}
    for name in sorted(os.listdir("/sys/class/net")):
        owner = linux_net.bridge_owner(name)
        if owner:
            bridges[name] = owner
    if CONF.database.connection:
        from novalite.db import network as db_network

        for net in db_network.network_get_all():
            owner = linux_net.bridge_owner(net["bridge"])
            if owner is not None:
                bridges.setdefault(net["bridge"], owner)
    return bridges


def _active_taps(conn: Any) -> set[str]:
    taps = set()
    for domain in conn.listAllDomains():
        try:
            if not domain.isActive():
                continue
            tree = ET.fromstring(domain.XMLDesc(0))
        except Exception:  # noqa: BLE001 - gone since listed
            continue
        taps |= {t.get("dev", "") for t in tree.findall("./devices/interface/target")}
    return taps


def _network_items(conn: Any) -> list[Item]:

    mine = os.path.realpath(CONF.state_path)
    bridges = _novalite_bridges()
    active = _active_taps(conn)
    items = []
    for bridge, owner in bridges.items():
        ports = os.listdir(f"/sys/class/net/{bridge}/brif") if os.path.isdir(
            f"/sys/class/net/{bridge}/brif") else []
        stale = [p for p in ports if p.startswith("tap") and p not in active]
        for tap in stale:
            items.append(Item("tap", tap, f"on {bridge}, used by no running guest",
                              _deleter(tap)))
        ours = owner in ("", mine)
        gone = bool(owner) and not os.path.isdir(owner)
        if (ours or gone) and len(ports) == len(stale):
            why = "this deployment's bridge, no guest on it" if ours else \
                f"made by a deployment whose state is gone ({owner})"
            items.append(Item("bridge", bridge, why, _deleter(bridge)))
    return items


def _deleter(device: str) -> Callable[[], None]:
    from novalite.network import linux_net

    return lambda: linux_net.delete_device(device)


def _unlinker(path: str) -> Callable[[], None]:
    return lambda: os.unlink(path)


def _backing_files(instances_path: str) -> set[str]:
    used: set[str] = set()
    if not os.path.isdir(instances_path):
        return used
    for entry in os.listdir(instances_path):
        disk = os.path.join(instances_path, entry, "disk")
        if not os.path.isfile(disk):
            continue
        res = subprocess.run(["qemu-img", "info", "-f", "qcow2", "--output=json",
                              "--force-share", disk], capture_output=True, text=True,
                             check=False, timeout=30)
        if res.returncode == 0:
            backing = json.loads(res.stdout).get("full-backing-filename")
            if backing:
                used.add(os.path.realpath(backing))
    return used


def _cache_items() -> list[Item]:
    cache = CONF.libvirt.image_cache_path
    if not os.path.isdir(cache):
        return []
    used = _backing_files(CONF.libvirt.instances_path)
    items = []
    for entry in sorted(os.listdir(cache)):
        path = os.path.join(cache, entry)
        if os.path.isfile(path) and os.path.realpath(path) not in used:
            size = os.path.getsize(path) // (1024 * 1024)
            items.append(Item("cached image", path, f"{size} MiB, no instance disk uses it",
                              _unlinker(path)))
    return items


def deployment_running() -> bool:
    """Whether this deployment runs on this host: its all-in-one's pid file
    names a live process, or (a compute host of a larger deployment) its
    compute service here is up. Unknown (no database) counts as running."""
    try:
        with open(os.path.join(CONF.state_path, "all-in-one.pid")) as f:
            os.kill(int(f.read().strip()), 0)
        return True
    except (OSError, ValueError):
        pass
    if os.path.exists(os.path.join(CONF.state_path, "dataplane.json")):
        return False  # NOTE: an all-in-one (it records its data plane) with no live pid.
    if not CONF.database.connection:
        return True
    from novalite import context as nl_context
    from novalite.objects.service import ServiceList

    return any(s.binary == "novalite-compute" and s.host == CONF.host and s.is_up()
               for s in ServiceList.get_all(nl_context.get_admin_context()))


def dataplane_objects(prefix: str) -> list[str]:
    """What this kernel has of the vxlan data plane with ``prefix``."""
    import json as _json

    from novalite.network import agent_service
    from novalite.network.dataplane import names

    found = []
    links = _json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True,
                                       text=True, check=False).stdout or "[]")
    found += [str(link["ifname"]) for link in links
              if link.get("ifalias") == names.owner_mark(prefix)]
    found += [ns for ns in _namespaces() if ns.startswith((f"{prefix}dhcp-", f"{prefix}r-"))]
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True,
                            check=False).stdout.split()
    if names.nft_table(prefix) in tables:
        found.append(f"nftables {names.nft_table(prefix)}")
    proto = str(agent_service.route_protocol(prefix))
    found += [f"route {line.split()[0]}" for line in subprocess.run(
        ["ip", "-4", "route", "show", "proto", proto], capture_output=True, text=True,
        check=False).stdout.splitlines() if line.strip()]
    return found


def _namespaces() -> list[str]:
    from novalite.network.dataplane import kernel

    return sorted(kernel.namespaces())


def remove_dataplane(prefix: str, state_path: str) -> None:
    """An empty state applied with ``prefix`` removes its bridges, VXLAN
    devices, namespaces (with the dnsmasq inside), nftables tables and
    metadata proxies; an empty route set its host routes."""
    import tempfile

    from novalite.network import agent_service
    from novalite.network import manage as network_manage
    from novalite.network.dataplane import agent, metadata_proxy
    from novalite.network.dataplane.state import HostState

    dataplane_dir = os.path.join(state_path, "dataplane", prefix)
    metadata_proxy.stop_all(os.path.join(dataplane_dir, "metadata"))
    empty = HostState(host=str(CONF.host), local_ip="127.0.0.1")
    if os.path.isdir(state_path):
        agent.apply(empty, prefix=prefix, state_dir=dataplane_dir)
    else:
        # NOTE: its state is gone: nothing is made again under its path.
        with tempfile.TemporaryDirectory(prefix="novalite-cleanup-") as tmp:
            agent.apply(empty, prefix=prefix, state_dir=tmp)
    agent_service.sync_host_routes(empty, prefix)
    left = dataplane_objects(prefix)
    if left:
        raise RuntimeError(f"still there: {', '.join(left)}")
    network_manage.unregister_claim(prefix)


def _dataplane_remover(prefix: str, state_path: str) -> Callable[[], None]:
    return lambda: remove_dataplane(prefix, state_path)


def _running_guests_of_mine(conn: Any, removing: set[str]) -> list[str]:
    """This deployment's running guests that this cleanup does not remove:
    they still use its data plane."""
    from novalite.virt.libvirt.driver import deployment_path
    from novalite.virt.libvirt.guest import Guest

    mine = deployment_path()
    names = []
    for domain in conn.listAllDomains():
        guest = Guest(domain)
        try:
            if guest.is_novalite() and guest.deployment() == mine and guest.is_active() \
                    and guest.uuid not in removing:
                names.append(guest.name)
        except Exception:  # noqa: BLE001 - gone since listed
            continue
    return names


def _dataplane_items(conn: Any, removing: set[str]) -> list[Item]:
    """This deployment's vxlan data plane when it does not run (it makes it
    again when it starts) and no guest of it runs, and the data planes of
    deployments whose state is gone (from the host's registry of claims)."""
    from novalite.network import manage as network_manage

    items = []
    mine = os.path.realpath(CONF.state_path)
    if str(CONF.network.dataplane) == "vxlan":
        prefix = str(CONF.network.dataplane_prefix)
        objects = dataplane_objects(prefix)
        if objects and not deployment_running() and \
                not _running_guests_of_mine(conn, removing):
            items.append(Item(
                "data plane", prefix,
                f"this deployment's ({len(objects)} object(s): {', '.join(objects[:4])}"
                f"{', ...' if len(objects) > 4 else ''}); it does not run (a start makes "
                "them again)", _dataplane_remover(prefix, mine)))
    for prefix, claim in network_manage.registered().items():
        path = str(claim.get("state_path") or "")
        if path == mine or os.path.isdir(path):
            continue
        objects = dataplane_objects(prefix)
        if not objects:
            # NOTE: a stale claim (its objects went another way): only the record.
            network_manage.unregister_claim(prefix)
            continue
        items.append(Item("data plane", prefix,
                          f"made by a deployment whose state is gone ({path}): "
                          f"{', '.join(objects[:4])}{', ...' if len(objects) > 4 else ''}",
                          _dataplane_remover(prefix, path)))
    return items


def find(conn: Any) -> list[Item]:
    items = _guests(conn)
    # NOTE: taps and bridges after the guests: removing a guest frees its tap.
    items += _network_items(conn)
    # NOTE: after the guests too: their taps are on the data plane's bridges.
    removing = {i.name.rsplit("(", 1)[-1].rstrip(")") for i in items if i.kind == "guest"}
    items += _dataplane_items(conn, removing)
    items += _cache_items()
    return items


def _remove(items: list[Item]) -> int:
    """Remove each; report and go on past a failure. Returns the failures."""
    failed = 0
    for item in items:
        try:
            item.remove()
            print(f"removed {item.kind} {item.name}")
        except Exception as e:  # noqa: BLE001 - report and go on with the rest
            failed += 1
            print(f"could not remove {item.kind} {item.name}: {e}", file=sys.stderr)
    return failed


def cleanup(assume_yes: bool, ask: Callable[[str], str] = input) -> int:
    import libvirt

    from novalite import doctor

    # NOTE: which guests are this deployment's is read from its database:
    # one that is not usable (not reachable, older schema) would make every
    # guest look like an orphan.
    for check in (doctor.check_database(), doctor.check_libvirtd()):
        if check.status == doctor.FAIL:
            print(f"Nothing removed: {check.line()}", file=sys.stderr)
            return 1
    conn = libvirt.open(CONF.libvirt.connection_uri)
    try:
        items = find(conn)
        if not items:
            print("Nothing to clean up: novalite left nothing unused on this host.")
            return 0
        print(f"novalite made these on this host and nothing uses them ({len(items)}):")
        for item in items:
            print(item.line())
        if not assume_yes:
            if not sys.stdin.isatty():
                print("Nothing removed: no terminal to ask on; run again with --yes to "
                      "remove them.")
                return 1
            if ask("Remove them? [y/N] ").strip().lower() not in ("y", "yes"):
                print("Nothing removed.")
                return 0
        failed = _remove(items)
        if any(i.kind == "guest" for i in items):
            # NOTE: a removed guest frees its tap, which may free a bridge.
            failed += _remove(_network_items(conn))
        return 1 if failed else 0
    finally:
        conn.close()


def add_parser(host_subparsers: Any) -> None:
    clean = host_subparsers.add_parser(
        "cleanup", help="remove guests of no instance (or of a deployment whose state is "
                        "gone), unused taps, this deployment's unused bridges and unused "
                        "cached images, after asking")
    clean.add_argument("--yes", action="store_true", help="do not ask")
