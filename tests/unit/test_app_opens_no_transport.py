"""Building the API's WSGI app opens no message bus transport: every
controller makes its RPC clients on first use (app.make_app's promise).

A transport made at build time, on whatever URL the configuration held then,
outlived the app: the next in-process stack reused it and its services spoke
on the wrong vhost and exchange (test_real_live_migration's API test)."""

from __future__ import annotations

from novalite import config, rpc
from novalite.api import app


def test_make_app_opens_no_transport() -> None:
    config.register_base_opts()
    rpc.cleanup()
    app.make_app()
    assert rpc.TRANSPORT is None
