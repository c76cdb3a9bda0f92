"""Built-in metrics and loading of custom `module:function` metrics.

A metric takes (gold outputs, predicted outputs) and returns a score in [0, 1], or a score
and a feedback text that says what was wrong: a dict `{"score": 0.0, "feedback": "..."}`
or a tuple `(score, feedback)`. `load_metric` returns every metric as a `Metric`, which
gives a `Verdict` (score and feedback); built-in metrics explain their failures too.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptc.errors import ConfigError
from promptc.minhash import normalise
from promptc.program import Signature

MAX_FEEDBACK_CHARS = 2000  # longer feedback is cut: it is stored with every record and shown to models
TRUNCATED = " ... (feedback truncated)"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A metric's judgement of one prediction: a score in [0, 1] and, optionally, why."""

    score: float
    feedback: str | None = None


Metric = Callable[[dict[str, Any], dict[str, Any]], Verdict]


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


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _mismatches(
    gold: dict[str, Any], predicted: dict[str, Any], same: Callable[[Any, Any], bool]
) -> str | None:
    """Feedback naming each output that differs from the gold value, or None when all match."""
    parts = []
    for name, value in gold.items():
        if name not in predicted:
            parts.append(f"{name}: expected {_show(value)}, got no value")
        elif not same(predicted[name], value):
            parts.append(f"{name}: expected {_show(value)}, got {_show(predicted[name])}")
    return "; ".join(parts) or None


def exact_match_verdict(gold: dict[str, Any], predicted: dict[str, Any]) -> Verdict:
    """exact_match, with feedback naming each output that differs ("label: expected X, got Y")."""
    return Verdict(
        exact_match(gold, predicted),
        _mismatches(gold, predicted, lambda p, g: normalise(str(p)) == normalise(str(g))),
    )


def label_accuracy_verdict(gold: dict[str, Any], predicted: dict[str, Any]) -> Verdict:
    """label_accuracy, with feedback naming each wrong label ("label: expected X, got Y")."""
    return Verdict(label_accuracy(gold, predicted), _mismatches(gold, predicted, lambda p, g: p == g))


BUILTIN: dict[str, Metric] = {"exact_match": exact_match_verdict, "label_accuracy": label_accuracy_verdict}


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
    return _checked(name, func)


def _checked(name: str, func: Callable[..., Any]) -> Metric:
    """A custom metric whose every return is checked (see `verdict_of`)."""

    def metric(gold: dict[str, Any], predicted: dict[str, Any]) -> Verdict:
        return verdict_of(name, func(gold, predicted))

    return metric


def verdict_of(name: str, returned: Any) -> Verdict:
    """A custom metric's return as a Verdict: a number, {"score", "feedback"} or (score, feedback).

    Refused with a ValueError that names the metric: a score that is not a finite number in
    [0, 1] (NaN would poison every mean), feedback that is not a string, a dict with other keys.
    Feedback longer than MAX_FEEDBACK_CHARS is cut.
    """
    shape = 'return a number, {"score": ..., "feedback": "..."} or (score, feedback)'
    if isinstance(returned, dict):
        unknown = sorted(map(str, set(returned) - {"score", "feedback"}))
        if "score" not in returned or unknown:
            what = f"unknown keys {unknown}" if unknown else "no 'score' key"
            raise ValueError(f"metric {name} returned a dict with {what}: {shape}")
        score, feedback = returned["score"], returned.get("feedback")
    elif isinstance(returned, tuple):
        if len(returned) != 2:
            raise ValueError(f"metric {name} returned a tuple of {len(returned)} values: {shape}")
        score, feedback = returned
    else:
        score, feedback = returned, None
    try:
        value = math.nan if isinstance(score, str) else float(score)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(
            f"metric {name} returned {_show(score)}; a score must be a finite number (0 to 1): "
            "fix the metric so it never returns NaN, infinity or a non-number"
        )
    if not 0.0 <= value <= 1.0:
        raise ValueError(
            f"metric {name} returned the score {value}, outside 0 to 1: fix the metric so its scores "
            "lie in [0, 1] (divide by the largest possible score)"
        )
    if feedback is not None and not isinstance(feedback, str):
        raise ValueError(
            f"metric {name} returned feedback of type {type(feedback).__name__}; feedback must be a "
            "string or None"
        )
    if feedback is not None and len(feedback) > MAX_FEEDBACK_CHARS:
        feedback = feedback[: MAX_FEEDBACK_CHARS - len(TRUNCATED)] + TRUNCATED
    return Verdict(value, feedback or None)
