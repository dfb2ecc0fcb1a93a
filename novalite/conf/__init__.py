"""All of novalite's options, registered on the global ``cfg.CONF``.

NOTE: oslo.messaging 18.3 fails every send with a private ConfigOpts
(FACTS.md), so novalite uses the global one, like Nova.
"""

from oslo_config import cfg

from novalite.conf import (
    api,
    compute,
    database,
    default,
    diagnosis,
    fake_driver,
    identity,
    image_api,
    image_cache,
    libvirt,
    metadata,
    metrics,
    moves,
    network,
    notifications,
    policy,
    quota,
    scheduler,
    serial_console,
    timeline,
    upgrade_levels,
    volume,
)

CONF = cfg.CONF

_MODULES = (default, database, api, compute, scheduler, upgrade_levels, fake_driver, libvirt,
            policy, identity,
            network, quota, image_api, image_cache, moves, serial_console, metadata, volume,
            metrics, timeline, notifications, diagnosis)

for _mod in _MODULES:
    _mod.register_opts(CONF)
