"""The whole stack in one process: conductor, scheduler, compute host(s) and
the API, on the in-process bus and a SQLite file, driven through HTTP."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from novalite import config, objects, rpc, service
from novalite import context as nl_context
from novalite.conf import CONF
from novalite.db import api as db_api
from novalite.db import migration

TRANSPORT = os.environ.get("NOVALITE_TEST_TRANSPORT", "inproc://")
ADMIN_PASSWORD = "admin-test-password"


class Stack:
    def __init__(self, state_dir: str, computes: list[tuple[str, str]] | None = None,
                 overrides: dict[tuple[str | None, str], Any] | None = None,
                 database_url: str | None = None, with_api: bool = True,
                 auth: str = "noauth") -> None:
        self.state_dir = state_dir
        # NOTE: "novalite" makes the API check tokens; self.session then
        # carries a token of the bootstrapped admin (ADMIN_PASSWORD).
        self.auth = auth
        self.computes_spec = computes or [("host1", "fake.FakeDriver")]
        self.overrides = overrides or {}
        self.database_url = database_url or f"sqlite:///{state_dir}/novalite.sqlite"
        self.with_api = with_api
        self.services: list[Any] = []
        self.computes: dict[str, Any] = {}
        self.api_service: Any = None
        self.base_url = ""
        self.session = requests.Session()
        self.image_id = ""

    # -- life cycle ------------------------------------------------------------

    def _override(self, name: str, value: Any, group: str | None = None) -> None:
        CONF.set_override(name, value, group=group)
        self._set.append((name, group))

    def start(self) -> Stack:
        config.register_base_opts()
        objects.register_all()
        self._set: list[tuple[str, str | None]] = []
        self._override("transport_url", TRANSPORT)
        self._override("control_exchange", f"novalite-test-{uuid.uuid4().hex[:8]}")
        self._override("state_path", self.state_dir)
        self._override("connection", self.database_url, group="database")
        self._override("report_interval", 1)
        self._override("rpc_call_timeout", 20)
        self._override("listen", "127.0.0.1", group="api")
        self._override("auth_strategy", self.auth)
        # NOTE: the cheapest bcrypt cost: tests hash many passwords.
        self._override("password_hash_rounds", 4, group="identity")
        for (group, name), value in self.overrides.items():
            self._override(name, value, group=group)
        migration.db_sync()
        from novalite.virt import fake

        fake.FakeDriver.forget_all_hosts()
        self._register_image()
        conductor = service.Service.create(binary="novalite-conductor")
        scheduler = service.Service.create(binary="novalite-scheduler")
        conductor.start()
        self.services.append(conductor)
        scheduler.start()
        self.services.append(scheduler)
        for host, driver in self.computes_spec:
            self.start_compute(host, driver)
        if self.with_api:
            from novalite.api.service import APIService

            self.api_service = APIService(listen="127.0.0.1", port=0)
            self.api_service.start()
            self.base_url = f"http://127.0.0.1:{self.api_service.port}"
            if self.auth == "novalite":
                from novalite.identity import manager

                manager.bootstrap(ADMIN_PASSWORD)
                self.session.close()
                self.session = self.login("admin", ADMIN_PASSWORD, "admin")
        return self

    def start_compute(self, host: str, driver: str = "fake.FakeDriver",
                      settle: bool = False) -> Any:
        svc = service.Service.create(binary="novalite-compute", host=host,
                                     manager_kwargs={"compute_driver": driver})
        svc.start()
        self.services.append(svc)
        self.computes[host] = svc
        # NOTE: settle: wait until the scheduler will see this host. It
        # answers from a snapshot of the hosts up to [scheduler]
        # host_state_max_age_ms old; one taken just before this host's node
        # was recorded does not list it (a build asked of this host at once
        # found no valid host). Not by default: a restart's tests time what
        # the host does as it comes back.
        if settle:
            time.sleep(CONF.scheduler.host_state_max_age_ms / 1000.0 + 0.05)
        return svc

    def stop_compute(self, host: str) -> None:
        svc = self.computes.pop(host)
        svc.stop()
        self.services.remove(svc)

    def stop(self) -> None:
        if self.api_service is not None:
            self.api_service.stop()
        # NOTE: each RPC server takes ~1 s to stop (its executor's idle
        # timeout); stopping them side by side keeps teardown short.
        computes = list(self.computes.values())
        for group in (computes, [s for s in self.services if s not in computes]):
            threads = [threading.Thread(target=svc.stop) for svc in group]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        self.services.clear()
        rpc.cleanup()
        db_api.dispose()
        for name, group in self._set:
            CONF.clear_override(name, group=group)
        self.session.close()

    def _register_image(self) -> None:
        from novalite.image import api as image_api

        path = os.path.join(self.state_dir, "test-image.raw")
        with open(path, "wb") as f:
            f.write(b"\0" * 65536)
        ctxt = nl_context.get_admin_context()
        self.image_id = image_api.API().register(ctxt, "test-image", path)["id"]

    # -- identity --------------------------------------------------------------

    def make_user(self, name: str, project: str, role: str = "member",
                  password: str | None = None) -> dict:
        """A user with ``role`` on ``project`` (made if missing); its row
        with ``password`` and ``project_id`` added."""
        from novalite.identity import manager, store

        password = password or f"{name}-pw-{uuid.uuid4().hex[:8]}"
        user = manager.create_user(name, password, project, role)
        return {**user, "password": password,
                "project_id": store.project_get_by_name(project)["id"]}

    def token(self, username: str, password: str, project: str | None) -> requests.Response:
        """``POST /identity/v3/auth/tokens`` with a password (project-scoped
        by name unless ``project`` is None)."""
        auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {"user": {
            "name": username, "domain": {"id": "default"}, "password": password}}}}
        if project is not None:
            auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
        return requests.post(self.base_url + "/identity/v3/auth/tokens",
                             json={"auth": auth}, timeout=30)

    def login(self, username: str, password: str, project: str) -> requests.Session:
        """A session whose requests carry a token of ``username`` on ``project``."""
        resp = self.token(username, password, project)
        assert resp.status_code == 201, resp.text
        session = requests.Session()
        session.headers["X-Auth-Token"] = resp.headers["X-Subject-Token"]
        return session

    # -- HTTP ------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, raw: bytes | None = None,
                headers: dict | None = None,
                session: requests.Session | None = None) -> requests.Response:
        """``method path`` on this stack's API, as ``session`` (e.g. from
        ``login()``) or by default as the stack's own session (admin)."""
        url = self.base_url + path
        session = session or self.session
        if raw is not None:
            return session.request(method, url, data=raw, headers=headers, timeout=30)
        return session.request(method, url, json=body, headers=headers, timeout=30)

    def compute(self, method: str, path: str, body: Any = None, **kw: Any) -> requests.Response:
        return self.request(method, "/compute/v2.1" + path, body, **kw)

    def boot(self, name: str = "vm", flavor: str = "1", image: str | None = None,
             **extra: Any) -> dict:
        body = {"server": {"name": name, "flavorRef": flavor,
                           "imageRef": image or self.image_id, **extra}}
        resp = self.compute("POST", "/servers", body)
        assert resp.status_code == 202, resp.text
        return resp.json()["server"]

    def server(self, server_id: str) -> dict:
        resp = self.compute("GET", f"/servers/{server_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()["server"]

    def wait_for(self, server_id: str, pred: Callable[[dict], bool], timeout: float = 20.0,
                 what: str = "condition") -> dict:
        deadline = time.monotonic() + timeout
        last: dict = {}
        while time.monotonic() < deadline:
            resp = self.compute("GET", f"/servers/{server_id}")
            if resp.status_code == 404:
                last = {"status": "404"}
            else:
                last = resp.json()["server"]
            if pred(last):
                return last
            time.sleep(0.02)
        raise AssertionError(f"server {server_id} never reached {what}; last: "
                             f"{last.get('status')} task={last.get('OS-EXT-STS:task_state')} "
                             f"fault={last.get('fault')}")

    def wait_status(self, server_id: str, status: str, timeout: float = 20.0) -> dict:
        return self.wait_for(server_id, lambda s: s.get("status") == status
                             and s.get("OS-EXT-STS:task_state") is None, timeout, status)

    def wait_gone(self, server_id: str, timeout: float = 20.0) -> None:
        self.wait_for(server_id, lambda s: s.get("status") == "404", timeout, "deleted")
