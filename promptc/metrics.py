"""Built-in metrics and loading of custom `module:function` metrics.

A metric takes (gold outputs, predicted outputs) and returns a score in [0, 1].
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from promptc.errors import ConfigError
from promptc.minhash import normalise
from promptc.program import Signature

Metric = Callable[[dict[str, Any], dict[str, Any]], float]


def exact_match(gold: dict[str, Any], predicted: dict[str, Any]) -> float:
    """1.0 when every output equals the gold value after folding case, whitespace, punctuation."""
    for name, value in gold.items():
        if name not in predicted or normalise(str(predicted[name])) != normalise(str(value)):
            return 0.0
    return 1.0


def label_accuracy(gold: dict[str, Any], predicted: dict[str, Any]) -> float:
    """The fraction of outputs whose predicted label is exactly the gold label."""
    if not gold:
        return 0.0
    hits = sum(1 for name, value in gold.items() if predicted.get(name) == value)
    return hits / len(gold)


BUILTIN: dict[str, Metric] = {"exact_match": exact_match, "label_accuracy": label_accuracy}


def load_metric(name: str, signature: Signature, config_dir: Path) -> Metric:
    """A built-in metric by name, or a custom one as `module:function` (importable or beside the config)."""
    if name in BUILTIN:
        if name == "label_accuracy" and any(f.type != "enum" for f in signature.outputs):
            raise ConfigError(
                "metric: label_accuracy needs every output field to be of type enum",
                fix="use exact_match, or give the outputs type: enum with labels",
            )
        return BUILTIN[name]
    if ":" not in name:
        raise ConfigError(
            f"metric: unknown metric {name!r}",
            fix=f"use one of {', '.join(BUILTIN)}, or module:function for your own",
        )
    module_name, func_name = name.split(":", 1)
    if str(config_dir) not in sys.path:
        sys.path.insert(0, str(config_dir))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"metric: cannot import module {module_name!r} ({exc})",
            fix="make the module importable, or put it next to the config file",
        ) from None
    except SyntaxError as exc:
        raise ConfigError(
            f"metric: {exc.filename}:{exc.lineno}: syntax error in module {module_name!r} ({exc.msg})",
            fix="fix the metric module's syntax",
        ) from None
    except Exception as exc:  # the module's own top-level code failed
        raise ConfigError(
            f"metric: importing module {module_name!r} raised {type(exc).__name__}: {exc}",
            fix="fix the metric module's top-level code (run python -c 'import "
            f"{module_name}' next to the config to see the traceback)",
        ) from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ConfigError(f"metric: {module_name!r} has no function {func_name!r}", fix="check the name")
    return _finite(name, func)


def _finite(name: str, func: Callable[..., Any]) -> Metric:
    """A custom metric that refuses a score that is not a finite number (NaN would poison every mean)."""

    def metric(gold: dict[str, Any], predicted: dict[str, Any]) -> float:
        score = func(gold, predicted)
        try:
            value = float(score)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(
                f"metric {name} returned {score!r}; a score must be a finite number (0 to 1): "
                "fix the metric so it never returns NaN, infinity or a non-number"
            )
        return value

    return metric
