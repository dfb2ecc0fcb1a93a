"""The README's first command on a truly fresh Debian 12 system (issue 9).

A minimal Debian bookworm root is made with debootstrap (cached as a tarball
in /var/cache/novalite-ci after the first run, so later runs unpack it in
seconds) with only what a newcomer's machine has: python3 with venv, git,
curl and CA certificates. Into it go a copy of this checkout and the
machine's pip settings (so PyPI is reached as here); then, as an
unprivileged user inside a chroot, ``./tools/quickstart`` must install
everything into the project's .venv, run the all-in-one with the FakeDriver,
say in one line why the guests are not real, and boot a server with the
unmodified ``openstack`` CLI. Nothing of the machine's own Python packages
is visible there.

The root path (apt-get and libvirt inside the new system) is not run here:
a libvirtd in a chroot would share the host's kernel, cgroups and /dev with
the machine's own libvirtd; the root path is proven on the host itself by
tests/integration/test_front_door.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest

from tests.procs import free_port

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE_DIR = "/var/cache/novalite-ci"
CACHE = os.path.join(CACHE_DIR, "bookworm-minbase.tar")
INCLUDE = "python3,python3-venv,git,ca-certificates,curl"
USER, UID = "newcomer", 64123
SOURCES = "/etc/apt/sources.list.d/debian.sources"


def _mirror() -> str:
    """The Debian mirror this machine's apt uses."""
    with contextlib.suppress(OSError):
        with open(SOURCES) as f:
            for line in f:
                if line.startswith("URIs:") and "security" not in line:
                    return line.split()[1]
    return "http://deb.debian.org/debian"


def _run(*args: str, timeout: float = 600, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                          check=False, stdin=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]


def _make_root(root: str) -> None:
    if not os.path.exists(CACHE):
        res = _run("debootstrap", "--variant=minbase", f"--include={INCLUDE}", "bookworm",
                   root, _mirror(), timeout=900)
        assert res.returncode == 0, f"debootstrap failed:\n{res.stdout[-3000:]}{res.stderr}"
        os.makedirs(CACHE_DIR, exist_ok=True)
        tmp = CACHE + ".tmp"
        assert _run("tar", "-C", root, "-cf", tmp, ".").returncode == 0
        os.replace(tmp, CACHE)
        return
    res = _run("tar", "-C", root, "-xf", CACHE)
    assert res.returncode == 0, res.stderr


def _copy_in(src: str, root: str, dest: str | None = None) -> None:
    if os.path.exists(src):
        target = root + (dest or src)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(src, target)


def _pip_settings(root: str, home: str) -> None:
    """The registries are reached the same way as from this machine."""
    _copy_in("/etc/resolv.conf", root)
    _copy_in("/etc/ssl/certs/ca-certificates.crt", root)
    _copy_in("/etc/pip.conf", root)
    if os.path.isdir("/etc/xdg/pip"):
        for name in os.listdir("/etc/xdg/pip"):
            _copy_in(os.path.join("/etc/xdg/pip", name), root)
    _copy_in(os.path.expanduser("~/.config/pip/pip.conf"), root,
             os.path.join(home, ".config/pip/pip.conf"))


def _copy_checkout(dest: str) -> None:
    """The checkout as it is (tracked and new files), without .venv or .git."""
    files = _run("git", "ls-files", "-co", "--exclude-standard", "-z", cwd=REPO).stdout
    for rel in filter(None, files.split("\0")):
        src = os.path.join(REPO, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel))


def _processes_in(root: str) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/root") == root:
                pids.append(int(pid))
    return pids


@pytest.fixture(scope="module")
def fresh_root() -> Iterator[str]:
    root = tempfile.mkdtemp(prefix="novalite-fresh-root-", dir="/var/tmp")
    mounts: list[str] = []
    try:
        _make_root(root)
        # NOTE: "/" of the new system, whatever mode the tarball's "." had.
        os.chmod(root, 0o755)
        for target, args in ((f"{root}/proc", ("-t", "proc", "proc")),
                             (f"{root}/dev", ("--rbind", "/dev"))):
            os.makedirs(target, exist_ok=True)
            res = _run("mount", *args, target)
            assert res.returncode == 0, res.stderr
            mounts.append(target)
        for opt in ("/opt/pypi", "/opt/pypi-more", "/opt/wheels"):
            if os.path.isdir(opt):
                os.makedirs(root + opt, exist_ok=True)
                assert _run("mount", "--bind", "-o", "ro", opt, root + opt).returncode == 0
                mounts.append(root + opt)
        home = f"/home/{USER}"
        res = _run("chroot", root, "useradd", "-m", "-u", str(UID), "-s", "/bin/bash", USER)
        assert res.returncode == 0, res.stderr
        _pip_settings(root, home)
        _copy_checkout(f"{root}{home}/novalite")
        _run("chown", "-R", f"{UID}:{UID}", f"{root}{home}")
        yield root
    finally:
        for pid in _processes_in(root):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        for target in reversed(mounts):
            _run("umount", "-R", "-l", target)
        shutil.rmtree(root, ignore_errors=True)


def _as_user(root: str, script: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    env = {"HOME": f"/home/{USER}", "USER": USER, "LANG": "C.UTF-8",
           "PATH": "/usr/local/bin:/usr/bin:/bin"}
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
    return _run("chroot", f"--userspec={UID}:{UID}", root, "/usr/bin/env", "-i",
                *[f"{k}={v}" for k, v in env.items()], "bash", "-c", script, timeout=timeout)


def test_quickstart_as_a_normal_user_on_a_fresh_debian(fresh_root: str) -> None:
    # a fresh system: no pip for the system Python, and none of our packages
    nopip = _as_user(fresh_root, "python3 -m pip --version")
    assert nopip.returncode == 1 and "No module named pip" in nopip.stderr, nopip
    port = free_port()
    res = _as_user(fresh_root, f"cd ~/novalite && NOVALITE_PORT={port} ./tools/quickstart")
    out = res.stdout + res.stderr
    try:
        assert res.returncode == 0, out[-6000:]
        # one clear line: why the guests are not real, and what makes them real
        why = [ln for ln in res.stdout.splitlines() if "servers are not real guests" in ln]
        assert len(why) == 1, out[-4000:]
        assert "servers are not real guests: libvirt-python is not installed" in why[0], why
        assert "run ./tools/quickstart as root" in why[0], why[0]
        assert re.search(r"demo-\d+ \([0-9a-f-]{36}\) is ACTIVE", res.stdout), out[-4000:]
        # installed into the project's .venv: the runtime, not the test tools
        venv = f"{fresh_root}/home/{USER}/novalite/.venv"
        assert os.path.exists(f"{venv}/bin/novalite-all-in-one")
        assert os.path.exists(f"{venv}/bin/openstack")
        for tool in ("pytest", "ruff", "mypy", "schemathesis"):
            assert not os.path.exists(f"{venv}/bin/{tool}"), tool
        listed = _as_user(fresh_root, "cd ~/novalite && . .venv/bin/activate && "
                                      "python -c 'import libvirt' 2>&1; "
                                      "OS_CLIENT_CONFIG_FILE=~/.local/share/novalite/clouds.yaml "
                                      "OS_CLOUD=novalite openstack server list -f value -c Status")
        assert "No module named 'libvirt'" in listed.stdout
        assert listed.stdout.strip().splitlines()[-1] == "ACTIVE", listed.stdout + listed.stderr
    finally:
        _as_user(fresh_root, "~/novalite/.venv/bin/novalite-all-in-one --state-dir "
                             "~/.local/share/novalite --stop", timeout=150)
