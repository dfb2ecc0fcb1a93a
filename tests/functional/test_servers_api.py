"""The servers API at microversion 2.1 through HTTP: create validation and
what create stores for the compute host, list filters and pages, update,
metadata, actions, and views with exactly Nova's fields."""

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from novalite import context as nl_context
from novalite import keypairs
from novalite.conf import CONF
from novalite.network import manage as network_manage
from novalite.objects.instance import Instance
from novalite.objects.request_spec import RequestSpec

# Nova's "Show Server Details" response at 2.1 (api-ref), for an admin and for
# a user (no OS-EXT-SRV-ATTR:*); "progress" only while ACTIVE/BUILD.
DETAIL_KEYS = {
    "accessIPv4", "accessIPv6", "addresses", "config_drive", "created", "flavor", "hostId",
    "id", "image", "key_name", "links", "metadata", "name", "OS-DCF:diskConfig",
    "OS-EXT-AZ:availability_zone", "OS-EXT-STS:power_state", "OS-EXT-STS:task_state",
    "OS-EXT-STS:vm_state", "os-extended-volumes:volumes_attached", "OS-SRV-USG:launched_at",
    "OS-SRV-USG:terminated_at", "progress", "security_groups", "status", "tenant_id",
    "updated", "user_id"}
ADMIN_KEYS = {"OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname",
              "OS-EXT-SRV-ATTR:instance_name"}
# Nova's "Update Server" response: the server without the extensions' fields.
UPDATE_KEYS = {"accessIPv4", "accessIPv6", "addresses", "created", "flavor", "hostId", "id",
               "image", "links", "metadata", "name", "OS-DCF:diskConfig", "progress",
               "status", "tenant_id", "updated", "user_id"}
CREATED_KEYS = {"id", "links", "OS-DCF:diskConfig", "security_groups", "adminPass"}
# NOTE: a server with no port has no security groups: Nova's view leaves the
# key out (this stack has no network, so its servers have no port).
PORTLESS_KEYS = DETAIL_KEYS - {"security_groups"}
USER = {"X-User-Id": "alice", "X-Project-Id": "proj-a", "X-Roles": "member"}


def _create(stack, headers=None, **server):
    body = {"server": {"name": "vm", "flavorRef": "1", "imageRef": stack.image_id, **server}}
    return stack.compute("POST", "/servers", body, headers=headers)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _stored(uuid):
    return Instance.get_by_uuid(nl_context.get_admin_context(), uuid)


def _public_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode() + " test@novalite"


def _message(resp):
    return next(iter(resp.json().values()))["message"]


def test_create_refuses_bad_input_naming_what_is_wrong(stack):
    personality_ok = {"path": "/etc/motd", "contents": _b64(b"hi")}
    cases = [
        ({"name": "   "}, 400, "name"),
        ({"name": "x" * 256}, 400, "name"),
        ({"name": " padded "}, 400, "Can not start or end with whitespace"),
        ({"min_count": 3, "max_count": 2}, 400, "min_count"),
        ({"min_count": 0}, 400, "min_count"),
        ({"min_count": "0"}, 400, "min_count"),
        ({"max_count": "0"}, 400, "max_count"),
        ({"metadata": {f"k{i}": "v" for i in range(129)}}, 403, "metadata items exceeds 128"),
        ({"metadata": {"a/b": "v"}}, 400, "a/b"),
        ({"metadata": {"k": "v" * 256}}, 400, "is too long"),
        ({"metadata": {"k": 1}}, 400, "is not of type 'string'"),
        ({"key_name": "nope"}, 400, "Invalid key_name provided."),
        ({"user_data": "not base64!"}, 400, "user_data"),
        ({"user_data": "A" * 65536}, 400, "user_data"),
        ({"personality": [personality_ok] * 6}, 403, "Personality file limit exceeded"),
        ({"personality": [{"path": "etc/motd", "contents": ""}]}, 400, "etc/motd"),
        ({"personality": [{"path": "/etc/../shadow", "contents": ""}]}, 400, "'..'"),
        ({"personality": [{"path": "/" + "p" * 255, "contents": ""}]}, 403, "path too long"),
        ({"personality": [{"path": "/big", "contents": _b64(b"x" * 10241)}]}, 403,
         "content too long"),
        ({"personality": [{"path": "/bad", "contents": "%%%"}]}, 400, "/bad"),
        ({"accessIPv4": "1.2.3"}, 400, "accessIPv4"),
        ({"accessIPv6": "not-an-ip"}, 400, "accessIPv6"),
        ({"OS-DCF:diskConfig": "SOMETIMES"}, 400, "OS-DCF:diskConfig"),
        ({"networks": [{"uuid": "not-a-uuid"}]}, 400, "not-a-uuid"),
        ({"networks": [{"port": "6a7f0f46-0000-4000-8000-000000000000"}]}, 400,
         "Port id 6a7f0f46-0000-4000-8000-000000000000 could not be found."),
        ({"networks": "sometimes"}, 400, "networks"),
        ({"config_drive": "maybe"}, 400, "config_drive"),
        ({"imageRef": "", "block_device_mapping_v2": [
            {"source_type": "volume", "destination_type": "volume", "boot_index": 0,
             "uuid": "6a7f0f46-0000-4000-8000-000000000000"}]}, 400,
         "Block Device Mapping is Invalid: failed to get volume "
         "6a7f0f46-0000-4000-8000-000000000000."),
        ({"description": "a 2.19 field"}, 400, "description"),
        ({"security_groups": [{"name": "web"}]}, 400, "Security group web not found."),
    ]
    for server, code, text in cases:
        resp = _create(stack, **server)
        assert resp.status_code == code, (server if len(str(server)) < 300 else code,
                                          resp.text[:300])
        assert text in _message(resp), (code, text, resp.text[:300])
    assert stack.compute("GET", "/servers").json()["servers"] == []


def test_create_stores_what_the_compute_host_needs(stack):
    ctx = nl_context.RequestContext(user_id="alice", project_id="proj-a")
    public_key = _public_key()
    keypairs.import_key_pair(ctx, "alice", "alice-key", public_key)
    files = [{"path": "/etc/motd", "contents": _b64(b"hello\n")},
             {"path": "/root/empty", "contents": ""}]
    net = network_manage.create_network("private", "10.0.0.0/24", bridge="nltest0")["uuid"]
    resp = _create(stack, USER, key_name="alice-key", user_data=_b64(b"#!/bin/sh\necho hi\n"),
                   personality=files, config_drive=True,
                   networks=[{"uuid": net, "fixed_ip": "10.0.0.9"}],
                   accessIPv4="192.0.2.1", accessIPv6="0:0:0:0:0:0:0:1",
                   metadata={"role": "web"}, **{"OS-DCF:diskConfig": "AUTO"})
    assert resp.status_code == 202, resp.text
    created = resp.json()["server"]
    assert set(created) == CREATED_KEYS
    assert created["OS-DCF:diskConfig"] == "AUTO" and created["adminPass"]
    assert resp.headers["Location"] == created["links"][0]["href"]
    inst = _stored(created["id"])
    assert inst.key_data == public_key and inst.auto_disk_config is True
    assert base64.b64decode(inst.user_data) == b"#!/bin/sh\necho hi\n"
    # NOTE: as Nova's: what the build needs is the instance's own fields and
    # its RequestSpec; system_metadata keeps none of it, and the personality
    # files travel with the build request only.
    assert not {"key_data", "user_data", "injected_files", "requested_networks",
                "disk_config"} & set(inst.system_metadata)
    spec = RequestSpec.get_by_instance_uuid(nl_context.get_admin_context(), created["id"])
    assert spec.requested_networks.to_legacy() == [{"uuid": net, "fixed_ip": "10.0.0.9"}]
    assert inst.config_drive is True and inst.key_name == "alice-key"
    shown = stack.compute("GET", f"/servers/{created['id']}", headers=USER).json()["server"]
    assert shown["accessIPv6"] == "::1" and shown["accessIPv4"] == "192.0.2.1"
    assert shown["config_drive"] == "True" and shown["key_name"] == "alice-key"
    assert shown["OS-DCF:diskConfig"] == "AUTO" and shown["metadata"] == {"role": "web"}
    active = stack.wait_status(created["id"], "ACTIVE")
    [port] = active["addresses"]["private"]
    assert port["addr"] == "10.0.0.9" and port["version"] == 4
    assert port["OS-EXT-IPS:type"] == "fixed" and port["OS-EXT-IPS-MAC:mac_addr"].startswith("fa:16:3e")
    found = stack.compute("GET", "/servers?ip=^10\\.0\\.0\\.9$", headers=USER).json()
    assert [s["id"] for s in found["servers"]] == [created["id"]]
    assert stack.compute("GET", "/servers?ip=10.9.9.9", headers=USER).json()["servers"] == []
    # as Nova: the regex matches from the start of the address
    assert stack.compute("GET", "/servers?ip=0.0.9", headers=USER).json()["servers"] == []
    found = stack.compute("GET", "/servers?ip=10.0", headers=USER).json()["servers"]
    assert [s["id"] for s in found] == [created["id"]]
    unknown = [{"uuid": "6a7f0f46-0000-4000-8000-00000000abcd"}]
    resp = _create(stack, USER, networks=unknown)
    assert resp.status_code == 400
    assert "Network 6a7f0f46-0000-4000-8000-00000000abcd could not be found." in _message(resp)
    # another user of the same project has no key pair by that name
    other = {**USER, "X-User-Id": "bob"}
    resp = _create(stack, other, key_name="alice-key")
    assert resp.status_code == 400 and _message(resp) == "Invalid key_name provided."


def test_networks_forms_and_image_from_block_device_mapping(stack):
    network_manage.create_network("private", "10.0.0.0/24", bridge="nltest0")
    for networks, stored in (("none", "none"), ("auto", "auto"), ([], "auto"),
                             ([{"fixed_ip": "10.0.0.5"}], [{"uuid": None,
                                                            "fixed_ip": "10.0.0.5"}])):
        resp = _create(stack, networks=networks)
        assert resp.status_code == 202, resp.text
        spec = RequestSpec.get_by_instance_uuid(nl_context.get_admin_context(),
                                                resp.json()["server"]["id"])
        assert spec.requested_networks.to_legacy() == stored
    # what the openstack CLI sends: an empty imageRef and an image boot entry
    resp = _create(stack, imageRef="", block_device_mapping_v2=[
        {"uuid": stack.image_id, "source_type": "image", "destination_type": "local",
         "boot_index": 0, "delete_on_termination": True}])
    assert resp.status_code == 202, resp.text
    assert _stored(resp.json()["server"]["id"]).image_ref == stack.image_id


def test_multiple_create_and_reservation_id(stack):
    resp = _create(stack, name="many", min_count=2, max_count=3)
    assert resp.status_code == 202
    first = resp.json()["server"]["id"]
    names = {s["name"]: s["id"] for s in stack.compute("GET", "/servers").json()["servers"]}
    assert sorted(names) == ["many-1", "many-2", "many-3"] and names["many-1"] == first
    resp = _create(stack, name="batch", max_count=2, return_reservation_id="True")
    assert resp.status_code == 202 and set(resp.json()) == {"reservation_id"}
    rid = resp.json()["reservation_id"]
    listed = stack.compute("GET", f"/servers?reservation_id={rid}").json()["servers"]
    assert sorted(s["name"] for s in listed) == ["batch-1", "batch-2"]


def test_instance_quota_is_403_with_novas_message(stack):
    CONF.set_override("instances", 2, group="quota")
    try:
        # as many as the quota allows between min_count and max_count
        assert _create(stack, USER, name="some", min_count=1, max_count=5).status_code == 202
        listed = stack.compute("GET", "/servers", headers=USER).json()["servers"]
        assert sorted(s["name"] for s in listed) == ["some-1", "some-2"]
        resp = _create(stack, USER)
        assert resp.status_code == 403
        assert _message(resp) == ("Quota exceeded for instances: Requested 1, but already "
                                  "used 2 of 2 instances")
        assert _create(stack, USER, min_count=2, max_count=4).status_code == 403
    finally:
        CONF.clear_override("instances", group="quota")


def test_list_filters_paging_and_sorting(stack):
    ids = {}
    for name in ("alpha", "beta", "gamma", "delta", "epsilon"):
        ids[name] = stack.boot(name)["id"]
    for sid in ids.values():
        stack.wait_status(sid, "ACTIVE")
    assert stack.compute("POST", f"/servers/{ids['beta']}/action",
                         {"os-stop": None}).status_code == 202
    stack.wait_status(ids["beta"], "SHUTOFF")

    def names(query):
        resp = stack.compute("GET", "/servers/detail" + query)
        assert resp.status_code == 200, resp.text
        return [s["name"] for s in resp.json()["servers"]]

    assert sorted(names("?name=^(al|ga)")) == ["alpha", "gamma"]
    assert names("?name=lon") == ["epsilon"]
    assert names("?status=SHUTOFF") == ["beta"]
    assert names("?status=BOGUS") == []
    assert len(names(f"?image={stack.image_id}&flavor=1")) == 5
    assert names("?flavor=2") == []
    assert names("?sort_key=display_name&sort_dir=asc") == sorted(ids)
    assert names("?deleted=False&is_public=None&sort_key=display_name&sort_dir=desc") == \
        sorted(ids, reverse=True)
    # pages of two, by name: every server exactly once, next links while full
    seen, url, pages = [], "/servers?sort_key=display_name&sort_dir=asc&limit=2", 0
    while url:
        body = stack.compute("GET", url).json()
        seen += [s["name"] for s in body["servers"]]
        pages += 1
        link = body.get("servers_links", [{}])[0].get("href")
        url = link.split("/v2.1", 1)[1] if link else None
    assert seen == sorted(ids) and pages == 3
    # bad parameters are 400 naming them
    for query, text in (("?name=(", "name"), ("?limit=-1", "limit"), ("?limit=x", "limit"),
                        ("?marker=6a7f0f46-0000-4000-8000-000000000000",
                         "marker [6a7f0f46-0000-4000-8000-000000000000] not found"),
                        ("?changes-since=yesterday", "changes-since"),
                        ("?sort_dir=sideways", "sort_dir"),
                        ("?sort_key=password", "password"),
                        ("?all_tenants=maybe", "all_tenants")):
        resp = stack.compute("GET", "/servers" + query)
        assert resp.status_code == 400, (query, resp.text)
        assert text in _message(resp), (query, resp.text)
    # changes-since shows servers deleted since then
    since = stack.server(ids["delta"])["created"]
    assert stack.compute("DELETE", f"/servers/{ids['delta']}").status_code == 204
    stack.wait_gone(ids["delta"])
    changed = stack.compute("GET", f"/servers/detail?changes-since={since}").json()["servers"]
    assert {s["name"]: s["status"] for s in changed}["delta"] == "DELETED"
    assert "delta" not in names("")


def test_update_show_and_exact_views(stack):
    sid = stack.boot("web")["id"]
    stack.wait_status(sid, "ACTIVE")
    resp = stack.compute("PUT", f"/servers/{sid}", {"server": {
        "name": "web-renamed", "accessIPv4": "198.51.100.7",
        "accessIPv6": "2001:db8:0:0:0:0:0:1"}})
    assert resp.status_code == 200, resp.text
    server = resp.json()["server"]
    assert server["name"] == "web-renamed" and server["accessIPv6"] == "2001:db8::1"
    assert set(server) == UPDATE_KEYS
    server = stack.server(sid)
    assert set(server) == PORTLESS_KEYS | ADMIN_KEYS
    assert server["OS-EXT-SRV-ATTR:instance_name"] == f"instance-{sid}"
    for body in ({"server": {"name": ""}}, {"server": {"flavorRef": "2"}},
                 {"server": {"accessIPv4": "::1"}}, {"nothing": 1}):
        assert stack.compute("PUT", f"/servers/{sid}", body).status_code == 400, body
    # a user sees no OS-EXT-SRV-ATTR:* fields
    CONF.set_override("instance_name_template", "guest-%d", group="libvirt")
    try:
        admin_view = stack.server(sid)
    finally:
        CONF.clear_override("instance_name_template", group="libvirt")
    assert admin_view["OS-EXT-SRV-ATTR:instance_name"] == f"guest-{_stored(sid).id}"
    listed = stack.compute("GET", "/servers").json()["servers"]
    assert [set(s) for s in listed] == [{"id", "name", "links"}]
    assert [set(s) for s in stack.compute("GET", "/servers/detail").json()["servers"]] == \
        [PORTLESS_KEYS | ADMIN_KEYS]
    # stopped: no progress, as Nova
    stack.compute("POST", f"/servers/{sid}/action", {"os-stop": None})
    assert set(stack.wait_status(sid, "SHUTOFF")) == (PORTLESS_KEYS - {"progress"}) | ADMIN_KEYS


def test_user_view_has_no_admin_fields(stack):
    sid = _create(stack, USER).json()["server"]["id"]
    stack.wait_for(sid, lambda s: True)
    shown = stack.compute("GET", f"/servers/{sid}", headers=USER).json()["server"]
    assert set(shown) - {"progress", "fault"} == PORTLESS_KEYS - {"progress"}


def test_server_metadata_crud(stack):
    sid = stack.boot("meta", metadata={"a": "1"})["id"]
    stack.wait_status(sid, "ACTIVE")
    base = f"/servers/{sid}/metadata"
    assert stack.compute("GET", base).json() == {"metadata": {"a": "1"}}
    resp = stack.compute("POST", base, {"metadata": {"b": "2"}})
    assert resp.status_code == 200 and resp.json() == {"metadata": {"a": "1", "b": "2"}}
    resp = stack.compute("PUT", base, {"metadata": {"c": "3"}})
    assert resp.status_code == 200 and resp.json() == {"metadata": {"c": "3"}}
    resp = stack.compute("PUT", f"{base}/d", {"meta": {"d": "4"}})
    assert resp.status_code == 200 and resp.json() == {"meta": {"d": "4"}}
    assert stack.compute("GET", f"{base}/d").json() == {"meta": {"d": "4"}}
    assert stack.compute("GET", base).json() == {"metadata": {"c": "3", "d": "4"}}
    assert stack.compute("DELETE", f"{base}/c").status_code == 204
    assert stack.server(sid)["metadata"] == {"d": "4"}
    for method, path, body, code, text in (
            ("GET", f"{base}/c", None, 404, "Metadata item was not found"),
            ("DELETE", f"{base}/c", None, 404, "Metadata item was not found"),
            ("PUT", f"{base}/x", {"meta": {"y": "1"}}, 400, "Request body and URI mismatch"),
            ("PUT", f"{base}/x", {"meta": {"x": "1", "y": "2"}}, 400, "too many items"),
            ("PUT", f"{base}/x", {"meta": {}}, 400, "meta"),
            ("POST", base, {"metadata": {"k": "v" * 256}}, 400, "is too long"),
            ("POST", base, {"meta": {"k": "v"}}, 400, "metadata"),
            ("PUT", base, {"metadata": {f"k{i}": "v" for i in range(129)}}, 403,
             "exceeds 128"),
            ("GET", "/servers/6a7f0f46-0000-4000-8000-000000000000/metadata", None, 404,
             "could not be found")):
        resp = stack.compute(method, path, body)
        assert resp.status_code == code, (method, path, resp.text)
        assert text in _message(resp), (method, path, resp.text)


def test_actions_answer_as_nova(stack):
    sid = stack.boot("act")["id"]
    stack.wait_status(sid, "ACTIVE")
    action = f"/servers/{sid}/action"
    for body, code, text in (
            ({"reboot": {}}, 400, "type"),
            ({"reboot": {"type": "GENTLE"}}, 400, "GENTLE"),
            ({"os-start": None}, 409,
             f"Cannot 'start' instance {sid} while it is in vm_state active"),
            ({"os-getConsoleOutput": {"length": "x"}}, 400, "length"),
            ({"os-getConsoleOutput": {"length": "-2"}}, 400, "length"),
            ({"fly": None}, 400, "There is no such action: fly"),
            ({"os-stop": None, "os-start": None}, 400, "")):
        resp = stack.compute("POST", action, body)
        assert resp.status_code == code, (body, resp.text)
        assert text in _message(resp), (body, resp.text)
    resp = stack.compute("POST", action, {"os-getConsoleOutput": {"length": None}})
    assert resp.status_code == 200 and "output" in resp.json()
    assert stack.compute("POST", action, {"os-stop": None}).status_code == 202
    stack.wait_status(sid, "SHUTOFF")
    resp = stack.compute("POST", action, {"os-stop": None})
    assert resp.status_code == 409
    assert _message(resp) == f"Cannot 'stop' instance {sid} while it is in vm_state stopped"
    # forceDelete deletes in any state, as Nova's
    assert stack.compute("POST", action, {"forceDelete": None}).status_code == 202
    stack.wait_gone(sid)
