"""Custom `module:function` metrics: a module beside the config is loaded by its file path,
otherwise an installed module by name. sys.path is never changed, so a file beside the config
(a `bm25s.py`, say) cannot shadow a library for the rest of the run."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from promptc.errors import ConfigError
from promptc.metrics.verdict import Metric, Verdict, show, verdict_of


def module_file(module_name: str, config_dir: Path) -> Path | None:
    """The metric module's file beside the config (`pkg.mod` is pkg/mod.py), if there is one."""
    *packages, last = module_name.split(".")
    candidate = config_dir.joinpath(*packages, last + ".py")
    return candidate if candidate.is_file() else None


def _load_file(module_name: str, path: Path) -> ModuleType:
    # A private name: the module is registered (dataclasses and pickle look modules up) without
    # taking a name an import elsewhere could mean.
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    private = f"promptc_metric_{digest}_{module_name.replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(private, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(private, None)
        raise
    return module


def load_module(module_name: str, config_dir: Path) -> ModuleType:
    """The metric's module, by file path from beside the config, else installed; errors as ConfigError."""
    path = module_file(module_name, config_dir)
    try:
        return importlib.import_module(module_name) if path is None else _load_file(module_name, path)
    except ImportError as exc:
        raise ConfigError(
            f"metric: cannot import module {module_name!r} ({exc})",
            fix="put the module next to the config file (it is loaded by its path, so it imports "
            "only installed packages), or install it",
        ) from None
    except SyntaxError as exc:
        raise ConfigError(
            f"metric: {exc.filename}:{exc.lineno}: syntax error in module {module_name!r} ({exc.msg})",
            fix="fix the metric module's syntax",
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the module's own top-level code failed, or called sys.exit
        raise ConfigError(
            f"metric: importing module {module_name!r} raised {type(exc).__name__}: {exc}",
            fix="fix the metric module's top-level code "
            f"(run python {path or '-m ' + module_name} to see the traceback)",
        ) from None


def load_custom(name: str, config_dir: Path) -> Metric:
    """The `module:function` metric, its every return checked (see verdict_of)."""
    module_name, func_name = name.split(":", 1)
    func = getattr(load_module(module_name, config_dir), func_name, None)
    if not callable(func):
        raise ConfigError(f"metric: {module_name!r} has no function {func_name!r}", fix="check the name")
    return checked(name, func)


def checked(name: str, func: Callable[..., Any]) -> Metric:
    """A custom metric whose every return is checked, and whose exit is an error, not an exit."""

    def metric(gold: dict[str, Any], predicted: dict[str, Any]) -> Verdict:
        try:
            returned = func(gold, predicted)
        except BaseException as exc:
            if isinstance(exc, Exception | KeyboardInterrupt):
                raise
            # SystemExit and the like would skip the exit-code contract: an error like any other
            raise RuntimeError(
                f"metric {name} raised {type(exc).__name__}({show(getattr(exc, 'code', ''))}): "
                "a metric must return a score, not exit"
            ) from None
        return verdict_of(name, returned)

    return metric


def module_sha256(module_name: str, config_dir: Path) -> str:
    """The sha256 of the metric module's file (beside the config, else the installed one)."""
    path = module_file(module_name, config_dir)
    if path is None:
        try:
            spec = importlib.util.find_spec(module_name)
        except Exception as exc:  # a parent package that fails to import
            raise ConfigError(
                f"metric: cannot find module {module_name!r} ({type(exc).__name__}: {exc})",
                fix="put the module next to the config file, or install it",
            ) from None
        if spec is None or not spec.origin or not Path(spec.origin).is_file():
            raise ConfigError(
                f"metric: cannot find module {module_name!r}",
                fix="put the module next to the config file, or install it",
            )
        path = Path(spec.origin)
    return hashlib.sha256(path.read_bytes()).hexdigest()
