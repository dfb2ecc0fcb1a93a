"""Real novalite binaries as child processes, each in its own session (so
cotyledon's process-group signals never reach the test runner), with a
config file and a log file each. Always stopped at the end."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_conf(path: str, sections: dict[str, dict[str, Any]]) -> str:
    lines = []
    for section, opts in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {v}" for k, v in opts.items())
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


class Proc:
    def __init__(self, name: str, binary: str, conf: str, log: str) -> None:
        self.name, self.binary, self.conf, self.log = name, binary, conf, log
        self.popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        out = open(self.log + ".out", "ab")
        self.popen = subprocess.Popen(
            [self.binary, "--config-file", self.conf, "--log-file", self.log],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        out.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def workers(self) -> list[int]:
        """PIDs of the worker processes cotyledon forked."""
        try:
            kids = psutil.Process(self.pid).children()
        except psutil.NoSuchProcess:
            return []
        alive = []
        for k in kids:
            try:
                if k.status() != psutil.STATUS_ZOMBIE:
                    alive.append(k.pid)
            except psutil.Error:
                continue  # exited between listing and looking
        return alive

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def read_log(self) -> str:
        text = ""
        for path in (self.log, self.log + ".out"):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    text += f.read()
        return text

    def wait_log(self, pattern: str, timeout: float = 30.0, count: int = 1) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.read_log()
            if len(re.findall(pattern, text)) >= count:
                return text
            if self.popen is not None and self.popen.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: {pattern!r} x{count} not in log within {timeout}s "
                             f"(exit={self.popen.poll() if self.popen else None});\n"
                             f"--- last log ---\n{self.read_log()[-4000:]}")

    def stop(self, timeout: float = 40.0) -> int | None:
        if self.popen is None or self.popen.poll() is not None:
            return self.popen.returncode if self.popen else None
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(10)
            return None


def wait_until(pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition",
               interval: float = 0.1) -> Any:
    """``pred()``'s first true value; it is asked once more at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pids_whose_cmdline_has(*needles: bytes) -> list[int]:
    """The processes whose command line holds every one of ``needles``."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if all(n in cmd for n in needles):
            pids.append(int(pid))
    return pids
