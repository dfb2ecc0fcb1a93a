"""oslo.policy's own options (``[oslo_policy] policy_file``, ...).

NOTE: they are oslo.policy's, listed by the config generator under its own
``oslo.policy`` namespace; here they are only registered, so the file can
be set before the first policy check.
"""

from __future__ import annotations

from oslo_config import cfg
from oslo_policy import opts


def register_opts(conf: cfg.ConfigOpts) -> None:
    opts.set_defaults(conf)


def list_opts() -> dict:
    return {}
