"""The API framework without a stack: routing, error formats, request ids,
microversions, body validation, version documents, and the pure views.

Server behaviour is tested full-stack in tests/functional; here the compute
and image APIs are placeholders the tested paths never reach (or, for the
500 test, one that fails on purpose).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import urllib.request

import pytest
import webob

from novalite import context as nl_context
from novalite import exception
from novalite.api import app as api_app
from novalite.api import links, microversions, wsgi
from novalite.api.compute import servers as servers_controller
from novalite.api.service import APIService
from novalite.api.views import servers as server_views
from novalite.compute import power_state, task_states, vm_states
from novalite.conf import CONF
from novalite.objects.flavor import Flavor
from novalite.objects.instance import Instance
from novalite.objects.instance_fault import InstanceFault

REQ_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
V = "/compute/v2.1"


class _Unreachable:
    """Stands for the compute/image API on paths that must not reach it."""

    def __getattr__(self, name: str):
        raise AssertionError(f"the API layer below was called ({name})")


class _Failing:
    """A compute API with a bug: the framework must hide its message."""

    def get_all(self, *args, **kwargs):
        raise RuntimeError("db password is hunter2")


@pytest.fixture
def app():
    return api_app.make_app(compute_api=_Unreachable(), image_api=_Unreachable())


def call(app, method: str, path: str, body=None, headers=None) -> webob.Response:
    req = webob.Request.blank(path, method=method, headers=headers or {})
    if body is not None:
        req.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        req.content_type = "application/json"
    return req.get_response(app)


def assert_compute_headers(resp: webob.Response, version: str = "2.1") -> None:
    assert REQ_ID.match(resp.headers["x-openstack-request-id"])
    assert resp.headers["x-compute-request-id"] == resp.headers["x-openstack-request-id"]
    assert resp.headers["openstack-api-version"] == f"compute {version}"
    assert resp.headers["x-openstack-nova-api-version"] == version
    assert resp.headers["vary"] == "OpenStack-API-Version, X-OpenStack-Nova-API-Version"


def fault(resp: webob.Response, name: str, code: int) -> str:
    body = resp.json
    assert list(body) == [name], body
    assert body[name]["code"] == code == resp.status_code
    return body[name]["message"]


# -- errors, request ids -----------------------------------------------------

def test_unknown_route_is_a_nova_404_with_request_id(app):
    resp = call(app, "GET", f"{V}/no-such-thing")
    assert fault(resp, "itemNotFound", 404)
    assert_compute_headers(resp)


def test_each_request_gets_its_own_id(app):
    first = call(app, "GET", f"{V}/nope").headers["x-openstack-request-id"]
    second = call(app, "GET", f"{V}/nope").headers["x-openstack-request-id"]
    assert first != second


def test_path_outside_both_apis_is_404_with_request_id(app):
    resp = call(app, "GET", "/elsewhere")
    assert fault(resp, "itemNotFound", 404)
    assert REQ_ID.match(resp.headers["x-openstack-request-id"])


def test_wrong_method_is_405_naming_the_allowed_ones(app):
    resp = call(app, "PATCH", f"{V}/servers")
    message = fault(resp, "badMethod", 405)
    assert "PATCH" in message
    assert resp.headers["allow"] == "GET, POST"
    assert_compute_headers(resp)


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b"[" * 100_000,
                                 b'{"a": ' * 5_000])
def test_malformed_json_is_400(app, raw):
    resp = call(app, "POST", f"{V}/servers", raw)
    assert fault(resp, "badRequest", 400) == "Malformed request body"
    assert_compute_headers(resp)


@pytest.mark.parametrize("raw, reason", [
    (b'{"server": {"name": "\\ud800"}}', "not valid Unicode"),
    (b'{"server": {"\\udfff": 1}}', "not valid Unicode"),
    (b'{"server": {"min_count": 99999999999999999999999}}', "out of range"),
    (b'{"server": {"min_count": 1e400}}', "out of range"),
    (b'{"server": {"min_count": NaN}}', "NaN is not JSON"),
    (b'{"server": {"min_count": -Infinity}}', "-Infinity is not JSON"),
])
def test_json_that_nothing_could_store_is_400(app, raw, reason):
    resp = call(app, "POST", f"{V}/servers", raw)
    message = fault(resp, "badRequest", 400)
    assert message.startswith("Malformed request body: ") and reason in message, message


@pytest.mark.parametrize("path", [f"{V}/servers/%ff", f"{V}/servers?name=%ff%fe",
                                  "/image/v2/images/%c3%28"])
def test_a_path_or_query_that_is_not_utf8_is_400_in_its_api_format(app, path):
    resp = call(app, "GET", path)
    assert resp.status_int == 400
    body = resp.json
    message = body["message"] if path.startswith("/image") else body["badRequest"]["message"]
    assert message == "The request path or query string is not valid UTF-8."


def test_answers_without_a_body_have_no_content_type():
    router = wsgi.Router()

    class _Empty:
        @wsgi.response(202)
        def act(self, req: wsgi.Request) -> None:
            return None

    router.connect("/act", "POST", _Empty(), "act")
    router.finalize()
    resp = call(wsgi.Application(router), "POST", "/act")
    assert resp.status_int == 202 and resp.body == b""
    assert "Content-Type" not in resp.headers


def test_unexpected_error_is_500_without_internals(app, caplog):
    app = api_app.make_app(compute_api=_Failing(), image_api=_Unreachable())
    resp = call(app, "GET", f"{V}/servers")
    message = fault(resp, "computeFault", 500)
    assert "hunter2" not in message
    assert resp.headers["x-openstack-request-id"] in message
    assert_compute_headers(resp)


@pytest.mark.parametrize("exc, code", [
    (exception.InstanceNotFound(instance_id="x"), 404),
    (exception.InstanceInvalidState(action="stop", instance_uuid="u", attr="vm_state",
                                    state="stopped"), 409),
    (exception.Invalid(reason="r"), 400),
    (exception.Forbidden(action="a"), 403),
])
def test_novalite_exceptions_keep_their_code_and_message(exc, code):
    got_code, message, _ = wsgi._classify(exc, "req-1")
    assert (got_code, message) == (code, exc.format_message())


def test_keystone_without_a_validated_token_is_401_but_discovery_works(app):
    CONF.set_override("auth_strategy", "keystone")
    try:
        resp = call(app, "GET", f"{V}/servers")
        assert "authentication" in fault(resp, "unauthorized", 401)
        assert_compute_headers(resp)
        assert call(app, "GET", "/compute/").status_code == 200
        assert call(app, "GET", "/openapi.json").status_code == 200
    finally:
        CONF.clear_override("auth_strategy")


# -- microversions -----------------------------------------------------------

@pytest.mark.parametrize(("headers", "version"), [
    ({}, "2.1"),
    ({"OpenStack-API-Version": "compute 2.1"}, "2.1"),
    ({"OpenStack-API-Version": "compute 2.47"}, "2.47"),
    ({"OpenStack-API-Version": "compute latest"}, "2.104"),
    ({"OpenStack-API-Version": "identity 3, compute 2.1"}, "2.1"),
    ({"X-OpenStack-Nova-API-Version": "2.1"}, "2.1"),
    ({"X-OpenStack-Nova-API-Version": "latest"}, "2.104"),
])
def test_supported_versions_are_served_as_asked(app, headers, version):
    resp = call(app, "GET", f"{V}/nope", headers=headers)
    assert resp.status_code == 404
    assert_compute_headers(resp, version)


@pytest.mark.parametrize("headers", [
    {"OpenStack-API-Version": "compute 2.999"},
    {"X-OpenStack-Nova-API-Version": "2.999"},
    {"OpenStack-API-Version": "compute 2.0"},
    # NOTE: the new header wins over the legacy one, as in Nova.
    {"OpenStack-API-Version": "compute 3.0", "X-OpenStack-Nova-API-Version": "2.1"},
])
def test_unsupported_version_is_406_with_headers(app, headers):
    resp = call(app, "GET", f"{V}/servers", headers=headers)
    message = fault(resp, "computeFault", 406)
    assert message.endswith("is not supported by the API. Minimum is 2.1 and maximum is 2.104.")
    assert_compute_headers(resp)


def test_malformed_version_is_400(app):
    resp = call(app, "GET", f"{V}/servers", headers={"OpenStack-API-Version": "compute 2"})
    assert "invalid format" in fault(resp, "badRequest", 400)
    assert_compute_headers(resp)


def test_version_documents_ignore_a_bad_version(app):
    resp = call(app, "GET", f"{V}/", headers={"OpenStack-API-Version": "compute 9.9"})
    assert resp.status_code == 200
    assert_compute_headers(resp)


def test_microversions_are_listed_once():
    assert str(microversions.MIN_VERSION) == microversions.SUPPORTED[0][0] == "2.1"
    assert str(microversions.MAX_VERSION) == microversions.SUPPORTED[-1][0]
    assert all(note for _, note in microversions.SUPPORTED)


# -- version documents -------------------------------------------------------

@pytest.mark.parametrize("path", ["/compute", "/compute/"])
def test_compute_versions_document(app, path):
    resp = call(app, "GET", path)
    assert resp.status_code == 200
    versions = {v["id"]: v for v in resp.json["versions"]}
    assert set(versions) == {"v2.0", "v2.1"}
    v21 = versions["v2.1"]
    assert (v21["status"], v21["version"], v21["min_version"]) == ("CURRENT", "2.104", "2.1")
    assert v21["links"] == [{"rel": "self", "href": "http://localhost/compute/v2.1/"}]
    assert_compute_headers(resp)


@pytest.mark.parametrize("path", [V, V + "/"])
def test_compute_v21_document(app, path):
    resp = call(app, "GET", path)
    assert resp.status_code == 200
    doc = resp.json["version"]
    assert (doc["id"], doc["version"], doc["min_version"]) == ("v2.1", "2.104", "2.1")
    assert doc["media-types"][0]["type"] == \
        "application/vnd.openstack.compute+json;version=2.1"


def test_image_versions_document(app):
    resp = call(app, "GET", "/image/")
    assert resp.status_code == 300
    assert resp.json["versions"][0]["id"].startswith("v2.")
    assert resp.json["versions"][0]["links"][0]["href"] == "http://localhost/image/v2/"
    assert call(app, "GET", "/image/versions").status_code == 200
    assert "openstack-api-version" not in resp.headers
    assert REQ_ID.match(resp.headers["x-openstack-request-id"])


def test_links_use_public_url_when_set(app):
    CONF.set_override("public_url", "https://cloud.example.com/api/", group="api")
    try:
        resp = call(app, "GET", "/compute/")
    finally:
        CONF.clear_override("public_url", group="api")
    hrefs = [v["links"][0]["href"] for v in resp.json["versions"]]
    assert "https://cloud.example.com/api/compute/v2.1/" in hrefs


# -- body validation ---------------------------------------------------------

def _server(**fields) -> dict:
    return {"server": {"name": "vm", "flavorRef": "1", "imageRef": "", **fields}}


@pytest.mark.parametrize("body, expected", [
    (_server(name="   "), "An invalid 'name' value was provided."),
    (_server(name=""), "Invalid input for field/attribute name. Value: . '' should be "
                       "non-empty"),
    (_server(name="x" * 256), "Invalid input for field/attribute name."),
    (_server(metadata={"k": 1}), "Invalid input for field/attribute k. Value: 1. 1 is not "
                                 "of type 'string'"),
    (_server(metadata={"k": "v" * 256}), "Invalid input for field/attribute k."),
    (_server(metadata={"k" * 256: "v"}), "Invalid input for field/attribute metadata."),
    (_server(metadata="k=v"), "Invalid input for field/attribute metadata. Value: k=v."),
    (_server(min_count=0), "Invalid input for field/attribute min_count. Value: 0. 0 is "
                           "less than the minimum of 1"),
    (_server(min_count="two"), "Invalid input for field/attribute min_count. Value: two."),
    (_server(accessIPv4="1.2.3"), "Invalid input for field/attribute accessIPv4. "
                                  "Value: 1.2.3. '1.2.3' is not a 'ipv4'"),
    (_server(accessIPv6="::g"), "Invalid input for field/attribute accessIPv6."),
    (_server(networks="some"), "Invalid input for field/attribute networks."),
    (_server(bogus=1), "Invalid input for field/attribute server. Value: {'name': 'vm', "
                       "'flavorRef': '1', 'imageRef': '', 'bogus': 1}. Additional properties "
                       "are not allowed ('bogus' was unexpected)"),
    ({"server": {"flavorRef": "1"}}, "'name' is a required property"),
    ({"srv": {}}, "'server' is a required property"),
])
def test_server_create_body_errors_name_the_field(app, body, expected):
    resp = call(app, "POST", f"{V}/servers", body)
    assert expected in fault(resp, "badRequest", 400)
    assert_compute_headers(resp)


@pytest.mark.parametrize("body, expected", [
    ({"reboot": {"type": "WARM"}}, "Invalid input for field/attribute type. Value: WARM."),
    ({"reboot": {}}, "Invalid input for field/attribute reboot. Value: {}. 'type' is a "
                     "required property"),
    ({"os-getConsoleOutput": {"length": "x"}}, "Invalid input for field/attribute length."),
    ({"os-fly": None}, "There is no such action: os-fly"),
    ({}, "{} should be non-empty"),
])
def test_action_body_errors(app, body, expected):
    resp = call(app, "POST", f"{V}/servers/some-id/action", body)
    assert fault(resp, "badRequest", 400).startswith(expected)


def test_image_api_errors_use_glance_format(app):
    resp = call(app, "POST", "/image/v2/images", {"name": "x", "disk_format": "floppy"})
    assert resp.status_code == 400
    assert resp.json["code"] == "400 Bad Request"
    assert "disk_format" in resp.json["message"]
    resp = call(app, "POST", "/image/v2/images", {"name": "x", "status": "active"})
    assert resp.status_code == 403 and "read-only" in resp.json["message"]
    resp = call(app, "GET", "/image/v2/nothing")
    assert resp.status_code == 404 and resp.json["title"] == "Not Found"


# -- query parameters --------------------------------------------------------

@pytest.mark.parametrize("query, name", [
    ("limit=-1", "limit"), ("limit=ten", "limit"), ("changes-since=yesterday", "changes-since"),
    ("sort_dir=up", "sort_dir"), ("all_tenants=maybe", "all_tenants"),
])
def test_bad_query_parameters_are_400(app, query, name):
    resp = call(app, "GET", f"{V}/servers/detail?{query}")
    assert fault(resp, "badRequest", 400).startswith(
        f"Invalid input for query parameters {name}.")


def _params(query: str) -> webob.multidict.MultiDict:
    return webob.Request.blank(f"/?{query}").GET


def _ctx(admin: bool) -> nl_context.RequestContext:
    roles = ["admin", "member", "reader"] if admin else ["member", "reader"]
    return nl_context.RequestContext(user_id="u1", project_id="p1", roles=roles,
                                     is_admin=admin)


def test_unknown_query_parameters_are_ignored():
    opts = servers_controller.search_options(
        _params("deleted=False&is_public=None&name=web"), _ctx(admin=True), detailed=True)
    assert opts == {"display_name": "web"}


def test_search_options_map_status_and_admin_filters():
    opts = servers_controller.search_options(
        _params("status=ACTIVE&status=shutoff&host=h1&all_tenants&image=http://x/images/i1"
                "&flavor=2&changes-since=2026-01-02T03:04:05%2B01:00"), _ctx(admin=True),
        detailed=True)
    assert opts is not None
    assert opts["vm_state"] == ["active", "stopped"] and "task_state" not in opts
    assert (opts["host"], opts["all_tenants"], opts["image_ref"], opts["flavor_id"]) == \
        ("h1", True, "i1", "2")
    assert opts["changes_since"] == datetime.datetime(2026, 1, 2, 2, 4, 5)
    opts = servers_controller.search_options(_params("host=h1"), _ctx(admin=False),
                                             detailed=True)
    assert opts is not None and "host" not in opts


def test_status_reboot_filters_on_task_state():
    opts = servers_controller.search_options(_params("status=REBOOT"), _ctx(admin=True),
                                             detailed=True)
    assert opts is not None
    assert opts["vm_state"] == ["active"] and opts["task_state"] == [task_states.REBOOTING]


def test_unknown_status_gives_an_empty_list():
    assert servers_controller.search_options(_params("status=FLYING"), _ctx(admin=True),
                                             detailed=True) is None


# -- pure views --------------------------------------------------------------

@pytest.mark.parametrize("vm_state, task_state, status", [
    (vm_states.BUILDING, task_states.SCHEDULING, "BUILD"),
    (vm_states.BUILDING, task_states.DELETING, "BUILD"),
    (vm_states.ACTIVE, None, "ACTIVE"),
    (vm_states.ACTIVE, task_states.REBOOTING, "REBOOT"),
    (vm_states.ACTIVE, task_states.REBOOTING_HARD, "HARD_REBOOT"),
    (vm_states.ACTIVE, task_states.POWERING_OFF, "ACTIVE"),
    (vm_states.ACTIVE, task_states.DELETING, "ACTIVE"),
    (vm_states.STOPPED, None, "SHUTOFF"),
    (vm_states.STOPPED, task_states.POWERING_ON, "SHUTOFF"),
    (vm_states.STOPPED, task_states.REBOOTING_HARD, "SHUTOFF"),
    (vm_states.ERROR, None, "ERROR"),
    (vm_states.ERROR, task_states.DELETING, "ERROR"),
    (vm_states.DELETED, None, "DELETED"),
    ("mystery", None, "UNKNOWN"),
])
def test_status_from_state(vm_state, task_state, status):
    assert server_views.status_from_state(vm_state, task_state) == status


def test_states_from_status_round_trips():
    for vm_state in (vm_states.ACTIVE, vm_states.BUILDING, vm_states.STOPPED,
                     vm_states.ERROR, vm_states.DELETED):
        status = server_views.status_from_state(vm_state)
        found, tasks = server_views.states_from_status([status.lower()])
        assert found == [vm_state] and server_views.DEFAULT in tasks


def test_host_id():
    assert server_views.host_id("p1", None) == ""
    assert server_views.host_id("p1", "") == ""
    hid = server_views.host_id("p1", "host1")
    assert len(hid) == 56 and hid == server_views.host_id("p1", "host1")
    assert hid != server_views.host_id("p2", "host1")
    assert hid == hashlib.sha224(b"p1host1").hexdigest()


def _instance(**overrides) -> Instance:
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    flavor = Flavor(flavorid="1", name="m1.tiny", memory_mb=512, vcpus=1, root_gb=1)
    values = dict(
        id=42, uuid="0b5e0b5e-0000-4000-8000-000000000042", display_name="vm",
        project_id="p1", user_id="u1", host="host1", node="node1", availability_zone=None,
        image_ref="11111111-2222-4333-8444-555555555555", flavor=flavor,
        vm_state=vm_states.ACTIVE, task_state=None, power_state=power_state.RUNNING,
        launched_at=now, terminated_at=None, access_ip_v4=None, access_ip_v6=None,
        key_name=None, config_drive=False, metadata={"a": "b"}, system_metadata={},
        fault=None, created_at=now, updated_at=None)
    values.update(overrides)
    return Instance(**values)


def test_server_detail_view_for_admin_and_user():
    lk = links.Links("http://h:8774")
    inst = _instance()
    admin = server_views.detail(inst, lk, is_admin=True)
    assert admin["status"] == "ACTIVE" and admin["progress"] == 0
    assert admin["OS-EXT-SRV-ATTR:instance_name"] == f"instance-{inst.uuid}"
    assert admin["OS-EXT-SRV-ATTR:host"] == "host1"
    assert admin["OS-EXT-SRV-ATTR:hypervisor_hostname"] == "node1"
    assert admin["hostId"] == server_views.host_id("p1", "host1")
    assert admin["created"] == admin["updated"] == "2026-01-02T03:04:05Z"
    assert admin["OS-SRV-USG:launched_at"] == "2026-01-02T03:04:05.000000"
    assert admin["OS-EXT-STS:power_state"] == power_state.RUNNING
    assert admin["OS-EXT-AZ:availability_zone"] == CONF.default_availability_zone
    assert admin["accessIPv4"] == "" and admin["config_drive"] == ""
    assert admin["links"] == [
        {"rel": "self", "href": f"http://h:8774/compute/v2.1/servers/{inst.uuid}"},
        {"rel": "bookmark", "href": f"http://h:8774/compute/servers/{inst.uuid}"}]
    assert admin["flavor"] == {"id": "1", "links": [
        {"rel": "bookmark", "href": "http://h:8774/compute/flavors/1"}]}
    assert admin["image"]["id"] == inst.image_ref
    user = server_views.detail(inst, lk, is_admin=False)
    assert not any(k.startswith("OS-EXT-SRV-ATTR") for k in user)


def test_fault_shown_in_error_with_details_for_admins_only():
    created = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    f = InstanceFault(code=500, message="No valid host was found.", details="Traceback...",
                      created_at=created)
    inst = _instance(vm_state=vm_states.ERROR, fault=f, host=None)
    lk = links.Links("http://h")
    admin = server_views.detail(inst, lk, is_admin=True)
    assert admin["fault"] == {"code": 500, "message": "No valid host was found.",
                              "created": "2026-01-02T03:04:05Z", "details": "Traceback..."}
    assert "progress" not in admin and admin["hostId"] == ""
    assert "details" not in server_views.detail(inst, lk, is_admin=False)["fault"]
    active = _instance(fault=f)
    assert "fault" not in server_views.detail(active, lk, is_admin=True)


# -- the service ---------------------------------------------------------------

def test_api_service_serves_on_a_free_port_and_stops(app):
    svc = APIService(listen="127.0.0.1", port=0, app=app)
    svc.start()
    try:
        assert svc.port > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{svc.port}/compute/v2.1",
                                    timeout=5) as resp:
            assert json.load(resp)["version"]["id"] == "v2.1"
            assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    finally:
        svc.stop()
    svc.wait()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{svc.port}/compute/", timeout=2)
