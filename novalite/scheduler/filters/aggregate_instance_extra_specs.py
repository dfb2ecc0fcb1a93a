"""AggregateInstanceExtraSpecsFilter: a flavor's extra specs must match the
metadata of the host's aggregates, as Nova's filter of that name.

Keys scoped ``aggregate_instance_extra_specs:`` and unscoped keys are
compared (other scopes, such as ``hw:``, are for other parts); a value may
use Nova's extra-spec operators (``= 4``, ``s== x``, ``<in> x``,
``<or> a <or> b`` ...). The hosts' aggregate metadata is read once per
request.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from novalite import context as nl_context
from novalite.objects.aggregate import AggregateList
from novalite.scheduler.filters import BaseHostFilter
from novalite.scheduler.host_state import HostState, RequestSpec

SCOPE = "aggregate_instance_extra_specs"
_ATTR = "_novalite_aggregate_metadata"


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(op: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def check(value: str, wanted: str) -> bool:
        a, b = _float(value), _float(wanted)
        return a is not None and b is not None and op(a, b)
    return check


# NOTE: Nova's extra_specs_ops: "=" means "at least" for numbers; "s" ops
# compare strings; "<in>" is a substring test; "<all-in>" every word.
_OPS: dict[str, Callable[[str, str], bool]] = {
    "=": _numeric(operator.ge),
    "==": _numeric(operator.eq),
    "!=": _numeric(operator.ne),
    ">=": _numeric(operator.ge),
    "<=": _numeric(operator.le),
    "s==": operator.eq,
    "s!=": operator.ne,
    "s<": operator.lt,
    "s<=": operator.le,
    "s>": operator.gt,
    "s>=": operator.ge,
    "<in>": lambda value, wanted: wanted in value,
    "<all-in>": lambda value, wanted: all(w in value.split() for w in wanted.split()),
}


def match(value: str, requirement: str) -> bool:
    """Does the aggregate value ``value`` satisfy the extra spec ``requirement``?"""
    words = requirement.split()
    if not words:
        return value == requirement
    if words[0] == "<or>":
        choices = [w for w in words[1:] if w != "<or>"]
        return value in choices
    if words[0] in _OPS and len(words) >= 2:
        return _OPS[words[0]](value, " ".join(words[1:]))
    return value == requirement


def _wanted(spec: RequestSpec) -> dict[str, str]:
    specs = spec.flavor.extra_specs if spec.flavor.obj_attr_is_set("extra_specs") else {}
    wanted: dict[str, str] = {}
    for key, requirement in (specs or {}).items():
        scope, sep, name = key.partition(":")
        if not sep:
            wanted[key] = requirement
        elif scope == SCOPE and name:
            wanted[name] = requirement
    return wanted


class AggregateInstanceExtraSpecsFilter(BaseHostFilter):
    def _metadata(self, spec: RequestSpec) -> dict[str, dict[str, list[str]]]:
        meta: dict[str, dict[str, list[str]]] | None = getattr(spec, _ATTR, None)
        if meta is None:
            meta = AggregateList.get_metadata_by_host(nl_context.get_admin_context())
            object.__setattr__(spec, _ATTR, meta)
        return meta

    def _unmet(self, host_state: HostState, spec: RequestSpec,
               wanted: dict[str, str] | None = None) -> list[str]:
        wanted = _wanted(spec) if wanted is None else wanted
        if not wanted:
            return []
        have = self._metadata(spec).get(host_state.host, {})
        return [f"{key}={requirement}" for key, requirement in sorted(wanted.items())
                if not any(match(v, requirement) for v in have.get(key, []))]

    def filter_hosts(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        """The flavor's wanted keys worked out once for every host."""
        wanted = _wanted(spec)
        if not wanted:
            return hosts
        return [h for h in hosts if not self._unmet(h, spec, wanted)]

    def host_passes(self, host_state: HostState, spec: RequestSpec) -> bool:
        return not self._unmet(host_state, spec)

    def reason(self, host_state: HostState, spec: RequestSpec) -> str:
        return f"no aggregate with {', '.join(self._unmet(host_state, spec))}"
