"""Names of the kernel objects the per-host data plane makes, from ids.

Every name starts with the deployment's prefix (``[network]
dataplane_prefix``, "nl" by default; a test run picks its own), so two
deployments or test runs on one kernel never take or remove each other's
objects, and any host computes the same name for the same network.
Interface names are at most 15 characters (IFNAMSIZ - 1): the prefix, one
kind letter (two for router legs), then as many characters of the id (its
letters and digits, a UUID without its dashes) as fit.

=====================  ==========================================  =========
object                 name                                        made by
=====================  ==========================================  =========
network bridge         ``<p>b`` + id  (external networks too)      l2 / l3
VXLAN device           ``<p>v`` + VNI (decimal)                    l2
DHCP namespace         ``<p>dhcp-<network id>``                    dhcp
DHCP veth, host end    ``<p>d`` + network id  (on the bridge)      dhcp
DHCP veth, inner end   ``ns-`` + 11 of the network id               dhcp
router namespace       ``<p>r-<router id>``                        l3
router veths (host)    ``<p>rg`` + router id, ``<p>ri`` + port id   l3
nftables tables        ``novalite-<p>`` (families bridge and inet) secgroups
=====================  ==========================================  =========

Namespace names are not interface names: they carry the whole id.

Devices the data plane makes carry :func:`owner_mark` as their alias
(``ip link set DEV alias ...``): the reconcile removes a device only when both
its name pattern and its mark say it is this deployment's (the flat bridge
``nlbr0`` of ``novalite.network.linux_net`` matches ``<p>b…`` but is not
marked, so it is never taken for a network bridge).
"""

from __future__ import annotations

import hashlib
import re

from novalite import exception
from novalite.network.dataplane.state import Network

IFNAMSIZ = 15
DEFAULT_PREFIX = "nl"
MARK = "novalite-dataplane"

_PREFIX = re.compile(r"^[a-z][a-z0-9]{0,5}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ALNUM = re.compile(r"[^A-Za-z0-9]")


def check_prefix(prefix: str) -> str:
    """1-6 of a-z 0-9, starting with a letter: short enough to leave 6+
    characters of an id in every interface name."""
    if not _PREFIX.match(prefix or ""):
        raise exception.InvalidNetwork(
            reason=f"data plane prefix {prefix!r} is not 1-6 of a-z 0-9 starting with a letter")
    return prefix


def check_id(kind: str, object_id: str) -> str:
    """Ids become parts of names and file paths: letters, digits, ``_.-``."""
    if not _ID.match(object_id or ""):
        raise exception.InvalidNetwork(reason=f"{kind} id {object_id!r} is not usable in a name")
    return object_id


def default_prefix() -> str:
    from novalite.conf import CONF

    return check_prefix(CONF.network.dataplane_prefix)


def short_id(object_id: str, length: int) -> str:
    """``length`` letters and digits of the id (a UUID's hex digits in order);
    an id without any becomes a digest, so the name is never empty."""
    chars = _ALNUM.sub("", object_id)
    if not chars:
        chars = hashlib.sha256(object_id.encode()).hexdigest()
    return chars[:length]


def _ifname(prefix: str, kind: str, object_id: str) -> str:
    head = check_prefix(prefix) + kind
    return head + short_id(object_id, IFNAMSIZ - len(head))


def owner_mark(prefix: str) -> str:
    """The alias of every device this deployment's data plane makes."""
    return f"{MARK} {check_prefix(prefix)}"


# -- layer 2 ----------------------------------------------------------------

def bridge_for_id(prefix: str, network_id: str) -> str:
    """The network's bridge on every host that has something on it."""
    return _ifname(prefix, "b", check_id("network", network_id))


def bridge(prefix: str, network: Network) -> str:
    """:func:`bridge_for_id` of a network of the state."""
    return bridge_for_id(prefix, network.id)


def vxlan(prefix: str, vni: int) -> str:
    if not 0 < int(vni) < 2 ** 24:
        raise exception.InvalidNetwork(reason=f"VNI {vni!r} is not in 1..16777215")
    return f"{check_prefix(prefix)}v{int(vni)}"


# -- DHCP -------------------------------------------------------------------

def dhcp_namespace(prefix: str, network_id: str) -> str:
    return f"{check_prefix(prefix)}dhcp-{check_id('network', network_id)}"


def dhcp_host_end(prefix: str, network_id: str) -> str:
    """The DHCP namespace's veth end on the host, a port of the bridge."""
    return _ifname(prefix, "d", check_id("network", network_id))


def dhcp_inner(network_id: str) -> str:
    """The veth end inside the DHCP namespace (Neutron's ``ns-`` + 11)."""
    return "ns-" + short_id(check_id("network", network_id), 11)


# -- routers (layer 3 uses these) --------------------------------------------

def router_namespace(prefix: str, router_id: str) -> str:
    return f"{check_prefix(prefix)}r-{check_id('router', router_id)}"


def router_gateway_host_end(prefix: str, router_id: str) -> str:
    return _ifname(prefix, "rg", check_id("router", router_id))


def router_interface_host_end(prefix: str, port_id: str) -> str:
    return _ifname(prefix, "ri", check_id("port", port_id))


# -- nftables ----------------------------------------------------------------

def nft_table(prefix: str) -> str:
    """The security group tables' name (one ``bridge`` and one ``inet``)."""
    return f"novalite-{check_prefix(prefix)}"


# -- recognising our own ----------------------------------------------------

def is_bridge_name(prefix: str, name: str) -> bool:
    head = check_prefix(prefix) + "b"
    return bool(re.fullmatch(re.escape(head) + r"[A-Za-z0-9]{1,%d}" % (IFNAMSIZ - len(head)),
                             name))


def is_vxlan_name(prefix: str, name: str) -> bool:
    return bool(re.fullmatch(re.escape(check_prefix(prefix)) + r"v[1-9][0-9]{0,7}", name))


def is_dhcp_namespace(prefix: str, name: str) -> bool:
    head = check_prefix(prefix) + "dhcp-"
    return name.startswith(head) and bool(_ID.match(name[len(head):]))
