"""Package structure: no module-level import cycles, no private names imported across modules.

The import graph is read from the source with :mod:`ast` (nothing is imported). An edge ``a -> b`` is an
import statement executed when ``a`` is imported: top level, inside ``if``/``try`` blocks and class bodies,
but not inside functions (lazy imports) or ``if TYPE_CHECKING:`` blocks. ``from pkg import sub`` counts as an
edge to the submodule ``pkg.sub`` when it is one. Private imports (``from sentemb.x import _name``) are
checked everywhere, functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def module_files(src: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is_package) for every module of ``package`` under ``src``."""
    mods = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return mods


def _absolute(module: str, is_pkg: bool, node: ast.ImportFrom) -> str | None:
    if not node.level:
        return node.module
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _owner(name: str, mods) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _load_time_imports(body: list[ast.stmt]):
    """Import statements run when the module body runs (not inside functions, not under TYPE_CHECKING)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.ClassDef):
            yield from _load_time_imports(node.body)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _load_time_imports(node.body)
            yield from _load_time_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                yield from _load_time_imports(block)
        elif isinstance(node, (ast.With, ast.For, ast.While)):
            yield from _load_time_imports(node.body)


def import_graph(src: Path, package: str) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """The module-level import graph of ``package`` and its cross-module private imports."""
    mods = module_files(src, package)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    private = []
    for mod, (path, is_pkg) in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _load_time_imports(tree.body):
            if isinstance(node, ast.Import):
                targets = [_owner(a.name, mods) for a in node.names]
            else:
                base = _absolute(mod, is_pkg, node)
                if not base or _owner(base, mods) is None:
                    continue
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else _owner(base, mods)
                           for a in node.names]
            graph[mod].update(t for t in targets if t and t != mod)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = _absolute(mod, is_pkg, node)
                if base and _owner(base, mods) and base != mod:
                    private += [(mod, base, a.name) for a in node.names
                                if a.name.startswith("_") and not a.name.startswith("__")]
    return graph, private


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_no_import_cycles():
    graph, _ = import_graph(SRC, "sentemb")
    assert len(graph) > 50  # the whole package was read
    found = cycles(graph)
    assert not found, "module-level import cycles:\n" + "\n".join(
        " <-> ".join(c) + "  (" + "; ".join(f"{m} -> {sorted(graph[m] & set(c))}" for m in c) + ")"
        for c in found)


def test_no_private_imports_across_modules():
    _, private = import_graph(SRC, "sentemb")
    assert not private, "private names imported from another module:\n" + "\n".join(
        f"{m}: from {t} import {n}" for m, t, n in private)


def test_checker_finds_a_cycle_and_a_private_import(tmp_path):
    """The checks above would fail: a planted cycle (through a relative import) and private import are found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n\ndef f():\n    from pkg.c import _hidden\n")
    (pkg / "sub" / "b.py").write_text("try:\n    from ..c import VALUE\nexcept ImportError:\n    pass\n")
    (pkg / "c.py").write_text("import pkg.a\nVALUE = 1\n_hidden = 2\n")
    (pkg / "d.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n"
                              "def g():\n    import pkg.a\n")
    graph, private = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.sub.b"}
    assert graph["pkg.sub.b"] == {"pkg.c"}
    assert graph["pkg.d"] == set()  # lazy and type-checking imports are not load-time edges
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    assert private == [("pkg.a", "pkg.c", "_hidden")]
