"""The volume service as its own process (novalite-volume) on RabbitMQ and
PostgreSQL, with the API process in front (issue 14): real files and real
qemu-img. A volume made from the tiny image holds the image's bytes; a new
volume reads zeros where a deleted one wrote; a delete leaves no file; an
attachment for another host is an NBD export that outlives the service's
restarts (a dead export daemon is started again by the next start); the
volume service SIGKILLed and restarted while 10 attachments are being
connected: every volume ends in-use or available, no attachment is left
half-made, and the attachments left are exactly those of in-use volumes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import pytest
import requests

from tests.cluster import Cluster
from tests.integration import services
from tests.procs import Proc, wait_until

HOST = "volhost"
WHO = {"X-User-Id": "vera", "X-Project-Id": "proj-vol", "X-Roles": "member,reader",
       "OpenStack-API-Version": "volume 3.67"}
GiB = 1024 ** 3


def _volume_binary(tmp: str) -> str:
    """novalite-volume without its console script (the lead adds the entry
    point): the same main() under this interpreter."""
    path = os.path.join(tmp, "novalite-volume")
    with open(path, "w") as f:
        f.write(f"#!{sys.executable}\nfrom novalite.cmd.volume import main\nmain()\n")
    os.chmod(path, 0o755)
    return path


class VolumeCluster(Cluster):
    def start_volume(self, **volume_opts: Any) -> Proc:
        conf = self.conf_for(HOST, "novalite-volume",
                             {"volume": {"storage_dir": self.storage_dir,
                                         "capacity_gb": 100, "export_address": "127.0.0.1",
                                         "export_port_min": 20850,
                                         "export_port_max": 20869, **volume_opts},
                              "image": {"api_url":
                                        f"http://127.0.0.1:{self.api_port}/image"}})
        log = os.path.join(self.tmp, f"{HOST}.log")
        ready = f"is consuming volume, volume.{HOST}"
        # NOTE: a restart appends to the same log: wait for one line more.
        before = 0
        if os.path.exists(log):
            with open(log) as f:
                before = f.read().count(ready)
        proc = Proc(HOST, self.volume_binary, conf, log).start()
        self.procs[HOST] = proc
        proc.wait_log(ready, timeout=60, count=before + 1)
        return proc

    def volume_api(self, method: str, path: str, body: Any = None,
                   status: int | None = None) -> Any:
        resp = requests.request(method, f"http://127.0.0.1:{self.api_port}/volume/v3{path}",
                                json=body, headers=WHO, timeout=30)
        if status is not None:
            assert resp.status_code == status, f"{method} {path}: {resp.text}"
        return resp.json() if resp.content else None

    def wait_volume(self, volume_id: str, statuses: tuple[str, ...] = ("available",),
                    timeout: float = 60.0) -> dict:
        def done() -> dict | None:
            vol = self.volume_api("GET", f"/volumes/{volume_id}", status=200)["volume"]
            return vol if vol["status"] in statuses else None
        return wait_until(done, timeout=timeout, what=f"volume {volume_id} {statuses}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: Any) -> Any:
    tmp = str(tmp_path_factory.mktemp("volsvc"))
    with services.rabbitmq_vhost() as mq, services.postgres_database() as db:
        c = VolumeCluster(tmp, mq, db).prepare()
        c.storage_dir = os.path.join(tmp, "volumes")
        c.volume_binary = _volume_binary(tmp)
        c.connect()
        try:
            c.start_api()
            c.start_volume()
            c.wait_services_up([HOST])
            yield c
        finally:
            c.stop_all()


def test_a_volume_from_the_tiny_image_holds_its_bytes(cluster):
    from novalite.tinyguest import builder

    tiny = builder.build(progress=lambda _line: None)
    out = cluster.manage("image", "register", "tiny-vol", "--file", tiny.disk,
                         "--disk-format", "qcow2")
    image_id = out.split()[3]
    vol = cluster.volume_api("POST", "/volumes", {"volume": {"size": 1, "imageRef": image_id,
                                                             "name": "from-tiny"}},
                             status=202)["volume"]
    vol = cluster.wait_volume(vol["id"], timeout=120)
    assert vol["bootable"] == "true"
    assert vol["volume_image_metadata"]["image_id"] == image_id
    path = os.path.join(cluster.storage_dir, f"volume-{vol['id']}")
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_size == GiB
    assert stat.S_IMODE(os.stat(cluster.storage_dir).st_mode) == 0o711
    # sparse: the blocks written are about the image's data, not 1 GiB
    assert st.st_blocks * 512 < 200 * 1024 * 1024
    # the same bytes as the image (and zeros past its end)
    same = subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F", "raw", tiny.disk, path],
                          capture_output=True, text=True, check=False)
    assert same.returncode == 0, same.stdout + same.stderr
    cluster.volume_api("DELETE", f"/volumes/{vol['id']}", status=202)
    wait_until(lambda: not os.path.exists(path), timeout=60, what="volume file removed")
    # a volume host that does not read the image store's file downloads the
    # image through the Image API: the same bytes
    cluster.procs[HOST].stop()
    cluster.start_volume(image_local_read="false")
    try:
        vol = cluster.volume_api("POST", "/volumes", {"volume": {"size": 1,
                                                                 "imageRef": image_id}},
                                 status=202)["volume"]
        vol = cluster.wait_volume(vol["id"], timeout=120)
        path = os.path.join(cluster.storage_dir, f"volume-{vol['id']}")
        same = subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F", "raw", tiny.disk,
                               path], capture_output=True, text=True, check=False)
        assert same.returncode == 0, same.stdout + same.stderr
        assert "GET /image/v2/images/" + image_id + "/file" in \
            cluster.procs["api"].read_log()
        assert [n for n in os.listdir(cluster.storage_dir) if n.startswith(".image-")] == []
        cluster.volume_api("DELETE", f"/volumes/{vol['id']}", status=202)
        wait_until(lambda: not os.path.exists(path), timeout=60, what="volume file removed")
    finally:
        cluster.procs[HOST].stop()
        cluster.start_volume()


def test_new_volumes_read_zeros_and_deletes_leave_nothing(cluster):
    first = cluster.volume_api("POST", "/volumes", {"volume": {"size": 1}},
                               status=202)["volume"]
    cluster.wait_volume(first["id"])
    path = os.path.join(cluster.storage_dir, f"volume-{first['id']}")
    pattern = b"LEAKED-DATA!" * 4096
    with open(path, "r+b") as f:
        for offset in range(0, GiB, 128 * 1024 * 1024):
            f.seek(offset)
            f.write(pattern)
    cluster.volume_api("DELETE", f"/volumes/{first['id']}", status=202)
    wait_until(lambda: not os.path.exists(path), timeout=60, what="volume file removed")
    second = cluster.volume_api("POST", "/volumes", {"volume": {"size": 1}},
                                status=202)["volume"]
    cluster.wait_volume(second["id"])
    new_path = os.path.join(cluster.storage_dir, f"volume-{second['id']}")
    with open(new_path, "rb") as f:
        for offset in range(0, GiB, 128 * 1024 * 1024):
            f.seek(offset)
            assert f.read(len(pattern)) == b"\0" * len(pattern)
    # nothing in the storage directory holds the deleted volume's bytes
    for name in os.listdir(cluster.storage_dir):
        with open(os.path.join(cluster.storage_dir, name), "rb") as f:
            while chunk := f.read(64 * 1024 * 1024):
                assert b"LEAKED-DATA!" not in chunk, name
    cluster.volume_api("DELETE", f"/volumes/{second['id']}", status=202)
    wait_until(lambda: not os.path.exists(new_path), timeout=60, what="volume file removed")


def test_volume_service_restart_during_attachment_updates(cluster):
    from novalite import context as nl_context
    from novalite.volume import rpcapi

    ctxt = nl_context.RequestContext(user_id="vera", project_id="proj-vol",
                                     roles=["member", "reader"])
    client = rpcapi.VolumeAPI()
    volumes = []
    for n in range(10):
        vol = cluster.volume_api("POST", "/volumes", {"volume": {"size": 1,
                                                                 "name": f"r{n}"}},
                                 status=202)["volume"]
        volumes.append(vol["id"])
    for vid in volumes:
        cluster.wait_volume(vid)
    attachments = {vid: client.attachment_create(ctxt, vid, str(uuid.uuid4()))["id"]
                   for vid in volumes}
    connector = {"host": HOST, "ip": "127.0.0.1", "multipath": False,
                 "platform": "x86_64", "os_type": "linux", "initiator": None}
    outcome: dict[str, str] = {}

    def nova_attach(vid: str, att: str) -> None:
        """As Nova's compute: update, then complete; on a failure, delete the
        attachment (retried until the volume service answers)."""
        try:
            client.attachment_update(ctxt, att, connector)
            client.attachment_complete(ctxt, att)
            outcome[vid] = "attached"
            return
        except Exception as e:  # noqa: BLE001 - any failure rolls back, as Nova does
            outcome[vid] = f"rolled back ({type(e).__name__})"
        deadline = time.monotonic() + 120
        while True:
            try:
                client.attachment_delete(ctxt, att)
                return
            except Exception as e:  # noqa: BLE001
                if "could not be found" in str(e):
                    return
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    # NOTE: staggered, so some attach before the kill, some are being
    # handled when it comes and the rest wait in the queue for the restart.
    threads = [threading.Thread(target=nova_attach, args=(vid, att))
               for vid, att in attachments.items()]
    proc = cluster.procs[HOST]
    for i, t in enumerate(threads):
        t.start()
        time.sleep(0.05)
        if i == 4:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.popen.wait(30)
    time.sleep(2)
    cluster.start_volume()
    for t in threads:
        t.join(240)
        assert not t.is_alive()
    assert len(outcome) == 10, outcome
    print("outcomes:", sorted(outcome.values()))

    def settled() -> dict | None:
        vols = {vid: cluster.volume_api("GET", f"/volumes/{vid}", status=200)["volume"]
                for vid in volumes}
        return vols if all(v["status"] in ("in-use", "available") for v in vols.values()) \
            else None
    vols = wait_until(settled, timeout=60, what="every volume in-use or available")
    listed = cluster.volume_api("GET", "/attachments/detail", status=200)["attachments"]
    left = {a["volume_id"]: a for a in listed}
    for vid, vol in vols.items():
        if vol["status"] == "in-use":
            assert outcome[vid] == "attached", (vid, outcome[vid])
            assert left[vid]["status"] == "attached"
            assert [a["attachment_id"] for a in vol["attachments"]] == [attachments[vid]]
        else:
            assert outcome[vid] != "attached" and vid not in left, (vid, outcome[vid])
            assert vol["attachments"] == []
    assert len(listed) == sum(v["status"] == "in-use" for v in vols.values())
    # the flow still works after the restart, and everything is cleaned up
    for vid, vol in vols.items():
        if vol["status"] == "in-use":
            client.attachment_delete(ctxt, attachments[vid])
        cluster.volume_api("DELETE", f"/volumes/{vid}", status=202)
    wait_until(lambda: not [n for n in os.listdir(cluster.storage_dir)
                            if n.startswith("volume-")], timeout=60, what="volumes deleted")


def _qemu_io(info: dict, *commands: str) -> subprocess.CompletedProcess:
    data = info["data"]
    argv = ["qemu-io", "-f", "raw"]
    for command in commands:
        argv += ["-c", command]
    argv.append(f"nbd://{data['host']}:{data['port']}/{data['name']}")
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_another_hosts_attachment_is_an_nbd_export_closed_on_detach(cluster):
    from novalite import context as nl_context
    from novalite.volume import rpcapi

    ctxt = nl_context.RequestContext(user_id="vera", project_id="proj-vol",
                                     roles=["member", "reader"])
    client = rpcapi.VolumeAPI()
    vol = client.create(ctxt, 1, name="over-nbd")
    att = client.attachment_create(ctxt, vol["id"], str(uuid.uuid4()))
    connector = {"host": "compute-elsewhere", "ip": "127.0.0.1", "multipath": False,
                 "platform": "x86_64", "os_type": "linux", "initiator": None}
    info = client.attachment_update(ctxt, att["id"], connector)["connection_info"]
    data = info["data"]
    assert info["driver_volume_type"] == "nbd" and info["serial"] == vol["id"]
    assert (data["host"], data["format"], data["volume_id"], data["access_mode"]) == \
        ("127.0.0.1", "raw", vol["id"], "rw")
    assert 20850 <= data["port"] <= 20869 and len(data["name"]) >= 16
    client.attachment_complete(ctxt, att["id"])
    try:
        wrote = _qemu_io(info, "write -P 0x5a 1M 64k")
        assert wrote.returncode == 0, wrote.stdout + wrote.stderr
        path = os.path.join(cluster.storage_dir, f"volume-{vol['id']}")
        with open(path, "rb") as f:
            f.seek(1024 * 1024)
            assert f.read(65536) == b"\x5a" * 65536
        read = _qemu_io(info, "read -P 0x5a 1M 64k", "read -P 0 0 64k")
        assert read.returncode == 0 and "Pattern verification failed" not in read.stdout, \
            read.stdout + read.stderr
        # a wrong export name is refused: the name is the credential
        wrong = _qemu_io({"data": {**data, "name": "guessed"}}, "read 0 4k")
        assert wrong.returncode != 0
        # the export outlives a restart of the volume service ...
        cluster.procs[HOST].stop()
        assert _qemu_io(info, "read -P 0x5a 1M 64k").returncode == 0
        cluster.start_volume()
        # ... and a dead export daemon is started again, same port and name,
        # by the volume service's start (init_host ensures the exports)
        pidfile = os.path.join(cluster.tmp, "volume-exports", HOST, f"{att['id']}.pid")
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                   "zombie" in open(f"/proc/{pid}/status").read().lower(),
                   timeout=10, what="export daemon gone")
        assert _qemu_io(info, "read 0 4k").returncode != 0
        cluster.procs[HOST].stop()
        cluster.start_volume()
        again = _qemu_io(info, "read -P 0x5a 1M 64k")
        assert again.returncode == 0 and "Pattern verification failed" not in again.stdout, \
            again.stdout + again.stderr
    finally:
        client.attachment_delete(ctxt, att["id"])
    assert client.get(ctxt, vol["id"])["status"] == "available"
    gone = _qemu_io(info, "read 0 4k")
    assert gone.returncode != 0
    client.delete(ctxt, vol["id"])
