"""The Block Storage API (``/volume``): the part of Cinder's v3 API the
OpenStack clients and Nova use (volumes, snapshots, the default volume type,
attachments, quotas and limits) over novalite's volume service. The route
table is in ``routes``."""

from __future__ import annotations

from novalite.identity import catalog

# NOTE: both names, as DevStack registers them: clients look for
# "block-storage" first, older ones for "volumev3".
catalog.register("block-storage", "cinder", "/volume/v3")
catalog.register("volumev3", "cinderv3", "/volume/v3")
