"""The Identity API's version documents (public, whatever the auth
strategy) and its error format."""

from __future__ import annotations

import webob
from keystoneauth1 import discover

from novalite.api import app as api_app
from novalite.api import wsgi
from novalite.conf import CONF


class _Unreachable:
    def __getattr__(self, name: str):
        raise AssertionError(f"the API layer below was called ({name})")


def _app() -> wsgi.Application:
    return api_app.make_app(compute_api=_Unreachable(), image_api=_Unreachable())


def call(path: str, method: str = "GET") -> webob.Response:
    return webob.Request.blank(path, method=method).get_response(_app())


def test_root_is_300_with_keystones_versions_values():
    resp = call("/identity")
    assert resp.status_code == 300
    (v3,) = resp.json["versions"]["values"]
    assert v3["id"].startswith("v3.") and v3["status"] == "stable"
    assert v3["links"] == [{"rel": "self", "href": "http://localhost/identity/v3/"}]
    assert "openstack-api-version" not in resp.headers
    assert call("/identity/").status_code == 300


def test_v3_document():
    resp = call("/identity/v3")
    assert resp.status_code == 200
    doc = resp.json["version"]
    assert doc["id"].startswith("v3.")
    assert doc["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"


def test_keystoneauth_finds_v3_in_both_documents():
    for path in ("/identity", "/identity/v3"):
        data = discover.get_version_data(_FakeSession(call(path)), "http://localhost" + path)
        versions = [discover.normalize_version_number(v["id"]) for v in data]
        assert versions and versions[0][0] == 3


def test_unknown_identity_path_in_keystones_error_format():
    resp = call("/identity/v3/credentials", "GET")
    assert resp.status_code == 404
    assert resp.json == {"error": {"code": 404, "title": "Not Found",
                                   "message": "The resource could not be found."}}
    assert "x-openstack-request-id" in resp.headers


def test_discovery_needs_no_authentication():
    CONF.set_override("auth_strategy", "keystone")
    try:
        assert call("/identity").status_code == 300
        assert call("/identity/v3").status_code == 200
    finally:
        CONF.clear_override("auth_strategy")


def test_links_use_public_url_when_set():
    CONF.set_override("public_url", "https://cloud.example/api", group="api")
    try:
        href = call("/identity/v3").json["version"]["links"][0]["href"]
    finally:
        CONF.clear_override("public_url", group="api")
    assert href == "https://cloud.example/api/identity/v3/"


class _FakeSession:
    """What ``discover.get_version_data`` needs of a session: one answer."""

    def __init__(self, resp: webob.Response) -> None:
        self._resp = resp

    def get(self, url, **kwargs):
        return _FakeResponse(self._resp)


class _FakeResponse:
    def __init__(self, resp: webob.Response) -> None:
        self.status_code = resp.status_code
        self._json = resp.json
        self.text = resp.text

    def json(self):
        return self._json
