"""The seed's service machinery: Service.create/start/stop, serve(), wait(),
launch(). Runs on oslo.service's threading backend (cotyledon), never
eventlet.

A Service connects a Manager to RPC: it asks the manager for its dispatcher
and consumes ``topic``, ``topic.<host>`` and the ``topic`` fanout; it keeps
the service record's heartbeat and runs the manager's periodic tasks.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import oslo_messaging as messaging
from oslo_log import log as logging
from oslo_service import service as os_service
from oslo_utils import importutils

from novalite import context as nl_context
from novalite import exception, persistence, rpc
from novalite.conf import CONF
from novalite.db import api as db_api

LOG = logging.getLogger(__name__)

# binary -> (topic option, manager class)
_SERVICES = {
    "novalite-compute": ("compute_topic", None),
    "novalite-conductor": ("conductor_topic", "novalite.conductor.manager.ConductorManager"),
    "novalite-scheduler": ("scheduler_topic", "novalite.scheduler.manager.SchedulerManager"),
}


def _manager_class(binary: str) -> str:
    if binary == "novalite-compute":
        return CONF.compute_manager
    return _SERVICES[binary][1] or ""


class Service(os_service.Service):
    """A novalite binary's RPC service (seed: nova/service.py::Service)."""

    def __init__(self, host: str, binary: str, topic: str, manager: str,
                 report_interval: int | None = None, db_allowed: bool = True,
                 manager_kwargs: dict | None = None) -> None:
        super().__init__()
        self.host = host
        self.binary = binary
        self.topic = topic
        self.manager_class_name = manager
        self.report_interval = report_interval
        self.db_allowed = db_allowed
        self.manager_kwargs = manager_kwargs or {}
        self.manager = self._make_manager()
        self.rpcserver: Any = None
        self.service_ref: Any = None
        self.backdoor_port: Any = None
        self._stopped = threading.Event()
        self._timers: list = []

    def _make_manager(self) -> Any:
        return importutils.import_object(self.manager_class_name, host=self.host,
                                         service_name=self.binary, **self.manager_kwargs)

    @classmethod
    def create(cls, host: str | None = None, binary: str | None = None,
               topic: str | None = None, manager: str | None = None,
               report_interval: int | None = None, db_allowed: bool | None = None,
               manager_kwargs: dict | None = None) -> Service:
        """Fill defaults (host, topic, manager from config) and build a
        Service. Compute has no database access unless told otherwise: its
        objects persist through the conductor, in every deployment."""
        if binary is None:
            raise ValueError("binary is required")
        host = host or CONF.host
        if topic is None:
            topic = getattr(CONF, _SERVICES[binary][0])
        if manager is None:
            manager = _manager_class(binary)
        if report_interval is None:
            report_interval = CONF.report_interval
        if db_allowed is None:
            db_allowed = binary != "novalite-compute"
        return cls(host, binary, topic, manager, report_interval=report_interval,
                   db_allowed=db_allowed, manager_kwargs=manager_kwargs)

    # -- start ---------------------------------------------------------------

    def start(self) -> None:
        rpc.init()
        # NOTE: the route of this service's objects: through the conductor
        # without database access, local otherwise; every thread this
        # service runs code on carries it (see novalite.persistence).
        self.route = None
        if not self.db_allowed:
            from novalite.conductor import rpcapi as conductor_rpcapi

            self.route = conductor_rpcapi.ConductorAPI()
            if db_api.disabled():
                persistence.set_process_route(self.route)
        with persistence.through(self.route):
            self._start()

    def _start(self) -> None:
        # NOTE: each worker process starts from the launcher's copy of this
        # object; building the manager again here is what makes a SIGHUP
        # (config reloaded, worker restarted) take effect.
        self.manager = self._make_manager()
        self._start_backdoor()
        LOG.info("Starting %s on host %s (topic %s)", self.binary, self.host, self.topic)
        self.manager.init_host()
        if self.route is not None:
            self.route.wait_until_ready(nl_context.get_admin_context(), self._stopped)
        self._register_service()
        if self.binary == "novalite-compute":
            self._start_network_agent()
        self.manager.pre_start_hook(self)
        dispatcher = self.manager.create_rpc_dispatcher(self.backdoor_port)
        dispatcher.dispatch = persistence.bound(dispatcher.dispatch)  # type: ignore[method-assign]
        target = messaging.Target(topic=self.topic, server=self.host)
        self.rpcserver = rpc.get_server(target, dispatcher)
        self.rpcserver.start()
        self.manager.post_start_hook()
        if self.report_interval:
            self._timers.append(self.tg.add_timer(self.report_interval,
                                                  persistence.bound(self.report_state),
                                                  initial_delay=self.report_interval))
        for task in self.manager.periodic_tasks():
            self._timers.append(self.tg.add_timer_args(task.interval,
                                                       persistence.bound(self._run_periodic),
                                                       args=[task]))
        LOG.info("%s on %s is consuming %s, %s.%s and the %s fanout", self.binary,
                 self.host, self.topic, self.topic, self.host, self.topic)

    def _start_network_agent(self) -> None:
        """With ``[network] dataplane = vxlan``, the host's network agent runs
        in its compute service's process (novalite.network.agent_service)."""
        from novalite.network import agent_service

        self.network_agent: agent_service.NetworkAgentService | None = None
        if agent_service.enabled():
            self.network_agent = agent_service.NetworkAgentService(self.host)
            self.network_agent.start()

    def _start_backdoor(self) -> None:
        """Debug console on a 0600 unix socket, only when configured."""
        path = CONF.backdoor.socket_path
        if not path:
            return
        import manhole

        path = path.replace("{pid}", str(os.getpid()))
        manhole.install(socket_path=path, daemon_connection=True, patch_fork=False,
                        locals={"service": self}, strict=False)
        for _ in range(100):
            if os.path.exists(path):
                os.chmod(path, 0o600)
                break
            self._stopped.wait(0.01)
        self.backdoor_port = path
        LOG.warning("Debug backdoor listening on unix socket %s (0600)", path)

    def _register_service(self) -> None:
        from novalite import objects
        from novalite.objects.service import Service as ServiceObj

        ctxt = nl_context.get_admin_context()
        rpc_version = str(self.manager.target.version)
        while True:
            try:
                try:
                    ref = ServiceObj.get_by_host_and_binary(ctxt, self.host, self.binary)
                except exception.ServiceNotFound:
                    ref = ServiceObj(context=ctxt, host=self.host, binary=self.binary,
                                     topic=self.topic, report_count=0,
                                     availability_zone=CONF.default_availability_zone)
                    ref.create()
                break
            except messaging.MessagingTimeout:
                if self._stopped.is_set():
                    raise
                LOG.warning("%s on %s: conductor did not answer; waiting for it",
                            self.binary, self.host)
        ref.rpc_version = rpc_version
        ref.topic = self.topic
        ref.save()
        ref.heartbeat()
        self.service_ref = ref
        del objects

    def report_state(self) -> None:
        """Heartbeat: a service is up while this keeps succeeding."""
        try:
            self.service_ref.heartbeat()
        except messaging.MessagingTimeout:
            # NOTE: the conductor is away (restart, outage): one line per
            # beat, not a traceback; the service shows down until it is back.
            LOG.warning("%s on %s could not report its state: the conductor did not "
                        "answer", self.binary, self.host)
        except Exception:
            LOG.exception("%s on %s could not report its state", self.binary, self.host)

    def _run_periodic(self, task: Any) -> None:
        if self._stopped.is_set():
            return
        try:
            task.fn()
        except Exception:
            LOG.exception("Periodic task %s failed", task.name)

    # -- stop ----------------------------------------------------------------

    def stop(self, graceful: bool = True) -> None:
        """Stop consuming, let the manager finish or fail what is in flight."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        LOG.info("Stopping %s on %s", self.binary, self.host)
        for timer in self._timers:
            timer.stop()
        if self.rpcserver is not None:
            try:
                self.rpcserver.stop()
                self.rpcserver.wait()
            except Exception:
                LOG.exception("Error stopping the RPC server of %s", self.binary)
        network_agent = getattr(self, "network_agent", None)
        if network_agent is not None:
            try:
                network_agent.stop()
            except Exception:
                LOG.exception("Error stopping the network agent of %s", self.host)
        with persistence.through(getattr(self, "route", None)):
            try:
                self.manager.cleanup_host()
            except Exception:
                LOG.exception("Error in %s cleanup_host", self.binary)
            self._mark_down()
        super().stop(graceful=False)

    def _mark_down(self) -> None:
        """A stopped service shows down at once (not after service_down_time),
        so nothing is scheduled to it. Bounded: the conductor may be gone."""
        ref = self.service_ref
        if ref is None:
            return

        def _save() -> None:
            try:
                ref.last_seen_up = None
                ref.save()
            except Exception:
                LOG.debug("Could not mark %s on %s down", self.binary, self.host)

        t = threading.Thread(target=persistence.bound(_save), daemon=True)
        t.start()
        t.join(3)

    def wait(self) -> None:
        self._stopped.wait()

    def reset(self) -> None:
        pass


class ServiceGroup(os_service.ServiceBase):
    """Several services in one process, each started in turn (all-in-one)."""

    def __init__(self, services: list[Any], after_each_start: Any = None) -> None:
        self.services = services
        self.after_each_start = after_each_start
        self._stopped = threading.Event()

    def start(self) -> None:
        for s in self.services:
            s.start()
            if self.after_each_start is not None:
                self.after_each_start(s)

    def stop(self, graceful: bool = True) -> None:
        # NOTE: the API stops taking requests first, then compute finishes or
        # fails its builds while the conductor still persists; the rest stop
        # side by side (each RPC server needs ~1 s to wind down).
        rpc_services = [s for s in self.services if isinstance(s, Service)]
        computes = [s for s in rpc_services if s.binary == "novalite-compute"]
        waves = ([s for s in self.services if not isinstance(s, Service)], computes,
                 [s for s in rpc_services if s not in computes])
        for wave in waves:
            threads = [threading.Thread(target=s.stop) for s in wave]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self._stopped.set()

    def wait(self) -> None:
        self._stopped.wait()

    def reset(self) -> None:
        pass


_launcher: Any = None


def _sigint_is_graceful(launcher: Any) -> None:
    """SIGINT stops as gently as SIGTERM.

    NOTE: cotyledon's master treats SIGINT as "exit at once", which would
    leave builds transitional; here it takes the SIGTERM path instead and
    stops its workers gracefully. (A terminal's Ctrl-C also reaches the
    workers themselves, which cotyledon still stops at once: send SIGINT or
    SIGTERM to the master.)
    """
    manager = getattr(launcher, "_manager", None)
    if manager is None:
        return
    on_signal = manager._on_signal_received

    def _on_signal(sig: int) -> None:
        on_signal(signal.SIGTERM if sig == signal.SIGINT else sig)

    manager._on_signal_received = _on_signal


def launch(service: Any, workers: int | None = None) -> Any:
    """ServiceLauncher for one worker, ProcessLauncher for several."""
    if workers and workers > 1:
        launcher = os_service.ProcessLauncher(CONF, restart_method="reload")
        launcher.launch_service(service, workers=workers)
    else:
        launcher = os_service.ServiceLauncher(CONF, restart_method="reload")
        launcher.launch_service(service)
    _sigint_is_graceful(launcher)
    return launcher


def serve(server: Any, workers: int | None = None) -> None:
    global _launcher
    if _launcher:
        raise RuntimeError("serve() can only be called once")
    _launcher = launch(server, workers=workers)


def wait() -> int:
    return _launcher.wait()
