"""Defaults for every test run in this process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from novalite.conf import CONF


@pytest.fixture(autouse=True)
def _noauth_unless_asked() -> Iterator[None]:
    """The API authenticates tokens by default (``auth_strategy = novalite``);
    tests that are not about authentication talk to it as ``noauth``, where
    X-User-Id/X-Project-Id/X-Roles say who calls. A test opts in with
    ``Stack(auth="novalite")`` or ``CONF.set_override("auth_strategy", ...)``."""
    CONF.set_default("auth_strategy", "noauth")
    yield
    CONF.set_default("auth_strategy", "novalite")
