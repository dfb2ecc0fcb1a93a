"""Helpers controllers share: pagination and query parameter parsing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from oslo_utils import strutils

from novalite.api import errors, validation
from novalite.conf import CONF


class Lazy:
    """An API object built on first use.

    NOTE: the real compute API opens an RPC client when built; deferring it
    lets ``make_app()`` run in tests that have no bus, and in a service
    process before ``start()`` has set the transport up.
    """

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._target: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._target is None:
            with self._lock:
                if self._target is None:
                    self._target = self._factory()
        return getattr(self._target, name)


def int_param(params: Any, name: str, minimum: int = 0) -> int | None:
    """An integer query parameter ≥ ``minimum``, or None when absent."""
    value = params.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise validation.query_error(name, value, f"{name} must be an integer") from None
    if number < minimum:
        raise validation.query_error(name, value, f"{name} must be >= {minimum}")
    return number


def limit_and_marker(params: Any) -> tuple[int, str | None]:
    """Page size (capped by ``[api] max_limit``) and marker, as Nova's
    ``get_limit_and_marker``."""
    limit = int_param(params, "limit")
    max_limit = CONF.api.max_limit
    return (max_limit if limit is None else min(limit, max_limit)), params.get("marker")


def bool_param(params: Any, name: str, default: bool = False) -> bool:
    """A boolean flag; present without a value (``?all_tenants``) means true."""
    if name not in params:
        return default
    value = params.get(name)
    if value == "":
        return True
    try:
        return strutils.bool_from_string(value, strict=True)
    except ValueError:
        raise validation.query_error(name, value, f"{name} must be a boolean") from None


def sort_params(params: Any, default_key: str = "created_at",
                default_dir: str = "desc") -> tuple[str, str]:
    """First ``sort_key``/``sort_dir`` (the layer below sorts by one key)."""
    key = params.get("sort_key") or default_key
    direction = (params.get("sort_dir") or default_dir).lower()
    if direction not in ("asc", "desc"):
        raise validation.query_error("sort_dir", direction, "sort_dir must be 'asc' or 'desc'")
    return key, direction


def last_segment(ref: str | int) -> str:
    """An id from an id or a link (``http://.../flavors/1`` → ``1``)."""
    return str(ref).rstrip("/").rsplit("/", 1)[-1]


def marker_not_found(marker: str) -> errors.HTTPError:
    return errors.bad_request(f"marker [{marker}] not found")
