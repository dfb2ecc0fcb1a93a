"""Serving the metadata service: ``MetadataService`` (waitress, like the
APIs) on ``[metadata] listen``:``[metadata] port``, run by
novalite-all-in-one in its process and by ``novalite-metadata-api`` alone."""

from __future__ import annotations

import os
import secrets
import sys
from typing import Any

from oslo_log import log as logging

from novalite.api.service import APIService
from novalite.conf import CONF
from novalite.metadata import handler

LOG = logging.getLogger(__name__)

SECRET_FILE = "metadata-secret"


class MetadataService(APIService):
    """The metadata app on its own port; ``port=0`` binds a free one."""

    def __init__(self, secret: str | None = None, listen: str | None = None,
                 port: int | None = None) -> None:
        super().__init__(listen=listen if listen is not None else CONF.metadata.listen,
                         port=port if port is not None else CONF.metadata.port,
                         app=handler.MetadataApp(
                             secret or CONF.metadata.metadata_proxy_shared_secret))

    def start(self) -> None:
        # NOTE: as the serial console proxy: a taken port costs the metadata
        # service only, not the whole all-in-one (several run side by side
        # on a test machine).
        try:
            super().start()
        except OSError as e:
            LOG.error("The metadata service cannot listen on %s:%s (%s); guests get no "
                      "metadata over HTTP. Set [metadata] port to a free port.",
                      self.listen, self.port, e)

    def _server_options(self) -> dict[str, Any]:
        # NOTE: waitress drops X-Forwarded-For from untrusted proxies by
        # default; here it is the guest's address, trusted through the
        # proxy's signature (checked by the app), not through the socket.
        return {"clear_untrusted_proxy_headers": False}

    def _log_serving(self, host: str) -> None:
        LOG.info("novalite metadata service on http://%s:%s (requests signed by the "
                 "metadata proxies only)", host, self.port)


def ensure_secret(state_dir: str) -> str:
    """``[metadata] metadata_proxy_shared_secret``, or else the one kept in
    ``<state_dir>/metadata-secret`` (0600, generated on first use); the
    option is set to it so the proxies in this process sign with it too."""
    if CONF.metadata.metadata_proxy_shared_secret:
        return str(CONF.metadata.metadata_proxy_shared_secret)
    path = os.path.join(state_dir, SECRET_FILE)
    try:
        with open(path) as f:
            secret = f.read().strip()
    except FileNotFoundError:
        secret = ""
    if not secret:
        secret = secrets.token_hex(32)
        tmp = path + ".tmp"
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(secret + "\n")
        os.replace(tmp, path)
    CONF.set_default("metadata_proxy_shared_secret", secret, group="metadata")
    return secret


def main() -> None:
    """``novalite-metadata-api``: the metadata service alone (it reads the
    database; it needs no message bus)."""
    from novalite import service
    from novalite.cmd import _common

    _common.init()
    if not CONF.metadata.metadata_proxy_shared_secret:
        print("novalite-metadata-api cannot start: set [metadata] "
              "metadata_proxy_shared_secret (the metadata proxies sign with it)",
              file=sys.stderr)
        sys.exit(1)
    service.serve(MetadataService())
    service.wait()


if __name__ == "__main__":
    main()
