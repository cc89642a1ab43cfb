"""The code's layout, checked from its imports (ast, nothing is imported).

- ``kernels`` never imports ``engine``;
- no import cycle between modules, nor between the packages of ``engine``;
- a pipeline package (neardup, substrings, provenance) uses another one only through
  that package's public face (``from engine.provenance import flag``);
- ``engine.io`` and ``engine.run`` know no pipeline and no CLI;
- modules stay small: at most about 600 lines, functions outside ``kernels`` at most
  about 80 lines of code (docstrings aside).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ("neardup", "substrings", "provenance")
MAX_MODULE_LINES = 620
MAX_FUNCTION_LINES = 85


def _modules() -> dict[str, Path]:
    out = {}
    for top in ("engine", "kernels"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Modules of this project that ``name`` imports anywhere in its body."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import module` imports that module; `from module import name`, the module
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
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


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "engine" and len(parts) > 1 else parts[0]


def test_kernels_never_import_engine():
    bad = [
        f"{m} -> {t}"
        for m, targets in _graph().items()
        if m.startswith("kernels")
        for t in targets
        if t.startswith("engine")
    ]
    assert not bad, bad


def test_no_module_cycle():
    assert _cycle(_graph()) is None


def test_no_package_cycle():
    packages: dict[str, set[str]] = {}
    for module, targets in _graph().items():
        # a package's face (__init__) re-exports its own modules: not an edge between packages
        edges = {_package(t) for t in targets} - {_package(module)}
        packages.setdefault(_package(module), set()).update(edges)
    assert _cycle(packages) is None, packages


def test_pipelines_meet_only_through_public_faces():
    bad = []
    for module, targets in _graph().items():
        source = _package(module)
        for target in targets:
            other = _package(target)
            if other == source or other.removeprefix("engine.") not in PIPELINES:
                continue
            if source.removeprefix("engine.") in ("io", "run"):
                bad.append(f"{module} -> {target} (io and run know no pipeline)")
            elif source.removeprefix("engine.") in PIPELINES and target != other:
                bad.append(f"{module} -> {target} (import from {other} instead)")
    assert not bad, bad


def test_modules_and_functions_stay_small():
    too_long = []
    for name, path in _modules().items():
        source = path.read_text()
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines")
        if name.startswith("kernels"):
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (length := _code_lines(node)) > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert not too_long, "\n".join(too_long)


def _code_lines(node: ast.FunctionDef) -> int:
    """Lines of a function from its signature to its end, its docstring left out."""
    body = node.body
    has_docstring = (
        body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    )
    docstring = body[0].end_lineno - body[0].lineno + 1 if has_docstring else 0
    return node.end_lineno - node.lineno + 1 - docstring


def test_walk_finds_a_planted_cycle_and_a_kernels_import(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    path = tmp_path / "k.py"
    path.write_text("def f():\n    from engine.io import read_part\n")
    assert _imports(path, "kernels.k", {"kernels.k": path, "engine.io": path}) == {"engine.io"}
