"""The Network API (``/network``): the part of Neutron's v2.0 API the
OpenStack clients need to find networks by name (``openstack server create
--network NAME``), read-only over novalite's flat networks. The route table
is in ``routes``."""

from __future__ import annotations

from novalite.api.links import NETWORK_PREFIX
from novalite.identity import catalog

catalog.register("network", "neutron", NETWORK_PREFIX)
