"""TCP ports for guests' serial consoles (``[libvirt] serial_console``).

A port belongs to a guest as long as a domain on this libvirtd names it in
its definition, running or not (a stopped guest gets its port back when it
starts). A new guest gets the first port of ``serial_port_range`` that no
domain names, that this process did not hand out in the last minutes (a
spawn between choosing its port and defining its domain), and that nothing
else on the host is bound to.
"""

from __future__ import annotations

import socket
import threading
import time
import xml.etree.ElementTree as ET

import libvirt

from novalite import exception

# NOTE: longer than any spawn takes from its XML to its domain definition.
RESERVATION_SECONDS = 300.0


def ports_of(xml: str) -> list[tuple[str, int]]:
    """(host, port) of each serial console socket a domain XML binds."""
    tree = ET.fromstring(xml)
    found = []
    for source in tree.findall("./devices/serial[@type='tcp']/source[@mode='bind']"):
        service = source.get("service") or ""
        if service.isdigit():
            found.append((source.get("host") or "", int(service)))
    return found


def parse_range(text: str) -> tuple[int, int]:
    low, _sep, high = text.partition(":")
    start, end = int(low), int(high)
    if not 0 < start <= end < 65536:
        raise exception.Invalid(reason=f"[libvirt] serial_port_range {text!r} is not "
                                       "MIN:MAX with 0 < MIN <= MAX < 65536")
    return start, end


def _bindable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class SerialPorts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reserved: dict[int, float] = {}

    def acquire(self, conn: libvirt.virConnect, host: str, port_range: str) -> int:
        start, end = parse_range(port_range)
        with self._lock:
            now = time.monotonic()
            self._reserved = {p: t for p, t in self._reserved.items()
                              if now - t < RESERVATION_SECONDS}
            taken = set(self._reserved)
            for domain in conn.listAllDomains(0):
                try:
                    taken.update(p for _h, p in ports_of(domain.XMLDesc(0)))
                except libvirt.libvirtError:
                    continue  # NOTE: undefined since it was listed.
            for port in range(start, end + 1):
                if port not in taken and _bindable(host, port):
                    self._reserved[port] = now
                    return port
        raise exception.NovaliteException(
            f"no free serial console port in [libvirt] serial_port_range {port_range} on "
            f"{host}")
