"""The metadata service of novalite-all-in-one (FakeDriver), through HTTP as
a metadata proxy reaches it: a signed request for one server's address gets
that server's metadata and nothing else; unsigned, forged or mismatched
requests are refused; and what it serves equals the config drive the
libvirt driver would write for the same server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from novalite.metadata.handler import sign
from novalite.network.dataplane.state import HDR_FORWARDED_FOR, HDR_NETWORK_ID, HDR_SIGNATURE
from tests.functional.test_openstack_cli import AllInOne, _binary
from tests.procs import free_port

pytestmark = pytest.mark.process

PUBLIC_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBdcuZ0zZQ2d0jYbNw0ZjRqfQeUO3Y3TDmo6Rc0V"
              "kXMo metadata-test")


class MetadataAllInOne(AllInOne):
    """The all-in-one with its metadata service (and serial proxy) on free ports."""

    def start(self) -> AllInOne:
        os.makedirs(self.state_dir, exist_ok=True)
        self.metadata_port = free_port()
        conf = os.path.join(os.path.dirname(self.state_dir), "metadata.conf")
        serial = free_port()
        with open(conf, "w") as f:
            f.write(f"[metadata]\nport = {self.metadata_port}\n"
                    f"[serial_console]\nserialproxy_port = {serial}\n"
                    f"base_url = ws://127.0.0.1:{serial}/\n")
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                [_binary("novalite-all-in-one"), "--state-dir", self.state_dir,
                 "--port", str(self.port), "--driver", "fake", "--config-file", conf],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self._wait_ready()
        return self

    @property
    def metadata_url(self) -> str:
        return f"http://127.0.0.1:{self.metadata_port}"

    @property
    def secret(self) -> str:
        path = os.path.join(self.state_dir, "metadata-secret")
        assert os.stat(path).st_mode & 0o777 == 0o600
        with open(path) as f:
            return f.read().strip()


@pytest.fixture
def aio(tmp_path: Any) -> Iterator[MetadataAllInOne]:
    server = MetadataAllInOne(str(tmp_path / "state"), free_port())
    try:
        yield server.start()  # type: ignore[misc]
    finally:
        server.stop()


def _session(aio: MetadataAllInOne) -> requests.Session:
    with open(os.path.join(aio.state_dir, "admin-password")) as f:
        password = f.read().strip()
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
    resp = requests.post(f"http://127.0.0.1:{aio.port}/identity/v3/auth/tokens", json=body,
                         timeout=30)
    assert resp.status_code == 201, resp.text
    s = requests.Session()
    s.headers["X-Auth-Token"] = resp.headers["X-Subject-Token"]
    return s


def _boot(s: requests.Session, aio: MetadataAllInOne, name: str, user_data: bytes,
          key_name: str | None) -> dict:
    base = f"http://127.0.0.1:{aio.port}/compute/v2.1"
    image = s.get(f"http://127.0.0.1:{aio.port}/image/v2/images", timeout=30).json()["images"][0]
    server: dict[str, Any] = {"name": name, "imageRef": image["id"], "flavorRef": "1",
                              "user_data": base64.b64encode(user_data).decode(),
                              "metadata": {"role": name}}
    if key_name:
        server["key_name"] = key_name
    resp = s.post(f"{base}/servers", json={"server": server}, timeout=30)
    assert resp.status_code == 202, resp.text
    uuid = resp.json()["server"]["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shown = s.get(f"{base}/servers/{uuid}", timeout=30).json()["server"]
        if shown["status"] == "ACTIVE":
            return dict(shown)
        assert shown["status"] != "ERROR", shown
        time.sleep(0.3)
    raise AssertionError(f"server {name} did not become ACTIVE: {shown}")


def _get(aio: MetadataAllInOne, path: str, network_id: str, address: str,
         signature: str | None = None, method: str = "GET",
         data: bytes | None = None) -> requests.Response:
    headers = {HDR_NETWORK_ID: network_id, HDR_FORWARDED_FOR: address,
               HDR_SIGNATURE: signature if signature is not None
               else sign(aio.secret, network_id, address)}
    return requests.request(method, aio.metadata_url + path, headers=headers, data=data,
                            timeout=30)


def test_metadata_service_answers_each_server_only_its_own(aio: MetadataAllInOne,
                                                            tmp_path: Any) -> None:
    s = _session(aio)
    base = f"http://127.0.0.1:{aio.port}/compute/v2.1"
    resp = s.post(f"{base}/os-keypairs", json={"keypair": {"name": "mdkey",
                                                           "public_key": PUBLIC_KEY}},
                  timeout=30)
    assert resp.status_code in (200, 201), resp.text
    a = _boot(s, aio, "md-a", b"#cloud-config\nhostname: a\n", "mdkey")
    b = _boot(s, aio, "md-b", b"#!/bin/sh\necho b\n", None)
    nets = s.get(f"http://127.0.0.1:{aio.port}/network/v2.0/networks", timeout=30).json()
    net_id = next(n["id"] for n in nets["networks"] if n["name"] == "private")
    addr_a = a["addresses"]["private"][0]["addr"]
    addr_b = b["addresses"]["private"][0]["addr"]
    assert addr_a != addr_b

    # A's signed address gets A's OpenStack metadata.
    resp = _get(aio, "/openstack/latest/meta_data.json", net_id, addr_a)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    md = resp.json()
    assert md["uuid"] == a["id"] and md["name"] == "md-a"
    assert md["hostname"] == "md-a"
    assert md["public_keys"] == {"mdkey": PUBLIC_KEY}
    assert md["keys"] == [{"name": "mdkey", "type": "ssh", "data": PUBLIC_KEY}]
    assert md["meta"] == {"role": "md-a"}
    assert _get(aio, "/openstack/latest/user_data", net_id, addr_a).content == \
        b"#cloud-config\nhostname: a\n"
    listing = _get(aio, "/openstack/latest", net_id, addr_a).text.splitlines()
    assert listing == ["meta_data.json", "user_data", "password", "vendor_data.json",
                       "network_data.json", "vendor_data2.json"]
    versions = _get(aio, "/openstack", net_id, addr_a).text.splitlines()
    assert versions[0] == "2012-08-10" and versions[-1] == "latest"
    dated = _get(aio, "/openstack/2012-08-10/meta_data.json", net_id, addr_a).json()
    assert dated["uuid"] == a["id"] and "project_id" not in dated
    netdata = _get(aio, "/openstack/latest/network_data.json", net_id, addr_a).json()
    assert netdata["networks"][0]["ip_address"] == addr_a
    assert _get(aio, "/openstack/latest/vendor_data2.json", net_id, addr_a).json() == \
        {"static": {}}

    # The EC2 tree cloud-init's Ec2 datasource reads.
    ec2 = {p: _get(aio, f"/latest/meta-data/{p}", net_id, addr_a)
           for p in ("instance-id", "hostname", "local-hostname", "local-ipv4",
                     "public-ipv4", "public-keys/", "public-keys/0/openssh-key",
                     "placement/availability-zone", "ami-id", "instance-type",
                     "reservation-id", "security-groups")}
    assert all(r.status_code == 200 for r in ec2.values()), {p: r.status_code
                                                             for p, r in ec2.items()}
    assert ec2["instance-id"].text.startswith("i-") and len(ec2["instance-id"].text) == 10
    assert ec2["hostname"].text == ec2["local-hostname"].text == "md-a"
    assert ec2["local-ipv4"].text == addr_a
    assert ec2["public-ipv4"].text == ""
    assert ec2["public-keys/"].text == "0=mdkey"
    assert ec2["public-keys/0/openssh-key"].text == PUBLIC_KEY
    assert ec2["placement/availability-zone"].text == "nova"
    assert ec2["ami-id"].text.startswith("ami-")
    assert ec2["instance-type"].text == a["flavor"].get("original_name", "m1.tiny")
    assert ec2["security-groups"].text == "default"
    tree = _get(aio, "/latest/meta-data/", net_id, addr_a).text.splitlines()
    assert {"instance-id", "local-ipv4", "public-keys/", "placement/"} <= set(tree)
    assert _get(aio, "/latest/user-data", net_id, addr_a).content == \
        b"#cloud-config\nhostname: a\n"
    assert _get(aio, "/2009-04-04/meta-data/instance-id", net_id, addr_a).text == \
        ec2["instance-id"].text
    assert _get(aio, "/latest/meta-data/no-such-thing", net_id, addr_a).status_code == 404
    assert _get(aio, "/openstack/1999-01-01/meta_data.json", net_id,
                addr_a).status_code == 404

    # B's signed address gets B's, never A's.
    md_b = _get(aio, "/openstack/latest/meta_data.json", net_id, addr_b).json()
    assert md_b["uuid"] == b["id"] and "public_keys" not in md_b
    assert _get(aio, "/openstack/latest/user_data", net_id, addr_b).content == \
        b"#!/bin/sh\necho b\n"

    # Refused: no signature, a forged one, A signed with another secret, B's
    # address with A's signature, A's signature on another network id.
    bare = requests.get(aio.metadata_url + "/openstack/latest/meta_data.json", timeout=30)
    assert bare.status_code == 403
    only_address = requests.get(aio.metadata_url + "/latest/meta-data/instance-id",
                                headers={HDR_FORWARDED_FOR: addr_a}, timeout=30)
    assert only_address.status_code == 403
    forged = _get(aio, "/openstack/latest/meta_data.json", net_id, addr_a, signature="0" * 64)
    assert forged.status_code == 403
    wrong_secret = _get(aio, "/openstack/latest/meta_data.json", net_id, addr_a,
                        signature=sign("not-the-secret", net_id, addr_a))
    assert wrong_secret.status_code == 403
    b_with_a = _get(aio, "/openstack/latest/meta_data.json", net_id, addr_b,
                    signature=sign(aio.secret, net_id, addr_a))
    assert b_with_a.status_code == 403
    assert a["id"] not in b_with_a.text and b["id"] not in b_with_a.text
    other_net = _get(aio, "/openstack/latest/meta_data.json", "other-net", addr_a,
                     signature=sign(aio.secret, net_id, addr_a))
    assert other_net.status_code == 403
    garbage = _get(aio, "/openstack/latest/meta_data.json", net_id, addr_a,
                   signature="zz\u00e9")
    assert garbage.status_code == 403
    # Signed, but nobody holds the address (or it is no address): 404.
    assert _get(aio, "/openstack/latest/meta_data.json", net_id,
                "10.77.0.250").status_code == 404
    assert _get(aio, "/openstack/latest/meta_data.json", "no-such-network",
                addr_a).status_code == 404
    assert _get(aio, "/openstack/latest/meta_data.json", net_id,
                "not-an-address").status_code == 404

    # The password: empty, set once by the guest, then 409.
    assert _get(aio, "/openstack/latest/password", net_id, addr_a).text == ""
    assert _get(aio, "/openstack/latest/password", net_id, addr_a, method="POST",
                data=b"encrypted-pw").status_code == 200
    assert _get(aio, "/openstack/latest/password", net_id, addr_a).text == "encrypted-pw"
    assert _get(aio, "/openstack/latest/password", net_id, addr_a, method="POST",
                data=b"again").status_code == 409
    assert _get(aio, "/openstack/latest/password", net_id, addr_b).text == ""
    assert _get(aio, "/openstack/latest/password", net_id, addr_b, method="POST",
                data=b"x" * 1021).status_code == 400

    _config_drive_equals_service(aio, a["id"], net_id, addr_a, str(tmp_path / "cd"))
    assert "Traceback" not in aio.tail(200000)


def _ec2_leaves(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _ec2_leaves(sub, f"{path}/{key}")
    elif isinstance(value, list):
        yield path, "\n".join(str(v) for v in value)
    else:
        yield path, str(value)


def _config_drive_equals_service(aio: MetadataAllInOne, uuid: str, net_id: str,
                                 address: str, root: str) -> None:
    """The config drive the libvirt driver would write for the server (the
    same code, from the all-in-one's database) holds what the service serves:
    every OpenStack file byte for byte, every EC2 value leaf by leaf."""
    from novalite import context as nl_context
    from novalite import objects
    from novalite.conf import CONF
    from novalite.db import api as db_api
    from novalite.network import api as network_api
    from novalite.objects.instance import Instance
    from novalite.virt import configdrive

    objects.register_all()
    CONF.set_override("connection", f"sqlite:///{aio.state_dir}/novalite.sqlite",
                      group="database")
    try:
        instance = Instance.get_by_uuid(nl_context.get_admin_context(), uuid)
        configdrive.populate(root, instance, network_api.get_network_info(uuid))
    finally:
        db_api.dispose()
        CONF.clear_override("connection", group="database")
    compared = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            with open(os.path.join(root, rel), "rb") as f:
                data = f.read()
            if rel.startswith("openstack/"):
                served = _get(aio, "/" + rel, net_id, address)
                assert served.status_code == 200, rel
                assert served.content == data, rel
                compared += 1
            elif rel.endswith("/user-data"):
                assert _get(aio, "/" + rel[len("ec2/"):], net_id, address).content == data
                compared += 1
            else:
                version = rel.split("/")[1]
                for leaf, value in _ec2_leaves(json.loads(data), f"/{version}/meta-data"):
                    served = _get(aio, leaf, net_id, address)
                    assert served.status_code == 200, leaf
                    assert served.text == value, leaf
                    compared += 1
    # Both trees at every version: 11 OpenStack versions, 10 EC2.
    assert compared > 100
    assert os.path.exists(os.path.join(root, "openstack/latest/meta_data.json"))
    assert os.path.exists(os.path.join(root, "ec2/latest/meta-data.json"))
