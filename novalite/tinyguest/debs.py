"""Debian packages as build inputs: resolved with apt-cache, fetched with
``apt-get download``, unpacked with ``dpkg-deb -x``. Nothing is installed.

A package is pinned by the SHA256 that the apt lists give for its candidate
version; that digest is both the cache key and the check on the download.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from novalite import tinyguest

Progress = Callable[[str], None]

# The kernel comes through the meta-package, so a build follows Debian's
# current cloud kernel; the unsigned package carries the same vmlinuz without
# the signed-image indirection.
KERNEL_META = "linux-image-cloud-amd64"
ARCHES = ("amd64", "all")


class AptError(tinyguest.TinyGuestError):
    pass


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    arch: str
    sha256: str

    @property
    def deb_name(self) -> str:
        """The file name ``apt-get download`` gives it (epoch colon quoted)."""
        return f"{self.name}_{self.version.replace(':', '%3a')}_{self.arch}.deb"


def _run(argv: Sequence[str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive")
    return subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)


def _stanzas(text: str) -> list[dict[str, str]]:
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            out.append(fields)
    return out


def _show(names: Sequence[str]) -> dict[str, dict[str, str]]:
    # NOTE: one call for all names: each apt-cache run rebuilds its cache
    # (~1 s here). Unknown names are reported on stderr; the others still show.
    res = _run(["apt-cache", "show", "--no-all-versions", *names])
    found: dict[str, dict[str, str]] = {}
    for st in _stanzas(res.stdout):
        if st.get("Package") in names and st.get("Architecture") in ARCHES:
            found.setdefault(st["Package"], st)
    return found


def lists_fingerprint(lists_dir: str = "/var/lib/apt/lists") -> str:
    """Changes whenever ``apt-get update`` changes the package lists: lets a
    cached build be reused without asking apt anything."""
    h = hashlib.sha256()
    try:
        names = sorted(os.listdir(lists_dir))
    except OSError:
        return ""
    for name in names:
        st = os.stat(os.path.join(lists_dir, name))
        if name != "lock" and not os.path.isdir(os.path.join(lists_dir, name)):
            h.update(f"{name} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


class Apt:
    """apt as the builder uses it. ``apt-get update`` runs at most once, and
    only when the package lists do not know a package we need."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.updated = False

    def _update(self) -> None:
        self.progress("apt-get update (the package lists do not know a needed package)")
        res = _run(["apt-get", "update"])
        if res.returncode != 0:
            raise AptError(f"apt-get update failed ({res.returncode}): "
                           f"{res.stderr.strip()[-500:]}")
        self.updated = True

    def show(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        found = _show(names)
        if len(found) < len(set(names)) and not self.updated:
            self._update()
            found = _show(names)
        missing = sorted(set(names) - set(found))
        if missing:
            raise AptError(f"apt knows no candidate for {', '.join(missing)} "
                           f"(architectures {', '.join(ARCHES)})")
        return found

    def kernel_package(self) -> str:
        """The unsigned package behind the cloud kernel meta-package."""
        depends = self.show([KERNEL_META])[KERNEL_META].get("Depends", "")
        for dep in depends.split(","):
            name = dep.strip().split(" ")[0]
            if name.startswith("linux-image-") and name.endswith("-cloud-amd64"):
                return name + "-unsigned"
        raise AptError(f"{KERNEL_META} depends on no linux-image-*-cloud-amd64 "
                       f"(Depends: {depends!r})")

    def resolve(self, names: Sequence[str]) -> list[Package]:
        found = self.show(names)
        return [Package(n, found[n]["Version"], found[n]["Architecture"], found[n]["SHA256"])
                for n in names]

    def fetch(self, packages: Sequence[Package], deb_dir: str) -> dict[str, str]:
        """Package name -> path of its verified .deb in ``deb_dir``; downloads
        only what is missing or does not match its digest."""
        os.makedirs(deb_dir, exist_ok=True)
        todo = [p for p in packages if not _matches(os.path.join(deb_dir, p.deb_name), p)]
        if todo:
            self.progress(f"downloading {len(todo)} of {len(packages)} packages: "
                          + ", ".join(p.name for p in todo))
            # NOTE: the sandbox user _apt may not write to deb_dir; downloads
            # are verified against the lists' SHA256 below either way.
            res = _run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root",
                        *[f"{p.name}={p.version}" for p in todo]], cwd=deb_dir)
            if res.returncode != 0:
                raise AptError(f"apt-get download {' '.join(p.name for p in todo)} failed "
                               f"({res.returncode}): {res.stderr.strip()[-500:]}")
        else:
            self.progress(f"all {len(packages)} packages already in {deb_dir}")
        paths = {}
        for p in packages:
            path = os.path.join(deb_dir, p.deb_name)
            if not _matches(path, p):
                raise AptError(f"{path} is missing or its SHA256 is not {p.sha256} "
                               f"({p.name} {p.version})")
            paths[p.name] = path
        return paths


def _matches(path: str, pkg: Package) -> bool:
    if not os.path.exists(path):
        return False
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest() == pkg.sha256


def prune(deb_dir: str, keep: Sequence[Package]) -> list[str]:
    """Remove the .deb files of other versions (an old kernel is 27 MB)."""
    wanted = {p.deb_name for p in keep}
    removed = sorted(f for f in os.listdir(deb_dir) if f.endswith(".deb") and f not in wanted)
    for f in removed:
        os.unlink(os.path.join(deb_dir, f))
    return removed


def unpack(deb: str, dest: str) -> None:
    os.makedirs(dest, exist_ok=True)
    res = _run(["dpkg-deb", "-x", deb, dest])
    if res.returncode != 0:
        raise AptError(f"dpkg-deb -x {deb} failed ({res.returncode}): {res.stderr.strip()}")
