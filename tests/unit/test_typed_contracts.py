"""What crosses the services is typed: in objects, compute, conductor,
scheduler and virt no parameter that holds an instance, a request context
or a request spec is annotated ``Any`` (mypy --strict, run by
tools/run-tests, checks the rest)."""

from __future__ import annotations

import ast
import pathlib

import pytest

import novalite

ROOT = pathlib.Path(novalite.__file__).parent
PACKAGES = ("objects", "compute", "conductor", "scheduler", "virt")
TYPED_NAMES = {"instance", "context", "ctxt", "spec", "request_spec"}


def _untyped(path: pathlib.Path) -> list[str]:
    """``file:line function(parameter)`` for each such parameter left untyped or ``Any``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
        for arg in args:
            if arg.arg in TYPED_NAMES and (arg.annotation is None or ast.unparse(
                    arg.annotation) in ("Any", "typing.Any")):
                found.append(f"{path.name}:{node.lineno} {node.name}({arg.arg})")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_instances_contexts_and_specs_are_not_any(package: str) -> None:
    bad = [f for p in sorted((ROOT / package).rglob("*.py")) for f in _untyped(p)]
    assert not bad, "annotate these with Instance / RequestContext / RequestSpec: " + \
        ", ".join(bad)


def test_the_check_can_fail(tmp_path: pathlib.Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from typing import Any\n\n"
                      "def f(context: Any, instance, spec: 'RequestSpec') -> None: ...\n")
    assert _untyped(sample) == ["sample.py:3 f(context)", "sample.py:3 f(instance)"]
