"""Flavor extra spec validation of microversion 2.86, as Nova's.

From 2.86 a flavor extra spec whose key Nova knows must have a value of
the right kind (an integer in range, a boolean-like string, one of a set of
words, a string of a format); a key Nova does not know inside a namespace
it knows (``hw:foo``) is refused; keys without a namespace, and namespaces
Nova does not know, stay free-form. The messages are Nova's.

The rules below are the keys of Nova's validators (nova/api/validation/
extra_specs) written as a table; the standard trait and resource class
names come from ``extra_spec_names`` (``trait:`` and ``resources:`` also
take ``CUSTOM_*``). ``{param}`` in a key stands for the rule's pattern.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from oslo_utils import strutils

from novalite.api import errors
from novalite.api.extra_spec_names import STANDARD_RESOURCE_CLASSES, STANDARD_TRAITS

# NOTE: a request group suffix (trait1:, resources_gpu:), as placement's.
_GROUP = r"([a-zA-Z0-9_-]{1,64})?"
_CPU_SET = r"\^?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*"
_SHARES = ("custom", "high", "normal", "low")


@dataclasses.dataclass(frozen=True)
class Rule:
    """One known key (``name``, ``{x}`` replaced by ``params[x]``) and what
    its value must be: ``kind`` int (within minimum/maximum), bool
    (strutils' strict words), or str (``enum`` words, a ``pattern``, else
    anything). ``names``: a key's last part must be one of these or
    ``CUSTOM_`` upper-case (traits, resource classes)."""

    name: str
    kind: str = "str"
    enum: tuple[str, ...] = ()
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    params: tuple[tuple[str, str], ...] = ()
    names: frozenset[str] | None = None

    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        text = self.name
        for param, pattern in self.params:
            text = text.replace("{" + param + "}", f"(?P<{param}>{pattern})")
        return re.compile(text)

    @property
    def namespace(self) -> str | None:
        """The regex of the part before the first ':' (None without one)."""
        text = self.regex.pattern
        return text.split(":", 1)[0] if ":" in text else None

    def matches(self, key: str) -> bool:
        found = self.regex.fullmatch(key)
        if found is None:
            return False
        if self.names is not None:
            last = found.group("name")
            return last in self.names or re.fullmatch(r"CUSTOM_[A-Z0-9_]+", last) is not None
        return True

    def check(self, value: str) -> None:
        if self.kind == "int":
            self._check_int(value)
        elif self.kind == "bool":
            try:
                strutils.bool_from_string(value, strict=True)
            except ValueError:
                raise _invalid(f"'{value}' is not a valid boolean-like value.") from None
        elif self.pattern is not None:
            if re.fullmatch(self.pattern, value) is None:
                raise _invalid(f"'{value}' is not of the format '{self.pattern}'.")
        elif self.enum and value not in self.enum:
            raise _invalid(f"'{value}' is not one of: {', '.join(self.enum)}.")

    def _check_int(self, value: str) -> None:
        try:
            number = int(value)
        except ValueError:
            raise _invalid(f"'{value}' is not a valid integer value.") from None
        if self.maximum is not None and number > self.maximum:
            raise _invalid(f"'{number}' is greater than the max value of '{self.maximum}'.")
        if self.minimum is not None and number < self.minimum:
            raise _invalid(f"'{number}' is less than the min value of '{self.minimum}'.")


def _invalid(reason: str) -> errors.HTTPError:
    return errors.bad_request(f"Validation failed; {reason}")


_Params = tuple[tuple[str, str], ...]


def _int(name: str, minimum: int | None = None, maximum: int | None = None,
         params: _Params = ()) -> Rule:
    return Rule(name, "int", minimum=minimum, maximum=maximum, params=params)


def _bool(name: str) -> Rule:
    return Rule(name, "bool")


def _one_of(name: str, *words: str) -> Rule:
    return Rule(name, enum=words)


def _format(name: str, pattern: str, params: _Params = ()) -> Rule:
    return Rule(name, pattern=pattern, params=params)


def _anything(name: str, params: _Params = ()) -> Rule:
    return Rule(name, params=params)


_CAPABILITY_FIELDS = (
    "id", "uuid", "service_id", "host", "vcpus", "memory_mb", "local_gb", "vcpus_used",
    "memory_mb_used", "local_gb_used", "hypervisor_type", "hypervisor_version",
    "hypervisor_hostname", "free_ram_mb", "free_disk_gb", "current_workload", "running_vms",
    "disk_available_least", "host_ip", "mapped", "cpu_allocation_ratio",
    "ram_allocation_ratio", "disk_allocation_ratio", "total_usable_ram_mb",
    "total_usable_disk_gb", "disk_mb_used", "free_disk_mb", "vcpus_total", "num_instances",
    "num_io_ops", "failed_builds", "aggregates", "cell_uuid", "updated")
# NOTE: these take a ':sub:key' path after them (capabilities:stats:foo).
_CAPABILITY_TREES = (
    "cpu_info", "metrics", "stats", "numa_topology", "supported_hv_specs", "pci_device_pools",
    "nodename", "pci_stats", "supported_instances", "limits", "instances")
_FILTER = (("filter", r"(:\w+)*"),)

RULES: tuple[Rule, ...] = (
    # accel, aggregate_instance_extra_specs, capabilities: any value.
    _anything("accel:device_profile"),
    _anything("aggregate_instance_extra_specs:{key}", params=(("key", ".+"),)),
    *(_anything(f"capabilities:{field}") for field in _CAPABILITY_FIELDS),
    *(_anything(f"capabilities:{tree}{{filter}}", params=_FILTER)
      for tree in _CAPABILITY_TREES),
    # hw
    _bool("hw:cpu_realtime"),
    _format("hw:cpu_realtime_mask", r"(\^)?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*"),
    _bool("hw:hide_hypervisor_id"),
    _one_of("hw:cpu_policy", "dedicated", "shared", "mixed"),
    _one_of("hw:cpu_thread_policy", "prefer", "isolate", "require"),
    _one_of("hw:emulator_threads_policy", "isolate", "share"),
    _format("hw:cpu_dedicated_mask", _CPU_SET),
    _format("hw:mem_page_size", r"(large|small|any|\d+([kKMGT]i?)?(b|bit|B)?)"),
    _bool("hw:locked_memory"),
    _int("hw:numa_nodes", 1),
    _format("hw:numa_cpus.{num}", _CPU_SET, params=(("num", r"\d+"),)),
    _int("hw:numa_mem.{num}", 1, params=(("num", r"\d+"),)),
    _one_of("hw:pci_numa_affinity_policy", "required", "preferred", "legacy", "socket"),
    *(_int(f"hw:cpu_{part}", 1) for part in (
        "sockets", "cores", "threads", "max_sockets", "max_cores", "max_threads")),
    _bool("hw:boot_menu"),
    _bool("hw:vif_multiqueue_enabled"),
    _bool("hw:mem_encryption"),
    _one_of("hw:mem_encryption_model", "amd-sev", "amd-sev-es", "amd-sev-snp"),
    _format("hw:pmem", r"([a-zA-Z0-9_]+(,)?)+"),
    _bool("hw:pmu"),
    _int("hw:serial_port_count", 0),
    _one_of("hw:tpm_model", "tpm-tis", "tpm-crb"),
    _one_of("hw:tpm_version", "1.2", "2.0"),
    _one_of("hw:tpm_secret_security", "user", "host", "deployment"),
    _one_of("hw:watchdog_action", "none", "pause", "poweroff", "reset", "disabled"),
    _one_of("hw:viommu_model", "intel", "smmuv3", "virtio", "auto"),
    _bool("hw:virtio_packed_ring"),
    _one_of("hw:sound_model", "sb16", "es1370", "pcspk", "ac97", "ich6", "ich9", "usb",
            "virtio"),
    _one_of("hw:usb_model", "none", "nec-xhci", "qemu-xhci"),
    _int("hw:redirected_usb_ports", 0, 15),
    _bool("hw:ephemeral_encryption"),
    _one_of("hw:ephemeral_encryption_format", "plain", "luks", "luksv2"),
    # hw_rng, hw_video
    _bool("hw_rng:allowed"),
    _int("hw_rng:rate_bytes", 0),
    _int("hw_rng:rate_period", 0),
    _int("hw_video:ram_max_mb", 0),
    # without a namespace
    _bool("hide_hypervisor_id"),
    _one_of("group_policy", "isolate", "none"),
    # os, pci_passthrough
    _one_of("os:secure_boot", "disabled", "required"),
    _format("pci_passthrough:alias", r"[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*"),
    # quota: the VMware-style limits/reservations/shares, then libvirt's tuning.
    *(rule for resource in ("cpu", "memory", "disk_io", "vif") for rule in (
        _int(f"quota:{resource}_limit", 0),
        _int(f"quota:{resource}_reservation"),
        _one_of(f"quota:{resource}_shares_level", *_SHARES),
        _int(f"quota:{resource}_shares_share", 0))),
    _int("quota:cpu_shares", 0),
    _int("quota:cpu_period", 0),
    _int("quota:cpu_quota"),
    *(_int(f"quota:disk_{io}_sec", 0) for io in (
        "read_bytes", "read_iops", "write_bytes", "write_iops", "total_bytes",
        "total_iops")),
    *(_int(f"quota:vif_{way}_{what}", 0) for way in ("inbound", "outbound")
      for what in ("average", "peak", "burst")),
    # resources, trait: standard names or CUSTOM_*, in a request group or not.
    Rule("resources{group}:{name}", "int", params=(("group", _GROUP), ("name", ".+")),
         names=STANDARD_RESOURCE_CLASSES),
    Rule("trait{group}:{name}", enum=("required", "forbidden"),
         params=(("group", _GROUP), ("name", ".+")), names=STANDARD_TRAITS),
    # vmware: any value.
    _anything("vmware:hw_version"),
    _anything("vmware:storage_policy"),
)

_BY_NAME = {rule.name: rule for rule in RULES if not rule.params}
_NAMESPACES = tuple(re.compile(ns) for ns in dict.fromkeys(
    rule.namespace for rule in RULES if rule.namespace is not None))


def validate(key: str, value: str) -> None:
    """400 (Nova's ValidationError message) when ``key`` is known and
    ``value`` does not fit, or ``key`` is unknown in a known namespace."""
    rule = _BY_NAME.get(key)
    if rule is None:
        rule = next((r for r in RULES if r.params and r.matches(key)), None)
    if rule is not None:
        rule.check(value)
        return
    if ":" not in key:
        return
    namespace = key.split(":", 1)[0]
    if any(ns.fullmatch(namespace) for ns in _NAMESPACES):
        raise _invalid(f"extra spec '{key}' does not appear to be a valid extra spec.")
