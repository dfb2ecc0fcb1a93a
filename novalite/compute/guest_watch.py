"""The compute host's guest watcher: after a guest starts, is it alive?

A build, start or reboot that succeeded only says the hypervisor runs the
guest. Whether the guest itself came up is told by its serial console and its
agent, which the user cannot read from the server's status (it is ACTIVE
either way, as in Nova: a guest that does not boot is not a failure of the
cloud, so no fault and no ERROR). The watcher follows each started guest of
this host for ``[compute] guest_boot_deadline`` seconds and records, under
the action that started it (same request id), one instance action event per
step, started when the watch begins and finished when the step is seen:

- ``guest_first_console_line``: the guest printed its first output.
- ``guest_address_announced``: one of the server's fixed addresses appeared
  on its console (cloud-init's ci-info table, the tiny guest's "tiny: eth0
  ... 10.0.0.5/24" line, a DHCP client's lease line).
- ``guest_agent_ready``: the QEMU guest agent answered guest-ping (builds of
  an image declaring ``hw_qemu_guest_agent=yes``).
- ``guest_console_diagnosis`` (Error): a line of the console matched a known
  boot failure (``novalite.compute.diagnosis``); its details say what
  happened and what to do.
- ``guest_no_sign_of_life`` (Error): the deadline passed with nothing on the
  console, or without the address.

One periodic task runs every pass for every guest of the host (no thread per
guest); each pass reads at most ``READ_LIMIT`` new bytes of a guest's console
from where the last one stopped. A watch ends when every step was seen, at
the deadline, on a fatal diagnosis, when the guest stops running or is gone,
or when another start or reboot replaces it; steps still open then end as
Error saying why they were not seen.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from typing import TYPE_CHECKING, Any

from oslo_log import log as logging

from novalite import exception
from novalite.compute import diagnosis
from novalite.conf import CONF
from novalite.network import model as network_model
from novalite.objects.instance_action import InstanceActionEvent
from novalite.virt import power_state

if TYPE_CHECKING:
    from novalite.context import RequestContext
    from novalite.objects.instance import Instance
    from novalite.virt.driver import ComputeDriver

LOG = logging.getLogger(__name__)

FIRST_LINE = "guest_first_console_line"
ADDRESS = "guest_address_announced"
AGENT = "guest_agent_ready"
DIAGNOSIS = "guest_console_diagnosis"
NO_SIGN_OF_LIFE = "guest_no_sign_of_life"

# NOTE: per guest and pass; a chatty guest is caught up with over a few passes.
READ_LIMIT = 64 * 1024
# The end of a line not finished yet is kept for the next pass, up to this.
MAX_PARTIAL = diagnosis.MAX_LINE


def declares_agent(image_properties: dict[str, Any]) -> bool:
    return str(image_properties.get("hw_qemu_guest_agent") or "no").lower() in (
        "yes", "true", "1")


def fixed_addresses(network_info: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(str(ip["address"]) for vif in network_info
                 for ip in network_model.fixed_ips(vif) if ip.get("address"))


def _address_pattern(addresses: tuple[str, ...]) -> re.Pattern[str] | None:
    if not addresses:
        return None
    # NOTE: a whole address: 10.0.0.5 must not match in 10.0.0.50.
    return re.compile(r"(?<![\w.:])(" + "|".join(re.escape(a) for a in addresses)
                      + r")(?![\w:]|\.\d)")


@dataclasses.dataclass
class _Watch:
    context: RequestContext
    instance: Instance
    action: str
    offset: int
    addresses: tuple[str, ...]
    steps: list[str]
    started: float = dataclasses.field(default_factory=time.monotonic)
    events: dict[str, InstanceActionEvent | None] = dataclasses.field(default_factory=dict)
    begun: bool = False
    output: bool = False
    partial: str = ""
    signatures: set[str] = dataclasses.field(default_factory=set)
    address_re: re.Pattern[str] | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class GuestWatch:
    """The guests this host follows; ``poll`` is the periodic pass."""

    def __init__(self, driver: ComputeDriver, host: str) -> None:
        self.driver = driver
        self.host = host
        self._watches: dict[str, _Watch] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(CONF.compute.guest_watch
                    and self.driver.capabilities.get("has_boot_console"))

    def mark(self, instance: Instance) -> int:
        """Where the console log ends now (taken before a start or reboot,
        so the watch reads only what the guest prints after it)."""
        if not self.enabled:
            return 0
        try:
            return self._end_of_log(instance)
        except Exception:  # noqa: BLE001 - a missing guest or log starts at 0
            return 0

    def _end_of_log(self, instance: Instance) -> int:
        offset = 0
        while True:
            data, end = self.driver.read_console_log(instance, offset, 1 << 20)
            if not data:
                return end
            offset = end

    def watch(self, context: RequestContext, instance: Instance, action: str,
              network_info: list[dict[str, Any]], agent: bool = False,
              offset: int = 0) -> None:
        """Follow ``instance`` from now on (its events go to ``action`` of
        the context's request). Cheap: the events start on the next pass."""
        if not self.enabled:
            return
        addresses = fixed_addresses(network_info)
        steps = [FIRST_LINE] + ([ADDRESS] if addresses else []) + ([AGENT] if agent else [])
        new = _Watch(context, instance, action, offset, addresses, steps,
                     address_re=_address_pattern(addresses))
        with self._lock:
            old = self._watches.pop(instance.uuid, None)
            self._watches[instance.uuid] = new
        if old is not None:
            self._end(old, f"Not seen before the server was started again "
                           f"({old.elapsed():.0f} s after the watch began).")

    def forget(self, instance_uuid: str) -> None:
        with self._lock:
            self._watches.pop(instance_uuid, None)

    def watching(self) -> list[str]:
        with self._lock:
            return list(self._watches)

    # -- the periodic pass ---------------------------------------------------

    def poll(self) -> None:
        with self._lock:
            watches = list(self._watches.values())
        for w in watches:
            try:
                done = self._pass(w)
            except Exception as exc:  # noqa: BLE001 - one guest's trouble, not the pass's
                done = self._failed_pass(w, exc)
            if done:
                with self._lock:
                    if self._watches.get(w.instance.uuid) is w:
                        del self._watches[w.instance.uuid]

    def _failed_pass(self, w: _Watch, exc: Exception) -> bool:
        """A pass that raised (e.g. the guest was deleted between two calls):
        the watch ends when the guest is gone, else the next pass tries again."""
        try:
            self.driver.get_info(w.instance)
        except exception.InstanceNotFound:
            self._end(w, "Not seen: the guest is no longer on this host (deleted or moved).")
            return True
        except Exception:  # noqa: BLE001
            pass
        LOG.warning("Guest watch of %s: this pass failed (%s); trying again",
                    w.instance.uuid, exc)
        return False

    def _pass(self, w: _Watch) -> bool:
        """One look at the guest; True when its watch is over."""
        if not w.begun:
            w.begun = True
            for step in w.steps:
                w.events[step] = self._start(w, step)
        try:
            state = self.driver.get_info(w.instance).state
        except exception.InstanceNotFound:
            self._end(w, "Not seen: the guest is no longer on this host (deleted or moved).")
            return True
        self._read_console(w)
        if w.signatures & _FATAL:
            self._end(w, "Not reached: the guest's boot failed "
                         f"(see {DIAGNOSIS}).")
            return True
        if state != power_state.RUNNING:
            name = power_state.STATE_MAP.get(state, str(state))
            self._end(w, f"Not seen: the guest stopped running ({name}) "
                         f"{w.elapsed():.0f} s after it started.")
            return True
        if AGENT in w.events and self.driver.guest_agent_ready(w.instance):
            self._finish(w, AGENT, "Success",
                         f"The guest agent answered guest-ping {w.elapsed():.1f} s "
                         "after the guest started.")
        if not w.events:
            return True
        if w.elapsed() >= CONF.compute.guest_boot_deadline:
            self._deadline(w)
            return True
        return False

    def _read_console(self, w: _Watch) -> None:
        data, end = self.driver.read_console_log(w.instance, w.offset, READ_LIMIT)
        if end < w.offset:
            w.partial = ""
        w.offset = end
        if not data:
            return
        if not w.output and data.strip():
            w.output = True
            self._finish(w, FIRST_LINE, "Success",
                         f"The guest printed its first console output "
                         f"{w.elapsed():.1f} s after it started.")
        text = w.partial + data.decode("utf-8", "replace")
        lines = text.split("\n")
        w.partial = lines.pop()[-MAX_PARTIAL:]
        for finding in diagnosis.scan(lines, w.signatures):
            LOG.warning("Instance %s: console shows %s: %s", w.instance.uuid,
                        finding.signature, finding.line)
            self._record(w, DIAGNOSIS, "Error", finding.message)
        if ADDRESS in w.events and w.address_re is not None:
            for line in lines:
                found = w.address_re.search(line[:diagnosis.MAX_LINE])
                if found:
                    self._finish(w, ADDRESS, "Success",
                                 f"The guest showed its address {found.group(1)} on its "
                                 f"console {w.elapsed():.1f} s after it started.")
                    break

    def _deadline(self, w: _Watch) -> None:
        limit = CONF.compute.guest_boot_deadline
        if not w.output:
            self._record(w, NO_SIGN_OF_LIFE, "Error", (
                f"The server printed nothing on its serial console within {limit} s of "
                "starting: the image may not be bootable by this cloud's BIOS firmware "
                "(a UEFI-only image, or a disk uploaded with the wrong disk_format), or its "
                "kernel does not write to the serial console (console=ttyS0). The server "
                "stays ACTIVE: check the image, then rebuild the server."))
        elif ADDRESS in w.events:
            self._record(w, NO_SIGN_OF_LIFE, "Error", (
                f"The server did not show its address ({', '.join(w.addresses)}) on its "
                f"serial console within {limit} s of starting: its network configuration "
                "may have failed (no DHCP answer, an image without cloud-init or "
                "config drive support, or the guest is still booting slowly). Read its "
                "console log (openstack console log show) for the guest's own messages."))
        self._end(w, f"Not seen within the deadline of {limit} s.")

    # -- events ----------------------------------------------------------------

    def _start(self, w: _Watch, event: str) -> InstanceActionEvent | None:
        try:
            return InstanceActionEvent.event_start(w.context, w.instance.uuid, w.action,
                                                   event, self.host)
        except Exception:
            LOG.exception("Could not record the start of %s on %s", event, w.instance.uuid)
            return None

    def _finish(self, w: _Watch, step: str, result: str, details: str) -> None:
        # NOTE: pop once: a superseded watch may end in another thread.
        started = w.events.pop(step, _MISSING)
        if started is None or started is _MISSING:
            return
        assert isinstance(started, InstanceActionEvent)
        try:
            started.finish(result, details)
        except Exception:
            LOG.exception("Could not record the end of %s on %s", step, w.instance.uuid)

    def _record(self, w: _Watch, event: str, result: str, details: str) -> None:
        """An event seen at once (started and finished now)."""
        started = self._start(w, event)
        w.events[event] = started
        self._finish(w, event, result, details)

    def _end(self, w: _Watch, why: str) -> None:
        for step in list(w.events):
            self._finish(w, step, "Error", why)


_MISSING = object()
_FATAL = frozenset(s.name for s in diagnosis.SIGNATURES if s.fatal)
