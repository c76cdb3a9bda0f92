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
    assert {"app.py", "evaluate.py", "fake.py", "testing.py"} <= names


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
    fakes = {PACKAGE / "testing.py", PACKAGE / "lm" / "fake.py"}
    naming = [
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if p not in fakes and any(n in p.read_text(encoding="utf-8") for n in ("promptc.testing", "lm.fake"))
    ]
    assert naming == []


# Imports point one way: stored data and the gates read leaf types, never the model layer; so do
# the commands' outcomes and the types they hold (trials, usage), which reports and renderers read;
# the fakes read the request texts from a leaf, never from the optimizers.
STORED_DATA = (
    "artifacts.content",
    "artifacts.store",
    "artifacts.registry",
    "artifacts.sidecar",
    "release.gates",
    "release.gate_table",
    "results",
    "evaluation.scoring",
    "files",
)
OUTCOMES = ("outcomes", "trials", "usage", "release.ledger")
LEAVES = (*STORED_DATA, *OUTCOMES, "prompting.prompt_text", "testing", "lm.fake")
MODEL_LAYER = (
    "promptc.lm.model",
    "promptc.lm.hosted",
    "promptc.lm.bridge",
    "promptc.lm.local",
    "promptc.lm.cache",
    "promptc.optimizers",
    "promptc.commands",
)


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


def test_the_public_import_paths_still_work() -> None:
    # Rooms moved the code; what users and plugins import stays where it was.
    import subprocess
    import sys
    from importlib import metadata

    code = (
        "import promptc, promptc.providers as p, promptc.testing as t;"
        "assert callable(promptc.load) and p.Provider and t.FakeProvider and t.REVISION;"
        "assert p.GROUP == 'promptc.providers'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    points = {p.name: p.value for p in metadata.entry_points(group="promptc.providers")}
    assert points["fake"] == "promptc.testing:FakeProvider"
    assert all(p.load() for p in metadata.entry_points(group="promptc.providers"))
    (script,) = [p for p in metadata.entry_points(group="console_scripts") if p.name == "promptc"]
    assert callable(script.load())
