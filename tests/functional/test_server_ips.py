"""``GET /servers/{id}/ips`` and ``/ips/{network_label}`` as Nova's: the
server's addresses per network (version and addr only), 404 for a label the
server has no address on and for another project's server, readers allowed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.stack import Stack

P1 = {"X-Project-Id": "proj-a", "X-User-Id": "alice", "X-Roles": "member,reader"}
P1_READER = {"X-Project-Id": "proj-a", "X-User-Id": "ann", "X-Roles": "reader"}
P2 = {"X-Project-Id": "proj-b", "X-User-Id": "bob", "X-Roles": "member,reader"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: Any) -> Iterator[Stack]:
    s = Stack(str(tmp_path_factory.mktemp("ips"))).start()
    try:
        from novalite.network import manage

        manage.create_network("ipsnet", "10.252.0.0/24")
        yield s
    finally:
        s.stop()


def test_ips_of_a_server_per_network(stack: Stack) -> None:
    body = {"server": {"name": "vm", "flavorRef": "1", "imageRef": stack.image_id}}
    resp = stack.compute("POST", "/servers", body, headers=P1)
    assert resp.status_code == 202, resp.text
    server_id = resp.json()["server"]["id"]
    deadline = time.monotonic() + 20
    while True:
        server = stack.compute("GET", f"/servers/{server_id}", headers=P1).json()["server"]
        if server["status"] == "ACTIVE" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert server["status"] == "ACTIVE", server
    [(label, entries)] = server["addresses"].items()
    addr = entries[0]["addr"]
    assert addr.startswith("10.252.0.")

    ips = stack.compute("GET", f"/servers/{server_id}/ips", headers=P1_READER)
    assert ips.status_code == 200, ips.text
    assert ips.json() == {"addresses": {label: [{"version": 4, "addr": addr}]}}
    one = stack.compute("GET", f"/servers/{server_id}/ips/{label}", headers=P1)
    assert one.status_code == 200 and one.json() == {label: [{"version": 4, "addr": addr}]}
    missing = stack.compute("GET", f"/servers/{server_id}/ips/nonet", headers=P1)
    assert missing.status_code == 404 and "nonet" in missing.text, missing.text
    other = stack.compute("GET", f"/servers/{server_id}/ips", headers=P2)
    assert other.status_code == 404, other.text
    assert stack.compute("DELETE", f"/servers/{server_id}", headers=P1).status_code == 204
