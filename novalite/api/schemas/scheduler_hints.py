"""The scheduler hints of a server create (``os:scheduler_hints``, or the
legacy ``OS-SCH-HNT:scheduler_hints``), checked as Nova's schema checks
them: ``group`` a server group's uuid, ``same_host`` / ``different_host`` a
server uuid or a list of them; other hints are kept (Nova lets unknown
hints through for out-of-tree filters) but nothing in novalite reads them.
"""

from __future__ import annotations

from typing import Any

from oslo_utils import uuidutils

from novalite.api import errors

KEYS = ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints")
_SERVER_LISTS = ("same_host", "different_host")


def _uuid(name: str, value: Any) -> str:
    if not isinstance(value, str) or not uuidutils.is_uuid_like(value):
        raise errors.bad_request(
            f"Invalid input for field/attribute {name}. Value: {value!r}. "
            f"{value!r} is not a 'uuid'")
    return value


def parse(body: dict[str, Any]) -> dict[str, list[str]]:
    """The hints as lists of strings (the RequestSpec's form); 400 naming
    the hint when one is malformed."""
    hints = next((body[k] for k in KEYS if k in body), None) or {}
    out: dict[str, list[str]] = {}
    for name, value in hints.items():
        if name == "group":
            out[name] = [_uuid(name, value)]
        elif name in _SERVER_LISTS:
            values = value if isinstance(value, list) else [value]
            out[name] = [_uuid(name, v) for v in values]
        elif isinstance(value, list):
            out[name] = [v if isinstance(v, str) else str(v) for v in value]
        else:
            out[name] = [value if isinstance(value, str) else str(value)]
    return out
