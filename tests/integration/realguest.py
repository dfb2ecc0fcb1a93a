"""A REAL guest of a ``NetStack`` (tests/integration/test_networking.py)
booted from the tiny guest's disk, and how the tests reach it: through the
HTTP API (actions, status, migrations), over HTTP on its address, and
through its guest agent.

Shared by tests/integration/test_real_moves.py, test_real_power_actions.py,
test_real_image_actions.py and test_real_cold_migration.py; each keeps its
own extras (a subclass or functions of its own).
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Iterator
from typing import Any, TypeVar

from novalite.virt.libvirt import agent
from tests.integration.test_networking import NetStack

ACTIVE_TIMEOUT = 150
HTTP_TIMEOUT = 150
AGENT_TIMEOUT = 120
STATE_TIMEOUT = 180

G = TypeVar("G", bound="Guest")


class Guest:
    """The module's shared server (``id``, ``address``) on ``ns``."""

    # NOTE: the microversion of ``act`` unless it names one.
    api_version = "2.1"

    def __init__(self, ns: NetStack, state_timeout: float = STATE_TIMEOUT) -> None:
        self.ns = ns
        self.id = ""
        self.address = ""
        self.state_timeout = state_timeout

    @property
    def stack(self) -> Any:
        return self.ns.rs.stack

    def boot(self, name: str, image: str | None = None) -> dict:
        """A server booted from ``image`` (default: the tiny guest's disk),
        not waited for."""
        return self.ns.boot(name, imageRef=image or self.ns.rs.images["disk"]["id"])

    def domain(self, server_id: str | None = None) -> Any:
        return self.ns.domain(server_id or self.id)

    def wait_up(self, server_id: str | None = None, address: str | None = None) -> str:
        """ACTIVE was seen: the guest answers HTTP with its uuid and its agent
        is up; returns the HTTP answer."""
        server_id = server_id or self.id
        body = self.ns.wait_http(address or self.address, HTTP_TIMEOUT)
        assert f"uuid={server_id}" in body.splitlines(), body
        agent.wait_ready(self.domain(server_id), time.monotonic() + AGENT_TIMEOUT)
        return body

    def run(self, *argv: str, server_id: str | None = None) -> str:
        """A busybox command in the guest (its agent); its output."""
        status = agent.execute(self.domain(server_id), "/bin/busybox", list(argv),
                               time.monotonic() + 30, capture=True)
        assert status.get("exitcode") == 0, status
        return base64.b64decode(status.get("out-data", "")).decode()

    def uptime(self) -> float:
        return float(self.run("cat", "/proc/uptime").split()[0])

    def act(self, body: dict, status: int = 202, version: str | None = None) -> Any:
        version = version or self.api_version
        resp = self.stack.compute("POST", f"/servers/{self.id}/action", body,
                                  headers={"OpenStack-API-Version": f"compute {version}"})
        assert resp.status_code == status, f"{body}: {resp.status_code} {resp.text}"
        return resp

    def wait(self, status: str) -> dict:
        return dict(self.stack.wait_status(self.id, status, self.state_timeout))

    def migrations(self, version: str = "2.59") -> list[dict]:
        """The server's migration records, newest first."""
        resp = self.stack.compute("GET", f"/os-migrations?instance_uuid={self.id}",
                                  headers={"OpenStack-API-Version": f"compute {version}"})
        assert resp.status_code == 200, resp.text
        return list(resp.json()["migrations"])


@contextlib.contextmanager
def booted(g: G, name: str) -> Iterator[G]:
    """``g`` booted as ``name`` on its started NetStack, up (HTTP, agent);
    the server is deleted at the end, also on failure."""
    with g.ns.rs.servers(120) as ids:
        server = g.boot(name)
        g.id = server["id"]
        ids.append(g.id)
        active = g.stack.wait_status(g.id, "ACTIVE", ACTIVE_TIMEOUT)
        g.address = g.ns.address(active)
        g.wait_up()
        yield g
