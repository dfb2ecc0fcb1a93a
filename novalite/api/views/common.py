"""Date formats the APIs use (Nova's utils.isotime and its naive form)."""

from __future__ import annotations

import datetime


def _utc(value: datetime.datetime) -> datetime.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def isotime(value: datetime.datetime | None) -> str | None:
    """``2013-09-03T04:01:32Z`` (created, updated, fault created)."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def naive_isotime(value: datetime.datetime | None) -> str | None:
    """``2013-09-23T13:37:00.880302`` (launched_at, services' updated_at)."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f") if value else None
