"""The dashboard (/dashboard) in headless Chromium against the FakeDriver
stack with real tokens: a member logs in, creates a server, watches it
become ACTIVE, reads its timeline, stops and deletes it; projects see only
their servers; an admin sees hosts and projects; a failed build shows its
fault and failing step. The page keeps no server-side session: its token is
in sessionStorage and goes out as X-Auth-Token.

One stack and one browser for the module (CI time); the browser and the
page's checks are tests/dashboard_browser.py's.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from novalite.conf import CONF
from novalite.console import serialproxy
from tests import dashboard_browser
from tests.dashboard_browser import artifacts_dir
from tests.functional.stack import ADMIN_PASSWORD, Stack

PROJECTS = {"alice": "project-a", "bob": "project-b"}


@pytest.fixture(scope="module")
def dash() -> Iterator[SimpleNamespace]:
    state_dir = tempfile.mkdtemp(prefix="novalite-dashboard-")
    stack = Stack(state_dir, auth="novalite",
                  overrides={("serial_console", "enabled"): True})
    proxy = serialproxy.SerialProxy(host="127.0.0.1", port=0)
    try:
        stack.start()
        proxy.start()
        CONF.set_override("base_url", f"ws://127.0.0.1:{proxy.port}/", group="serial_console")
        users = {name: stack.make_user(name, project) for name, project in PROJECTS.items()}
        with dashboard_browser.chromium() as browser:
            yield SimpleNamespace(stack=stack, browser=browser, users=users)
    finally:
        proxy.stop()
        CONF.clear_override("base_url", group="serial_console")
        stack.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture
def page(dash: SimpleNamespace) -> Iterator[Page]:
    with dashboard_browser.watched_page(dash.browser) as page:
        yield page


def login(dash: SimpleNamespace, page: Page, user: str, password: str, project: str) -> None:
    dashboard_browser.login(page, dash.stack.base_url, user, password, project)


def login_member(dash: SimpleNamespace, page: Page, name: str = "alice") -> None:
    login(dash, page, name, dash.users[name]["password"], PROJECTS[name])


def login_admin(dash: SimpleNamespace, page: Page) -> None:
    login(dash, page, "admin", ADMIN_PASSWORD, "admin")


def session_of(dash: SimpleNamespace, name: str) -> requests.Session:
    return dash.stack.login(name, dash.users[name]["password"], PROJECTS[name])


def api_boot(dash: SimpleNamespace, session: requests.Session, name: str,
             flavor: str = "1", **extra: Any) -> str:
    body = {"server": {"name": name, "flavorRef": flavor, "imageRef": dash.stack.image_id,
                       **extra}}
    headers = {"OpenStack-API-Version": "compute 2.74"} if "host" in extra else None
    resp = dash.stack.request("POST", "/compute/v2.1/servers", body, session=session,
                              headers=headers)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["server"]["id"])


def row(page: Page, server_id: str) -> Any:
    return page.locator(f"#servers tr[data-id='{server_id}']")


def test_static_files_are_served_with_a_strict_policy(dash: SimpleNamespace) -> None:
    base = dash.stack.base_url
    redirect = requests.get(base + "/dashboard", allow_redirects=False, timeout=10)
    assert redirect.status_code == 302
    assert redirect.headers["Location"].endswith("/dashboard/")
    for name, kind in (("", "text/html"), ("app.js", "text/javascript"),
                       ("style.css", "text/css")):
        resp = requests.get(f"{base}/dashboard/{name}", timeout=10)
        assert resp.status_code == 200, (name, resp.text)
        assert resp.headers["Content-Type"].startswith(kind), name
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, csp
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "Set-Cookie" not in resp.headers
    page_html = requests.get(base + "/dashboard/", timeout=10).text
    # NOTE: no inline script: every <script> names its source.
    assert re.findall(r"<script\b[^>]*>", page_html) == ['<script src="app.js" defer>']
    assert ".innerHTML" not in requests.get(base + "/dashboard/app.js", timeout=10).text
    assert requests.get(base + "/dashboard/secret.py", timeout=10).status_code == 404


def test_member_creates_watches_stops_and_deletes_a_server(dash: SimpleNamespace,
                                                           page: Page) -> None:
    login_member(dash, page)
    # NOTE: no server-side session: the token is in this tab's storage, no cookie.
    assert page.context.cookies() == []
    assert page.evaluate("JSON.parse(sessionStorage.getItem('novalite.session')).token")
    page.click("#nav a[href='#create']")
    form = page.locator("#create-server")
    name = f"web-{uuid.uuid4().hex[:6]}"
    form.locator("[name=name]").fill(name)
    form.locator("[name=network]").select_option("none")
    form.locator("[name=user_data]").fill("#cloud-config\n")
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"#server/[0-9a-f-]{36}$"))
    server_id = page.url.rsplit("/", 1)[-1]
    expect(page.locator("#server-status")).to_have_text("ACTIVE")
    # the timeline: the create action with its events, from os-instance-actions
    create = page.locator("#timeline .action").first
    expect(create.locator("h3")).to_contain_text("create")
    expect(create.locator("tr.event").first).to_be_visible()
    events = dash.stack.request(
        "GET", f"/compute/v2.1/servers/{server_id}/os-instance-actions",
        session=session_of(dash, "alice")).json()["instanceActions"]
    request_id = next(a["request_id"] for a in events if a["action"] == "create")
    shown = page.locator(f"#timeline .action[data-request='{request_id}'] tr.event")
    expect(shown.first).to_be_visible()
    assert shown.count() >= 1
    # the serial console: keystrokes go out through the proxy's websocket,
    # the fake guest echoes them back into the terminal
    page.click("text=Open serial console")
    terminal = page.locator("#terminal")
    expect(terminal).to_be_focused()
    expect(terminal).to_have_attribute("data-state", "open")
    page.keyboard.type("hi there")
    # NOTE: Ctrl-J is a line feed; the fake guest echoes whole lines (Enter
    # sends a carriage return, as a terminal does).
    page.keyboard.press("Control+j")
    expect(terminal).to_contain_text("hi there")
    # stop it from its page: SHUTOFF shown
    page.click("button[data-action=Stop]")
    expect(page.locator("#server-status")).to_have_text("SHUTOFF")
    page.click("#nav a[href='#servers']")
    expect(row(page, server_id).locator(".status")).to_have_text("SHUTOFF")
    expect(row(page, server_id).locator(".name")).to_have_text(name)
    page.screenshot(path=str(artifacts_dir() / "dashboard-servers.png"), full_page=True)
    # delete (the confirm dialog is accepted): gone from the list
    row(page, server_id).locator("button[data-action=Delete]").click()
    expect(row(page, server_id)).to_have_count(0)
    dash.stack.wait_gone(server_id)
    # log out revokes the token
    token = page.evaluate("JSON.parse(sessionStorage.getItem('novalite.session')).token")
    page.click("#logout")
    expect(page.locator("#login")).to_be_visible()
    gone = requests.get(dash.stack.base_url + "/compute/v2.1/servers",
                        headers={"X-Auth-Token": token}, timeout=10)
    assert gone.status_code == 401


def test_projects_see_their_own_servers_and_admins_see_all(dash: SimpleNamespace,
                                                           page: Page) -> None:
    alice, bob = session_of(dash, "alice"), session_of(dash, "bob")
    # NOTE: a name a careless page would turn into markup.
    hostile = "<img src=x onerror=document.title='owned'>"
    mine = api_boot(dash, alice, hostile)
    theirs = api_boot(dash, bob, "bobs-server")
    login_member(dash, page)
    expect(row(page, mine).locator(".name")).to_have_text(hostile)
    assert page.locator("#servers img").count() == 0
    assert row(page, theirs).count() == 0
    assert page.locator(".admin-only:visible").count() == 0

    page.click("#logout")
    login_admin(dash, page)
    page.click("#nav a[href='#hosts']")
    expect(page.locator("#hypervisors tr[data-host]")).to_have_count(1)
    expect(page.locator("#hypervisors tr[data-host]")).to_contain_text("up")
    page.click("#nav a[href='#projects']")
    expect(page.locator("#view table")).to_contain_text("project-a")
    expect(page.locator("#view table")).to_contain_text("project-b")
    page.click("#nav a[href='#servers']")
    page.check("#all-projects")
    expect(row(page, theirs).locator(".name")).to_have_text("bobs-server")
    expect(row(page, mine)).to_have_count(1)
    expect(row(page, theirs)).to_contain_text(dash.users["bob"]["project_id"])
    for sid, session in ((mine, alice), (theirs, bob)):
        dash.stack.request("DELETE", f"/compute/v2.1/servers/{sid}", session=session)
        dash.stack.wait_gone(sid)


def test_a_failed_build_shows_its_fault_and_failing_step(dash: SimpleNamespace,
                                                         page: Page) -> None:
    stack = dash.stack
    huge = stack.compute("POST", "/flavors", {"flavor": {
        "name": "too-big", "ram": 512, "vcpus": 1, "disk": 8192}})
    assert huge.status_code == 200, huge.text
    alice = session_of(dash, "alice")
    unplaced = api_boot(dash, alice, "too-big-server", flavor=huge.json()["flavor"]["id"])
    stack.wait_status(unplaced, "ERROR")
    login_member(dash, page)
    page.goto(f"{stack.base_url}/dashboard/#server/{unplaced}")
    expect(page.locator("#server-status")).to_have_text("ERROR")
    expect(page.locator("#diagnosis .fault-message")).to_contain_text("No valid host")

    # a host whose spawns fail: the build's failing step and its reason
    stack.start_compute("failhost", "fake.AlwaysFailingSpawnDriver", settle=True)
    try:
        failed = api_boot(dash, stack.session, "fails-to-spawn", host="failhost",
                          networks="none")
        stack.wait_status(failed, "ERROR")
        actions = stack.compute("GET", f"/servers/{failed}/os-instance-actions").json()
        request_id = actions["instanceActions"][0]["request_id"]
        events = stack.compute(
            "GET", f"/servers/{failed}/os-instance-actions/{request_id}",
            headers={"OpenStack-API-Version": "compute 2.84"}).json()["instanceAction"]["events"]
        failing = [e["event"] for e in events if e["result"] == "Error"]
        assert failing, events
        page.click("#logout")
        login_admin(dash, page)
        page.goto(f"{stack.base_url}/dashboard/#server/{failed}")
        expect(page.locator("#server-status")).to_have_text("ERROR")
        diagnosis = page.locator("#diagnosis")
        expect(diagnosis.locator(".fault-message")).to_contain_text("injected failure")
        steps = diagnosis.locator(".failed-step")
        expect(steps).to_have_count(len(failing))
        for event in failing:
            expect(steps.filter(has_text=event)).to_have_count(1)
        expect(page.locator(f"#timeline tr.event-error[data-event='{failing[0]}']")) \
            .to_have_count(1)
        page.screenshot(path=str(artifacts_dir() / "dashboard-failed-server.png"),
                        full_page=True)
    finally:
        services = stack.compute("GET", "/os-services?host=failhost").json()["services"]
        for svc in services:
            stack.compute("PUT", f"/os-services/{svc['id']}", {"status": "disabled"},
                          headers={"OpenStack-API-Version": "compute 2.53"})
