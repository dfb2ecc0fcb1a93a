"""The serial console websocket proxy (Nova's nova-serialproxy).

A client opens ``[serial_console] base_url?token=...`` (the URL of
``POST /servers/{id}/remote-consoles``). Before the websocket handshake
completes, the token is taken (``tokens.consume``: unknown, used or expired
→ 403, nothing reaches the guest) and the instance must still exist; then
the websocket is joined to the guest's serial port, a raw TCP stream on its
compute host (``driver.get_serial_console``): what the client sends (binary
or text frames) goes to the guest, what the guest writes comes back as
binary frames. Either side closing closes both.

Runs inside novalite-all-in-one (``SerialProxyService``, when
``[serial_console] enabled``) or alone (``python3 -m
novalite.console.serialproxy --config-file ...``). It needs the database
(the tokens) and the network path to the computes' serial ports.
"""

from __future__ import annotations

import contextlib
import http
import socket
import sys
import threading
import urllib.parse
from typing import Any

from oslo_log import log as logging
from oslo_service import service as os_service
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from novalite import exception
from novalite.conf import CONF
from novalite.console import tokens
from novalite.db import api as db_api

LOG = logging.getLogger(__name__)

_CONNECT_TIMEOUT = 10
_CHUNK = 4096


def _token_of(path: str) -> str:
    query = urllib.parse.urlsplit(path).query
    values = urllib.parse.parse_qs(query).get("token") or [""]
    return values[0]


def _origin_allowed(origin: str) -> bool:
    """Nova's check against cross-site websocket hijacking: the Origin's
    host is base_url's or one of [console] allowed_origins."""
    host = urllib.parse.urlsplit(origin).hostname
    expected = {urllib.parse.urlsplit(CONF.serial_console.base_url).hostname,
                *CONF.console.allowed_origins}
    return host is not None and host in expected


def _instance_exists(uuid: str) -> bool:
    try:
        db_api.instance_get_by_uuid(uuid)
    except exception.InstanceNotFound:
        return False
    return True


def _select_subprotocol(connection: ServerConnection, offered: Any) -> Any:
    """websockify's clients (Nova's serial consoles) ask for ``binary``;
    a client that asks for nothing gets binary frames all the same."""
    return "binary" if "binary" in offered else None


class SerialProxy:
    """The websocket server; ``port`` 0 binds a free port (``.port`` then
    holds it after ``start()``)."""

    def __init__(self, host: str | None = None, port: int | None = None) -> None:
        self.host = host if host is not None else CONF.serial_console.serialproxy_host
        self.port = port if port is not None else CONF.serial_console.serialproxy_port
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server = serve(self._handle, self.host, self.port,
                             process_request=self._authorize,
                             select_subprotocol=_select_subprotocol,
                             compression=None, max_size=2 ** 16)
        self.port = int(self._server.socket.getsockname()[1])
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="serial-proxy", daemon=True)
        self._thread.start()
        LOG.info("Serial console proxy listening on %s:%s", self.host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    # -- per connection --------------------------------------------------------

    def _authorize(self, connection: ServerConnection, request: Any) -> Any:
        """Before the handshake: an Origin (when the client sends one) this
        cloud's, a valid token for an instance that exists; else 403 (the
        token is used up either way)."""
        origin = request.headers.get("Origin")
        if origin is not None and not _origin_allowed(origin):
            LOG.warning("Serial console refused from %s: Origin %s is not allowed",
                        connection.remote_address, origin)
            return connection.respond(http.HTTPStatus.FORBIDDEN,
                                      "The Origin of this request is not allowed.\n")
        grant = tokens.consume(_token_of(request.path))
        if grant is None:
            LOG.info("Serial console refused from %s: invalid, used or expired token",
                     connection.remote_address)
            return connection.respond(http.HTTPStatus.FORBIDDEN,
                                      "The token is invalid, used or expired.\n")
        if not _instance_exists(grant.instance_uuid):
            return connection.respond(http.HTTPStatus.FORBIDDEN,
                                      "The instance of this token no longer exists.\n")
        connection.novalite_grant = grant  # type: ignore[attr-defined]
        return None

    def _handle(self, ws: ServerConnection) -> None:
        grant: tokens.Grant = ws.novalite_grant  # type: ignore[attr-defined]
        try:
            guest = socket.create_connection((grant.host, grant.port),
                                             timeout=_CONNECT_TIMEOUT)
        except OSError as e:
            LOG.warning("Serial console of %s at %s:%s is unreachable: %s",
                        grant.instance_uuid, grant.host, grant.port, e)
            ws.close(1011, "the guest's serial console is unreachable")
            return
        guest.settimeout(None)
        LOG.info("Serial console of %s opened from %s", grant.instance_uuid,
                 ws.remote_address)
        pump = threading.Thread(target=self._guest_to_client, args=(guest, ws),
                                name=f"serial-{grant.instance_uuid[:8]}", daemon=True)
        pump.start()
        try:
            for message in ws:
                data = message.encode("utf-8") if isinstance(message, str) else message
                guest.sendall(data)
        except (ConnectionClosed, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                guest.shutdown(socket.SHUT_RDWR)
            guest.close()
            pump.join(timeout=5)
            LOG.info("Serial console of %s closed", grant.instance_uuid)

    @staticmethod
    def _guest_to_client(guest: socket.socket, ws: ServerConnection) -> None:
        try:
            while True:
                data = guest.recv(_CHUNK)
                if not data:
                    break
                ws.send(data)
        except (ConnectionClosed, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                ws.close()


class SerialProxyService(os_service.ServiceBase):
    """The proxy as one of novalite-all-in-one's services. A port already
    in use is logged and leaves the rest of the cloud running (consoles
    then fail to connect, nothing else does)."""

    def __init__(self, proxy: SerialProxy | None = None) -> None:
        self.proxy = proxy or SerialProxy()
        self._stopped = threading.Event()

    def start(self) -> None:
        self._stopped.clear()
        try:
            self.proxy.start()
        except OSError as e:
            LOG.error("The serial console proxy cannot listen on %s:%s (%s); serial "
                      "consoles are unreachable. Set [serial_console] serialproxy_port "
                      "(and base_url) to a free port.", self.proxy.host, self.proxy.port, e)

    def stop(self, graceful: bool = False) -> None:
        self.proxy.stop()
        self._stopped.set()

    def wait(self) -> None:
        self._stopped.wait()

    def reset(self) -> None:
        pass


def main(argv: list[str] | None = None) -> None:
    """The proxy alone (``--config-file`` as the other services)."""
    from novalite import config, objects
    from novalite import service as nl_service

    config.parse_args(argv if argv is not None else sys.argv)
    config.setup_logging()
    objects.register_all()
    nl_service.serve(SerialProxyService())
    nl_service.wait()


if __name__ == "__main__":
    main()
