"""The per-host data plane as one call: :func:`apply` makes the kernel of
this host match a whole :class:`~novalite.network.dataplane.state.HostState`
and removes what this deployment made earlier that the state no longer
wants. Applying the same state twice changes nothing.

Order: layer 2 first (bridges, VXLAN devices), then the security groups
(before a port or DHCP is on a bridge), DHCP servers, routers (with the
external bridges) and the metadata proxies, then the taps onto their bridges,
and last the removal of bridges and VXLAN devices no longer wanted (after
what was plugged into them is gone).

Where it runs: the root network namespace (``host_netns`` None), or a named
namespace standing in for a host (two "hosts" on one kernel in the tests).
From a shell, with the state as JSON (the dataclasses' fields)::

    python3 -m novalite.network.dataplane.agent --state state.json \\
        --prefix nl --state-dir /var/lib/novalite/dataplane [--host-netns NS]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import types
import typing
from collections.abc import Sequence
from typing import Any

from oslo_concurrency import lockutils
from oslo_log import log as logging

from novalite.network.dataplane import dhcp, l2, names, secgroups, state
from novalite.network.dataplane.kernel import Host

LOG = logging.getLogger(__name__)


def default_state_dir() -> str:
    from novalite.conf import CONF

    return os.path.join(CONF.state_path, "dataplane", names.default_prefix())


def apply(host_state: state.HostState, *, prefix: str | None = None,
          state_dir: str | None = None, host_netns: str | None = None,
          layer3: bool = True) -> None:
    """Make this host's data plane match ``host_state`` (see the module doc).
    ``layer3`` False leaves routers and metadata proxies alone."""
    prefix = names.check_prefix(prefix or names.default_prefix())
    state_dir = state_dir or default_state_dir()
    os.makedirs(state_dir, mode=0o711, exist_ok=True)
    # NOTE: one apply at a time per deployment and host side: a reconcile
    # that sees another's half-made objects would remove them.
    with lockutils.lock(f"dataplane-{prefix}-{host_netns or ''}"):
        _apply(host_state, prefix, state_dir, host_netns, layer3)


def _apply(host_state: state.HostState, prefix: str, state_dir: str,
           host_netns: str | None, layer3: bool) -> None:
    host = Host(host_netns)
    l2.ensure(host, host_state, prefix)
    secgroups.apply(host, host_state, prefix)
    dhcp.apply(host, host_state, prefix, state_dir)
    if layer3:
        from novalite.network.dataplane import l3, metadata_proxy

        l3.apply(host_state, prefix=prefix, host_netns=host_netns)
        metadata_proxy.apply(host_state, prefix=prefix,
                             state_dir=os.path.join(state_dir, "metadata"),
                             host_netns=host_netns, dhcp_legs=dhcp.legs(host_state, prefix))
    l2.attach_ports(host, host_state, prefix)
    l2.remove_stale(host, host_state, prefix)


# -- the state as JSON ----------------------------------------------------------

def _decode(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if value is None:
        return None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_dict(tp, value)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if arg is not type(None):
                return _decode(arg, value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in value)
        return tuple(_decode(a, v) for a, v in zip(args, value, strict=True))
    if origin is dict:
        return {str(k): _decode(args[1], v) for k, v in value.items()}
    return value


def from_dict(cls: Any, data: dict[str, Any]) -> Any:
    """A state dataclass from its JSON form (unknown keys are an error)."""
    hints = typing.get_type_hints(cls, vars(state))
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - fields
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    return cls(**{k: _decode(hints[k], v) for k, v in data.items()})


def load_state(data: dict[str, Any]) -> state.HostState:
    return typing.cast(state.HostState, from_dict(state.HostState, data))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", required=True, help="HostState as JSON ('-': stdin)")
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--host-netns", default=None)
    parser.add_argument("--no-layer3", action="store_true")
    args = parser.parse_args(argv)
    if args.state == "-":
        data = json.load(sys.stdin)
    else:
        with open(args.state) as f:
            data = json.load(f)
    apply(load_state(data), prefix=args.prefix, state_dir=args.state_dir,
          host_netns=args.host_netns, layer3=not args.no_layer3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
