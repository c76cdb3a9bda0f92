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
