"""House rules for promptc/: short modules and functions, and core code that never names its test fakes."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "promptc"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_package_has_modules() -> None:
    # The checks below pass vacuously on an empty list; make sure they look at the real package.
    names = {p.name for p in _modules()}
    assert {"cli.py", "evaluate.py", "testing.py"} <= names


def test_no_module_is_longer_than_the_house_limit() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_is_longer_than_the_house_limit() -> None:
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = lines
    assert long == {}, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_core_code_never_names_the_test_fakes() -> None:
    # The fakes are a provider plugin like any other (pyproject.toml's promptc.providers group).
    naming = [
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if p.name != "testing.py" and "promptc.testing" in p.read_text(encoding="utf-8")
    ]
    assert naming == []


# Imports point one way: stored data and the gates read leaf types, never the model layer; so do
# the commands' outcomes and the types they hold (trials, usage), which reports and renderers read;
# the fakes read the request texts from a leaf, never from the optimizers.
STORED_DATA = ("artifacts", "store", "registry", "sidecar", "gates", "results", "scoring", "files")
OUTCOMES = ("outcomes", "trials", "usage", "ledger")
LEAVES = (*STORED_DATA, *OUTCOMES, "prompt_text", "testing")
MODEL_LAYER = ("promptc.lm", "promptc.local", "promptc.cache", "promptc.optimizers", "promptc.lifecycle")


def _module_name(path: Path) -> str:
    parts = ("promptc", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path, known: set[str]) -> set[str]:
    """promptc modules a module imports when it is loaded (not in functions, not for type checking)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("promptc"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("promptc"))
    parents = {".".join(m.split(".")[: i + 1]) for m in found for i in range(m.count(".") + 1)}
    return parents & known


def test_stored_data_outcomes_the_gates_and_the_fakes_never_load_the_model_layer() -> None:
    paths = {_module_name(p): p for p in _modules()}
    assert {f"promptc.{leaf}" for leaf in LEAVES} <= set(paths)  # a renamed leaf must not pass unseen
    graph = {name: _top_level_imports(path, set(paths)) for name, path in paths.items()}
    offenders = {}
    for start in LEAVES:
        seen, stack = set(), [f"promptc.{start}"]
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(graph.get(name, ()))
        bad = sorted(m for m in seen if m.startswith(MODEL_LAYER))
        if bad:
            offenders[start] = bad
    assert offenders == {}
