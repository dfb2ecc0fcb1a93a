"""Command-line and config-file parsing shared by every binary."""

from __future__ import annotations

from oslo_config import cfg
from oslo_log import log as logging
from oslo_messaging import opts as messaging_opts

from novalite import __version__, filemodes
from novalite.conf import CONF

_DEFAULT_LOG_LEVELS = [
    "amqp=WARN", "amqplib=WARN", "kombu=WARN", "oslo_messaging=INFO",
    "stevedore=WARN", "alembic=WARN", "sqlalchemy=WARN", "waitress=WARN", "cotyledon=INFO",
    "oslo.messaging._drivers.impl_rabbit=WARN", "oslo_service=WARN",
    "oslo_concurrency.lockutils=WARN", "iso8601=WARN", "urllib3=WARN",
]

_registered = False


def register_base_opts() -> None:
    """Options that other libraries register lazily, registered up front so
    config files and set_default() can use them before a transport exists."""
    global _registered
    if _registered:
        return
    for group, opts in messaging_opts.list_opts():
        CONF.register_opts(opts, group=None if group in (None, "DEFAULT") else group)
    logging.register_options(CONF)
    _registered = True


def parse_args(argv: list[str], default_config_files: list[str] | None = None,
               cli_opts: list[cfg.Opt] | None = None) -> None:
    register_base_opts()
    if cli_opts:
        CONF.register_cli_opts(cli_opts)
    logging.set_defaults(default_log_levels=logging.get_default_log_levels() + _DEFAULT_LOG_LEVELS)
    CONF(argv[1:], project="novalite", version=__version__,
         default_config_files=default_config_files)


def setup_logging() -> None:
    """Logging, and the process's umask: every binary comes here first,
    before it makes any file (its log is the first), and from here on what
    it makes is for itself alone (novalite.filemodes)."""
    filemodes.set_service_umask()
    logging.setup(CONF, "novalite")
