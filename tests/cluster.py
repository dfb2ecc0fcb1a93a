"""A multi-process novalite: each service a real binary on a real broker and
database; the test process acts as an API client through novalite's own
compute API (or through a novalite-api process over HTTP)."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

import requests

from novalite import config, objects, rpc
from novalite import context as nl_context
from novalite.conf import CONF
from novalite.db import api as db_api
from tests.procs import Proc, free_port, write_conf


class Cluster:
    def __init__(self, tmp: str, transport_url: str, database_url: str) -> None:
        self.tmp = tmp
        self.transport_url = transport_url
        self.database_url = database_url
        self.procs: dict[str, Proc] = {}
        self._overridden: list[tuple[str, str | None]] = []
        self.image_id = ""
        self.api_port = 0

    def conf_for(self, name: str, binary: str, extra: dict | None = None) -> str:
        sections: dict[str, dict[str, Any]] = {
            "DEFAULT": {"transport_url": self.transport_url, "state_path": self.tmp,
                        "host": name, "report_interval": 1, "service_down_time": 10,
                        "rpc_call_timeout": 30, "debug": "false",
                        "auth_strategy": "noauth"},
            "oslo_messaging_rabbit": {"amqp_durable_queues": "true"},
            "compute": {"build_drain_timeout": 10, "deadline_check_interval": 2},
            # NOTE: the cluster tests boot more servers in one project than
            # the default quota (10 instances) allows; quotas have their own tests.
            "quota": {"instances": -1, "cores": -1, "ram": -1},
        }
        # NOTE: compute hosts get no database section at all: they hold no
        # credentials and persist through the conductor.
        if binary != "novalite-compute":
            sections["database"] = {"connection": self.database_url}
        for section, opts in (extra or {}).items():
            sections.setdefault(section, {}).update(opts)
        return write_conf(os.path.join(self.tmp, f"{name}.conf"), sections)

    def manage(self, *args: str) -> str:
        conf = self.conf_for("manage", "novalite-manage")
        out = subprocess.run(["novalite-manage", "--config-file", conf, *args],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def prepare(self) -> Cluster:
        self.manage("db", "sync")
        img = os.path.join(self.tmp, "img.raw")
        with open(img, "wb") as f:
            f.write(b"\0" * 4096)
        out = self.manage("image", "register", "test-image", "--file", img)
        self.image_id = out.split()[3]
        return self

    def start(self, binary: str, name: str, extra: dict | None = None) -> Proc:
        conf = self.conf_for(name, binary, extra)
        proc = Proc(name, binary, conf, os.path.join(self.tmp, f"{name}.log")).start()
        self.procs[name] = proc
        return proc

    def start_api(self, name: str = "api") -> Proc:
        self.api_port = free_port()
        proc = self.start("novalite-api", name, {"api": {"listen": "127.0.0.1",
                                                         "port": self.api_port}})
        proc.wait_log("http://127.0.0.1", timeout=30)
        return proc

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/compute/v2.1"

    def start_control_plane(self, computes: list[str], compute_opts: dict | None = None) -> None:
        """Conductor, scheduler, the computes and the API; returns once every
        service is up and each compute consumes its queues.

        NOTE: a service reports up before its RPC server consumes; fanout
        queues (and casts to compute.<host>) exist only once it does."""
        self.start("novalite-conductor", "conductor")
        self.start("novalite-scheduler", "scheduler")
        for host in computes:
            self.start("novalite-compute", host, compute_opts)
        self.start_api()
        self.wait_services_up(["conductor", "scheduler", *computes])
        for host in computes:
            self.procs[host].wait_log(f"is consuming compute, compute.{host}")

    def api(self, method: str, path: str, body: Any = None) -> requests.Response:
        """One request to the cluster's novalite-api (no auth: noauth)."""
        return requests.request(method, self.api_url + path, json=body, timeout=30)

    def servers(self) -> dict[str, dict]:
        """Every server the API lists, by id."""
        resp = self.api("GET", "/servers/detail")
        assert resp.status_code == 200, resp.text
        return {s["id"]: s for s in resp.json()["servers"]}

    # -- the test process as a client ---------------------------------------

    def connect(self) -> Cluster:
        config.register_base_opts()
        objects.register_all()
        for name, value, group in (("transport_url", self.transport_url, None),
                                   ("connection", self.database_url, "database"),
                                   ("state_path", self.tmp, None),
                                   ("service_down_time", 10, None),
                                   ("amqp_durable_queues", True, "oslo_messaging_rabbit")):
            CONF.set_override(name, value, group=group)
            self._overridden.append((name, group))
        rpc.cleanup()
        db_api.dispose()
        rpc.init()
        return self

    def context(self) -> Any:
        return nl_context.RequestContext(user_id="tester", project_id="proj", is_admin=True,
                                         roles=["admin"])

    def wait_services_up(self, names: list[str], timeout: float = 60.0) -> None:
        from novalite.objects.service import ServiceList

        deadline = time.monotonic() + timeout
        up: set = set()
        while time.monotonic() < deadline:
            up = {s.host for s in ServiceList.get_all(self.context()) if s.is_up()}
            if set(names) <= up:
                return
            time.sleep(0.2)
        raise AssertionError(f"services {set(names) - up} never came up; logs:\n" + "\n".join(
            p.read_log()[-2000:] for n, p in self.procs.items() if n in names))

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()
        rpc.cleanup()
        db_api.dispose()
        for name, group in self._overridden:
            CONF.clear_override(name, group=group)
