"""Headless Chromium for the dashboard's tests (/dashboard), shared by the
FakeDriver tests (tests/functional/test_dashboard.py) and the real-guest ones
(tests/integration/test_real_guest_diagnosis.py).

Chromium is Debian's (/usr/bin/chromium, installed by .ci/run); without it
these tests fail, they never skip. A page watched here fails its test on a
script error, a Content-Security-Policy violation or a "null" shown.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
from collections.abc import Iterator

from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
REPO = pathlib.Path(__file__).resolve().parents[1]
TIMEOUT_MS = 20_000


def artifacts_dir() -> pathlib.Path:
    """Where screenshots go (CI keeps $NOVALITE_TEST_ARTIFACTS)."""
    path = pathlib.Path(os.environ.get("NOVALITE_TEST_ARTIFACTS") or REPO / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """One headless Chromium, closed at the end."""
    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (apt-get install chromium)"
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


@contextlib.contextmanager
def watched_page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context (no storage shared with another page) whose
    dialogs are accepted; at the end it must have had no script error, no
    policy violation and show no "null"."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("dialog", lambda dialog: dialog.accept())
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            if "Content Security Policy" in msg.text else None)
    try:
        yield page
        assert not problems, problems
        assert "null" not in page.locator("#view").inner_text().split(), "a null was shown"
    finally:
        context.close()


def login(page: Page, base_url: str, user: str, password: str, project: str) -> None:
    """Log in through the dashboard's form (a real token, kept by the page)."""
    page.goto(base_url + "/dashboard")
    page.fill("#login [name=username]", user)
    page.fill("#login [name=password]", password)
    page.fill("#login [name=project]", project)
    page.click("#login button[type=submit]")
    expect(page.locator("#nav")).to_be_visible()
    expect(page.locator("#whoami")).to_contain_text(f"{user} @ {project}")
