"""Import contracts between packages, read from the source (every import,
also those inside functions):

- the API package has no import cycle: controllers import leaf modules, and
  only ``novalite.api.app`` and the ``routes`` modules reach the controllers;
- no controller, view or schema of the API reads the database (``novalite.db``)
  and nothing outside ``novalite/db`` takes its private ``_session``;
- the virt layer sits below compute: ``novalite/virt`` imports neither
  ``novalite.db`` nor ``novalite.compute``.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import novalite

ROOT = pathlib.Path(novalite.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: pathlib.Path) -> set[str]:
    """Every module ``path`` imports, with ``from a import b`` giving ``a.b``
    when ``a.b`` is a module of novalite (and ``a`` otherwise)."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path) if path.name == "__init__.py" else \
        _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            for alias in node.names:
                found.add(f"{base}.{alias.name}")
    return found


def _graph(under: str) -> dict[str, set[str]]:
    """Import edges between the modules of ``under`` (a package path)."""
    files = {_module_name(p): p for p in (ROOT.parent / under).rglob("*.py")}
    return {name: {m for m in _imports(path) if m in files and m != name}
            for name, path in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _all_imports(under: str) -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in (ROOT.parent / under).rglob("*.py")}


def test_the_api_package_has_no_import_cycle() -> None:
    graph = _graph("novalite/api")
    assert "novalite.api.compute.routes" in graph
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_only_the_app_and_route_tables_import_the_controllers() -> None:
    controllers = {m for m in _graph("novalite/api")
                   if m.split(".")[2:3] in (["compute"], ["image"], ["identity"], ["network"])
                   and not m.endswith(".routes") and m.count(".") == 3}
    assert "novalite.api.compute.flavors" in controllers
    for module, imported in _graph("novalite/api").items():
        if module == "novalite.api.app" or module.endswith(".routes"):
            continue
        if module in controllers:
            continue
        assert not imported & controllers, f"{module} imports {sorted(imported & controllers)}"


def test_each_controller_module_imports_first() -> None:
    """Each controller module imports in a process where no other API module
    was imported before (a cycle shows as an ImportError or a missing name)."""
    modules = sorted(m for m in _graph("novalite/api") if m.count(".") == 3)
    script = (
        "import importlib, sys\n"
        "import novalite.conf, novalite.identity.catalog\n"
        f"for name in {modules!r}:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('novalite.api')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        "print('ok', len(" + repr(modules) + "))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == f"ok {len(modules)}"


def test_the_api_reads_no_database_module() -> None:
    for module, imported in _all_imports("novalite/api").items():
        db = sorted(m for m in imported if m == "novalite.db" or m.startswith("novalite.db."))
        assert not db, f"{module} imports {db}"


def test_nothing_outside_db_takes_the_private_session() -> None:
    for module, imported in _all_imports("novalite").items():
        if module.startswith("novalite.db"):
            continue
        assert "novalite.db.api._session" not in imported, module


def test_virt_imports_neither_db_nor_compute() -> None:
    for module, imported in _all_imports("novalite/virt").items():
        below = sorted(m for m in imported
                       if m.split(".")[:2] in (["novalite", "db"], ["novalite", "compute"]))
        assert not below, f"{module} imports {below}"


def test_the_libvirt_drivers_copy_of_a_task_state_is_the_managers() -> None:
    from novalite.compute import task_states
    from novalite.virt.libvirt import driver

    assert driver.REBUILD_SPAWNING == task_states.REBUILD_SPAWNING
