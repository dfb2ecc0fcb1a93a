"""oslo.messaging's decorators with their types (the library's are untyped,
which ``mypy --strict`` refuses on the services' endpoints)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import oslo_messaging as messaging

F = TypeVar("F", bound=Callable[..., Any])


def expected_exceptions(*exceptions: type[BaseException]) -> Callable[[F], F]:
    """``oslo_messaging.expected_exceptions``: these are answered to the
    caller without a traceback in the server's log."""
    return cast(Callable[[F], F], messaging.expected_exceptions(*exceptions))
