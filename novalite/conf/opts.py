"""Entry point for oslo-config-generator (namespace ``novalite``)."""

from novalite.conf import _MODULES


def list_opts() -> list:
    merged: dict = {}
    for mod in _MODULES:
        for group, opts in mod.list_opts().items():
            merged.setdefault(group, []).extend(opts)
    return list(merged.items())
