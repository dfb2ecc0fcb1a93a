"""The QEMU guest agent through libvirt-python (``qemuAgentCommand``):
file injection after spawn, and the reads tests use to check it.

Commands are JSON built with ``json.dumps`` (paths are values, never
markup or shell), each with a libvirt-side timeout; :func:`inject_files`
keeps an overall deadline.
"""

from __future__ import annotations

import base64
import json
import posixpath
import time
from typing import Any

import libvirt
import libvirt_qemu

CHUNK = 48 * 1024
POLL = 0.5


class AgentError(Exception):
    pass


def command(domain: libvirt.virDomain, execute: str, arguments: dict[str, Any] | None = None,
            timeout: int = 10) -> Any:
    cmd: dict[str, Any] = {"execute": execute}
    if arguments is not None:
        cmd["arguments"] = arguments
    try:
        out = libvirt_qemu.qemuAgentCommand(domain, json.dumps(cmd), timeout, 0)
    except libvirt.libvirtError as e:
        raise AgentError(f"{execute}: {e.get_error_message()}") from e
    if out is None:
        raise AgentError(f"{execute}: no answer from the guest agent")
    reply = json.loads(out)
    if "error" in reply:
        raise AgentError(f"{execute}: {reply['error'].get('desc', reply['error'])}")
    return reply.get("return")


def wait_ready(domain: libvirt.virDomain, deadline: float) -> None:
    last = "not tried"
    while time.monotonic() < deadline:
        try:
            command(domain, "guest-ping", timeout=2)
            return
        except AgentError as e:
            last = str(e)
        time.sleep(POLL)
    raise AgentError(f"the guest agent did not answer before the deadline ({last})")


def execute(domain: libvirt.virDomain, path: str, args: list[str], deadline: float,
            capture: bool = False) -> dict[str, Any]:
    """Run a program in the guest (no shell); returns guest-exec-status."""
    pid = command(domain, "guest-exec", {"path": path, "arg": args,
                                         "capture-output": capture})["pid"]
    while True:
        status = command(domain, "guest-exec-status", {"pid": pid})
        if status.get("exited"):
            return dict(status)
        if time.monotonic() > deadline:
            raise AgentError(f"{path} {args} did not finish in the guest before the deadline")
        time.sleep(0.1)


def write_file(domain: libvirt.virDomain, path: str, data: bytes) -> None:
    handle = command(domain, "guest-file-open", {"path": path, "mode": "w"})
    try:
        for i in range(0, len(data), CHUNK) or [0]:
            command(domain, "guest-file-write",
                    {"handle": handle, "buf-b64": base64.b64encode(data[i:i + CHUNK]).decode()})
    finally:
        command(domain, "guest-file-close", {"handle": handle})


def read_file(domain: libvirt.virDomain, path: str) -> bytes:
    handle = command(domain, "guest-file-open", {"path": path, "mode": "r"})
    data = b""
    try:
        while True:
            res = command(domain, "guest-file-read", {"handle": handle, "count": CHUNK})
            data += base64.b64decode(res.get("buf-b64", ""))
            if res.get("eof") or not res.get("count"):
                return data
    finally:
        command(domain, "guest-file-close", {"handle": handle})


def inject_files(domain: libvirt.virDomain, files: list[tuple[str, bytes]],
                 timeout: float) -> None:
    """Write each (absolute path, bytes) into the guest, making parent
    directories; AgentError names the file and the step that failed."""
    deadline = time.monotonic() + timeout
    wait_ready(domain, deadline)
    for path, data in files:
        try:
            parent = posixpath.dirname(path)
            if parent and parent != "/":
                status = execute(domain, "/bin/mkdir", ["-p", parent], deadline)
                if status.get("exitcode"):
                    raise AgentError(f"mkdir -p {parent} exited with {status.get('exitcode')}")
            write_file(domain, path, data)
        except AgentError as e:
            raise AgentError(f"injecting {path}: {e}") from e
        if time.monotonic() > deadline:
            raise AgentError(f"injecting {path}: deadline of {timeout}s passed")
