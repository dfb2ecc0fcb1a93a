"""What every binary does first."""

from __future__ import annotations

import sys

from oslo_config import cfg
from oslo_log import log as logging

from novalite import config, objects

LOG = logging.getLogger(__name__)


def init(argv: list[str] | None = None, cli_opts: list[cfg.Opt] | None = None) -> None:
    config.parse_args(argv if argv is not None else sys.argv, cli_opts=cli_opts)
    config.setup_logging()
    objects.register_all()
