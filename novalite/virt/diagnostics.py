"""A guest's diagnostics in the one format every driver answers (Nova's
standard one, API microversion 2.48), and the older per-hypervisor flat
form the API shows before 2.48.

A value the driver cannot measure is None, never a made-up number: the
format requires every key, not every value.
"""

from __future__ import annotations

from typing import Any

from novalite.virt import power_state

# NOTE: the format names one of Nova's platform drivers; novalite's drivers
# are libvirt, and the fake one, which stands in for it (as Nova's fake does).
DRIVER = "libvirt"


def cpu(index: int, time_ns: int | None = None, utilisation: int | None = None) -> dict[str, Any]:
    return {"id": index, "time": time_ns, "utilisation": utilisation}


def nic(mac_address: str | None, stats: dict[str, int | None] | None = None) -> dict[str, Any]:
    """A NIC's counters (``rx_octets``, ``tx_packets`` ...; missing: None)."""
    names = ("rx_octets", "rx_errors", "rx_drop", "rx_packets", "rx_rate", "tx_octets",
             "tx_errors", "tx_drop", "tx_packets", "tx_rate")
    stats = stats or {}
    return {"mac_address": mac_address, **{n: stats.get(n) for n in names}}


def disk(read_bytes: int | None = None, read_requests: int | None = None,
         write_bytes: int | None = None, write_requests: int | None = None,
         errors_count: int | None = None) -> dict[str, Any]:
    return {"read_bytes": read_bytes, "read_requests": read_requests,
            "write_bytes": write_bytes, "write_requests": write_requests,
            "errors_count": errors_count}


def diagnostics(state: int, hypervisor: str | None, uptime: int | None, config_drive: bool,
                memory_max_mb: int | None, memory_used_mb: int | None,
                cpus: list[dict[str, Any]], nics: list[dict[str, Any]], disks: list[dict[str, Any]],
                hypervisor_os: str | None = "linux") -> dict[str, Any]:
    """The standard diagnostics of one guest (``state`` a power_state)."""
    return {
        "state": power_state.STATE_MAP.get(state, "pending"), "driver": DRIVER,
        "hypervisor": hypervisor, "hypervisor_os": hypervisor_os, "uptime": uptime,
        "config_drive": bool(config_drive), "num_cpus": len(cpus), "num_nics": len(nics),
        "num_disks": len(disks),
        "memory_details": {"maximum": memory_max_mb, "used": memory_used_mb},
        "cpu_details": cpus, "nic_details": nics, "disk_details": disks,
    }


def legacy(diag: dict[str, Any]) -> dict[str, Any]:
    """The flat form shown before 2.48 (libvirt's keys: ``cpu0_time``,
    ``memory`` in KiB, per-disk and per-NIC counters), from the standard one;
    unmeasured values are left out."""
    out: dict[str, Any] = {}
    for c in diag["cpu_details"]:
        out[f"cpu{c['id']}_time"] = c["time"]
    if diag["memory_details"]["maximum"] is not None:
        out["memory"] = diag["memory_details"]["maximum"] * 1024
    if diag["memory_details"]["used"] is not None:
        out["memory-actual"] = diag["memory_details"]["used"] * 1024
    for i, d in enumerate(diag["disk_details"]):
        name = f"vd{chr(ord('a') + i)}" if i < 26 else f"disk{i}"
        for key, value in (("read", d["read_bytes"]), ("read_req", d["read_requests"]),
                           ("write", d["write_bytes"]), ("write_req", d["write_requests"]),
                           ("errors", d["errors_count"])):
            out[f"{name}_{key}"] = value
    for i, n in enumerate(diag["nic_details"]):
        for key in ("rx", "rx_drop", "rx_errors", "rx_packets", "tx", "tx_drop",
                    "tx_errors", "tx_packets"):
            field = key.replace("rx", "rx_octets", 1) if key == "rx" else \
                key.replace("tx", "tx_octets", 1) if key == "tx" else key
            out[f"vnet{i}_{key}"] = n[field]
    if diag["uptime"] is not None:
        out["uptime"] = diag["uptime"]
    return {k: v for k, v in out.items() if v is not None}
