"""Remote serial consoles through the HTTP API on the FakeDriver stack:
POST /servers/{id}/remote-consoles (2.6+) and os-getSerialConsole (2.1-2.5)
give a one-time URL of the websocket proxy, which joins a websocket client
to the fake guest's serial port (an echo); a used, expired or made-up token
is refused before the handshake; another project gets no URL."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from novalite.conf import CONF
from novalite.console import serialproxy
from tests.functional.test_power_actions import OTHER, OWNER, _v, act, boot


@pytest.fixture
def console_stack(make_stack):
    stack = make_stack(overrides={("serial_console", "enabled"): True})
    proxy = serialproxy.SerialProxy(host="127.0.0.1", port=0)
    proxy.start()
    CONF.set_override("base_url", f"ws://127.0.0.1:{proxy.port}/", group="serial_console")
    try:
        yield stack
    finally:
        proxy.stop()
        CONF.clear_override("base_url", group="serial_console")


def remote_console(stack: Any, sid: str, headers: dict | None = None, version: str = "2.6",
                   protocol: str = "serial", console_type: str = "serial") -> Any:
    return stack.compute("POST", f"/servers/{sid}/remote-consoles",
                         {"remote_console": {"protocol": protocol, "type": console_type}},
                         headers=_v(version, headers))


def type_line(url: str, line: bytes) -> bytes:
    """Send ``line`` through the console and read until it comes back."""
    with connect(url, open_timeout=10, close_timeout=2) as ws:
        ws.send(line)
        got = b""
        deadline = time.monotonic() + 10
        while line not in got and time.monotonic() < deadline:
            msg = ws.recv(timeout=10)
            got += msg if isinstance(msg, bytes) else msg.encode()
        return got


def test_remote_console_url_and_websocket(console_stack):
    stack = console_stack
    sid = boot(stack, headers=OWNER)
    resp = remote_console(stack, sid, OWNER)
    assert resp.status_code == 200, resp.text
    body = resp.json()["remote_console"]
    assert body["protocol"] == "serial" and body["type"] == "serial"
    url = body["url"]
    assert url.startswith(CONF.serial_console.base_url + "?token=")
    assert len(urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]) >= 40
    assert b"hello serial\n" in type_line(url, b"hello serial\n")
    # NOTE: one-time: the same URL again is refused before the handshake.
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10)
    assert refused.value.response.status_code == 403
    # NOTE: a made-up token, no token.
    base = CONF.serial_console.base_url
    for bad in (base + "?token=" + "A" * 43, base):
        with pytest.raises(InvalidStatus) as refused:
            connect(bad, open_timeout=10)
        assert refused.value.response.status_code == 403
    # NOTE: two URLs are two tokens; text frames work as binary ones do.
    second = remote_console(stack, sid, OWNER).json()["remote_console"]["url"]
    assert second != url
    with connect(second, open_timeout=10) as ws:
        ws.send("typed as text\n")
        assert b"typed as text" in ws.recv(timeout=10)


def test_expired_token_is_refused(console_stack):
    stack = console_stack
    sid = boot(stack)
    CONF.set_override("token_ttl", 1, group="serial_console")
    try:
        url = remote_console(stack, sid).json()["remote_console"]["url"]
    finally:
        CONF.clear_override("token_ttl", group="serial_console")
    time.sleep(2.1)
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10)
    assert refused.value.response.status_code == 403


def test_deleted_servers_token_is_refused(console_stack):
    stack = console_stack
    sid = boot(stack)
    url = remote_console(stack, sid).json()["remote_console"]["url"]
    assert stack.compute("DELETE", f"/servers/{sid}").status_code == 204
    stack.wait_gone(sid)
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10)
    assert refused.value.response.status_code == 403


def test_errors_as_nova(console_stack):
    stack = console_stack
    sid = boot(stack, headers=OWNER)
    # NOTE: another project's server: 404, no URL.
    assert remote_console(stack, sid, OTHER).status_code == 404
    # NOTE: before 2.6 the resource does not exist.
    assert remote_console(stack, sid, OWNER, version="2.5").status_code == 404
    # NOTE: protocols novalite has not: 400 "Unavailable console type".
    resp = remote_console(stack, sid, OWNER, protocol="vnc", console_type="novnc")
    assert resp.status_code == 400
    assert "Unavailable console type novnc." in resp.json()["badRequest"]["message"]
    assert remote_console(stack, sid, OWNER, console_type="novnc").status_code == 400
    assert remote_console(stack, sid, OWNER, protocol="ssh").status_code == 400
    # NOTE: mks passes the schema from 2.8 only.
    assert remote_console(stack, sid, OWNER, protocol="mks", console_type="webmks",
                          version="2.6").status_code == 400
    # NOTE: a guest that is not running: 409.
    act(stack, sid, {"os-stop": None}, OWNER)
    stack.wait_status(sid, "SHUTOFF")
    assert remote_console(stack, sid, OWNER).status_code == 409


def test_legacy_get_serial_console_action(console_stack):
    stack = console_stack
    sid = boot(stack)
    resp = act(stack, sid, {"os-getSerialConsole": {"type": "serial"}}, version="2.5")
    assert resp.status_code == 200, resp.text
    console = resp.json()["console"]
    assert console["type"] == "serial"
    assert b"legacy\n" in type_line(console["url"], b"legacy\n")
    assert act(stack, sid, {"os-getSerialConsole": {"type": "serial"}},
               version="2.6").status_code == 404
    assert act(stack, sid, {"os-getSerialConsole": {"type": "novnc"}},
               version="2.1").status_code == 400


def test_serial_consoles_off_is_400(stack):
    sid = boot(stack)
    resp = remote_console(stack, sid)
    assert resp.status_code == 400, resp.text
    assert resp.json()["badRequest"]["message"] == "Unavailable console type serial."


def test_a_foreign_origin_is_refused(console_stack):
    stack = console_stack
    sid = boot(stack)
    url = remote_console(stack, sid).json()["remote_console"]["url"]
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10, origin="http://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    # NOTE: base_url's host, or one allowed by [console] allowed_origins.
    url = remote_console(stack, sid).json()["remote_console"]["url"]
    with connect(url, open_timeout=10, origin="http://127.0.0.1:8080") as ws:  # type: ignore[arg-type]
        ws.send(b"origin ok\n")
        assert b"origin ok" in ws.recv(timeout=10)
    CONF.set_override("allowed_origins", ["console.example"], group="console")
    try:
        url = remote_console(stack, sid).json()["remote_console"]["url"]
        with connect(url, open_timeout=10, origin="https://console.example") as ws:  # type: ignore[arg-type]
            ws.send(b"allowed\n")
            assert b"allowed" in ws.recv(timeout=10)
    finally:
        CONF.clear_override("allowed_origins", group="console")
