"""Running the kernel's own tools (iproute2, bridge, nft) for the data plane,
on the host's side: the root network namespace, or a named namespace that
stands in for a host (tests put two "hosts" on one kernel that way).

Every command is an argument list (no shell); nothing a user typed reaches
it unchecked (names come from :mod:`names`, addresses through ``ipaddress``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from oslo_concurrency import processutils

from novalite import exception

NETNS_DIR = "/run/netns"


class Host:
    """The host's side of the data plane: ``netns`` None is the root
    namespace; a name runs every command under ``ip netns exec``."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    def __repr__(self) -> str:
        return f"Host({self.netns or 'root'})"

    def _cmd(self, cmd: tuple[str, ...]) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.netns, *cmd) if self.netns else cmd

    def run(self, *cmd: str, process_input: str | None = None,
            check: bool = True) -> str:
        return execute(*self._cmd(cmd), process_input=process_input, check=check)

    def ip(self, *args: str, check: bool = True) -> str:
        return self.run("ip", *args, check=check)

    def links(self) -> dict[str, dict[str, Any]]:
        """Every interface on the host's side, by name (``ip -d -j link``)."""
        out = self.ip("-d", "-j", "link", "show")
        return {str(link["ifname"]): link for link in json.loads(out or "[]")}

    def sysctl(self, key: str, value: str, check: bool = True) -> None:
        """Set a sysctl on this side (``check`` False: a missing key, e.g.
        IPv6 settings on a kernel without IPv6, is not an error)."""
        self.run("sysctl", "-q", "-w", f"{key}={value}", check=check)


def execute(*cmd: str, process_input: str | None = None, check: bool = True) -> str:
    """Run ``cmd``; a failure names the command and what it printed."""
    try:
        out, _err = processutils.execute(*cmd, process_input=process_input,
                                         check_exit_code=[0] if check else False)
    except processutils.ProcessExecutionError as e:
        raise exception.NetworkSetupError(
            reason=f"{' '.join(cmd[:8])}{' ...' if len(cmd) > 8 else ''} failed "
                   f"(exit {e.exit_code}): {(e.stderr or '').strip()[:500]}") from e
    except OSError as e:
        raise exception.NetworkSetupError(reason=f"cannot run {cmd[0]}: {e}") from e
    return str(out)


def namespaces() -> set[str]:
    """The named network namespaces on this kernel (names are global)."""
    try:
        return set(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return set()


def ensure_namespace(name: str) -> None:
    if name not in namespaces():
        try:
            execute("ip", "netns", "add", name)
        except exception.NetworkSetupError:
            if name not in namespaces():
                raise


def delete_namespace(name: str) -> None:
    """Remove a named namespace (its veth ends go with it); gone is fine."""
    if name in namespaces():
        execute("ip", "netns", "delete", name, check=False)
