"""Default policy rules, one module per API area.

Each module exposes ``list_rules()``; every module in this package is
found here (pkgutil), so adding an area needs no edit to this file.
``oslopolicy-sample-generator --namespace novalite`` lists them all.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

from oslo_policy import policy


def _modules() -> Iterator[object]:
    # NOTE: base first: other modules' rules refer to its rules.
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.ispkg)
    names.sort(key=lambda n: n != "base")
    for name in names:
        yield importlib.import_module(f"{__name__}.{name}")


def list_rules() -> list[policy.RuleDefault]:
    rules: list[policy.RuleDefault] = []
    for module in _modules():
        list_fn = getattr(module, "list_rules", None)
        if list_fn is not None:
            rules.extend(list_fn())
    return rules
