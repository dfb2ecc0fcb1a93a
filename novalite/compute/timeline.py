"""The timeline of a build or an action: each step (quota checked, scheduled,
network allocated, image fetched, disk created, domain defined and started,
...) as an instance action event of the request's action, with its start,
finish, result and ``details`` a user can act on.

Why a recorder of its own and not one ``InstanceActionEvent.event_start`` +
``finish`` per step: compute has no database, so each of those is a
conductor round trip, and a build has a dozen steps. A ``Timeline`` keeps
its finished steps in memory; compute sends them in ONE conductor cast when
the build ends (``record_action_events``, conductor RPC 1.6), and the
services that have the database (API, conductor) write them in one
transaction. The steps therefore appear when the build ends, not live.

What a user may read goes in ``details``: a step's own words ("1.2 MiB
fetched in 0.31 s") or, for a failure, the error's message when it is one
of ours (written for users), else only its type; the full text and the
traceback go to ``traceback`` (admins only). Host names stay in ``host``
(admins only).

Each finished step also feeds ``novalite_instance_step_seconds``
(``novalite.metrics.observe_step``). ``[timeline] enabled = False`` records
nothing: only the coarse events (compute__build_instance, ...) remain.
"""

from __future__ import annotations

import contextlib
import datetime
import time
import traceback as tb_module
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oslo_log import log as logging
from oslo_utils import timeutils

from novalite import exception, metrics
from novalite.conf import CONF
from novalite.objects.instance_action import InstanceActionEvent, InstanceActionEventList

if TYPE_CHECKING:
    from novalite.context import RequestContext

LOG = logging.getLogger(__name__)

SUCCESS = "Success"
ERROR = "Error"

# The steps of a build, in the order they happen (the API's, the
# conductor's, then the compute host's and its driver's).
API_ACCEPTED = "api_accepted"
SCHEDULE = "schedule_instances"
NETWORK_ALLOCATE = "network_allocate"
VOLUMES_PREPARE = "volumes_prepare"
IMAGE_CHECK = "image_check"
IMAGE_FETCH = "image_fetch"
DISK_CREATE = "disk_create"
CONFIG_DRIVE = "config_drive"
DOMAIN_DEFINE = "domain_define"
DOMAIN_START = "domain_start"

# NOTE: what a failed step means for the user, used in the fault message.
_STEP_WORDS = {
    API_ACCEPTED: "accepting the request",
    SCHEDULE: "choosing a host",
    NETWORK_ALLOCATE: "allocating the network",
    VOLUMES_PREPARE: "preparing the volumes",
    IMAGE_CHECK: "checking the image",
    IMAGE_FETCH: "fetching the image",
    DISK_CREATE: "creating the disk",
    CONFIG_DRIVE: "building the config drive",
    DOMAIN_DEFINE: "defining the guest",
    DOMAIN_START: "starting the guest",
}


def enabled() -> bool:
    return bool(CONF.timeline.enabled)


def user_reason(exc: BaseException) -> str:
    """What a user may read of ``exc``: our own errors are written for
    users; any other may carry host paths, so only its type is shown (the
    traceback, for admins, has the rest)."""
    if isinstance(exc, exception.NovaliteException):
        return str(exc.format_message())
    return f"unexpected error ({type(exc).__name__}); an administrator can read the details"


def step_words(name: str) -> str:
    return _STEP_WORDS.get(name, name.replace("_", " "))


class BuildStepFailed(exception.NovaliteException):
    """A build failed at a named step: the fault message says which and why."""

    msg_fmt = "Build failed while %(words)s (step %(step)s): %(reason)s"


class StepReport:
    """Handed to the code inside a step: it may set ``details``."""

    __slots__ = ("details",)

    def __init__(self) -> None:
        self.details: str | None = None


@dataclass
class Step:
    name: str
    start: datetime.datetime
    finish: datetime.datetime
    result: str
    details: str | None = None
    traceback: str | None = None
    host: str | None = None


class Timeline:
    """The finished steps of one build or action on one service."""

    def __init__(self, host: str | None = None, on: bool | None = None) -> None:
        self.host = host
        self.on = enabled() if on is None else on
        self.steps: list[Step] = []
        self._recorded = 0

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[StepReport]:
        """Time the block as step ``name``: Success, or Error with the
        exception's user-readable reason (the exception passes on)."""
        report = StepReport()
        if not self.on:
            yield report
            return
        start = timeutils.utcnow()
        began = time.monotonic()
        try:
            yield report
        except BaseException as exc:
            reason = user_reason(exc)
            details = f"{report.details}; {reason}" if report.details else reason
            self.add(name, start, time.monotonic() - began, ERROR, details,
                     tb_module.format_exc())
            raise
        self.add(name, start, time.monotonic() - began, SUCCESS, report.details)

    def add(self, name: str, start: datetime.datetime, seconds: float, result: str,
            details: str | None = None, traceback: str | None = None,
            host: str | None = None) -> None:
        """A step timed elsewhere (``seconds`` from ``start``)."""
        if not self.on:
            return
        seconds = max(0.0, seconds)
        self.steps.append(Step(name, start, start + datetime.timedelta(seconds=seconds),
                               result, details, traceback, host or self.host))
        try:
            metrics.observe_step(name, seconds, result)
        except Exception:
            LOG.exception("Could not observe step %s", name)

    def failed(self) -> Step | None:
        """The step that failed (the last Error), if any."""
        return next((s for s in reversed(self.steps) if s.result == ERROR), None)

    def attribute(self, exc: BaseException) -> BaseException:
        """``exc``, or a BuildStepFailed naming the failed step, for the
        fault. NoValidHost keeps its own (tempest checks its start)."""
        failed = self.failed()
        if failed is None or isinstance(exc, exception.NoValidHost):
            return exc
        named = BuildStepFailed(words=step_words(failed.name), step=failed.name,
                                reason=user_reason(exc))
        # NOTE: the fault keeps the error's code (a 409 stays a 409) and,
        # for admins, its traceback.
        named.code = exc.code if isinstance(exc, exception.NovaliteException) else 500
        named.__cause__ = exc
        named.__traceback__ = exc.__traceback__
        return named

    def events(self, context: RequestContext) -> InstanceActionEventList:
        """The steps not recorded yet, as events (and now counted as recorded)."""
        new, self._recorded = self.steps[self._recorded:], len(self.steps)
        return InstanceActionEventList(context=context, objects=[
            InstanceActionEvent(context=context, event=s.name, start_time=s.start,
                                finish_time=s.finish, result=s.result, details=s.details,
                                traceback=s.traceback, host=s.host)
            for s in new])

    def write(self, context: RequestContext, instance_uuid: str, action: str) -> None:
        """Record the steps in the database (API, conductor); best effort."""
        if len(self.steps) == self._recorded:
            return
        try:
            InstanceActionEventList.record(context, instance_uuid, action, self.events(context))
        except Exception:
            LOG.exception("Could not record the timeline of %s", instance_uuid)

    def send(self, context: RequestContext, instance_uuid: str, action: str,
             conductor_api: Any, wait: bool = False) -> None:
        """Send the steps to a conductor in one cast (compute), or with
        ``wait`` one call (a failure: recorded before the fault shows);
        best effort."""
        if len(self.steps) == self._recorded:
            return
        try:
            conductor_api.record_action_events(context, instance_uuid, action,
                                               self.events(context), wait=wait)
        except Exception:
            LOG.exception("Could not send the timeline of %s", instance_uuid)
