"""Issue 13's benchmark: guests reached on their floating IP through the
vxlan data plane, as a user of the all-in-one reaches them.

The all-in-one (``python -m novalite.cmd.all_in_one``, the real libvirt
driver, ``[network] dataplane = vxlan`` with a data plane prefix of the
run's own) makes DevStack's ``public`` (172.24.4.0/24, the host is .1),
``private`` and ``router1``. Through its APIs, as its admin: tcp/80 and
tcp/22 ingress rules in the project's default security group and a floating
IP on ``public``, made beforehand. Then, one server at a time:

(a) the tiny guest (its disk image, a 128 MiB flavor made for the run):
    ``POST /servers`` → its port shows in ``GET /ports?device_id=`` → ``PUT
    /floatingips/{id}`` with that ``port_id`` → the first ``GET
    http://<floating IP>/`` from the host answering the server's uuid.
    ``--runs`` servers (default 3), p50/max; next to it the tiny disk on
    bare QEMU to its console marker (``bench_real_boot.bare_boots``).

(b) the Debian 12 cloud image (``novalite-manage image build-debian``, cached;
    uploaded through the Image API), m1.tiny, a key pair: ``POST /servers``
    → FIP associated as in (a) → ``ssh -o BatchMode=yes debian@<FIP>
    hostname`` prints the server's name. The physical reference: bare
    ``qemu-system-x86_64 -accel tcg``, the same image (a qcow2 overlay), the
    flavor's memory, user networking with a hostfwd to port 22, a config
    drive with the same key: process start → ``SSH-2.0`` read from the
    forwarded port (and, for the record, → ``ssh ... hostname`` answering).

Ratios printed. ``--smoke``: (a) once, no bare side, no (b) (a Debian TCG
boot takes minutes). At the end every server is deleted, the all-in-one
stopped (``--stop``; not ``novalite-manage host cleanup --yes``, which also
removes other deployments' orphans on this shared host), the run's data
plane removed (an empty apply with its
prefix, its host routes) and its state directory removed; the script fails
when a domain, link, namespace, nftables table or route of the run is left.

    python benchmarks/bench_network.py [--runs 3] [--debian-runs N] [--skip-debian]
        [--no-wait-quiet] [--smoke]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import _benchlib as lib
import requests

lib.add_repo_to_path()

from novalite import tinyguest  # noqa: E402
from novalite.tinyguest import qemu  # noqa: E402

TEST_ROOT = "/var/lib/novalite-tests"
V2 = "/network/v2.0"
TINY_FLAVOR = "bench.fip"
DEBIAN_FLAVOR = "1"  # m1.tiny, as tests/integration/test_debian_image.py
POLL = 0.1
TINY_TIMEOUT = 300.0
DEBIAN_TIMEOUT = 1200.0
START_TIMEOUT = 600.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          check=False, stdin=subprocess.DEVNULL)


def _ssh_argv(key: str, user_at: str, port: int = 22) -> list[str]:
    return ["ssh", "-i", key, "-p", str(port), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", user_at, "hostname"]


def _ssh_hostname(key: str, user_at: str, port: int = 22) -> str | None:
    try:
        done = _run(*_ssh_argv(key, user_at, port), timeout=30)
    except subprocess.TimeoutExpired:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


class AllInOne:
    """The all-in-one as a separate process, its state under TEST_ROOT (QEMU
    must traverse it), its own data plane prefix and ports."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:5]
        self.prefix = f"b{tag}"
        os.makedirs(TEST_ROOT, mode=0o755, exist_ok=True)
        self.state = tempfile.mkdtemp(prefix=f"bench-network-{tag}-", dir=TEST_ROOT)
        os.chmod(self.state, 0o755)
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = os.path.join(self.state, "all-in-one.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: lib.Client | None = None
        self.server_ids: list[str] = []
        self.http = requests.Session()
        self.http.trust_env = False

    def start(self) -> None:
        conf = os.path.join(self.state, "bench.conf")
        with open(conf, "w") as f:
            f.write("[network]\ndataplane = vxlan\n"
                    f"dataplane_prefix = {self.prefix}\n"
                    f"[metadata]\nport = {_free_port()}\n"
                    f"[serial_console]\nserialproxy_port = {_free_port()}\n")
        cmd = [sys.executable, "-m", "novalite.cmd.all_in_one", "--state-dir", self.state,
               "--port", str(self.port), "--driver", "libvirt", "--config-file", conf,
               "--log-file", self.log]
        with open(os.path.join(self.state, "all-in-one.out"), "ab") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise SystemExit(f"the all-in-one exited ({self.proc.returncode}); see "
                                 f"{self.log}: {self._tail()}")
            try:
                return self.http.get(self.base + "/identity/v3", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        lib.wait_for(up, START_TIMEOUT, "the all-in-one's API", interval=1)
        with open(os.path.join(self.state, "admin-password")) as f:
            self.client = lib.Client(self.base, "admin", f.read().strip(), "admin")

    def _tail(self) -> str:
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-30:])
        except OSError:
            return "(no log)"

    def req(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,),
            **kw: Any) -> Any:
        assert self.client is not None
        resp = self.http.request(method, self.base + path, json=body,
                                 headers={**self.client.headers(),
                                          "OpenStack-API-Version": "compute 2.1"},
                                 timeout=120, **kw)
        if resp.status_code not in ok:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status_code} {resp.text[:500]}")
        return resp.json() if resp.content else None

    def net(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) \
            -> Any:
        return self.req(method, V2 + path, body, ok)

    def compute(self, method: str, path: str, body: Any = None,
                ok: tuple[int, ...] = (200,)) -> Any:
        return self.req(method, "/compute/v2.1" + path, body, ok)

    def server_gone(self, sid: str, timeout: float = 300) -> None:
        def gone() -> bool:
            assert self.client is not None
            resp = self.http.get(f"{self.base}/compute/v2.1/servers/{sid}",
                                 headers=self.client.headers(), timeout=60)
            return resp.status_code == 404
        lib.wait_for(gone, timeout, f"server {sid} deleted", interval=1)

    def delete_server(self, sid: str) -> None:
        self.compute("DELETE", f"/servers/{sid}", ok=(204, 404))
        self.server_gone(sid)

    def stop(self) -> list[str]:
        """Everything of the run removed; what was left, if anything."""
        problems: list[str] = []
        if self.proc is not None and self.proc.poll() is None and self.client is not None:
            for sid in self.server_ids:
                try:
                    self.delete_server(sid)
                except Exception as e:  # noqa: BLE001 - report, go on cleaning
                    problems.append(f"deleting server {sid} failed: {e!r}")
        if self.proc is not None:
            # NOTE: --stop waits until the pid is gone; the all-in-one is
            # this process's child, so it is reaped here meanwhile (a zombie
            # still "exists" for --stop).
            stopper = subprocess.Popen(
                [sys.executable, "-m", "novalite.cmd.all_in_one", "--state-dir", self.state,
                 "--stop"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
            try:
                self.proc.wait(150)
            except subprocess.TimeoutExpired:
                print(f"WARNING: the all-in-one did not exit within 150 s of --stop; "
                      f"killed. {self._stacks()}", file=sys.stderr, flush=True)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(30)
            out = stopper.communicate(timeout=180)[0]
            if stopper.returncode != 0:
                problems.append(f"--stop exited {stopper.returncode}: {out.strip()}")
        problems += self._remove_guests()
        problems += self._remove_dataplane()
        if problems and os.path.exists(self.log):
            kept = os.path.join(tempfile.gettempdir(), f"bench-network-{self.prefix}.log")
            shutil.copyfile(self.log, kept)
            problems.append(f"the all-in-one's log is kept in {kept}")
        shutil.rmtree(self.state, ignore_errors=True)
        return problems

    def _stacks(self) -> str:
        """py-spy's dump of the stuck processes (when py-spy is installed),
        kept in a file."""
        if shutil.which("py-spy") is None or self.proc is None:
            return "(py-spy is not installed: no stacks)"
        pids = _run("pgrep", "-g", str(self.proc.pid)).stdout.split()
        path = os.path.join(tempfile.gettempdir(), f"bench-network-{self.prefix}.stacks")
        with open(path, "w") as f:
            for pid in pids:
                dump = _run("py-spy", "dump", "--pid", pid)
                f.write(f"== pid {pid}\n{dump.stdout}{dump.stderr}\n")
        return f"py-spy dump of its processes in {path}"

    def _remove_guests(self) -> list[str]:
        import libvirt

        problems = []
        conn = libvirt.open("qemu:///system")
        try:
            for sid in self.server_ids:
                try:
                    dom = conn.lookupByUUIDString(sid)
                except libvirt.libvirtError:
                    continue
                problems.append(f"domain of {sid} was left: removed")
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
        finally:
            conn.close()
        return problems

    def _remove_dataplane(self) -> list[str]:
        """An empty state applied with the run's prefix removes its bridges,
        VXLAN devices, namespaces, nftables and dnsmasq; its host routes go
        with an empty route set (tests/integration/test_network_e2e.py does
        the same)."""
        from novalite.network import agent_service
        from novalite.network import manage as network_manage
        from novalite.network.dataplane import agent as dataplane
        from novalite.network.dataplane.state import HostState

        problems = []
        empty = HostState(host=socket.gethostname(), local_ip="127.0.0.1")
        try:
            dataplane.apply(empty, prefix=self.prefix,
                            state_dir=os.path.join(self.state, "dataplane", self.prefix))
            agent_service.sync_host_routes(empty, self.prefix)
        except Exception as e:  # noqa: BLE001
            problems.append(f"removing the data plane failed: {e!r}")
        # NOTE: the all-in-one registered its claim on the prefix, VNIs and
        # subnets (novalite.network.manage); gone with its data plane.
        network_manage.unregister_claim(self.prefix)
        left = [ln for ln in _run("ip", "-o", "link").stdout.splitlines()
                if f": {self.prefix}" in ln]
        left += [n for n in _run("ip", "netns", "list").stdout.split()
                 if n.startswith(self.prefix)]
        left += [ln for ln in _run("nft", "list", "tables").stdout.splitlines()
                 if self.prefix in ln]
        proto = str(agent_service.route_protocol(self.prefix))
        left += _run("ip", "-4", "route", "show", "proto", proto).stdout.splitlines()
        if left:
            problems.append(f"kernel objects of {self.prefix} left: {left}")
        return problems


class Cloud:
    """The run's objects in the all-in-one: rules, a floating IP, flavor, key."""

    def __init__(self, aio: AllInOne) -> None:
        self.aio = aio
        public = aio.net("GET", "/networks?name=public")["networks"]
        if not public:
            raise RuntimeError("the all-in-one made no network 'public' (dataplane vxlan?)")
        self.public = public[0]
        assert aio.client is not None
        groups = aio.net("GET", f"/security-groups?name=default&project_id="
                                f"{aio.client.project_id}")["security_groups"]
        self.group = groups[0]["id"]
        for port in (80, 22):
            aio.net("POST", "/security-group-rules", {"security_group_rule": {
                "security_group_id": self.group, "direction": "ingress", "ethertype": "IPv4",
                "protocol": "tcp", "port_range_min": port, "port_range_max": port,
                "remote_ip_prefix": "0.0.0.0/0"}}, ok=(201,))
        self.fip = aio.net("POST", "/floatingips", {"floatingip": {
            "floating_network_id": self.public["id"]}}, ok=(201,))["floatingip"]
        self.address = self.fip["floating_ip_address"]

    def boot(self, name: str, deadline_s: float, **server: Any) -> tuple[str, float, float]:
        """POST the server, associate the floating IP with its port as soon as
        it exists; (server id, POST monotonic, seconds to the association)."""
        aio = self.aio
        body = {"server": {"name": name, **server}}
        start = time.monotonic()
        sid = aio.compute("POST", "/servers", body, ok=(202,))["server"]["id"]
        aio.server_ids.append(sid)

        def port() -> str | None:
            ports = aio.net("GET", f"/ports?device_id={sid}")["ports"]
            if ports:
                return str(ports[0]["id"])
            status = aio.compute("GET", f"/servers/{sid}")["server"]
            if status["status"] == "ERROR":
                raise SystemExit(f"{sid} in ERROR: {status.get('fault')}")
            return None
        port_id = lib.wait_for(port, deadline_s, f"a port of {sid}", interval=POLL)
        aio.net("PUT", f"/floatingips/{self.fip['id']}",
                {"floatingip": {"port_id": port_id}})
        return sid, start, time.monotonic() - start

    def release(self, sid: str) -> None:
        """Delete the server; its port goes, so the floating IP is free again."""
        self.aio.delete_server(sid)
        self.aio.server_ids.remove(sid)
        lib.wait_for(lambda: self.aio.net("GET", f"/floatingips/{self.fip['id']}")
                     ["floatingip"]["port_id"] is None, 120, "the floating IP released")


# -- (a) the tiny guest ------------------------------------------------------------


def tiny_run(cloud: Cloud, image_id: str, name: str) -> tuple[float, float]:
    """(POST → first HTTP answer with the uuid on the FIP, POST → FIP associated)."""
    http = requests.Session()
    http.trust_env = False
    sid, start, assoc = cloud.boot(name, TINY_TIMEOUT, imageRef=image_id,
                                   flavorRef=TINY_FLAVOR)
    url = f"http://{cloud.address}/"

    def answered() -> bool:
        try:
            page = http.get(url, timeout=0.5)
        except requests.RequestException:
            return False
        return page.status_code == 200 and f"uuid={sid}" in page.text.splitlines()
    try:
        lib.wait_for(answered, TINY_TIMEOUT, f"HTTP from {url} (server {sid})", interval=POLL)
        return time.monotonic() - start, assoc
    finally:
        cloud.release(sid)


# -- (b) Debian ---------------------------------------------------------------------


def upload_debian(aio: AllInOne, path: str) -> str:
    """The cached Debian image through the Image API (as a user would)."""
    from novalite.image import debian

    image = aio.req("POST", "/image/v2/images", {
        "name": f"{debian.IMAGE_NAME}-bench", "disk_format": "qcow2",
        "container_format": "bare", "visibility": "public", "min_ram": debian.MIN_RAM_MB,
        "os_distro": "debian", "os_version": "12", "os_type": "linux",
        "os_admin_user": debian.DEFAULT_USER, "hw_qemu_guest_agent": "yes"}, ok=(201,))
    assert aio.client is not None
    with open(path, "rb") as f:
        resp = aio.http.put(f"{aio.base}/image/v2/images/{image['id']}/file", data=f,
                            headers={**aio.client.headers(),
                                     "Content-Type": "application/octet-stream"},
                            timeout=600)
    if resp.status_code != 204:
        raise RuntimeError(f"image upload: HTTP {resp.status_code} {resp.text[:300]}")
    return str(image["id"])


def debian_run(cloud: Cloud, image_id: str, key: str, key_name: str, name: str) \
        -> tuple[float, float]:
    """(POST → ssh debian@FIP hostname prints the name, POST → FIP associated)."""
    sid, start, assoc = cloud.boot(name, DEBIAN_TIMEOUT, imageRef=image_id,
                                   flavorRef=DEBIAN_FLAVOR, key_name=key_name,
                                   config_drive=True)
    try:
        got = lib.wait_for(lambda: _ssh_hostname(key, f"debian@{cloud.address}") == name,
                           DEBIAN_TIMEOUT, f"ssh debian@{cloud.address} hostname = {name}",
                           interval=1)
        assert got
        return time.monotonic() - start, assoc
    finally:
        cloud.release(sid)


def _banner(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(64).startswith(b"SSH-2.0")
    except OSError:
        return False


def bare_debian(image: str, workdir: str, memory_mb: int, public_key: str, key: str,
                name: str) -> tuple[float, float]:
    """Bare QEMU, TCG, the image on a fresh overlay, user networking with a
    hostfwd to 22, a config drive with the key: (start → SSH banner,
    start → ssh hostname answering)."""
    run = os.path.join(workdir, name)
    latest = os.path.join(run, "drive", "openstack", "latest")
    os.makedirs(latest)
    with open(os.path.join(latest, "meta_data.json"), "w") as f:
        json.dump({"uuid": str(uuid.uuid4()), "hostname": name, "name": name,
                   "public_keys": {"bench": public_key}}, f)
    iso = os.path.join(run, "config-drive.iso")
    done = _run("genisoimage", "-quiet", "-J", "-r", "-V", "config-2", "-o", iso,
                os.path.join(run, "drive"))
    if done.returncode != 0:
        raise RuntimeError(f"genisoimage: {done.stderr}")
    disk = qemu.overlay(image, os.path.join(run, "disk.qcow2"))
    port = _free_port()
    extra = ["-smp", "1",
             "-drive", f"file={iso},format=raw,if=virtio,readonly=on",
             "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22",
             "-device", "virtio-net-pci,netdev=n0"]
    with qemu.boot_disk(disk, run, config_drive=None, extra=extra, name="debian",
                        memory_mb=memory_mb) as guest:
        def banner() -> bool:
            if guest.proc.poll() is not None:
                raise RuntimeError(f"QEMU exited ({guest.proc.returncode})")
            return _banner(port)
        lib.wait_for(banner, DEBIAN_TIMEOUT, "the SSH banner of bare QEMU", interval=0.5)
        at_banner = time.monotonic() - guest.started
        lib.wait_for(lambda: _ssh_hostname(key, "debian@127.0.0.1", port) == name,
                     DEBIAN_TIMEOUT, "ssh hostname on bare QEMU", interval=1)
        return at_banner, time.monotonic() - guest.started


# -- main ---------------------------------------------------------------------------


def _stats(values: list[float]) -> str:
    return (f"p50 {lib.percentile(values, 50):.2f} s, max {max(values):.2f} s "
            f"({' '.join(f'{v:.2f}' for v in values)})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="tiny guest servers (a)")
    p.add_argument("--debian-runs", type=int, default=None,
                   help="Debian servers and bare boots (b); default --runs")
    p.add_argument("--skip-debian", action="store_true", help="(a) only")
    p.add_argument("--no-wait-quiet", action="store_true")
    p.add_argument("--smoke", action="store_true",
                   help="the test suite's size: (a) once, no bare side, no (b)")
    args = p.parse_args(argv)
    lib.install_sigterm()
    if args.smoke:
        args.runs, args.skip_debian, args.no_wait_quiet = 1, True, True
    debian_runs = args.runs if args.debian_runs is None else args.debian_runs

    from novalite.tinyguest import builder

    tiny_build = builder.build(progress=lambda line: print(f"[build] {line}"))
    deb_build = None
    if not args.skip_debian:
        from novalite.image import debian

        deb_build = debian.build(progress=lambda line: print(f"[debian] {line}"))
    if not args.no_wait_quiet:
        lib.wait_quiet(max_wait=300)
    load_before = os.getloadavg()
    started_at = lib.now()
    workdir = tempfile.mkdtemp(prefix="bench-network-", dir=TEST_ROOT)
    os.chmod(workdir, 0o755)
    aio = AllInOne()
    tiny: list[tuple[float, float]] = []
    bare_tiny: list[float] = []
    deb: list[tuple[float, float]] = []
    bare_deb: list[tuple[float, float]] = []
    deb_memory = 0
    problems: list[str] = []
    try:
        t0 = time.monotonic()
        aio.start()
        print(f"all-in-one up in {time.monotonic() - t0:.1f} s (prefix {aio.prefix}, "
              f"state {aio.state})", flush=True)
        cloud = Cloud(aio)
        print(f"floating IP {cloud.address} on public; tcp/80 and tcp/22 open in the "
              "default group", flush=True)
        aio.compute("POST", "/flavors", {"flavor": {
            "name": TINY_FLAVOR, "id": TINY_FLAVOR, "ram": tinyguest.RECOMMENDED_RAM_MB,
            "vcpus": 1, "disk": 1}})
        images = aio.req("GET", f"/image/v2/images?name={tinyguest.DISK_IMAGE}")["images"]
        if not images:
            raise RuntimeError(f"the all-in-one registered no {tinyguest.DISK_IMAGE}")
        tiny_image = images[0]["id"]
        for i in range(args.runs):
            tiny.append(tiny_run(cloud, tiny_image, f"bench-fip-{i}"))
            line = (f"(a) run {i + 1}/{args.runs}: POST → HTTP on the floating IP "
                    f"{tiny[-1][0]:.2f} s (FIP associated after {tiny[-1][1]:.2f} s)")
            if not args.smoke:
                from bench_real_boot import bare_boots

                bare_tiny.append(bare_boots(tiny_build, workdir, tinyguest.RECOMMENDED_RAM_MB,
                                            1, f"bare{i}").span)
                line += f"; bare QEMU → marker {bare_tiny[-1]:.2f} s"
            print(line, flush=True)
        if args.smoke:
            print(f"smoke: novalite POST → HTTP on the floating IP {tiny[0][0]:.2f} s")
        if deb_build is not None and debian_runs > 0:
            key = os.path.join(workdir, "id_ed25519")
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench-network",
                 "-f", key)
            with open(key + ".pub") as f:
                public_key = f.read().strip()
            key_name = f"bench-{aio.prefix}"
            aio.compute("POST", "/os-keypairs", {"keypair": {
                "name": key_name, "public_key": public_key}})
            t0 = time.monotonic()
            deb_image = upload_debian(aio, deb_build.path)
            print(f"Debian image uploaded in {time.monotonic() - t0:.1f} s", flush=True)
            deb_memory = int(aio.compute("GET", f"/flavors/{DEBIAN_FLAVOR}")["flavor"]["ram"])
            for i in range(debian_runs):
                deb.append(debian_run(cloud, deb_image, key, key_name, f"bench-deb-{i}"))
                bare_deb.append(bare_debian(deb_build.path, workdir, deb_memory, public_key,
                                            key, f"bare-deb-{i}"))
                print(f"(b) run {i + 1}/{debian_runs}: POST → ssh hostname {deb[-1][0]:.1f} s "
                      f"(FIP associated after {deb[-1][1]:.2f} s); bare QEMU → SSH banner "
                      f"{bare_deb[-1][0]:.1f} s, → ssh hostname {bare_deb[-1][1]:.1f} s",
                      flush=True)
    finally:
        problems = aio.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if problems:
        print("NOT CLEAN:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    if args.smoke:
        return 0

    rows = [["(a) tiny guest: POST → HTTP (uuid) on the floating IP, from the host",
             _stats([t for t, _ in tiny])],
            ["(a) POST → floating IP associated to the new port", _stats([a for _, a in tiny])],
            ["(a) bare QEMU, tiny disk: start → console marker", _stats(bare_tiny)]]
    ratios = [f"(a) novalite p50 / bare p50: "
              f"{lib.percentile([t for t, _ in tiny], 50) / lib.percentile(bare_tiny, 50):.2f}×"]
    if deb:
        nl = lib.percentile([t for t, _ in deb], 50)
        banner = lib.percentile([b for b, _ in bare_deb], 50)
        login = lib.percentile([s for _, s in bare_deb], 50)
        rows += [["(b) Debian 12: POST → `ssh debian@FIP hostname` prints the name",
                  _stats([t for t, _ in deb])],
                 ["(b) bare QEMU, same image: start → SSH-2.0 banner",
                  _stats([b for b, _ in bare_deb])],
                 ["(b) bare QEMU: start → `ssh hostname` answers (for the record)",
                  _stats([s for _, s in bare_deb])]]
        ratios += [f"(b) novalite POST → ssh p50 / bare → banner p50: {nl / banner:.2f}×",
                   f"(b) novalite POST → ssh p50 / bare → ssh p50: {nl / login:.2f}×"]
    table = lib.md_table(["what", "figures"], rows)
    m = lib.machine()
    print()
    print(f"bench_network.py --runs {args.runs} --debian-runs "
          f"{debian_runs if deb else 0}, started {started_at}; {m['uname']}, {m['cpu']}, "
          f"{m['cores']} cores, {m['memory']}; TCG; novalite at {lib.revision()}; load "
          f"average before {' '.join(f'{x:.2f}' for x in load_before)}, after "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; tiny {tinyguest.RECOMMENDED_RAM_MB}"
          f" MiB{f', Debian {deb_memory} MiB' if deb else ''}, 1 vCPU")
    print()
    print(table)
    print()
    print("\n".join(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
